// RFB (VNC) full-frame throughput client: raw TCP or websocket.
// usage: node rfbbench.js tcp://127.0.0.1:5900 SECONDS
//        node rfbbench.js ws://127.0.0.1:6080/path SECONDS
// Requests non-incremental raw full-frame updates back to back and prints
// frames/s and MB/s. Handles security type None only.
// ORIGIN and COOKIE (environment) go with the websocket upgrade.
'use strict';
const net = require('net');
const WebSocket = require('ws');

const url = process.argv[2];
const seconds = Number(process.argv[3] || 5);

let chunks = [], have = 0, waiters = [];
function feed(chunk) { chunks.push(chunk); have += chunk.length; pump(); }
function take(n, keep) {
  const parts = [];
  while (n > 0) {
    const c = chunks[0];
    if (c.length <= n) { chunks.shift(); if (keep) parts.push(c); n -= c.length; have -= c.length; }
    else { if (keep) parts.push(c.subarray(0, n)); chunks[0] = c.subarray(n); have -= n; n = 0; }
  }
  return keep ? Buffer.concat(parts) : null;
}
function pump() {
  while (waiters.length && have >= waiters[0].n) {
    const w = waiters.shift();
    w.resolve(take(w.n, w.keep));
  }
}
function need(n) { return new Promise(resolve => { waiters.push({ n, keep: true, resolve }); pump(); }); }
function skip(n) { return new Promise(resolve => { waiters.push({ n, keep: false, resolve }); pump(); }); }

let send;
function connect() {
  return new Promise((resolve, reject) => {
    if (url.startsWith('tcp://')) {
      const [host, port] = url.slice(6).split(':');
      const s = net.connect(Number(port), host, () => resolve());
      s.setNoDelay(true);
      s.on('data', feed); s.on('error', reject);
      send = b => s.write(b);
      process.on('exit', () => s.destroy());
    } else {
      const ws = new WebSocket(url, ['binary'], { perMessageDeflate: false, headers: { Origin: process.env.ORIGIN || 'http://127.0.0.1', ...(process.env.COOKIE ? { Cookie: process.env.COOKIE } : {}) } });
      ws.binaryType = 'nodebuffer';
      ws.on('open', () => resolve());
      ws.on('message', d => feed(d));
      ws.on('error', reject);
      ws.on('unexpected-response', (req, res) => reject(new Error('HTTP ' + res.statusCode)));
      send = b => ws.send(b);
    }
  });
}

async function main() {
  await connect();
  const ver = await need(12);
  send(Buffer.from('RFB 003.008\n'));
  const ntypes = (await need(1))[0];
  if (ntypes === 0) throw new Error('server refused');
  const types = await need(ntypes);
  if (!types.includes(1)) throw new Error('no None security: ' + [...types]);
  send(Buffer.from([1]));
  const result = (await need(4)).readUInt32BE(0);
  if (result !== 0) throw new Error('security failed');
  send(Buffer.from([1])); // shared
  const si = await need(24);
  const w = si.readUInt16BE(0), h = si.readUInt16BE(2), bpp = si[4];
  const nameLen = si.readUInt32BE(20);
  await need(nameLen);
  const enc = Buffer.alloc(8); enc[0] = 2; enc.writeUInt16BE(1, 2); enc.writeInt32BE(0, 4);
  send(enc);
  const req = Buffer.alloc(10); req[0] = 3; req[1] = 0; req.writeUInt16BE(w, 6); req.writeUInt16BE(h, 8);
  const start = process.hrtime.bigint();
  let frames = 0, bytes = 0;
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    send(req);
    for (;;) {
      const hdr = await need(1);
      if (hdr[0] === 0) break;
      if (hdr[0] === 2) continue; // bell
      if (hdr[0] === 3) { const r = await need(7); await need(r.readUInt32BE(3)); continue; }
      throw new Error('unexpected message ' + hdr[0]);
    }
    const n = (await need(3)).readUInt16BE(1);
    for (let i = 0; i < n; i++) {
      const rh = await need(12);
      const rw = rh.readUInt16BE(4), rhh = rh.readUInt16BE(6), e = rh.readInt32BE(8);
      if (e === 0) { const len = rw * rhh * (bpp / 8); await skip(len); bytes += len + 12; }
      else if (e === -223) { /* desktop size */ }
      else throw new Error('unexpected encoding ' + e);
    }
    frames++;
  }
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ url, w, h, bpp, frames, seconds: +secs.toFixed(3), fps: +(frames / secs).toFixed(1), MBps: +(bytes / secs / 1e6).toFixed(1) }));
  process.exit(0);
}
main().catch(e => { console.error('rfbbench:', e.message); process.exit(1); });

// A minimal RFB client over the daemon's console websocket, for tests.
'use strict';
const t = require('./lib');
const WebSocket = t.requireModule('ws');
const path = require('path');
const { execFileSync } = require('child_process');

class Console {
	constructor(url, headers, protocols) {
		this.buf = Buffer.alloc(0);
		this.waiters = [];
		this.closed = null;
		this.ws = new WebSocket(url, protocols || [], { headers, perMessageDeflate: false });
		this.opened = new Promise((resolve) => {
			this.ws.on('open', () => resolve(true));
			this.ws.on('unexpected-response', (req, res) => resolve(false));
			this.ws.on('error', (e) => { this.error = e; resolve(false); });
		});
		this.ws.on('message', (d) => {
			this.buf = Buffer.concat([this.buf, d]);
			this.pump();
		});
		this.ws.on('close', (code, reason) => {
			this.closed = { code, reason: reason.toString() };
			this.pump();
		});
	}

	pump() {
		while (this.waiters.length && (this.buf.length >= this.waiters[0].n || this.closed)) {
			const w = this.waiters.shift();
			if (this.buf.length < w.n) {
				w.reject(new Error('closed: ' + JSON.stringify(this.closed)));
				continue;
			}
			w.resolve(this.buf.subarray(0, w.n));
			this.buf = this.buf.subarray(w.n);
		}
	}

	read(n, ms = 5000) {
		return new Promise((resolve, reject) => {
			this.waiters.push({ n, resolve, reject });
			this.pump();
			setTimeout(() => reject(new Error(`timed out reading ${n} bytes`)), ms);
		});
	}

	/* RFB 3.8 with security None; returns the framebuffer size. */
	async handshake() {
		const ver = (await this.read(12)).toString();
		this.ws.send(Buffer.from('RFB 003.008\n'));
		const n = (await this.read(1))[0];
		await this.read(n);
		this.ws.send(Buffer.from([1]));
		await this.read(4);
		this.ws.send(Buffer.from([1]));
		const si = await this.read(24);
		await this.read(si.readUInt32BE(20));
		this.w = si.readUInt16BE(0);
		this.h = si.readUInt16BE(2);
		return { ver, w: this.w, h: this.h };
	}

	/* One full raw frame; returns its pixel byte count. */
	async frame() {
		const req = Buffer.alloc(10);
		req[0] = 3;
		req.writeUInt16BE(this.w, 6);
		req.writeUInt16BE(this.h, 8);
		this.ws.send(req);
		const hdr = await this.read(4);
		let bytes = 0;
		for (let i = 0; i < hdr.readUInt16BE(2); i++) {
			const r = await this.read(12);
			const len = r.readUInt16BE(4) * r.readUInt16BE(6) * 4;
			await this.read(len);
			bytes += len;
		}
		return bytes;
	}

	waitClosed(ms = 5000) {
		return t.until('the console to close', () => this.closed, ms);
	}
}

/* fakerfb from bench/vncproxy, built once into the build directory. */
function fakerfb() {
	const bin = path.join(t.build, 'fakerfb');
	execFileSync('cc', ['-O2', '-pthread', '-o', bin, path.join(t.top, 'bench/vncproxy/fakerfb.c')]);
	return bin;
}

module.exports = { Console, fakerfb };

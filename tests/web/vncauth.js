// A VNC server that asks for a password (RFB 3.8, security type 2, VNC
// authentication), for the console page's password prompt. It records the
// 16-byte response and accepts any, then serves a 64x48 raw screen.
'use strict';
const net = require('net');

function vncAuthServer(port) {
	const responses = [];
	const server = net.createServer((s) => {
		let buf = Buffer.alloc(0), stage = 0;
		s.write('RFB 003.008\n');
		s.on('error', () => {});
		s.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			for (;;) {
				if (stage === 0 && buf.length >= 12) {
					buf = buf.subarray(12);
					s.write(Buffer.from([1, 2]));
					stage = 1;
				} else if (stage === 1 && buf.length >= 1) {
					buf = buf.subarray(1);
					s.write(Buffer.alloc(16, 7)); // the challenge
					stage = 2;
				} else if (stage === 2 && buf.length >= 16) {
					responses.push(buf.subarray(0, 16).toString('hex'));
					buf = buf.subarray(16);
					s.write(Buffer.from([0, 0, 0, 0]));
					stage = 3;
				} else if (stage === 3 && buf.length >= 1) {
					buf = buf.subarray(1);
					const si = Buffer.alloc(28);
					si.writeUInt16BE(64, 0);
					si.writeUInt16BE(48, 2);
					si.set([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0], 4);
					si.writeUInt32BE(4, 20);
					si.write('auth', 24);
					s.write(si);
					stage = 4;
				} else if (stage === 4 && buf.length >= 1) {
					const len = { 0: 20, 2: 4 + (buf.length >= 4 ? buf.readUInt16BE(2) * 4 : 0), 3: 10, 4: 8, 5: 6 }[buf[0]];
					if (len === undefined || buf.length < len || (buf[0] === 2 && buf.length < 4))
						break;
					if (buf[0] === 3) {
						const f = Buffer.alloc(4 + 12 + 64 * 48 * 4, 0x80);
						f.writeUInt32BE(1, 0);
						f.writeUInt32BE(0, 4);
						f.writeUInt16BE(64, 8);
						f.writeUInt16BE(48, 10);
						f.writeInt32BE(0, 12);
						s.write(f);
					}
					buf = buf.subarray(len);
				} else {
					break;
				}
			}
		});
	});
	server.listen(port, '127.0.0.1');
	return { server, responses };
}

module.exports = { vncAuthServer };

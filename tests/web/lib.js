// Shared by the catkeeper-web tests: TAP output, a mount, the daemon, HTTP helpers.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const http = require('http');
const https = require('https');

const top = path.resolve(__dirname, '../..');
const build = path.resolve(process.argv[2] || path.join(top, 'build'));
const children = [];
const cleanups = [];
let n = 0, failed = 0;

function ok(cond, name, extra) {
	n++;
	if (!cond)
		failed++;
	console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
	if (!cond && extra !== undefined)
		console.log('# ' + String(extra).split('\n').join('\n# '));
	return cond;
}

function skip(name, why) {
	n++;
	console.log(`ok ${n} - ${name} # SKIP ${why}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 5000) {
	const end = Date.now() + ms;
	for (;;) {
		try {
			const v = await fn();
			if (v)
				return v;
		} catch (e) {
			if (Date.now() > end)
				throw e;
		}
		if (Date.now() > end)
			throw new Error(`timed out waiting for ${what}`);
		await sleep(50);
	}
}

function tmpdir(tag) {
	const d = fs.mkdtempSync(path.join(os.tmpdir(), `ckweb-${tag}-`));
	cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
	return d;
}

function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.listen(0, '127.0.0.1', () => {
			const p = s.address().port;
			s.close(() => resolve(p));
		});
		s.on('error', reject);
	});
}

function run(cmd, args, opts = {}) {
	const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
	p.out = '';
	p.err = '';
	p.stdout.on('data', (d) => { p.out += d; });
	p.stderr.on('data', (d) => { p.err += d; });
	p.exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
	// a program that cannot start fails its test; unhandled, it would end the file without cleanup
	p.on('error', (e) => { p.err += `cannot run ${cmd}: ${e.message}\n`; p.exitCode = p.exitCode ?? 127; });
	children.push(p);
	return p;
}

/* A real catkeeperfs mount (the embedded test:///default host unless args say otherwise). */
async function startMount(args = [], ready = 'default/test/state') {
	const dir = tmpdir('mnt');
	const mnt = path.join(dir, 'mnt');
	fs.mkdirSync(mnt);
	const p = run(path.join(build, 'fs/catkeeperfs'), ['-f', '--db', path.join(dir, 'db'), ...args, mnt]);
	cleanups.push(() => {
		try { execFileSync('fusermount3', ['-u', mnt], { stdio: 'ignore' }); } catch (e) { /* gone */ }
	});
	await until('the mount', () => fs.existsSync(path.join(mnt, ready)) || p.exitCode !== null, 10000);
	if (p.exitCode !== null)
		throw new Error('catkeeperfs exited: ' + p.err);
	return mnt;
}

/* A plain directory that looks like a mount: hosts and VMs as the spec lists them. */
function fakeMount(hosts) {
	const mnt = path.join(tmpdir('fake'), 'mnt');
	fs.mkdirSync(mnt, { recursive: true });
	execFileSync('mkfifo', [path.join(mnt, '.events')]);
	for (const [host, h] of Object.entries(hosts)) {
		fs.mkdirSync(path.join(mnt, host), { recursive: true });
		fs.writeFileSync(path.join(mnt, host, '.uri'), h.uri + '\n');
		fs.writeFileSync(path.join(mnt, host, '.status'), 'connected\n');
		for (const [vm, files] of Object.entries(h.vms || {})) {
			const d = path.join(mnt, host, vm);
			fs.mkdirSync(d);
			// a VM with a console has that VNC display in its definition
			const port = files.vnc ? files.vnc.replace(/.*:/, '') : '';
			const xml = port ? `<domain><devices><graphics type='vnc' port='${port}'/></devices></domain>` : '<domain/>';
			const all = { state: 'running', owner: '', description: '', ip: '', vnc: '', uuid: '', vcpus: '1', memory: '1024', autostart: '0', error: '', 'config.xml': xml, ...files };
			for (const [f, v] of Object.entries(all))
				fs.writeFileSync(path.join(d, f), v ? v + '\n' : '');
		}
	}
	return mnt;
}

async function startDaemon(mount, args = []) {
	const port = await freePort();
	const startedAt = Date.now();
	const p = run(path.join(build, 'daemon/catkeeper-web'), ['--mount', mount, '--port', String(port), ...args]);
	p.daemon = true;
	const url = await until('the daemon URL', () => {
		if (p.exitCode !== null)
			throw new Error('catkeeper-web exited: ' + p.err);
		const m = /(http\S+)/.exec(p.out);
		return m && m[1];
	});
	const base = `${args.includes('--cert') ? 'https' : 'http'}://127.0.0.1:${port}`;
	return { p, port, base, url, token: new URL(url).searchParams.get('token'), startedAt };
}

/* Plain HTTP with full control over the headers (fetch would add its own). */
function request(base, method, p, { headers = {}, body } = {}) {
	const u = new URL(p, base);
	if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length'))
		headers = { ...headers, 'Content-Length': Buffer.byteLength(body) };
	for (const h of Object.keys(headers))
		if (headers[h] === undefined)
			delete headers[h];
	return new Promise((resolve, reject) => {
		const mod = u.protocol === 'https:' ? https : http;
		const req = mod.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method,
			headers: { Host: u.host, ...headers }, setHost: false, agent: false, rejectUnauthorized: false }, (res) => {
			let data = '';
			res.on('data', (d) => { data += d; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
		});
		req.on('error', reject);
		if (body !== undefined)
			req.write(body);
		req.end();
	});
}

/*
 * Logs in, names the session; returns what later requests need. The start
 * token works once: later logins use an invitation made from the first session.
 */
async function login(d, name = 'alice') {
	let url = `/login?token=${d.token}`;
	if (d.first)
		url = JSON.parse((await request(d.base, 'POST', '/api/invite', { headers: d.first, body: '' })).body).url;
	const r = await request(d.base, 'GET', url);
	const cookie = (r.headers['set-cookie'] || [''])[0].split(';')[0];
	const s = JSON.parse((await request(d.base, 'GET', '/api/session', { headers: { Cookie: cookie } })).body);
	const auth = { Cookie: cookie, Origin: d.base, 'X-CSRF-Token': s.csrf };
	if (name)
		await request(d.base, 'POST', '/api/me', { headers: auth, body: name });
	if (!d.first)
		d.first = auth;
	return auth;
}

/* Opens a websocket; resolves with { ok, ws } or { ok: false, status | error }. */
function wsOpen(url, headers, protocol) {
	const WebSocket = requireModule('ws');
	return new Promise((resolve) => {
		const ws = new WebSocket(url, protocol, { headers, perMessageDeflate: false });
		ws.on('open', () => resolve({ ok: true, ws }));
		ws.on('unexpected-response', (req, res) => resolve({ ok: false, status: res.statusCode }));
		ws.on('error', (e) => resolve({ ok: false, error: e.message }));
	});
}

/* A password login (--passwd); returns what later requests need, and the login's status. */
async function pwLogin(d, user, pass) {
	const r = await request(d.base, 'POST', '/login', { headers: { Origin: d.base, 'Content-Type': 'application/x-www-form-urlencoded' },
		body: `user=${encodeURIComponent(user)}&password=${encodeURIComponent(pass)}` });
	const cookie = (r.headers['set-cookie'] || [''])[0].split(';')[0];
	const s = cookie ? JSON.parse((await request(d.base, 'GET', '/api/session', { headers: { Cookie: cookie } })).body) : {};
	return { Cookie: cookie, Origin: d.base, 'X-CSRF-Token': s.csrf, status: r.status, headers: r.headers };
}

/* A URL that logs a browser in: the start token while unused, else an invitation. */
async function loginUrl(d) {
	if (!d.first) {
		d.first = true; // spent by the browser that opens it
		return d.url;
	}
	if (d.first === true)
		throw new Error('the start token went to a browser: log in with t.login(d) first');
	const r = await request(d.base, 'POST', '/api/invite', { headers: d.first, body: '' });
	return new URL(JSON.parse(r.body).url, d.base).href;
}

let finishing = false;

async function finish() {
	if (finishing)
		return;
	finishing = true;
	const alive = () => children.filter((p) => p.exitCode === null && p.signalCode === null);
	for (const p of alive())
		p.kill('SIGTERM');
	for (let i = 0; i < 20 && alive().length; i++)
		await sleep(50);
	for (const p of alive())
		p.kill('SIGKILL');
	// the sanitizer build (make check) reports at exit
	for (const p of children.filter((p) => p.daemon))
		if (/ERROR: (Address|Leak)Sanitizer|runtime error:/.test(p.err))
			ok(false, 'catkeeper-web ran without sanitizer reports', p.err.slice(-4000));
	for (const c of cleanups.reverse())
		c();
	if (n)
		console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
}

/* Runs the test body (within ms), then cleans up whatever happened. */
function main(body, ms = 240000) {
	for (const sig of ['SIGINT', 'SIGTERM'])
		process.on(sig, () => { ok(false, `interrupted by ${sig}`); finish(); });
	const timer = setTimeout(() => { ok(false, 'test file finished in time'); finish(); }, ms);
	body().catch((e) => ok(false, 'test file ran to its end', e.stack)).finally(() => {
		clearTimeout(timer);
		setTimeout(finish, 200);
	});
}

/* npm modules live in tests/web/node_modules, installed from package-lock.json. */
function requireModule(name) {
	try {
		return require(name);
	} catch (e) {
		execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--silent'], { cwd: __dirname, stdio: 'ignore' });
		return require(name);
	}
}

function cleanupLater(fn) {
	cleanups.push(fn);
}

module.exports = { cleanupLater, top, build, ok, skip, sleep, until, tmpdir, freePort, run, startMount, fakeMount,
	startDaemon, request, login, loginUrl, wsOpen, pwLogin, finish, main, requireModule };

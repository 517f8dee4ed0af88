// One VM's console: noVNC over the daemon's proxy, with a token bound to this VM.
import RFB from '/novnc/core/rfb.js';

const p = new URLSearchParams(location.search);
const host = p.get('host'), vm = p.get('vm');
const status = document.getElementById('status');
const enc = encodeURIComponent;
// a name in an API path: bytes a URL cannot carry through the daemon escaped as .events writes them
const encName = (s) => enc(String(s).replace(/[\x00-\x20\x7f\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0')));

function say(text, bad) {
	status.textContent = text;
	status.className = bad ? 'error' : '';
}

async function open() {
	document.getElementById('title').textContent = `${host}/${vm}`;
	document.title = `${host}/${vm} console`;
	const session = await (await fetch('/api/session')).json();
	const r = await fetch(`/api/console/${encName(host)}/${encName(vm)}`, {
		method: 'POST', body: '', headers: { 'X-CSRF-Token': session.csrf },
	});
	const res = await r.json();
	if (!r.ok) {
		say(res.error, true);
		return;
	}
	const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
	const ws = new WebSocket(`${scheme}://${location.host}/console/${encName(host)}/${encName(vm)}?token=${enc(res.token)}`);
	// The daemon's close frame says why a console ended: whenever it comes,
	// before or after noVNC's own disconnect event, it has the last word.
	const closed = new Promise((resolve) => ws.addEventListener('close', (ev) => {
		if (ev.reason)
			say(`disconnected: ${ev.reason}`, true);
		resolve(ev.reason);
	}));
	const rfb = new RFB(document.getElementById('screen'), ws, {});
	rfb.scaleViewport = true;
	rfb.addEventListener('connect', () => say('connected'));
	rfb.addEventListener('disconnect', async (ev) => {
		const pause = (ms) => new Promise((r) => setTimeout(() => r(''), ms));
		let reason = await Promise.race([closed, pause(1000)]);
		// A reset socket loses the close frame: ask the daemon instead.
		for (let i = 0; !reason && i < 10; i++) {
			try {
				const r = await fetch(`/api/console/${encName(host)}/${encName(vm)}`);
				reason = (await r.json()).reason || '';
			} catch (e) {
				reason = '';
			}
			if (!reason)
				await pause(500);
		}
		say(`disconnected${reason ? ': ' + reason : ev.detail.clean ? '' : ' (connection lost)'}`, true);
	});
	rfb.addEventListener('securityfailure', (ev) => say(`refused by the VNC server: ${ev.detail.reason || ev.detail.status}`, true));
	rfb.addEventListener('credentialsrequired', () => {
		const password = prompt(`Password for the console of ${host}/${vm}`);
		if (password === null)
			rfb.disconnect();
		else
			rfb.sendCredentials({ password });
	});
	window.rfb = rfb;
}

open().catch((e) => say(e.message, true));

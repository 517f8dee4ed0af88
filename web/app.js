// catkeeper page: every VM of every host, live from the mount through catkeeper-web.

const COLS = ['host', 'name', 'state', 'owner', 'description', 'ip', 'console'];
const vms = new Map(); // "host/name" -> { data, tr, text }
const hosts = new Map();
let session = null;
let sortCol = 'host', sortDir = 1;
let terms = [];

const $ = (id) => document.getElementById(id);
const tbody = document.querySelector('#vms tbody');
const key = (host, name) => host + '/' + name;
const enc = encodeURIComponent;
// a name in an API path: bytes a URL cannot carry through the daemon escaped as .events writes them
const encName = (s) => enc(String(s).replace(/[\x00-\x20\x7f\\]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0')));

function message(text, info) {
	const div = document.createElement('div');
	div.textContent = text;
	if (info)
		div.className = 'info';
	$('messages').prepend(div);
	setTimeout(() => div.remove(), info ? 4000 : 15000);
}

/*
 * The name that marks "me" is asked when this user first acts (or clicks
 * "you"), not before: the inventory shows at once.
 */
let naming = null;
function ensureName() {
	if (session.user || session.mode !== 'token')
		return Promise.resolve();
	if (!naming)
		naming = new Promise((resolve) => {
			$('whoami').hidden = false;
			$('whoami-name').focus();
			$('whoami').addEventListener('submit', async function named(ev) {
				ev.preventDefault();
				try {
					session = await api('POST', '/api/me', $('whoami-name').value.trim());
				} catch (e) {
					fail('name', e);
					return;
				}
				$('whoami').hidden = true;
				$('whoami').removeEventListener('submit', named);
				showMe();
				naming = null;
				resolve();
			});
		});
	return naming;
}

function showMe() {
	$('me').textContent = session.user ? `you: ${session.user}` : 'you: (no name yet)';
}

async function api(method, path, body) {
	const opts = { method, headers: {}, credentials: 'same-origin' };
	if (method === 'POST' && path !== '/api/me')
		await ensureName();
	if (method === 'POST') {
		opts.headers['X-CSRF-Token'] = session.csrf;
		opts.body = body ?? '';
	}
	const r = await fetch(path, opts);
	const type = r.headers.get('content-type') || '';
	const res = type.startsWith('application/json') ? await r.json() : await r.text();
	if (r.status === 401) {
		location.reload();
		throw new Error('not logged in');
	}
	if (!r.ok) {
		const err = new Error(res.error || r.statusText);
		err.detail = res.detail || '';
		throw err;
	}
	return res;
}

function fail(what, e) {
	message(`${what}: ${e.message}${e.detail ? ' — ' + e.detail : ''}`);
}

/* ---- the filter: plain words match any column, col:value one column ---- */

function parseFilter(q) {
	return q.trim().toLowerCase().split(/\s+/).filter(Boolean).map((t) => {
		const m = /^([a-z]+):(.*)$/.exec(t);
		return m && COLS.includes(m[1]) ? { col: m[1], v: m[2] } : { col: null, v: t };
	});
}

function matches(row) {
	const d = row.data;
	return terms.every((t) => t.col ? String(d[t.col] ?? '').toLowerCase().includes(t.v)
		: row.text.includes(t.v));
}

function applyFilter() {
	let shown = 0;
	for (const row of vms.values()) {
		const ok = matches(row);
		if (row.tr.hidden === ok)
			row.tr.hidden = !ok;
		shown += ok;
	}
	$('count').textContent = `${shown} of ${vms.size} VMs`;
}

function saveUrl() {
	const p = new URLSearchParams();
	const q = $('filter').value.trim();
	if (q)
		p.set('q', q);
	if (sortCol !== 'host' || sortDir !== 1)
		p.set('sort', (sortDir < 0 ? '-' : '') + sortCol);
	const s = p.toString();
	history.replaceState(null, '', s ? '?' + s : location.pathname);
}

/* ---- rows ---- */

function consoleCell(d) {
	if (d.vnc)
		return `<a href="/console.html?host=${enc(d.host)}&vm=${enc(d.name)}" target="_blank" data-act="console">open</a>`;
	if (d.state !== 'running')
		return '<span class="muted">not running</span>';
	return '<span class="muted" title="the embedded test host runs no VNC server">no console</span>';
}

function esc(s) {
	return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
}

function actions(d) {
	const b = (act, label) => `<button data-act="${act}">${label}</button>`;
	const out = [];
	if (d.state === 'running')
		out.push(b('shutdown', 'shutdown'), b('reboot', 'reboot'), b('destroy', 'destroy'));
	else if (d.state === 'paused')
		out.push(b('resume', 'resume'), b('destroy', 'destroy'));
	else
		out.push(b('start', 'start'));
	if (!d.owner)
		out.push(b('reserve', 'reserve for me'));
	else if (d.owner === session.user)
		out.push(b('release', 'release'));
	else
		out.push(b('takeover', 'take over'));
	out.push(b('describe', 'description'), b('xml', 'config.xml'));
	return out.join('');
}

function fill(row) {
	const d = row.data;
	row.text = COLS.map((c) => d[c] ?? '').join('\n').toLowerCase();
	row.tr.innerHTML =
		`<td>${esc(d.host)}</td><td>${esc(d.name)}</td>` +
		`<td class="state-${esc(d.state)}">${esc(d.state)}</td>` +
		`<td class="${d.owner && d.owner === session.user ? 'mine' : ''}">${esc(d.owner)}</td>` +
		`<td>${esc(d.description)}</td><td class="ip">${esc(d.ip)}</td>` +
		`<td>${consoleCell(d)}</td><td>${actions(d)}</td>`;
	row.tr.hidden = !matches(row);
	markStale(row);
}

/* The values of a host that cannot be reached are its last known ones. */
function markStale(row) {
	const h = hosts.get(row.data.host);
	const stale = Boolean(h && h.status && h.status !== 'connected');
	row.tr.classList.toggle('stale', stale);
	row.tr.title = stale ? `${row.data.host}: ${h.status}` : '';
}

function upsert(d) {
	const k = key(d.host, d.name);
	let row = vms.get(k);
	if (d.gone) {
		if (row) {
			row.tr.remove();
			vms.delete(k);
		}
		return;
	}
	d.console = d.vnc ? 'open' : '';
	if (!row) {
		row = { tr: document.createElement('tr') };
		row.tr.dataset.key = k;
		vms.set(k, row);
		tbody.append(row.tr);
	}
	row.data = d;
	fill(row);
}

function compare(a, b) {
	const x = a.data[sortCol] ?? '', y = b.data[sortCol] ?? '';
	return sortDir * (x.localeCompare(y, undefined, { numeric: true }) ||
		a.data.host.localeCompare(b.data.host) || a.data.name.localeCompare(b.data.name));
}

function sortRows() {
	const rows = [...vms.values()].sort(compare);
	const frag = document.createDocumentFragment();
	for (const r of rows)
		frag.append(r.tr);
	tbody.append(frag);
	for (const th of document.querySelectorAll('th[data-col]')) {
		th.classList.toggle('asc', th.dataset.col === sortCol && sortDir > 0);
		th.classList.toggle('desc', th.dataset.col === sortCol && sortDir < 0);
	}
}

function showHosts() {
	const el = $('hosts');
	el.innerHTML = '';
	for (const h of [...hosts.values()].sort((a, b) => a.name.localeCompare(b.name))) {
		const s = document.createElement('span');
		s.dataset.host = h.name;
		s.textContent = `${h.name}: ${h.status || '?'}`;
		s.title = h.uri;
		if (h.status && h.status !== 'connected')
			s.className = 'error';
		el.append(s);
	}
}

async function loadAll() {
	const res = await api('GET', '/api/vms');
	hosts.clear();
	for (const h of res.hosts)
		hosts.set(h.name, h);
	vms.clear();
	tbody.innerHTML = '';
	for (const d of res.vms)
		upsert(d);
	showHosts();
	sortRows();
	applyFilter();
}

/* ---- live updates ---- */

function follow() {
	const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events`);
	ws.onopen = () => {
		$('live').textContent = 'live';
		$('live').className = 'on';
		// changes made before the socket opened
		loadAll().catch((e) => fail('reload', e));
	};
	ws.onmessage = (ev) => {
		const m = JSON.parse(ev.data);
		if (m.t === 'vm') {
			const isNew = !vms.has(key(m.vm.host, m.vm.name));
			upsert(m.vm);
			if (isNew)
				sortRows();
			applyFilter();
		} else if (m.t === 'host') {
			if (m.host.gone) {
				hosts.delete(m.host.name);
				for (const [k, r] of vms)
					if (r.data.host === m.host.name) {
						r.tr.remove();
						vms.delete(k);
					}
			} else {
				hosts.set(m.host.name, m.host);
				for (const r of vms.values())
					if (r.data.host === m.host.name)
						markStale(r);
			}
			showHosts();
			applyFilter();
		} else if (m.t === 'reload') {
			loadAll().catch((e) => fail('reload', e));
		}
	};
	ws.onclose = () => {
		$('live').textContent = 'offline';
		$('live').className = '';
		setTimeout(follow, 2000);
	};
}

/* ---- actions ---- */

const CONFIRM = {
	destroy: (d) => `Destroy (power off) ${d.host}/${d.name} now?`,
	takeover: (d) => `${d.host}/${d.name} is reserved by ${d.owner}. Take it over?`,
};

async function act(action, d) {
	const base = `/api/vm/${encName(d.host)}/${encName(d.name)}`;
	if (CONFIRM[action] && !confirm(CONFIRM[action](d)))
		return;
	try {
		if (['reserve', 'release', 'takeover'].includes(action))
			await api('POST', `${base}/${action}`);
		else if (action === 'describe')
			return editDescription(d);
		else if (action === 'xml')
			return editXml(d);
		else
			await api('POST', `${base}/state`, action);
		message(`${d.host}/${d.name}: ${action} done`, true);
	} catch (e) {
		fail(`${d.host}/${d.name}: ${action}`, e);
	}
}

function editDescription(d) {
	const dlg = $('desc-dialog');
	dlg.querySelector('.vmname').textContent = `${d.host}/${d.name}`;
	$('desc-text').value = d.description;
	$('desc-error').textContent = '';
	dlg.onclose = null;
	$('desc-save').onclick = async (ev) => {
		ev.preventDefault();
		try {
			await api('POST', `/api/vm/${encName(d.host)}/${encName(d.name)}/description`, $('desc-text').value);
			dlg.close();
		} catch (e) {
			$('desc-error').textContent = e.message + (e.detail ? '\n' + e.detail : '');
		}
	};
	dlg.showModal();
}

async function editXml(d) {
	const dlg = $('xml-dialog');
	const path = `/api/vm/${encName(d.host)}/${encName(d.name)}/config.xml`;
	dlg.querySelector('.vmname').textContent = `${d.host}/${d.name}`;
	$('xml-error').textContent = '';
	$('xml-text').value = await api('GET', path);
	$('xml-save').onclick = async (ev) => {
		ev.preventDefault();
		$('xml-error').textContent = '';
		try {
			await api('POST', path, $('xml-text').value);
			dlg.close();
			message(`${d.host}/${d.name}: config.xml saved`, true);
		} catch (e) {
			$('xml-error').textContent = `${e.message}${e.detail ? '\n' + e.detail : ''}`;
		}
	};
	dlg.showModal();
}

/* ---- start ---- */

function wire() {
	tbody.addEventListener('click', (ev) => {
		const b = ev.target.closest('[data-act]');
		if (b && b.dataset.act === 'console' && !session.user && session.mode === 'token') {
			// a console is an action: it needs the name, then opens
			ev.preventDefault();
			ensureName().then(() => window.open(b.href, '_blank'));
			return;
		}
		if (!b || b.dataset.act === 'console')
			return;
		const row = vms.get(b.closest('tr').dataset.key);
		if (row)
			act(b.dataset.act, row.data);
	});
	for (const th of document.querySelectorAll('th[data-col]'))
		th.addEventListener('click', () => {
			sortDir = sortCol === th.dataset.col ? -sortDir : 1;
			sortCol = th.dataset.col;
			sortRows();
			saveUrl();
		});
	$('filter').addEventListener('input', () => {
		terms = parseFilter($('filter').value);
		applyFilter();
		saveUrl();
	});
	$('addhost-form').addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const name = $('addhost-name').value.trim();
		try {
			await api('POST', `/api/host/${encName(name)}`, $('addhost-uri').value.trim());
			message(`host ${name} added`, true);
			$('addhost-form').reset();
		} catch (e) {
			fail(`add host ${name}`, e);
		}
	});
}

async function start() {
	const p = new URLSearchParams(location.search);
	$('filter').value = p.get('q') || '';
	terms = parseFilter($('filter').value);
	const s = p.get('sort');
	if (s) {
		sortDir = s.startsWith('-') ? -1 : 1;
		sortCol = COLS.includes(s.replace(/^-/, '')) ? s.replace(/^-/, '') : 'host';
	}
	session = await api('GET', '/api/session');
	showMe();
	$('me').addEventListener('click', () => ensureName());
	wire();
	await loadAll();
	follow();
}

start().catch((e) => fail('start', e));

// Headless system Chromium driven by playwright-core: no browser download.
'use strict';
const t = require('./lib');

async function launch() {
	const { chromium } = t.requireModule('playwright-core');
	const ctx = await chromium.launchPersistentContext(t.tmpdir('chromium'), {
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	return ctx;
}

module.exports = { launch };

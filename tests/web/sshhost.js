// A stand-in remote host for console tests: a network namespace reached over a
// veth (NET.250.2), an sshd of its own inside, and a VNC server on the host's
// loopback. Lighter than tests/testbed (no libvirt), and it can run beside it.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const t = require('./lib');

// named and numbered after the testbed's TESTBED_PREFIX and TESTBED_NET, so that
// two people's test runs on one machine do not tear down each other's host
const PREFIX = process.env.TESTBED_PREFIX || 'ck', NET = process.env.TESTBED_NET || '10.77';
const NS = `${PREFIX}webssh`, VR = `${PREFIX}webr`, VH = `${PREFIX}webh`, IP = `${NET}.250.2`;

function sh(cmd, args, opts = {}) {
	return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
}

function teardown(dir) {
	try {
		for (const pid of sh('ip', ['netns', 'pids', NS]).split('\n').filter(Boolean))
			try { process.kill(Number(pid), 'SIGKILL'); } catch (e) { /* gone */ }
	} catch (e) { /* no namespace */ }
	try { sh('ip', ['netns', 'del', NS]); } catch (e) { /* none */ }
	try { sh('ip', ['link', 'del', VR]); } catch (e) { /* went with the namespace */ }
}

/*
 * Starts the host with the VNC server command(s) given (argv arrays) running
 * inside it; returns { ip, key, knownHosts, uri, dropSshd(), dir }.
 */
async function sshHost(...vncCommands) {
	if (process.getuid() !== 0 || !fs.existsSync('/usr/sbin/sshd'))
		return null;
	const dir = t.tmpdir('sshhost');
	teardown(dir);
	sh('ip', ['netns', 'add', NS]);
	t.cleanupLater(() => teardown(dir));
	sh('ip', ['link', 'add', VR, 'type', 'veth', 'peer', 'name', VH]);
	sh('ip', ['link', 'set', VH, 'netns', NS]);
	sh('ip', ['addr', 'add', `${NET}.250.1/30`, 'dev', VR]);
	sh('ip', ['link', 'set', VR, 'up']);
	sh('ip', ['netns', 'exec', NS, 'ip', 'addr', 'add', `${IP}/30`, 'dev', VH]);
	sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', VH, 'up']);
	sh('ip', ['netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up']);
	sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'hostkey')]);
	sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'id')]);
	sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'otherkey')]);
	fs.copyFileSync(path.join(dir, 'id.pub'), path.join(dir, 'authorized_keys'));
	const hostPub = fs.readFileSync(path.join(dir, 'hostkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
	const otherPub = fs.readFileSync(path.join(dir, 'otherkey.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
	fs.writeFileSync(path.join(dir, 'known_hosts'), `${IP} ${hostPub}\n`);
	fs.writeFileSync(path.join(dir, 'known_hosts.changed'), `${IP} ${otherPub}\n`);
	fs.writeFileSync(path.join(dir, 'known_hosts.empty'), '');
	fs.mkdirSync('/run/sshd', { recursive: true });
	fs.writeFileSync(path.join(dir, 'sshd_config'), [
		`ListenAddress ${IP}`, `HostKey ${dir}/hostkey`, `PidFile ${dir}/sshd.pid`,
		`AuthorizedKeysFile ${dir}/authorized_keys`, 'PermitRootLogin prohibit-password',
		'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
		'AllowTcpForwarding yes', 'LogLevel VERBOSE', ''].join('\n'));
	const sshd = t.run('ip', ['netns', 'exec', NS, '/usr/sbin/sshd', '-D', '-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'sshd.log')]);
	for (const cmd of vncCommands)
		t.run('ip', ['netns', 'exec', NS, ...cmd]);
	await t.until('sshd to answer', () => {
		try {
			return sh('ssh', ['-i', path.join(dir, 'id'), '-o', `UserKnownHostsFile=${dir}/known_hosts`, '-o', 'BatchMode=yes',
				'-o', 'ConnectTimeout=2', `root@${IP}`, 'true']) === '';
		} catch (e) {
			return false;
		}
	}, 10000);
	return {
		ip: IP, dir, sshd,
		key: path.join(dir, 'id'),
		knownHosts: path.join(dir, 'known_hosts'),
		uri: `qemu+libssh2://root@${IP}/system?sshauth=privkey&keyfile=${dir}/id&known_hosts=${dir}/known_hosts`,
		/* every sshd of the host dies: its connections drop */
		dropSshd() {
			for (const pid of sh('ip', ['netns', 'pids', NS]).split('\n').filter(Boolean))
				if (/sshd/.test(fs.readFileSync(`/proc/${pid}/comm`, 'utf8')))
					process.kill(Number(pid), 'SIGKILL');
		},
	};
}

module.exports = { sshHost };

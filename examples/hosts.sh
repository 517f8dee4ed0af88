#!/bin/sh
# Adds a team's hosts to a running catkeeperfs mount (stored in its database,
# so later mounts have them too). Usage: hosts.sh MOUNT
set -e
MNT=${1:?usage: hosts.sh MOUNT}
add() {
	mkdir "$MNT/$1" && echo "$2" >"$MNT/$1/.uri"
}
# ssh with the user's keys, agent and ~/.ssh/config, as virsh does it:
add lab1 'qemu+ssh://root@lab1.example.com/system'
# libssh2 inside libvirt: a key file and a known_hosts file of its own:
add lab2 'qemu+libssh2://root@lab2.example.com/system?sshauth=privkey&keyfile=/etc/catkeeper/id_ed25519&known_hosts=/etc/catkeeper/known_hosts'
# the local hypervisor:
add local 'qemu:///system'

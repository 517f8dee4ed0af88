# Shared by tests/remote/test-*: sourced after ../lib.sh.
#
# These tests run catkeeperfs against the real libvirtd+qemu hosts of
# tests/testbed (network namespaces reached over ssh) and check every effect
# with virsh on the host itself.
#
#   tb_up N [UP ARGS]      brings the testbed up (torn down again at exit, also
#                          on failure or interruption), sources its env
#   tb_virsh I ARGS...     virsh on host I (over libssh2), with a timeout
#   tb_fault I ACTION      tests/testbed/fault
#   vstate I VM            `virsh domstate` (one word)
#   vowner I VM            the owner in the domain's metadata (empty if none)
#   vlisted I VM           VM is in `virsh list --all --name`
#   mount_tb MNT [ARGS]    mount_fs with h1 over libssh2, h2 over ssh, h3 over
#                          libssh (the hosts that are up), refresh 2 s
TB_BIN=$TOP/tests/testbed

private_mount_ns
OWNER_NS=https://catkeeper.dev/xmlns/owner/1
TB_IS_UP=0
VIRSH_TIMEOUT=${VIRSH_TIMEOUT:-30}

# lib.sh's EXIT trap (cleanup) unmounts and then exits; the testbed must go
# down after that, whatever happened.  cleanup ends with `exit $rc`: run a
# copy of it that returns instead, then take the testbed down, then exit.
eval "$(declare -f cleanup | sed -e '1s/^cleanup/lib_cleanup/' -e 's/^\([[:space:]]*\)exit \$rc;*$/\1return $rc/')"
if ! declare -f lib_cleanup | grep -q 'return \$rc'; then
	echo "Bail out! tests/remote/common.sh cannot wrap lib.sh's cleanup"
	exit 1
fi
remote_cleanup() {
	local rc=$?
	trap - EXIT
	(exit $rc)
	lib_cleanup
	rc=$?
	tb_down_now
	exit $rc
}
trap remote_cleanup EXIT

tb_down_now() {
	[ "$TB_IS_UP" = 1 ] || return 0
	TB_IS_UP=0
	local t0=$SECONDS out
	# (lib_cleanup may have removed $TMP already)
	out=$(timeout -k 10 120 "$TB_BIN/down" 2>&1)
	if [ $? -ne 0 ]; then
		echo "# testbed down failed:"
		printf '%s\n' "$out" | tail -n 20 | sed -e 's/^/#   /'
	fi
	echo "# testbed down in $((SECONDS - t0)) s"
}

# tb_up N [UP ARGS]: bails out (after printing the logs) if the testbed does
# not come up.
tb_up() {
	local n=$1 t0=$SECONDS
	shift
	[ "$(id -u)" = 0 ] || { skip "testbed" "needs root"; done_testing; exit 0; }
	[ -e /dev/fuse ] || { skip "testbed" "no /dev/fuse"; done_testing; exit 0; }
	TB_IS_UP=1
	if ! timeout -k 10 600 "$TB_BIN/up" "$@" "$n" >"$TMP/tb-up.out" 2>&1; then
		not_ok "testbed up $n" "$(tail -n 40 "$TMP/tb-up.out")"
		done_testing
		exit 1
	fi
	TB_ENV=$(tail -n 1 "$TMP/tb-up.out")
	[ -f "$TB_ENV" ] || TB_ENV=${TESTBED_DIR:-$TB_BIN/state}/env
	# shellcheck disable=SC1090
	. "$TB_ENV"
	echo "# testbed up $n in $((SECONDS - t0)) s ($TB_ENV)"
}

tb_virsh() { timeout -k 5 "$VIRSH_TIMEOUT" "$TB_BIN/virsh" "$@"; }
tb_fault() { timeout -k 5 60 "$TB_BIN/fault" "$@"; }

vstate() { tb_virsh "$1" domstate "$2" 2>&1 | sed -e '/^$/d' | head -n 1; }
# vword I VM: virsh domstate in catkeeper's words (shut off -> shutoff, ...).
vword() { vstate "$1" "$2" | sed -e 's/^shut off$/shutoff/' -e 's/^in shutdown$/shutdown/' -e 's/^idle$/blocked/'; }
# vstate_is I VM WORD (for wait_for)
vstate_is() { [ "$(vstate "$1" "$2")" = "$3" ]; }

# vowner I VM: the <owner> text, empty when the metadata element is absent.
vowner() {
	local out
	out=$(tb_virsh "$1" metadata "$2" --uri "$OWNER_NS" 2>&1)
	case $out in
	*"metadata not found"*) return 0 ;;
	*"<owner"*) printf '%s' "$out" | tr -d '\n' | sed -e 's/.*<owner[^>]*>\(.*\)<\/owner>.*/\1/' -e 's/.*<owner[^>]*\/>.*//' ;;
	*) echo "<virsh error: $out>"; return 1 ;;
	esac
}
vowner_is() { [ "$(vowner "$1" "$2")" = "$3" ]; }

vlist() { tb_virsh "$1" list --all --name 2>&1 | sed -e '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }
vlisted() { tb_virsh "$1" list --all --name 2>/dev/null | grep -qxF -- "$2"; }
vnot_listed() { local l; l=$(tb_virsh "$1" list --all --name 2>/dev/null) || return 1; ! printf '%s\n' "$l" | grep -qxF -- "$2"; }

# ls_a DIR: `ls -A` as one line, names separated by spaces.
ls_a() { ls -A "$1" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
lists() { ls -A "$2" | grep -qxF -- "$1"; }
lists_not() { ! ls -A "$2" | grep -qxF -- "$1"; }
has_line() { grep -qxF -- "$2" "$1"; }

# mount_tb MNT [EXTRA ARGS]: h1 over qemu+libssh2, h2 over qemu+ssh, h3 over
# qemu+libssh (those that are up).
mount_tb() {
	local mnt=$1
	shift
	local args=(--refresh 2 --host "h1=$TB_h1_URI_LIBSSH2")
	[ -n "${TB_h2_URI_SSH:-}" ] && args+=(--host "h2=$TB_h2_URI_SSH")
	[ -n "${TB_h3_URI_LIBSSH:-}" ] && args+=(--host "h3=$TB_h3_URI_LIBSSH")
	mount_fs "$mnt" "${args[@]}" "$@"
}

# host_connected MNT HOST: .status reads "connected".
host_connected() { file_is "$1/$2/.status" connected; }

# A domain XML for a new diskless TCG guest NAME (no uuid: catkeeperfs or
# libvirt fills it in).
new_domain_xml() {
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='KiB'>${2:-65536}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
  </devices>
</domain>
EOF
}

# now_ms: milliseconds since the epoch.
now_ms() { date +%s%3N; }

# umount_tb MNT: umount_fs, and if catkeeperfs has not exited 20 s after the
# unmount, the stacks of its threads (gdb) are shown as diagnostics.
umount_tb() {
	local mnt pid w
	mnt=$(realpath "$1")
	pid=${MOUNT_PID[$mnt]:-}
	if [ -n "$pid" ] && command -v gdb >/dev/null; then
		# (no output to our stdout: the runner's tee would wait for it)
		(
			exec >/dev/null 2>&1
			sleep 20 &
			sp=$!
			trap 'kill $sp; exit 0' TERM
			wait $sp
			alive "$pid" && timeout 60 gdb -q -batch -p "$pid" -ex 'thread apply all bt' >"$TMP/hang-stacks.$pid" 2>&1
		) &
		w=$!
	fi
	umount_fs "$mnt"
	[ -n "${w:-}" ] && { kill "$w" 2>/dev/null; wait "$w" 2>/dev/null; }
	if [ -n "$pid" ] && [ -s "$TMP/hang-stacks.$pid" ]; then
		local f q holders=""
		for f in /proc/[0-9]*/mountinfo; do
			q=${f#/proc/}; q=${q%%/*}
			grep -qF " $mnt " "$f" 2>/dev/null || continue
			holders="$holders $q($(tr '\0' ' ' <"/proc/$q/cmdline" 2>/dev/null | cut -c1-60))"
		done
		[ -n "$holders" ] && echo "# processes whose mount namespace still has $mnt:$holders"
		echo "# catkeeperfs $pid was still running 20 s after fusermount3 -u; its threads:"
		grep -E '^(Thread|#[0-9]+ )' "$TMP/hang-stacks.$pid" | grep -vE 'in (__GI_|_start|start_thread|clone)' | head -n 80 | sed -e 's/^/#   /'
	fi
}

# log_tail: the last lines of the current mount's log, for diagnostics.
log_tail() { tail -n "${1:-15}" "$FS_LOG" 2>/dev/null; }

# has_fd_events PID: the process has MOUNT/.events open.
has_fd_events() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q '/\.events$'; }

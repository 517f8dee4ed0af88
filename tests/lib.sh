# catkeeper test helpers, sourced by tests/*/test-* (bash).
#
#   #!/bin/bash
#   . "$(dirname "$0")/../lib.sh" "$@"      # $1 = BUILDDIR
#
# TAP:   ok NAME / not_ok NAME [DIAG...] / skip NAME REASON
#        check NAME CMD...                  passes when CMD exits 0
#        check_fails NAME CMD...            passes when CMD exits non-zero
#        is NAME GOT EXPECTED               string equality, shows both on failure
#        like NAME GOT ERE                  extended regex match (whole string: anchor yourself)
#        expect_errno NAME "MESSAGE" 'SHELL COMMAND'
#                                           the command (run by bash -c, LC_ALL=C) fails and
#                                           its stderr contains MESSAGE (strerror text)
#        done_testing                       prints the plan; exit status = failures > 0
# Waits: wait_for [-t SECS] CMD...          retries CMD until it succeeds (default 10 s)
#        file_is FILE TEXT                  FILE's content is TEXT followed by a newline
#                                           (or empty when TEXT is empty)
# Mounts: mount_fs MNT [catkeeperfs args]   starts $CATKEEPERFS -f --db $FS_DB --log ...
#                                           in the background, waits until mounted
#         umount_fs MNT                     fusermount3 -u, waits for exit, fails a test
#                                           if it exited non-zero or a sanitizer reported
#         bg CMD...                         runs CMD in the background, killed at exit
# Everything lives in $TMP (removed at exit unless a test failed or KEEP_TMP=1).

set -u
export LC_ALL=C
export TZ=UTC

if [ $# -lt 1 ] || [ -z "${1:-}" ]; then
	echo "usage: $0 BUILDDIR" >&2
	exit 2
fi
BUILD=$(realpath -m "$1")
TESTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$TESTS")
CATKEEPERFS=${CATKEEPERFS:-$BUILD/fs/catkeeperfs}
TMP=$(mktemp -d "/tmp/catkeeper-$(basename "$0").XXXXXX")
FS_DB=${FS_DB:-$TMP/db}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-10}
CMD_TIMEOUT=${CMD_TIMEOUT:-60}
if [ -x /usr/bin/python3 ]; then PYTHON=${PYTHON:-/usr/bin/python3}; else PYTHON=${PYTHON:-python3}; fi

# The build used by tests has ASan/UBSan: stop at the first error, with stacks.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if [ -f "$TESTS/lsan.supp" ] && [ -z "${LSAN_OPTIONS:-}" ]; then
	export LSAN_OPTIONS=suppressions=$TESTS/lsan.supp:print_suppressions=0
fi

T_NUM=0
T_FAIL=0
T_SKIP=0
MOUNTS=()     # mount points still mounted
declare -A MOUNT_PID MOUNT_N
BG_PIDS=()
N_MOUNT=0
REPORTED=""   # mounts whose sanitizer output umount_fs already checked

# ---- TAP ----------------------------------------------------------------

diag() {
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed -e 's/^/#   /'
	done
}

ok() {
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM - $1"
}

not_ok() {
	T_NUM=$((T_NUM + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_NUM - $1"
	shift
	[ $# -gt 0 ] && diag "$@"
	return 0
}

skip() {
	T_NUM=$((T_NUM + 1))
	T_SKIP=$((T_SKIP + 1))
	echo "ok $T_NUM - $1 # SKIP $2"
}

# Shows a value with invisible characters made visible.
visible() { printf '%s' "$1" | od -An -c | tr -s ' ' | head -c 600; }

check() {
	local name=$1
	shift
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name" "command: $*" "exit: $rc" "${out:0:2000}"
	fi
}

check_fails() {
	local name=$1
	shift
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		ok "$name"
	else
		not_ok "$name" "command unexpectedly succeeded: $*" "${out:0:2000}"
	fi
}

is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got:      '$2'" "expected: '$3'" "got (od): $(visible "$2")"
	fi
}

like() {
	if [[ $2 =~ $3 ]]; then
		ok "$1"
	else
		not_ok "$1" "got:      '$2'" "expected to match: $3" "got (od): $(visible "$2")"
	fi
}

unlike() {
	if [[ $2 =~ $3 ]]; then
		not_ok "$1" "got:      '$2'" "expected NOT to match: $3"
	else
		ok "$1"
	fi
}

# expect_errno NAME MESSAGE 'SHELL COMMAND'
expect_errno() {
	local name=$1 msg=$2 cmd=$3 out rc
	out=$(LC_ALL=C timeout -k 5 "$CMD_TIMEOUT" bash -c "$cmd" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ]; then
		not_ok "$name" "command succeeded, expected failure with '$msg'" "command: $cmd" "${out:0:1000}"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		not_ok "$name" "command timed out after ${CMD_TIMEOUT}s" "command: $cmd"
	elif [[ $out == *"$msg"* ]]; then
		ok "$name"
	else
		not_ok "$name" "expected error message: '$msg'" "got (exit $rc): ${out:0:1000}" "command: $cmd"
	fi
}

done_testing() {
	echo "1..$T_NUM"
	[ "$T_FAIL" -eq 0 ]
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

# ---- waiting ------------------------------------------------------------

# wait_for [-t SECS] CMD... : retries CMD every 0.1 s until it succeeds; the
# bound is generous: it catches "never", it does not measure speed.
wait_for() {
	local t=$WAIT_TIMEOUT
	if [ "${1:-}" = -t ]; then
		t=$2
		shift 2
	fi
	local end=$((SECONDS + t))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -ge $end ] && break
		sleep 0.1
	done
	"$@"
}

# file_is FILE TEXT: FILE reads as exactly TEXT plus a newline (empty: empty).
file_is() {
	local want got
	if [ -z "$2" ]; then want=""; else want="$2"$'\n'; fi
	got=$(cat -- "$1"; echo x) || return 1
	got=${got%x}
	[ "$got" = "$want" ]
}

# content FILE: the file's content with one trailing newline removed
# (prints <ERROR> if it cannot be read).
content() {
	local got
	got=$(timeout -k 5 "$CMD_TIMEOUT" cat -- "$1"; echo x) || { echo "<ERROR>"; return 1; }
	got=${got%x}
	printf '%s' "${got%$'\n'}"
}

# ls_hosts MNT: the hosts the mount root lists (not the table nor the views),
# one line, separated by spaces.
ls_hosts() { ls -A "$1" 2>&1 | grep -vxE '\.vms|by-ip|by-owner|by-state|free' | tr '\n' ' ' | sed 's/ $//'; }
hosts_are() { [ "$(ls_hosts "$1")" = "$2" ]; }

# ---- background processes -----------------------------------------------

# alive PID: the process exists and is not a zombie (kill -0 succeeds on an
# exited child that was not waited for yet).
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st:0:1}" != Z ]
}

bg() {
	"$@" &
	BG_PIDS+=($!)
}

kill_bg() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}"; do
		wait_for -t 5 eval "! alive $p" || kill -KILL "$p" 2>/dev/null
	done
	BG_PIDS=()
}

# ---- mounts -------------------------------------------------------------

need_fs() {
	if [ ! -x "$CATKEEPERFS" ]; then
		not_ok "catkeeperfs is built ($CATKEEPERFS)"
		done_testing
		exit 1
	fi
	if [ ! -e /dev/fuse ]; then
		not_ok "/dev/fuse exists"
		done_testing
		exit 1
	fi
}

mounted_and_listed() {
	mountpoint -q "$1" && [ -n "$(ls -A "$1" 2>/dev/null)" ]
}

# mount_fs MNT [ARGS...]: returns non-zero (and fails a test) if it did not mount.
mount_fs() {
	local mnt=$1
	shift
	mkdir -p "$mnt"
	mnt=$(realpath "$mnt")
	N_MOUNT=$((N_MOUNT + 1))
	local n=$N_MOUNT
	FS_LOG=$TMP/fs$n.log
	FS_ERR=$TMP/fs$n.stderr
	"$CATKEEPERFS" -f --db "$FS_DB" --log "$FS_LOG" "$@" "$mnt" >"$TMP/fs$n.stdout" 2>"$FS_ERR" &
	local pid=$!
	MOUNT_PID[$mnt]=$pid
	MOUNT_N[$mnt]=$n
	MOUNTS+=("$mnt")
	[ -n "${CATKEEPER_TEST_STATE:-}" ] && echo "$pid $mnt" >"$CATKEEPER_TEST_STATE/mount.$pid"
	local end=$((SECONDS + 30))
	while ! timeout 5 bash -c 'mountpoint -q "$1" && [ -n "$(ls -A "$1")" ]' _ "$mnt" 2>/dev/null; do
		if ! alive "$pid"; then
			wait "$pid"
			not_ok "mount #$n ($*) started" "catkeeperfs exited with status $? before mounting" \
				"$(tail -n 30 "$FS_ERR" "$FS_LOG" 2>/dev/null)"
			forget_mount "$mnt"
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			not_ok "mount #$n ($*) started" "not mounted (or root empty) after 30 s" \
				"$(tail -n 30 "$FS_ERR" "$FS_LOG" 2>/dev/null)"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

forget_mount() {
	local m=$1 a=()
	local x
	for x in "${MOUNTS[@]}"; do [ "$x" != "$m" ] && a+=("$x"); done
	MOUNTS=("${a[@]}")
	[ -n "${CATKEEPER_TEST_STATE:-}" ] && rm -f "$CATKEEPER_TEST_STATE/mount.${MOUNT_PID[$m]:-none}"
	unset 'MOUNT_PID[$m]'
}

sanitizer_report() {
	grep -E -h -A 40 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer' "$@" 2>/dev/null |
		sed -e '/^Shadow byte/,/ABORTING/d' | head -n 60
}

# umount_fs MNT: unmounts and reports one test "unmount ... clean".
umount_fs() {
	local mnt
	mnt=$(realpath "$1")
	local pid=${MOUNT_PID[$mnt]:-} n=${MOUNT_N[$mnt]:-?}
	if [ -z "$pid" ]; then
		not_ok "unmount #$n clean" "$mnt is not one of our mounts"
		return 1
	fi
	local err=""
	if ! timeout 20 fusermount3 -u "$mnt" 2>"$TMP/umount.err"; then
		err="fusermount3 -u failed: $(cat "$TMP/umount.err")"
		timeout 20 fusermount3 -u -z "$mnt" 2>/dev/null
	fi
	local end=$((SECONDS + 60)) rc
	while alive "$pid" && [ $SECONDS -lt $end ]; do sleep 0.1; done
	local stacks=""
	if alive "$pid"; then
		# Where it hangs, for the report: threads' stacks before the kill.
		if command -v gdb >/dev/null; then
			stacks=$(timeout 60 gdb -p "$pid" -batch -nx -ex 'thread apply all bt 12' 2>/dev/null |
				grep -E '^(Thread|#)' | head -n 120)
		fi
		kill -KILL "$pid" 2>/dev/null
		err="$err; catkeeperfs did not exit within 60 s of the unmount (killed)"
		[ -n "$stacks" ] && printf '%s\n' "$stacks" >"$TMP/fs$n.hang-stacks"
	fi
	wait "$pid" 2>/dev/null
	rc=$?
	forget_mount "$mnt"
	[ $rc -ne 0 ] && err="$err; catkeeperfs exited with status $rc"
	local rep
	rep=$(sanitizer_report "$TMP/fs$n.stderr" "$TMP/fs$n.log" "$TMP/fs$n.stdout")
	REPORTED+=" $n "
	[ -n "$rep" ] && err="$err; sanitizer report"
	if [ -z "$err" ]; then
		ok "unmount #$n clean (exit 0, no sanitizer report)"
	else
		[ -z "$rep" ] && rep=$(tail -n 20 "$TMP/fs$n.stderr" 2>/dev/null)
		not_ok "unmount #$n clean (exit 0, no sanitizer report)" "$err" "$rep" "$stacks"
	fi
}

cleanup() {
	local rc=$?
	[ "$T_FAIL" -gt 0 ] && rc=1
	kill_bg 2>/dev/null
	local m pid
	for m in "${MOUNTS[@]}"; do
		pid=${MOUNT_PID[$m]:-}
		timeout 10 fusermount3 -u "$m" 2>/dev/null || timeout 10 fusermount3 -u -z "$m" 2>/dev/null
		if [ -n "$pid" ]; then
			local end=$((SECONDS + 20))
			while alive "$pid" && [ $SECONDS -lt $end ]; do sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
			[ -n "${CATKEEPER_TEST_STATE:-}" ] && rm -f "$CATKEEPER_TEST_STATE/mount.$pid"
		fi
	done
	local rep="" i
	for ((i = 1; i <= N_MOUNT; i++)); do
		[[ " $REPORTED " == *" $i "* ]] && continue
		rep+=$(sanitizer_report "$TMP/fs$i.stderr" "$TMP/fs$i.log")
	done
	if [ -n "$rep" ]; then
		echo "# sanitizer report:"
		diag "$rep"
		rc=1
	fi
	if [ "$rc" -ne 0 ] || [ "${KEEP_TMP:-0}" = 1 ]; then
		local f
		for f in "$TMP"/fs*.log "$TMP"/fs*.stderr; do
			[ -s "$f" ] || continue
			echo "# ---- tail of $f"
			tail -n 15 "$f" | sed -e 's/^/#   /'
		done
		echo "# files kept in $TMP"
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

# A FUSE connection ends only when its last mount goes: a mount namespace made
# while our mount is up (another session's testbed, any `unshare -m`) holds a
# copy of it, and catkeeperfs keeps running after fusermount3 -u (seen:
# unmounts that took minutes). private_mount_ns re-runs the test file in a
# private mount namespace of its own, so that no one copies our mounts.
# CK_NO_UNSHARE=1 turns this off.
private_mount_ns() {
	if [ -z "${CK_IN_PRIVATE_NS:-}" ] && [ "${CK_NO_UNSHARE:-0}" != 1 ] && [ "$(id -u)" = 0 ] &&
		command -v unshare >/dev/null; then
		trap - EXIT
		rm -rf "$TMP"
		export CK_IN_PRIVATE_NS=1
		exec unshare -m --propagation private -- "$0" "$BUILD"
	fi
}

# Sourced by the testbed scripts (up, down, fault, delay, virsh, ssh, hostexec).
# Paths, names and small helpers shared by all of them.

TB_HERE=$(cd "$(dirname "$0")" && pwd)
# The state dir: everything a run creates lives here, so down can find it.
TB=${TESTBED_DIR:-$TB_HERE/state}
case $TB in /*) ;; *) TB=$(pwd)/$TB ;; esac

# Names and addresses.  A second testbed on the same machine needs another
# prefix and subnet (TESTBED_PREFIX, TESTBED_NET), recorded at up time so that
# down/fault use what up used even if the environment changed since.
if [ -f "$TB/config" ]; then
	. "$TB/config"
fi
PREFIX=${PREFIX:-${TESTBED_PREFIX:-ck}}
NET=${NET:-${TESTBED_NET:-10.77}}
RELAY_BASE=${RELAY_BASE:-${TESTBED_RELAY_BASE:-2200}}

PERSIST=$TB/persist		# kept by down: keys, qemu capability caches
KEY=$PERSIST/id_ed25519
KNOWN_HOSTS=$TB/known_hosts
WRAPPER=$TB/ssh-wrapper
RELAY_BIN=$TB/bin/delayrelay

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

tb_die() { echo "testbed: $*" >&2; exit 1; }
tb_log() { echo "testbed: $*" >&2; }

# "3" or "h3" -> 3
tb_index() {
	local i=${1#h}
	case $i in ''|*[!0-9]*) tb_die "bad host '$1' (want a number or hN)" ;; esac
	[ "$i" -ge 1 ] && [ "$i" -le 250 ] || tb_die "host index $i out of range 1..250"
	echo "$i"
}

tb_ns() { echo "${PREFIX}h$1"; }		# network namespace name
tb_veth() { echo "${PREFIX}h$1r"; }		# root side of the veth pair
tb_veth_host() { echo "${PREFIX}h$1h"; }	# host side, inside the ns
tb_ip() { echo "$NET.$1.2"; }
tb_root_ip() { echo "$NET.$1.1"; }
tb_dir() { echo "$TB/h$1"; }
tb_relay_port() { echo $((RELAY_BASE + $1)); }

# Append "WHAT PID" to the record down reads.  Written before anything else
# is waited for, so an interrupted up still leaves a trail.
tb_record_pid() { echo "$1 $2" >>"$TB/pids"; }

# The pid of a daemon from its pid file, if that process still lives.
tb_pidfile_pid() {
	local p
	[ -s "$1" ] || return 1
	p=""
	read -r p <"$1" || [ -n "$p" ] || return 1
	case $p in ''|*[!0-9]*) return 1 ;; esac
	# Alive, and not a zombie waiting to be reaped.
	case $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1) in
	''|Z|X) return 1 ;;
	esac
	echo "$p"
}

# The process holding host I's mount + UTS namespaces (and in its netns).
tb_holder() {
	local p
	p=$(tb_pidfile_pid "$(tb_dir "$1")/holder.pid") || tb_die "host h$1 is not up (no holder process)"
	echo "$p"
}

# Run a command inside host I: its network, mount and UTS namespaces, with a
# clean environment so nothing of the caller's (LIBVIRT_DEFAULT_URI...) leaks in.
tb_in_host() {
	local i=$1 holder
	shift
	holder=$(tb_holder "$i")
	nsenter -t "$holder" -n -m -u -- env -i PATH="$PATH" LC_ALL=C HOME=/root "$@"
}

# Wait until a command succeeds, polling every 50 ms, for at most $1 seconds.
tb_wait() {
	local secs=$1 n
	shift
	n=$((secs * 20))
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

tb_ssh_opts() {
	echo "-i $KEY -o UserKnownHostsFile=$KNOWN_HOSTS -o GlobalKnownHostsFile=/dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -o LogLevel=ERROR"
}

# Regenerate $TB/env from its parts, atomically and under a lock, since
# delay and up may write it concurrently.
tb_write_env() {
	(
		flock 8
		{
			echo "# written by tests/testbed; source it: . $TB/env"
			cat "$TB/env.head" 2>/dev/null || true
			for f in "$TB"/h*/env "$TB"/h*/env.delay; do
				[ -f "$f" ] && cat "$f"
			done
			true
		} >"$TB/env.tmp.$$"
		mv -f "$TB/env.tmp.$$" "$TB/env"
	) 8>>"$TB/.envlock"
}

# Print the script's leading comment block as its usage, and exit 2.
tb_usage() {
	sed -n '2,/^[^#]/ s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# Shared by tests/fs/test-*: sourced after ../lib.sh.

private_mount_ns
DATA=$TESTS/fs/data
NODE=$DATA/node.xml                  # test:///$NODE: six domains, see node.xml
NODE_URI=test://$NODE
# The files of every VM directory, as `ls -A` sorts them (LC_ALL=C).
VM_FILES="autostart config.xml description error history ip ip_last memory owner state uuid vcpus vnc"
ISO='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-]00:?00)'
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TAB=$'\t'

# xml_get FILE WHAT: WHAT is "root" (the root tag), "@ATTR" (an attribute of the
# root, empty when absent) or an ElementTree path such as "name", "uuid",
# "description", "vcpu". Prints "<PARSE ERROR>" when FILE is not XML.
xml_get() {
	"$PYTHON" - "$1" "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print("<PARSE ERROR: %s>" % e)
    sys.exit(0)
w = sys.argv[2]
if w == "root":
    print(root.tag)
elif w.startswith("@"):
    print(root.get(w[1:], ""))
else:
    e = root.find(w)
    print("<MISSING>" if e is None else (e.text or ""))
PY
}

# ls_a DIR: `ls -A` as one line, names separated by spaces.
ls_a() { ls -A "$1" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }

# lists NAME DIR: DIR's listing has NAME.
lists() { ls -A "$2" | grep -qxF -- "$1"; }
lists_not() { ! ls -A "$2" | grep -qxF -- "$1"; }

# size_matches FILE: st_size equals the number of bytes read.
size_matches() {
	local s n
	s=$(stat -c %s -- "$1") || return 1
	n=$(cat -- "$1" | wc -c) || return 1
	[ "$s" = "$n" ] || { echo "stat size $s, read $n bytes"; return 1; }
}

# error_like VMDIR ERE: the VM's error file matches ERE.
error_like() { [[ $(content "$1/error") =~ $2 ]]; }

# file_like FILE ERE: FILE's raw content (trailing newline included) matches ERE.
file_like() {
	local raw
	raw=$(cat -- "$1"; echo x) || return 1
	raw=${raw%x}
	[[ $raw =~ $2 ]]
}
IP_RE=$'^192\\.168\\.122\\.3(/24)?\n$'

# has_fd PID: the process has MOUNT/.events open.
has_fd() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q '/\.events$'; }
# has_line FILE LINE: FILE has exactly LINE as one of its lines.
has_line() { grep -qxF -- "$2" "$1"; }

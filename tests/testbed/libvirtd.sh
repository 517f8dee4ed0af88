# Sourced by up and fault: start host I's libvirtd and wait until it answers.
start_libvirtd() {
	local i=$1 d p
	d=$(tb_dir "$i")
	tb_in_host "$i" libvirtd -d -p "$d/libvirtd.pid" </dev/null >>"$d/daemons.log" 2>&1 ||
		{ echo "libvirtd failed to start"; tail -20 "$d/log/libvirtd.log" "$d/daemons.log"; return 1; }
	tb_wait 30 tb_pidfile_pid "$d/libvirtd.pid" ||
		{ echo "libvirtd wrote no pid file"; tail -20 "$d/log/libvirtd.log"; return 1; }
	p=$(tb_pidfile_pid "$d/libvirtd.pid")
	tb_record_pid "h$i-libvirtd" "$p"
	# The socket may exist before the drivers are ready; a real call tells.
	tb_wait 30 tb_in_host "$i" virsh -q -c qemu:///system uri ||
		{ echo "libvirtd (pid $p) does not answer"; tail -20 "$d/log/libvirtd.log"; return 1; }
}

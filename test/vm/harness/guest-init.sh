#!/bin/sh
# Stage-2 init of the test VM (PID 1 after switch_root). It runs with the host's Debian /bin/sh
# on the overlay root that stage 1 prepared; $1 is the absolute path of the writable share,
# the same path as on the host. vm.mjs has put in $1/.vm-ctl/:
#   run.sh   the command to run (cwd, environment and argv, quoted by vm.mjs)
#   disks    the block devices the guest must have, e.g. "/dev/vda /dev/vdb"
#   report-at  the uptime (s) at which to write a hang report, shortly before vm.mjs's timeout
# This script writes back to $1/.vm-ctl/:
#   exit-code    the command's exit status (only when the command ran)
#   status       "ok" or "setup-failed STEP"
#   setup.log    what the setup steps printed
# and, when the command is still running at report-at, $1/hang-report.txt (also on the console).
#
# Setup (modules, udev, iscsid...) is quiet unless a step fails; then the log goes to the
# console and the command is not run. Either way the guest powers off at the end.
#
# Lines starting with "@@VM@@" on the console are the protocol to vm.mjs, which hides them.

OUT=$1
CTL=$OUT/.vm-ctl
LOG=/run/vm/setup.log
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

GUEST_IQN=iqn.2024-01.test.vm:guest
MODULES="configfs loop virtio_blk dm-thin-pool dm-snapshot dm-mirror dm-raid dm-multipath sd_mod
	iscsi_tcp target_core_iblock iscsi_target_mod"

say() { echo "@@VM@@ $*" >/dev/console; }

uptime_s() { cut -d' ' -f1 /proc/uptime; }

power_off() {
	sync
	/bin/busybox poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 30
}

fail() {
	say "setup-failed $*"
	{
		echo "vm: guest setup failed at: $*"
		echo "vm: ---- setup log ----"
		cat "$LOG"
		echo "vm: ---- end of setup log ----"
	} >/dev/console 2>&1
	echo "setup-failed $*" >"$CTL/status"
	cp "$LOG" "$CTL/setup.log"
	power_off
}

# Run a setup command with its output in the log; fail with the description if it fails.
run() {
	what=$1
	shift
	read -r now _ </proc/uptime
	echo "+ [$now] $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1 || fail "$what"
}

# /run and /dev came fresh from stage 1. /tmp stays the overlay's, so files the host has in
# /tmp are visible too (writes land in the guest's tmpfs upper layer like everywhere else).
mount_file_systems() {
	mkdir -p /dev/pts /dev/shm
	run "mount /dev/pts" mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
	run "mount /dev/shm" mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
	mkdir -p /run/lock /run/lvm
}

load_modules() {
	# One modprobe for all is fastest; if it fails, load them one by one to name the culprit.
	# shellcheck disable=SC2086 # word splitting of the list is intended
	if ! modprobe -a $MODULES >>"$LOG" 2>&1; then
		for m in $MODULES; do
			run "load kernel module $m" modprobe "$m"
		done
	fi
	modprobe virtio-rng >>"$LOG" 2>&1 || true # only makes entropy faster
	# configfs is a module too (a dependency of the LIO target): mount it once loaded.
	run "mount configfs" mount -t configfs configfs /sys/kernel/config
}

# udev makes the /dev/disk/by-* links and tells LVM when device nodes are ready. Only block
# devices that existed before udevd started need a replay ("trigger"); devices that appear
# later (iSCSI disks, LVs) get their events live. Replaying every device cost ~1 s more.
start_udev() {
	run "start systemd-udevd" /lib/systemd/systemd-udevd --daemon
	run "udevadm trigger" udevadm trigger --action=add --subsystem-match=block
	run "udevadm settle" udevadm settle --timeout=120
}

check_disks() {
	for d in $(cat "$CTL/disks"); do
		[ -b "$d" ] || fail "virtio disk $d is missing"
	done
}

# The guest's iSCSI initiator: its own name, and no node records inherited from the host.
start_iscsid() {
	mkdir -p /etc/iscsi
	echo "InitiatorName=$GUEST_IQN" >/etc/iscsi/initiatorname.iscsi
	rm -rf /etc/iscsi/nodes /etc/iscsi/send_targets /etc/iscsi/ifaces
	run "start iscsid" iscsid
	run "iscsid is running" pidof iscsid
}

setup() {
	mkdir -p /run/vm
	cat /run/vm/stage1.log >>"$LOG" 2>/dev/null
	echo "vm-guest" >/proc/sys/kernel/hostname
	mount_file_systems
	load_modules
	start_udev
	check_disks
	run "bring up lo" ip link set lo up
	start_iscsid
}

# Run the command with its output through a FIFO rather than straight onto the serial tty,
# so that it does not see a terminal (no colours, no cursor tricks in the logs). Daemons the
# command leaves behind may hold the FIFO open: wait a little for the copy, then move on.
run_command() {
	fifo=/run/vm/console.fifo
	mkfifo "$fifo"
	cat "$fifo" >/dev/console 2>&1 &
	cat_pid=$!
	/bin/sh "$CTL/run.sh" </dev/null >"$fifo" 2>&1
	rc=$?
	i=0
	while kill -0 "$cat_pid" 2>/dev/null && [ "$i" -lt 20 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill "$cat_pid" 2>/dev/null
	return "$rc"
}

# What a run that is about to time out was doing: every process with its state and wait channel,
# the kernel stacks of the ones in uninterruptible sleep (D), the blocked tasks the kernel lists
# (sysrq w), device-mapper and iSCSI state, the end of the kernel log. Each command is bounded:
# the report must come even when LVM or a device is what hangs.
hang_report() {
	echo "=== hang report at guest uptime $(uptime_s) s: the command has not finished and vm.mjs kills this guest soon"
	# first the kernel stacks (reading them never blocks); a process's command line can block
	# behind a task stuck holding its memory map lock, so ps and those reads are bounded
	echo "--- kernel stacks of processes in uninterruptible sleep (D)"
	for d in /proc/[0-9]*; do
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "$d/status" 2>/dev/null)
		[ "$state" = D ] || continue
		echo "-- pid ${d#/proc/}: $(sed -n 's/^Name:[[:space:]]*//p' "$d/status" 2>/dev/null)"
		cat "$d/stack" 2>&1
		timeout 5 tr '\0' ' ' <"$d/cmdline" 2>/dev/null
		echo
	done
	echo "--- processes (kernel threads left out)"
	timeout 20 ps -N --ppid 2 -o pid,ppid,stat,wchan:32,etimes,args 2>&1
	echo "--- dmsetup info -c"
	timeout 20 dmsetup info -c 2>&1
	echo "--- iscsiadm -m session"
	timeout 20 iscsiadm -m session 2>&1
	echo w >/proc/sysrq-trigger 2>/dev/null
	sleep 1
	echo "--- kernel log (last 200 lines, after sysrq w: blocked tasks)"
	dmesg 2>&1 | tail -n 200
	echo "=== end of hang report"
}

# Writes the hang report at the uptime vm.mjs gave, if the command still runs then.
start_hang_watch() {
	at=$(cat "$CTL/report-at" 2>/dev/null) || return 0
	now=$(cut -d. -f1 /proc/uptime)
	wait_s=$((at - now))
	[ "$wait_s" -gt 0 ] || wait_s=1
	(
		sleep "$wait_s"
		hang_report >"$OUT/hang-report.txt" 2>&1
		cat "$OUT/hang-report.txt" >/dev/console 2>&1
	) &
	watch_pid=$!
}

setup
cp "$LOG" "$CTL/setup.log"
echo ok >"$CTL/status"
say "ready $(uptime_s)"

# After a failed command: the whole kernel log in the output directory, and its block, SCSI and
# iSCSI lines on the console (the CI log). The console shows only critical messages (loglevel=3):
# an I/O error and the iSCSI connection or SCSI timeouts behind it are logged below that.
kernel_log_on_failure() {
	dmesg >"$OUT/kernel.log" 2>&1
	echo "=== kernel log after the failed command (all of it: kernel.log in the output directory); storage lines, last 80:"
	grep -Ei 'scsi|connection[0-9]|I/O error|blk_update|\[sd[a-z]+\]|ext4|xfs|device-mapper|target_core|ping timeout' "$OUT/kernel.log" | tail -n 80
	echo "=== end of the kernel log"
}

watch_pid=
start_hang_watch
run_command
rc=$?
[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null
[ "$rc" = 0 ] || kernel_log_on_failure >/dev/console 2>&1
echo "$rc" >"$CTL/exit-code"
sync
say "exit $rc $(uptime_s)"
power_off

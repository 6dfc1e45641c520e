#!/bin/sh
# Stage-1 init of the test VM. It runs from the initramfs that vm.mjs builds, where there is
# nothing but busybox (static), the few kernel modules listed in /modules/order and the stage-2
# script /guest-init.sh.
#
# It mounts the host's root file system (9p share "host", read-only), lays a tmpfs over it with
# overlayfs so the guest can write anywhere, mounts the writable 9p share "out" at the same
# absolute path as on the host, and switch_roots into the result, running guest-init.sh with
# the host's /bin/sh.
#
# Output goes to /stage1.log; the console only sees protocol lines ("@@VM@@ ...") unless a
# step fails, in which case the log is printed and the guest powers off.

/bin/busybox --install -s /bin
export PATH=/bin

LOG=/stage1.log
# Options shared by both 9p mounts; msize: the largest message virtio allows (fewer round trips).
P9_OPTS=trans=virtio,version=9p2000.L,msize=512000

say() { echo "@@VM@@ $*" >/dev/console; }

fail() {
	say "setup-failed stage1: $*"
	{
		echo "vm: stage-1 init failed: $*"
		cat "$LOG"
	} >/dev/console 2>&1
	poweroff -f
	sleep 5
	exit 1 # makes the kernel panic, and panic=-1 with -no-reboot ends qemu
}

# Run a command with its output in the log; fail with the given description if it fails.
run() {
	what=$1
	shift
	{ read -r now _ </proc/uptime; } 2>/dev/null
	echo "+ [$now] $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1 || fail "$what"
}

mkdir -p /proc /sys /dev /lower /rw /out /newroot
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys

for m in $(cat /modules/order); do
	run "insmod $m" insmod "/modules/$m.ko"
done

# Read-only host root. cache=loose lets the guest keep file data and attributes in its page
# and dentry caches instead of asking the host every time: starting node is about the same
# either way, but stat-heavy work (npm, npx, module resolution) measured about 3x faster.
# The price: a host file changed during the run may look stale in the guest (overlayfs
# does not expect its lower layer to change anyway).
run "mount the host root (9p tag host)" mount -t 9p -o "$P9_OPTS,cache=loose,ro" host /lower
run "mount the tmpfs upper layer" mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
run "mount the overlay root" \
	mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot

# Writable share; no caching so that the host sees every write at once.
run "mount the writable share (9p tag out)" mount -t 9p -o "$P9_OPTS,cache=none" out /out
OUT_PATH=$(cat /out/.vm-ctl/out-path) || fail "read .vm-ctl/out-path from the out share"
[ -d "/newroot$OUT_PATH" ] || fail "the out directory $OUT_PATH is not visible in the host root"
run "move the out share to $OUT_PATH" mount -o move /out "/newroot$OUT_PATH"

# A fresh /run (the host's own /run must not leak into the guest) that holds stage 2.
run "mount /run" mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p /newroot/run/vm
run "copy guest-init.sh" cp /guest-init.sh /newroot/run/vm/guest-init.sh
cp "$LOG" /newroot/run/vm/stage1.log

for d in dev proc sys; do
	run "move /$d" mount -o move "/$d" "/newroot/$d"
done

say "stage1-done $(cut -d' ' -f1 /newroot/proc/uptime)"
exec switch_root /newroot /bin/sh /run/vm/guest-init.sh "$OUT_PATH"
fail "switch_root"

#!/usr/bin/env bash
# Makes sure the Debian packages the real-kernel (VM) test tier and the Kubernetes tier need are
# installed.
#
# Quiet when everything is there. As root, installs what is missing (one apt-get update, then
# a non-interactive install). Not root and something missing: says what and exits 1.
set -euo pipefail

PACKAGES=(
	qemu-system-x86   # the emulator (software emulation, no KVM)
	linux-image-amd64 # the guest kernel and its modules (dm, SCSI, iSCSI, LIO)
	busybox-static    # the initramfs
	lvm2 thin-provisioning-tools
	open-iscsi tgt libiscsi-bin multipath-tools
	xfsprogs e2fsprogs
	udev kmod cpio iproute2 util-linux mount
	fio               # the data-path benchmark (test/bench/datapath.bench.ts)
	# the Kubernetes tier (test/kube, part of npm test): etcd for kube-apiserver, the node's
	# container runtime and CNI, openssl for its certificates, xz to unpack the binaries. They run
	# inside the guest only; where systemd starts Debian's etcd and containerd services on the
	# host, the tier does not use them.
	etcd-server containerd runc containernetworking-plugins openssl xz-utils
)
# --kube is accepted for older instructions; the Kubernetes tier's packages are always in the list.

installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
	installed "$pkg" || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "ensure-deps: missing Debian packages: ${missing[*]}" >&2
	echo "ensure-deps: as root, run: apt-get install ${missing[*]}  (or run this script as root)" >&2
	exit 1
fi

echo "ensure-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}" >&2

# Check again: a package that failed to configure must not pass silently.
still=()
for pkg in "${missing[@]}"; do
	installed "$pkg" || still+=("$pkg")
done
if [[ ${#still[@]} -gt 0 ]]; then
	echo "ensure-deps: still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi

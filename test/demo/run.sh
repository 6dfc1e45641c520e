#!/usr/bin/env bash
# The main job (npm run demo): installs what it needs, builds, and runs the
# walk-through against the plugin in `all` mode on its embedded default volume
# group. Where the host kernel has no device-mapper, it runs inside the test VM.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/vm/ensure-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
if [ -e /dev/mapper/control ] && grep -qw thin-pool <(dmsetup targets 2>/dev/null || true); then
  exec node test/demo/walk.mjs
fi
echo "host kernel has no device-mapper thin target: running the walk-through in the qemu guest (Debian's stock kernel)"
exec node test/vm/harness/vm.mjs --disks 1 --disk-size 1G --fresh-disks -e DEMO_DATA_DIR=/var/lib/csi-lvm-iscsi-demo -- node test/demo/walk.mjs

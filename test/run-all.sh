#!/usr/bin/env bash
# The test command (npm test): installs what it needs, builds, then runs every tier
#   1. unit         host, scripted fake runner and pure parsers
#   2. integration  host, the real executable over its real gRPC socket
#   3. vm           inside a qemu guest booting Debian's stock kernel: real LVM, LIO, open-iscsi
# and ends with one line "N passed, N failed" over all tiers.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT=$REPO/.vm/results
mkdir -p "$OUT"
rm -f "$OUT"/*.json

step() { printf '\n=== %s\n' "$*"; }

step "dependencies"
bash test/vm/ensure-deps.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step "build"
npm run --silent build

status=0
step "tier 1+2: unit and integration (host)"
./node_modules/.bin/vitest run --project unit --project integration --reporter=default --reporter=json --outputFile="$OUT/host.json" || status=1

step "tier 3: vm (qemu guest, Debian stock kernel)"
VM_TIMEOUT=${VM_TIMEOUT:-2400}
node test/vm/harness/vm.mjs --disks 4 --disk-size 1G --fresh-disks --timeout "$VM_TIMEOUT" --out "$REPO/.vm/out" -- \
  ./node_modules/.bin/vitest run --project vm --reporter=verbose --reporter=json --outputFile="$REPO/.vm/out/vm.json" || status=1
cp -f "$REPO/.vm/out/vm.json" "$OUT/vm.json" 2>/dev/null || true

step "tier 3b: storage-node reboot (two guest boots on the same disks)"
RB=$REPO/.vm/reboot
rm -rf "$RB" && mkdir -p "$RB/disks"
node test/vm/harness/vm.mjs --disks 2 --disk-size 1G --disk-dir "$RB/disks" --fresh-disks --timeout 600 --out "$RB/out1" -e REBOOT_PHASE=1 -- \
  ./node_modules/.bin/vitest run --project vm-reboot --reporter=verbose --reporter=json --outputFile="$RB/out1/phase1.json" || status=1
cp -f "$RB/out1/reboot-state.json" "$RB/state.json" 2>/dev/null || true
node test/vm/harness/vm.mjs --disks 2 --disk-size 1G --disk-dir "$RB/disks" --timeout 600 --out "$RB/out2" -e REBOOT_PHASE=2 -e REBOOT_STATE="$RB/state.json" -- \
  ./node_modules/.bin/vitest run --project vm-reboot --reporter=verbose --reporter=json --outputFile="$RB/out2/phase2.json" || status=1
cp -f "$RB/out1/phase1.json" "$OUT/reboot1.json" 2>/dev/null || true
cp -f "$RB/out2/phase2.json" "$OUT/reboot2.json" 2>/dev/null || true

step "summary"
node test/summarize.mjs "$OUT/host.json:unit+integration" "$OUT/vm.json:vm" "$OUT/reboot1.json:reboot-1" "$OUT/reboot2.json:reboot-2" || status=1
exit $status

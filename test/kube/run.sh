#!/usr/bin/env bash
# The Kubernetes tier (npm run test:kube): one qemu guest (8 GiB) runs test/kube/*.test.ts with
# vitest. The binaries come from $KUBE_TEST_BIN or ../shared/k8s; without them this fails (exit 1)
# and says so: the tier is never skipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
BIN=${KUBE_TEST_BIN:-$REPO/../shared/k8s}
OUT=${KUBE_OUT:-$REPO/.vm/out-kube}
# Cannot run: say so loudly and leave a report with one failed test, so that npm test's summary
# (test/summarize.mjs) counts the tier as failed and names the reason.
fail() {
  echo "KUBE TIER FAILED: $1" >&2
  mkdir -p "$OUT"
  node -e 'const [f, m] = process.argv.slice(1); require("fs").writeFileSync(f, JSON.stringify({ testResults: [{ name: "test/kube/kube.test.ts", status: "failed", assertionResults: [{ status: "failed", fullName: "Kubernetes tier could not run: " + m }] }] }))' "$OUT/kube.json" "$1"
  exit 1
}
rm -f "$OUT/kube.json"
if [ ! -f "$BIN/bin/kube-apiserver.xz" ] && [ ! -x "$BIN/bin/kube-apiserver" ]; then
  fail "no Kubernetes binaries in $BIN/bin (CI has them at ../shared/k8s; elsewhere set KUBE_TEST_BIN, see test/kube/README.md)"
fi
for b in etcd containerd runc ctr openssl xz; do
  command -v "$b" >/dev/null || fail "$b is not installed (bash test/vm/ensure-deps.sh as root)"
done
mkdir -p "$REPO/.vm"
# Unpack on the host (xz in the emulated guest took 3 minutes): .vm/kube-bin/bin holds the
# binaries, crds/ and images/ link to the source. Redone when the source's SHA256SUMS changes.
CACHE=$REPO/.vm/kube-bin
BIN=$(cd "$BIN" && pwd)
if [ -f "$BIN/bin/kube-apiserver.xz" ]; then
  stamp="$BIN $(cat "$BIN/bin/SHA256SUMS" 2>/dev/null | sha256sum)"
  if [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$CACHE" && mkdir -p "$CACHE/bin"
    (cd "$BIN/bin" && [ ! -f SHA256SUMS ] || sha256sum --quiet -c SHA256SUMS)
    for f in "$BIN"/bin/*.xz; do n=$(basename "$f" .xz); xz -dc "$f" >"$CACHE/bin/$n"; chmod +x "$CACHE/bin/$n"; done
    ln -s "$BIN/crds" "$CACHE/crds"; ln -s "$BIN/images" "$CACHE/images"
    echo "$stamp" >"$CACHE/stamp"
  fi
  BIN=$CACHE
fi
ENV=(-e "KUBE_TEST_BIN=$BIN")
started=$(date +%s)
rc=0
node test/vm/harness/vm.mjs --disks 3 --disk-size 1G --disk-dir "$REPO/.vm/disks-kube" --fresh-disks --mem 8192 \
  --timeout "${KUBE_TIMEOUT:-3000}" --out "$OUT" "${ENV[@]}" -- \
  ./node_modules/.bin/vitest run --project kube --no-file-parallelism "$@" --reporter=verbose --reporter=json --outputFile="$OUT/kube.json" || rc=$?
echo "Kubernetes tier guest time: $(( $(date +%s) - started )) s (logs of every process: $OUT/kube/)"
grep -ho '\[kube [0-9:]*\] \(scenario "[^"]*": .*\|scenario .* FAILED.*\|cluster ready.*\|kube-apiserver ready.*\|plugin serving.*\|split mode serving.*\|CPU at the end.*\|all-mode plugin and controller sidecars stopped.*\)' "$OUT/console.log" 2>/dev/null | sed 's/^/  /' || true
exit $rc

#!/usr/bin/env node
// npm run bench [-- --scale N] [--many N] [--pairs N] [--only calls|scale|many] [--filter TEXT]
// Boots ONE qemu guest (test/vm/harness, 4 fresh 1 GiB disks), runs the bench files inside it
// (vitest project "bench", test/bench/*.bench.ts), then prints the table (report.mjs).
// Needs `npm ci && npm run build` and `bash test/vm/ensure-deps.sh` first.
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { runGuest, VmError } from '../vm/harness/vm.mjs';
import { readRows, table } from './report.mjs';
import { writeFileSync } from 'node:fs';

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '0' },
    many: { type: 'string', default: '0' },
    pairs: { type: 'string', default: '8' },
    only: { type: 'string' },
    filter: { type: 'string' },
    timeout: { type: 'string' },
    out: { type: 'string', default: '.vm/bench' },
    'disk-dir': { type: 'string', default: '.vm/bench-disks' },
  },
});
const scale = Number(values.scale);
const out = resolve(values.out);
const benchOut = join(out, 'bench');
// Every test/bench/*.bench.ts runs (scale.bench.ts skips itself unless --scale N, it takes long;
// many.bench.ts unless --many N);
// --only NAME runs test/bench/NAME.bench.ts alone.
// --filter TEXT runs only the bench tests whose name contains TEXT (vitest -t).
const command = [
  './node_modules/.bin/vitest',
  'run',
  '--project',
  'bench',
  '--no-file-parallelism',
  ...(values.only ? [`test/bench/${values.only}.bench.ts`] : []),
  ...(values.filter ? ['-t', values.filter] : []),
];
const timeout = Number(values.timeout ?? (scale > 0 ? 6 * 3600 : 3600));
const started = Date.now();
let code;
try {
  code = await runGuest({
    command,
    disks: 4,
    diskSize: '1G',
    freshDisks: true,
    diskDir: resolve(values['disk-dir']),
    out,
    timeout,
    // BENCH_* variables of the host (BENCH_BATCH, BENCH_BATCH_ROUNDS, ...) reach the guest too
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_'))),
      BENCH_OUT: benchOut,
      BENCH_PAIRS: values.pairs,
      BENCH_SCALE: String(scale),
      BENCH_MANY: String(Number(values.many)),
    },
  });
} catch (e) {
  if (!(e instanceof VmError)) throw e;
  console.error(`${e.message}\n${e.consoleTail ?? ''}`);
  code = e.exitCode ?? 125;
}
const rows = readRows(benchOut);
if (rows.length > 0) {
  const md = table(rows);
  writeFileSync(join(benchOut, 'table.md'), `${md}\n`);
  console.log(
    `\n${md}\n\n(${rows.length} rows in ${Math.round((Date.now() - started) / 1000)} s; ${join(benchOut, 'rows.jsonl')}, table.md beside it)`,
  );
}
process.exit(code);

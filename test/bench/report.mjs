#!/usr/bin/env node
// Prints the one bench table from $BENCH_OUT/rows.jsonl (or the directory given as the first
// argument) and writes it as markdown to <dir>/table.md. Row format: test/bench/README.md.
// Plain ESM, Node builtins only.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function table(rows) {
  const fmt = (v) => (v === null || v === undefined ? '-' : String(v));
  const head = [
    'section',
    'operation',
    'plugin',
    'bare',
    'unit',
    'ratio',
    'per pair (p25-p75)',
    'commands per call (plugin metrics)',
    'in commands (ms)',
    'note',
  ];
  const body = rows.map((r) => [
    r.section,
    r.operation,
    fmt(r.plugin),
    fmt(r.bare),
    r.unit,
    r.ratio === null || r.ratio === undefined ? '-' : `${r.ratio}x`,
    r.pairRatio ?? '',
    r.commands ?? '',
    fmt(r.inCommands),
    r.note ?? '',
  ]);
  const esc = (s) => String(s).replace(/\|/g, '\\|');
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...body.map((c) => `| ${c.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function readRows(dir) {
  const file = join(dir, 'rows.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? process.env.BENCH_OUT;
  if (!dir) {
    console.error('usage: node test/bench/report.mjs BENCH_OUT_DIR (or set BENCH_OUT)');
    process.exit(2);
  }
  const rows = readRows(dir);
  if (rows.length === 0) {
    console.error(`no rows in ${join(dir, 'rows.jsonl')}`);
    process.exit(1);
  }
  const md = table(rows);
  writeFileSync(join(dir, 'table.md'), `${md}\n`);
  console.log(md);
  console.log(`\n(${rows.length} rows; markdown in ${join(dir, 'table.md')})`);
}

// Prints per-tier counts from vitest JSON reports (and the static checks given with --checks FILE)
// and the closing line "N passed, N failed" over all of them. A missing report counts as a failure.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
let missing = 0;
const args = process.argv.slice(2);
// --checks FILE: lines "name passed|failed" from the static checks (lint, format, ...), one test each
const checksAt = args.indexOf('--checks');
if (checksAt >= 0) {
  const [, file] = args.splice(checksAt, 2);
  const c = { passed: 0, failed: 0 };
  let lines = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    console.log(`checks: no report (${file})`);
    missing++;
  }
  for (const line of lines) {
    const [name, result] = line.split(' ');
    if (result === 'passed') c.passed++;
    else {
      c.failed++;
      console.log(`FAILED check ${name}`);
    }
  }
  console.log(`checks: ${c.passed} passed, ${c.failed} failed`);
  passed += c.passed;
  failed += c.failed;
}
for (const arg of args) {
  const [file, label] = arg.split(':');
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    console.log(`${label}: no report (${file}) - the tier did not run to the end`);
    missing++;
    continue;
  }
  const byProject = new Map();
  for (const suite of report.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      const name = suite.name.replace(/^.*\/test\//, 'test/');
      const project = name.split('/')[1] ?? '?';
      const c = byProject.get(project) ?? { passed: 0, failed: 0, skipped: 0 };
      if (t.status === 'passed') c.passed++;
      else if (t.status === 'failed') {
        c.failed++;
        console.log(`FAILED ${name} > ${t.fullName}`);
      } else c.skipped++;
      byProject.set(project, c);
    }
    if ((suite.assertionResults ?? []).length === 0 && suite.status === 'failed') {
      console.log(`FAILED to load ${suite.name}: ${String(suite.message).split('\n')[0]}`);
      const c = byProject.get('?') ?? { passed: 0, failed: 0, skipped: 0 };
      c.failed++;
      byProject.set('?', c);
    }
  }
  for (const [project, c] of byProject) {
    console.log(`tier ${project}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    passed += c.passed;
    failed += c.failed;
    skipped += c.skipped;
  }
}
failed += missing;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);

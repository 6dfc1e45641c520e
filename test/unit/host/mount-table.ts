/**
 * Mount tables for unit tests: mountinfo lines in the kernel's format, and a
 * MountTable whose reads answer a scripted sequence of tables (like
 * FakeRunner's expectations: one entry per read, in order).
 */
import { MountTable } from '../../../src/host/mountinfo.js';

export interface TestMount {
  target: string;
  source: string;
  ro?: boolean;
  majMin?: string;
  fsroot?: string;
  fstype?: string;
}

let nextId = 100;
const esc = (s: string) => s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);

/** mountinfo text for these mounts (per-mount rw/ro as given, superblock rw). */
export function mountinfo(...mounts: TestMount[]): string {
  return mounts
    .map(
      (m) =>
        `${nextId++} 1 ${m.majMin ?? '8:16'} ${esc(m.fsroot ?? '/')} ${esc(m.target)} ${m.ro ? 'ro' : 'rw'},relatime shared:1 - ${m.fstype ?? 'ext4'} ${esc(m.source)} rw\n`,
    )
    .join('');
}

export interface ScriptedTable {
  table: MountTable;
  /** Fails when a scripted table was not read. */
  assertDone(): void;
}

/** A MountTable answering `reads` in order; one read more than scripted fails the test. */
export function scriptedTable(...reads: string[]): ScriptedTable {
  const left = [...reads];
  const table = new MountTable(async () => {
    const next = left.shift();
    if (next === undefined) throw new Error('mount table read more often than the test scripted');
    return next;
  });
  return {
    table,
    assertDone: () => {
      if (left.length > 0) throw new Error(`${left.length} scripted mount table read(s) not done`);
    },
  };
}

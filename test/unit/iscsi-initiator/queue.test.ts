import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { activeScheduler, tuneIscsiDisk } from '../../../src/iscsi-initiator/queue.js';

let roots: string[] = [];
afterEach(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  roots = [];
});

/** /sys/block/<name>/queue as the VM tier showed it for a fresh LIO disk on a thin LV (Debian 6.1). */
function sysfs(name: string, files: Record<string, string> = {}): { root: string; file: (f: string) => string } {
  const root = mkdtempSync(join(tmpdir(), 'fake-sys-'));
  roots.push(root);
  const q = join(root, 'block', name, 'queue');
  mkdirSync(q, { recursive: true });
  const all = {
    scheduler: '[mq-deadline] none\n',
    max_sectors_kb: '64\n',
    max_hw_sectors_kb: '32767\n',
    read_ahead_kb: '128\n',
    ...files,
  };
  for (const [f, v] of Object.entries(all)) writeFileSync(join(q, f), v);
  return { root, file: (f) => readFileSync(join(q, f), 'utf8') };
}

describe('tuneIscsiDisk', () => {
  it('sets scheduler none on a fresh iSCSI disk; max_sectors_kb and read_ahead_kb are left to the kernel', async () => {
    const s = sysfs('sdb');
    const r = await tuneIscsiDisk('sdb', { sysfsRoot: s.root });
    expect(r).toEqual({ changed: ['scheduler=none'], failed: [] });
    expect(s.file('scheduler')).toBe('none');
    expect(s.file('max_sectors_kb')).toBe('64\n');
    expect(s.file('read_ahead_kb')).toBe('128\n');
  });

  it('changes nothing when the disk already has it (a repeated NodeStageVolume)', async () => {
    const s = sysfs('sdc', { scheduler: '[none] mq-deadline\n' });
    expect(await tuneIscsiDisk('sdc', { sysfsRoot: s.root })).toEqual({ changed: [], failed: [] });
    expect(s.file('scheduler')).toBe('[none] mq-deadline\n');
  });

  it('reports what it could not do instead of failing the stage', async () => {
    const noNone = sysfs('sdf', { scheduler: '[mq-deadline] kyber\n' });
    expect(await tuneIscsiDisk('sdf', { sysfsRoot: noNone.root })).toEqual({
      changed: [],
      failed: ['scheduler=none: not offered ([mq-deadline] kyber)'],
    });
    expect(noNone.file('scheduler')).toBe('[mq-deadline] kyber\n');
    const other = sysfs('sdg');
    expect(await tuneIscsiDisk('sdh', { sysfsRoot: other.root })).toEqual({
      changed: [],
      failed: ['scheduler: ENOENT'],
    });
  });

  it('only takes SCSI disk names', async () => {
    await expect(tuneIscsiDisk('../sda')).rejects.toThrow(/not a SCSI disk name/);
    await expect(tuneIscsiDisk('dm-0')).rejects.toThrow(/not a SCSI disk name/);
  });

  it('activeScheduler reads the bracketed one', () => {
    expect(activeScheduler('[mq-deadline] none')).toBe('mq-deadline');
    expect(activeScheduler('mq-deadline [none]')).toBe('none');
    expect(activeScheduler('none')).toBeUndefined();
  });
});

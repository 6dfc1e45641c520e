import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailedPrecondition } from '../../../src/errors.js';
import { removeTarget } from '../../../src/host/paths.js';
import { readOnlyMountOptions } from '../../../src/host/readonly.js';

describe('readOnlyMountOptions', () => {
  it('adds ro and the no-journal-replay option per file system', () => {
    expect(readOnlyMountOptions('ext4', [])).toEqual(['ro', 'noload']);
    expect(readOnlyMountOptions('xfs', ['nouuid'])).toEqual(['nouuid', 'ro', 'norecovery']);
    expect(readOnlyMountOptions('btrfs', ['noatime'])).toEqual(['noatime', 'ro']);
  });

  it('drops rw and never repeats an option', () => {
    expect(readOnlyMountOptions('ext4', ['rw', 'ro', 'noload', 'noatime'])).toEqual(['ro', 'noload', 'noatime']);
  });
});

describe('removeTarget (never recursive)', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'rm-target-'));

  it('removes an empty directory and an empty file; a missing path is fine', async () => {
    const d = dir();
    mkdirSync(join(d, 'mount'));
    writeFileSync(join(d, 'blockfile'), '');
    expect(await removeTarget(join(d, 'mount'))).toBe('dir');
    expect(await removeTarget(join(d, 'blockfile'))).toBe('file');
    expect(await removeTarget(join(d, 'gone'))).toBe('missing');
    expect(existsSync(join(d, 'mount')) || existsSync(join(d, 'blockfile'))).toBe(false);
  });

  it('refuses a directory with entries and leaves every entry in place', async () => {
    const d = dir();
    mkdirSync(join(d, 'mount', 'sub'), { recursive: true });
    writeFileSync(join(d, 'mount', 'sub', 'data'), 'tenant data');
    await expect(removeTarget(join(d, 'mount'))).rejects.toThrow(FailedPrecondition);
    await expect(removeTarget(join(d, 'mount'))).rejects.toThrow(/never removed recursively/);
    expect(existsSync(join(d, 'mount', 'sub', 'data'))).toBe(true);
  });

  it('refuses a file with data and a symbolic link', async () => {
    const d = dir();
    writeFileSync(join(d, 'f'), 'x');
    symlinkSync('/etc', join(d, 'l'));
    await expect(removeTarget(join(d, 'f'))).rejects.toThrow(/regular file of 1 bytes/);
    await expect(removeTarget(join(d, 'l'))).rejects.toThrow(/symbolic link/);
    expect(existsSync(join(d, 'f')) && existsSync(join(d, 'l'))).toBe(true);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailedPrecondition, InvalidArgument } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { mkfs, mkfsArgv, parseMkfsArgs } from '../../../src/host/mkfs.js';
import { deviceSize, fsSize, growfs, parseDumpe2fsSize, parseXfsInfoSize } from '../../../src/host/resize.js';
import { regenerateXfsUuid, withXfsNoUuid } from '../../../src/host/xfs-uuid.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('mkfs', () => {
  it('builds argv without force flags, with label and extra arguments', () => {
    expect(mkfsArgv('ext4', '/dev/sdb')).toEqual(['mkfs.ext4', '-q', '/dev/sdb']);
    expect(mkfsArgv('xfs', '/dev/sdb', { label: 'data' })).toEqual(['mkfs.xfs', '-q', '-L', 'data', '/dev/sdb']);
    expect(mkfsArgv('ext4', '/dev/sdb', { extraArgs: parseMkfsArgs(' -m 0  -E nodiscard ') })).toEqual([
      'mkfs.ext4',
      '-q',
      '-m',
      '0',
      '-E',
      'nodiscard',
      '/dev/sdb',
    ]);
  });

  it('rejects unknown file systems, bad labels and paths in extra arguments', () => {
    expect(() => mkfsArgv('btrfs', '/dev/sdb')).toThrow(InvalidArgument);
    expect(() => mkfsArgv('xfs', '/dev/sdb', { label: 'thirteen-char' })).toThrow(InvalidArgument);
    expect(() => mkfsArgv('ext4', '/dev/sdb', { label: 'a b' })).toThrow(InvalidArgument);
    expect(() => parseMkfsArgs('-m 0 /dev/sda')).toThrow(InvalidArgument);
  });

  it('runs it', async () => {
    const runner = new FakeRunner();
    runner.expect(['mkfs.ext4', '-q', '/dev/sdb'], { inspect: (o) => expect(o?.timeoutMs).toBe(600_000) });
    await mkfs(runner, 'ext4', '/dev/sdb');
    runner.assertDone();
  });
});

describe('sizes and growing', () => {
  it('parses dumpe2fs -h and xfs_info', () => {
    expect(parseDumpe2fsSize(fixture('dumpe2fs-h.txt'))).toBe(65536 * 1024);
    expect(parseXfsInfoSize(fixture('xfs_info.txt'))).toBe(81920 * 4096);
    expect(() => parseDumpe2fsSize('nothing')).toThrow(/Block count/);
    expect(() => parseXfsInfoSize('nothing')).toThrow(/data section/);
  });

  it('deviceSize, fsSize and growfs run the exact commands', async () => {
    const runner = new FakeRunner();
    runner
      .expect(['blockdev', '--getsize64', '/dev/sdb'], { stdout: '100663296\n' })
      .expect(['dumpe2fs', '-h', '/dev/sdb'], { stdout: fixture('dumpe2fs-h.txt') })
      .expect(['xfs_info', '/mnt/x'], { stdout: fixture('xfs_info.txt') })
      .expect(['resize2fs', '/dev/sdb'])
      .expect(['xfs_growfs', '/mnt/x']);
    expect(await deviceSize(runner, '/dev/sdb')).toBe(96 * 1024 * 1024);
    expect(await fsSize(runner, 'ext4', '/dev/sdb')).toBe(64 * 1024 * 1024);
    expect(await fsSize(runner, 'xfs', '/mnt/x')).toBe(320 * 1024 * 1024);
    await growfs(runner, 'ext4', '/dev/sdb', undefined);
    await growfs(runner, 'xfs', '/dev/sdc', '/mnt/x');
    await expect(growfs(runner, 'xfs', '/dev/sdc', undefined)).rejects.toBeInstanceOf(FailedPrecondition);
    await expect(growfs(runner, 'vfat', '/dev/sdc', '/mnt/x')).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });

  it('a garbled blockdev answer is an error', async () => {
    const runner = new FakeRunner();
    runner.expect(['blockdev', '--getsize64', '/dev/sdb'], { stdout: 'what\n' });
    await expect(deviceSize(runner, '/dev/sdb')).rejects.toThrow(/printed/);
  });
});

describe('xfs UUIDs', () => {
  it('nouuid is added for xfs only, once', () => {
    expect(withXfsNoUuid('xfs', ['noatime'])).toEqual(['noatime', 'nouuid']);
    expect(withXfsNoUuid('xfs', ['nouuid'])).toEqual(['nouuid']);
    expect(withXfsNoUuid('ext4', ['noatime'])).toEqual(['noatime']);
  });

  it('xfs_admin -U generate', async () => {
    const runner = new FakeRunner();
    runner.expect(['xfs_admin', '-U', 'generate', '/dev/sdb']);
    await regenerateXfsUuid(runner, '/dev/sdb');
    runner.assertDone();
  });
});

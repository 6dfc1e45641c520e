import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandFailed, FailedPrecondition } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { BlockProbe, parseBlkidExport, parseWipefsJson } from '../../../src/host/blkid.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const BLKID = (d: string) => ['blkid', '-p', '-o', 'export', d];
const WIPEFS = (d: string) => ['wipefs', '-n', '-J', d];

describe('parsers', () => {
  it('blkid -o export: ext4 (VM tier), xfs, a dos partition table', () => {
    expect(parseBlkidExport(fixture('blkid-export-ext4-vm.txt'))).toMatchObject({
      type: 'ext4',
      usage: 'filesystem',
      label: 'nodelayers',
      ptType: undefined,
    });
    expect(parseBlkidExport(fixture('blkid-export-xfs.txt'))).toMatchObject({
      type: 'xfs',
      usage: 'filesystem',
      uuid: 'f352f8c7-66da-4192-8aca-4322a6c005a6',
    });
    expect(parseBlkidExport(fixture('blkid-export-dos.txt'))).toMatchObject({ type: undefined, ptType: 'dos' });
    expect(parseBlkidExport('LABEL=my\\ label\nTYPE=ext4\n').label).toBe('my label');
  });

  it('wipefs -n -J', () => {
    expect(parseWipefsJson(fixture('wipefs-ext4.json'))).toEqual([
      { device: '/dev/sdb', offset: '0x438', type: 'ext4' },
    ]);
    expect(parseWipefsJson(fixture('wipefs-none.json'))).toEqual([]);
    expect(parseWipefsJson('')).toEqual([]);
  });
});

describe('BlockProbe', () => {
  it('probe: exit 2 is nothing found; a file system is parsed', async () => {
    const runner = new FakeRunner();
    runner
      .expect(BLKID('/dev/sdb'), { exitCode: 2, inspect: (o) => expect(o?.okExitCodes).toEqual([2, 8]) })
      .expect(BLKID('/dev/sdc'), { stdout: fixture('blkid-export-xfs.txt') });
    const p = new BlockProbe(runner);
    expect(await p.probe('/dev/sdb')).toBeUndefined();
    expect(await p.fsType('/dev/sdc')).toBe('xfs');
    runner.assertDone();
  });

  it('probe: exit 8 (ambivalent) is FailedPrecondition; exit 4 is an error, never "blank"', async () => {
    const runner = new FakeRunner();
    runner
      .expect(BLKID('/dev/sdb'), { exitCode: 8 })
      .expect(BLKID('/dev/sdb'), { exitCode: 4, stderr: 'blkid: error\n' });
    const p = new BlockProbe(runner);
    await expect(p.isBlank('/dev/sdb')).rejects.toBeInstanceOf(FailedPrecondition);
    await expect(p.isBlank('/dev/sdb')).rejects.toBeInstanceOf(CommandFailed);
    runner.assertDone();
  });

  it('isBlank: blank only when blkid finds nothing AND wipefs lists no signature', async () => {
    const runner = new FakeRunner();
    runner
      .expect(BLKID('/dev/sdb'), { exitCode: 2 })
      .expect(WIPEFS('/dev/sdb'), { stdout: fixture('wipefs-none.json') })
      .expect(BLKID('/dev/sdc'), { exitCode: 2 })
      .expect(WIPEFS('/dev/sdc'), { stdout: fixture('wipefs-ext4.json') })
      .expect(BLKID('/dev/sdd'), { stdout: fixture('blkid-export-dos.txt') });
    const p = new BlockProbe(runner);
    expect(await p.isBlank('/dev/sdb')).toBe(true);
    expect(await p.isBlank('/dev/sdc')).toBe(false);
    expect(await p.isBlank('/dev/sdd')).toBe(false); // a partition table is not blank
    runner.assertDone();
  });
});

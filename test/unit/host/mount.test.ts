import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailedPrecondition, InvalidArgument } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { Mounter } from '../../../src/host/mount.js';
import { mountinfo, scriptedTable, type TestMount } from './mount-table.js';

// Empty directories of the test's own (a new mount goes onto an empty directory or file only).
const ROOT = mkdtempSync(join(tmpdir(), 'mount-targets-'));
const STAGE = join(ROOT, 'staging');
const PUB = join(ROOT, 'pods-p1-mount');
mkdirSync(STAGE);
mkdirSync(PUB);
const NONE = '';

/** The runner for commands, and the mount table the Mounter reads: one scripted table per read, in order. */
function setup(...reads: string[]) {
  const runner = new FakeRunner();
  const t = scriptedTable(...reads);
  return {
    runner,
    m: new Mounter(runner, t.table),
    done: () => {
      runner.assertDone();
      t.assertDone();
    },
  };
}
const table = (...ms: TestMount[]) => mountinfo(...ms);

describe('Mounter.mount', () => {
  it('mounts when nothing is there', async () => {
    const { runner, m, done } = setup(NONE);
    runner.expect(['mount', '-t', 'ext4', '-o', 'noatime,discard', '/dev/sdb', STAGE]);
    expect(await m.mount('/dev/sdb', STAGE, 'ext4', ['noatime', 'discard'])).toBe('mounted');
    done();
  });

  it('no options: no -o', async () => {
    const { runner, m, done } = setup(NONE);
    runner.expect(['mount', '-t', 'xfs', '/dev/sdb', STAGE]);
    await m.mount('/dev/sdb', STAGE, 'xfs');
    done();
  });

  it('never mounts over a directory with entries, a file with data or a device node (found by the VM fuzz test: /etc)', async () => {
    const full = mkdtempSync(join(tmpdir(), 'mount-full-'));
    writeFileSync(join(full, 'passwd'), 'root:x:0:0');
    for (const target of [full, join(full, 'passwd'), '/dev/null', join(ROOT, 'missing')]) {
      const { runner, m, done } = setup(NONE, NONE);
      await expect(m.mount('/dev/sdb', target, 'ext4')).rejects.toThrow(FailedPrecondition);
      await expect(m.bindMount(STAGE, target, false)).rejects.toThrow(/nothing is mounted over|does not exist/);
      expect(runner.calls).toEqual([]);
      done();
    }
  });

  it('the same device already mounted there is OK', async () => {
    const { m, done } = setup(table({ target: STAGE, source: '/dev/sdb' }));
    expect(await m.mount('/dev/sdb', STAGE, 'ext4')).toBe('already-mounted');
    done();
  });

  it('the same device under another name (by-path link) is recognised by the name it resolves to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mount-'));
    const dev = join(dir, 'sdb');
    writeFileSync(dev, '');
    const link = join(dir, 'ip-10.0.0.5:3260-iscsi-iqn.2024-01.x:v-lun-0');
    symlinkSync(dev, link);
    const mounted = table({ target: STAGE, source: dev });
    const { runner, m, done } = setup(mounted, mounted);
    expect(await m.mount(link, STAGE, 'ext4')).toBe('already-mounted');
    expect(runner.calls).toEqual([]);
    done();
  });

  it('another device mounted there is FailedPrecondition, nothing is unmounted', async () => {
    const mounted = table({ target: STAGE, source: '/dev/sdc' });
    const { m, done } = setup(mounted, mounted);
    await expect(m.mount('/dev/sdb', STAGE, 'ext4')).rejects.toThrow(FailedPrecondition);
    done();
  });

  it('read-only vs read-write mismatch is FailedPrecondition', async () => {
    const { m, done } = setup(table({ target: STAGE, source: '/dev/sdb', ro: true }));
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', [])).rejects.toThrow(/read-only/);
    done();
  });

  it('rejects options with commas or spaces and odd file system types', async () => {
    const { m, done } = setup();
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', ['ro,exec'])).rejects.toBeInstanceOf(InvalidArgument);
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', ['a b'])).rejects.toBeInstanceOf(InvalidArgument);
    await expect(m.mount('/dev/sdb', STAGE, 'ext4 -o x', [])).rejects.toBeInstanceOf(InvalidArgument);
    done();
  });
});

describe('Mounter.bindMount', () => {
  const staged = table({ target: STAGE, source: '/dev/sdb' });

  it('read-write: mount --bind only', async () => {
    const { runner, m, done } = setup(NONE);
    runner.expect(['mount', '--bind', STAGE, PUB]);
    expect(await m.bindMount(STAGE, PUB, false)).toBe('mounted');
    done();
  });

  it('read-only: mount --bind, then remount,bind,ro', async () => {
    const { runner, m, done } = setup(NONE);
    runner.expect(['mount', '--bind', STAGE, PUB]).expect(['mount', '-o', 'remount,bind,ro', PUB]);
    expect(await m.bindMount(STAGE, PUB, true)).toBe('mounted');
    done();
  });

  it('already bound read-only from the same file system: nothing to do', async () => {
    const { m, done } = setup(table({ target: PUB, source: '/dev/sdb', ro: true }), staged);
    expect(await m.bindMount(STAGE, PUB, true)).toBe('already-mounted');
    done();
  });

  it('a crash between bind and remount: the retry only remounts read-only', async () => {
    const { runner, m, done } = setup(table({ target: PUB, source: '/dev/sdb' }), staged);
    runner.expect(['mount', '-o', 'remount,bind,ro', PUB]);
    expect(await m.bindMount(STAGE, PUB, true)).toBe('already-mounted');
    done();
  });

  it('read-write wanted over a read-only bind, or a bind of something else: FailedPrecondition', async () => {
    const { m, done } = setup(
      table({ target: PUB, source: '/dev/sdb', ro: true }),
      staged,
      table({ target: PUB, source: '/dev/sdc', majMin: '8:32' }),
      staged,
    );
    await expect(m.bindMount(STAGE, PUB, false)).rejects.toThrow(/read-only already/);
    await expect(m.bindMount(STAGE, PUB, false)).rejects.toThrow(/not a bind of/);
    done();
  });

  it('extra options go into the remount', async () => {
    const { runner, m, done } = setup(NONE);
    runner.expect(['mount', '--bind', STAGE, PUB]).expect(['mount', '-o', 'remount,bind,ro,nosuid', PUB]);
    await m.bindMount(STAGE, PUB, true, {}, ['nosuid']);
    done();
  });
});

describe('Mounter.unmount / queries', () => {
  it('unmounts stacked mounts until none is left; nothing mounted is OK', async () => {
    const { runner, m, done } = setup(
      table({ target: PUB, source: '/dev/sdb' }, { target: PUB, source: '/dev/sdc' }),
      table({ target: PUB, source: '/dev/sdb' }),
      NONE,
      NONE,
    );
    runner.expect(['umount', PUB]).expect(['umount', PUB]);
    expect(await m.unmount(PUB)).toBe(2);
    expect(await m.unmount(PUB)).toBe(0);
    done();
  });

  it('isMountPoint and isReadOnly', async () => {
    const ro = table({ target: PUB, source: '/dev/sdb', ro: true });
    const { m, done } = setup(ro, ro, NONE, NONE);
    expect(await m.isMountPoint(PUB)).toBe(true);
    expect(await m.isReadOnly(PUB)).toBe(true);
    expect(await m.isMountPoint(STAGE)).toBe(false);
    expect(await m.isReadOnly(STAGE)).toBeUndefined();
    done();
  });
});

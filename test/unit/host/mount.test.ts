import { describe, expect, it } from 'vitest';
import { FailedPrecondition, InvalidArgument } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { Mounter } from '../../../src/host/mount.js';

const COLS = 'TARGET,SOURCE,FSTYPE,OPTIONS,VFS-OPTIONS,FS-OPTIONS,MAJ:MIN,FSROOT';
const at = (t: string) => ['findmnt', '-J', '-l', '-o', COLS, '--mountpoint', t];
const of = (s: string) => ['findmnt', '-J', '-l', '-o', COLS, '--source', s];
// Paths that do not exist on the machine running the tests (so they are not device nodes).
const STAGE = '/nonexistent-csi-test/staging';
const PUB = '/nonexistent-csi-test/pods/p1/mount';

function json(...mounts: Array<{ target: string; source: string; ro?: boolean; majMin?: string; fsroot?: string; fstype?: string }>): string {
  return JSON.stringify({
    filesystems: mounts.map((m) => ({
      target: m.target,
      source: m.source,
      fstype: m.fstype ?? 'ext4',
      options: `${m.ro ? 'ro' : 'rw'},relatime`,
      'vfs-options': `${m.ro ? 'ro' : 'rw'},relatime`,
      'fs-options': 'rw',
      'maj:min': m.majMin ?? '8:16',
      fsroot: m.fsroot ?? '/',
    })),
  });
}

function setup() {
  const runner = new FakeRunner();
  return { runner, m: new Mounter(runner) };
}

describe('Mounter.mount', () => {
  it('mounts when nothing is there', async () => {
    const { runner, m } = setup();
    runner.expect(at(STAGE), { exitCode: 1 }).expect(['mount', '-t', 'ext4', '-o', 'noatime,discard', '/dev/sdb', STAGE]);
    expect(await m.mount('/dev/sdb', STAGE, 'ext4', ['noatime', 'discard'])).toBe('mounted');
    runner.assertDone();
  });

  it('no options: no -o', async () => {
    const { runner, m } = setup();
    runner.expect(at(STAGE), { exitCode: 1 }).expect(['mount', '-t', 'xfs', '/dev/sdb', STAGE]);
    await m.mount('/dev/sdb', STAGE, 'xfs');
    runner.assertDone();
  });

  it('the same device already mounted there is OK', async () => {
    const { runner, m } = setup();
    runner.expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) });
    expect(await m.mount('/dev/sdb', STAGE, 'ext4')).toBe('already-mounted');
    runner.assertDone();
  });

  it('the same device under another name (by-path link) is recognised through findmnt --source', async () => {
    const { runner, m } = setup();
    const link = '/dev/disk/by-path/ip-10.0.0.5:3260-iscsi-iqn.2024-01.x:v-lun-0';
    runner.expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) }).expect(of(link), { stdout: json({ target: STAGE, source: '/dev/sdb' }) });
    expect(await m.mount(link, STAGE, 'ext4')).toBe('already-mounted');
    runner.assertDone();
  });

  it('another device mounted there is FailedPrecondition, nothing is unmounted', async () => {
    const { runner, m } = setup();
    runner.expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdc' }) }).expect(of('/dev/sdb'), { exitCode: 1 });
    await expect(m.mount('/dev/sdb', STAGE, 'ext4')).rejects.toThrow(FailedPrecondition);
    runner.assertDone();
  });

  it('read-only vs read-write mismatch is FailedPrecondition', async () => {
    const { runner, m } = setup();
    runner.expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb', ro: true }) });
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', [])).rejects.toThrow(/read-only/);
    runner.assertDone();
  });

  it('rejects options with commas or spaces and odd file system types', async () => {
    const { runner, m } = setup();
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', ['ro,exec'])).rejects.toBeInstanceOf(InvalidArgument);
    await expect(m.mount('/dev/sdb', STAGE, 'ext4', ['a b'])).rejects.toBeInstanceOf(InvalidArgument);
    await expect(m.mount('/dev/sdb', STAGE, 'ext4 -o x', [])).rejects.toBeInstanceOf(InvalidArgument);
    runner.assertDone();
  });
});

describe('Mounter.bindMount', () => {
  it('read-write: mount --bind only', async () => {
    const { runner, m } = setup();
    runner.expect(at(PUB), { exitCode: 1 }).expect(['mount', '--bind', STAGE, PUB]);
    expect(await m.bindMount(STAGE, PUB, false)).toBe('mounted');
    runner.assertDone();
  });

  it('read-only: mount --bind, then remount,bind,ro', async () => {
    const { runner, m } = setup();
    runner.expect(at(PUB), { exitCode: 1 }).expect(['mount', '--bind', STAGE, PUB]).expect(['mount', '-o', 'remount,bind,ro', PUB]);
    expect(await m.bindMount(STAGE, PUB, true)).toBe('mounted');
    runner.assertDone();
  });

  it('already bound read-only from the same file system: nothing to do', async () => {
    const { runner, m } = setup();
    runner.expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb', ro: true }) }).expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) });
    expect(await m.bindMount(STAGE, PUB, true)).toBe('already-mounted');
    runner.assertDone();
  });

  it('a crash between bind and remount: the retry only remounts read-only', async () => {
    const { runner, m } = setup();
    runner
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb' }) })
      .expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) })
      .expect(['mount', '-o', 'remount,bind,ro', PUB]);
    expect(await m.bindMount(STAGE, PUB, true)).toBe('already-mounted');
    runner.assertDone();
  });

  it('read-write wanted over a read-only bind, or a bind of something else: FailedPrecondition', async () => {
    const { runner, m } = setup();
    runner
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb', ro: true }) })
      .expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) })
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdc', majMin: '8:32' }) })
      .expect(at(STAGE), { stdout: json({ target: STAGE, source: '/dev/sdb' }) });
    await expect(m.bindMount(STAGE, PUB, false)).rejects.toThrow(/read-only already/);
    await expect(m.bindMount(STAGE, PUB, false)).rejects.toThrow(/not a bind of/);
    runner.assertDone();
  });

  it('extra options go into the remount', async () => {
    const { runner, m } = setup();
    runner.expect(at(PUB), { exitCode: 1 }).expect(['mount', '--bind', STAGE, PUB]).expect(['mount', '-o', 'remount,bind,ro,nosuid', PUB]);
    await m.bindMount(STAGE, PUB, true, {}, ['nosuid']);
    runner.assertDone();
  });
});

describe('Mounter.unmount / queries', () => {
  it('unmounts stacked mounts until none is left; nothing mounted is OK', async () => {
    const { runner, m } = setup();
    runner
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb' }, { target: PUB, source: '/dev/sdc' }) })
      .expect(['umount', PUB])
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb' }) })
      .expect(['umount', PUB])
      .expect(at(PUB), { exitCode: 1 })
      .expect(at(PUB), { exitCode: 1 });
    expect(await m.unmount(PUB)).toBe(2);
    expect(await m.unmount(PUB)).toBe(0);
    runner.assertDone();
  });

  it('isMountPoint and isReadOnly', async () => {
    const { runner, m } = setup();
    runner
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb', ro: true }) })
      .expect(at(PUB), { stdout: json({ target: PUB, source: '/dev/sdb', ro: true }) })
      .expect(at(STAGE), { exitCode: 1 })
      .expect(at(STAGE), { exitCode: 1 });
    expect(await m.isMountPoint(PUB)).toBe(true);
    expect(await m.isReadOnly(PUB)).toBe(true);
    expect(await m.isMountPoint(STAGE)).toBe(false);
    expect(await m.isReadOnly(STAGE)).toBeUndefined();
    runner.assertDone();
  });
});

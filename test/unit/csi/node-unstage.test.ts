import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unstageVolume } from '../../../src/csi/node-unstage.js';
import { FailedPrecondition } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { Mounter } from '../../../src/host/mount.js';
import { Iscsiadm } from '../../../src/iscsi-initiator/iscsiadm.js';
import { Multipath } from '../../../src/iscsi-initiator/multipath.js';
import { Mutex } from '../../../src/mutex.js';
import { fakeIscsiSysfs } from '../iscsi-initiator/fake-sysfs.js';
import { mountinfo, scriptedTable } from '../host/mount-table.js';

const IQN_A = 'iqn.2024-01.org.example.csi-lvm-iscsi:vg0:vol-a';
const IQN_B = 'iqn.2024-01.org.example.csi-lvm-iscsi:vg0:vol-b';
const WWID_A = 'naa.6001405aaaaaaaaaaaaaaaaaaaaaaaaa';
const WWID_B = 'naa.6001405bbbbbbbbbbbbbbbbbbbbbbbbb';
const P1 = '127.0.0.1:3260';
const node = (iqn: string, ...rest: string[]) => ['iscsiadm', '-m', 'node', '-T', iqn, '-p', P1, ...rest];

/** `reads`: the mount tables the unstage reads, in order. */
function setup(stateDisks: string[], reads: (staging: string) => string[] = () => []) {
  const sys = mkdtempSync(join(tmpdir(), 'sysfs-'));
  // after a reboot B came up first: B is sda, A is sdb; A's state still says sda
  fakeIscsiSysfs(sys, [
    { sid: 1, iqn: IQN_B, disks: [{ name: 'sda', lun: 0, wwid: WWID_B, dev: '8:0' }] },
    { sid: 2, iqn: IQN_A, disks: [{ name: 'sdb', lun: 0, wwid: WWID_A, dev: '8:16' }] },
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'staging-'));
  const staging = join(dir, 'globalmount');
  mkdirSync(staging);
  writeFileSync(
    `${staging}.lvm-iscsi.json`,
    JSON.stringify({
      volumeId: 'vol-a',
      attach: 'iscsi',
      targetIqn: IQN_A,
      portals: [P1],
      lun: 0,
      device: `/dev/${stateDisks[0]}`,
      disks: stateDisks,
      wwids: [WWID_A],
      block: false,
      fsType: 'ext4',
      targets: [],
    }),
  );
  const runner = new FakeRunner();
  const mounts = scriptedTable(...reads(staging));
  const deps = {
    runner,
    iscsi: new Iscsiadm(runner, undefined, { mutex: new Mutex() }),
    multipath: new Multipath(runner, { sysfsRoot: sys }),
    mounter: new Mounter(runner, mounts.table),
    sysfsRoot: sys,
    byPathDir: mkdtempSync(join(tmpdir(), 'by-path-')),
  };
  return { sys, staging, runner, deps, mounts };
}

const fsEntry = (target: string, source: string, majMin: string) => ({ target, source, majMin });

describe('unstageVolume', () => {
  it("takes apart the disk of the target (sdb), not the one the saved state names (sda, now B's)", async () => {
    const staged = (at: string) => fsEntry(at, '/dev/sdb', '8:16');
    const { sys, staging, runner, deps, mounts } = setup(['sda'], (at) => [
      mountinfo(staged(at), fsEntry('/var/lib/kubelet/b', '/dev/sda', '8:0')),
      mountinfo(staged(at)),
      '',
    ]);
    const probed: string[] = [];
    runner
      .expect(['umount', staging])
      .expect(['blockdev', '--flushbufs', '/dev/sdb'])
      .expect(node(IQN_A, '--logout'))
      .expect(node(IQN_A, '-o', 'delete'));
    await unstageVolume({ ...deps, probe: async (p) => (probed.push(p), 'free') }, 'vol-a', staging);
    runner.assertDone();
    mounts.assertDone();
    expect(probed).toEqual(['/dev/sdb']);
    expect(readFileSync(join(sys, 'block/sdb/device/delete'), 'utf8')).toBe('1');
    expect(readFileSync(join(sys, 'block/sda/device/delete'), 'utf8')).toBe('');
    expect(existsSync(`${staging}.lvm-iscsi.json`)).toBe(false);
  });

  it('is FAILED_PRECONDITION naming the other mount, before anything is unmounted or logged out', async () => {
    const { staging, runner, deps } = setup(['sdb'], (at) => [
      mountinfo(fsEntry(at, '/dev/sdb', '8:16'), fsEntry('/mnt/by-hand', '/dev/sdb', '8:16')),
    ]);
    await expect(unstageVolume({ ...deps, probe: async () => 'free' }, 'vol-a', staging)).rejects.toThrow(
      FailedPrecondition,
    );
    runner.assertDone();
    expect(existsSync(`${staging}.lvm-iscsi.json`)).toBe(true);
  });

  it('is FAILED_PRECONDITION when the kernel has the device claimed after the staging umount; the session stays', async () => {
    const { staging, runner, deps } = setup(['sdb'], () => ['', '']);
    await expect(unstageVolume({ ...deps, probe: async () => 'busy' }, 'vol-a', staging)).rejects.toThrow(
      /\/dev\/sdb is claimed by the kernel/,
    );
    runner.assertDone();
  });

  it('refuses a disk of the target whose WWID is not the one seen at stage', async () => {
    const { sys, staging, runner, deps } = setup(['sdb']);
    writeFileSync(join(sys, 'block/sdb/device/wwid'), `${WWID_B}\n`);
    await expect(unstageVolume({ ...deps, probe: async () => 'free' }, 'vol-a', staging)).rejects.toThrow(
      /reports WWID .*not touching it/,
    );
    runner.assertDone(); // not one command
  });

  it('refuses a state file of another volume', async () => {
    const { staging, runner, deps } = setup(['sdb']);
    await expect(unstageVolume(deps, 'vol-other', staging)).rejects.toThrow(/holds volume vol-a, not vol-other/);
    runner.assertDone();
  });

  it("a path without a stage record but with a mount (a pod's bind, configfs) is FAILED_PRECONDITION: nothing unmounted (a hostile path of the VM fuzz test)", async () => {
    const { runner, deps } = setup(['sdb'], () => [
      mountinfo({ target: '/sys/kernel/config', source: 'configfs', fstype: 'configfs', majMin: '0:30' }),
    ]);
    await expect(unstageVolume(deps, 'vol-a', '/sys/kernel/config')).rejects.toThrow(
      /has configfs \(configfs\) mounted but holds no stage record of volume vol-a; nothing unmounted/,
    );
    runner.assertDone(); // no umount
  });

  it('a path without a stage record and without a mount is done: no command', async () => {
    const { runner, deps } = setup(['sdb'], () => [mountinfo({ target: '/elsewhere', source: '/dev/sdc' })]);
    await unstageVolume(deps, 'vol-a', '/tmp/never-staged-here');
    runner.assertDone();
  });
});

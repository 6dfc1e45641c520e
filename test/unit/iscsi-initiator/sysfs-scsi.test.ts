import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AttachmentMismatch, assertDiskOfTarget, currentAttachment } from '../../../src/iscsi-initiator/attachment.js';
import { Multipath } from '../../../src/iscsi-initiator/multipath.js';
import { byPathName } from '../../../src/iscsi-initiator/portal.js';
import {
  iscsiDisksOf,
  parseScsiDevicePath,
  parseSysfsWwid,
  parseVpdUnitSerial,
  scsiDiskIdentity,
  scsiIdOfWwid,
  sessionStatesTo,
  sessionsTo,
} from '../../../src/iscsi-initiator/sysfs-scsi.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { fakeIscsiSysfs } from './fake-sysfs.js';

const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const captured = readFileSync(fixture('sysfs-iscsi-debian12.txt'), 'utf8');
const line = (key: string) =>
  captured
    .split('\n')
    .find((l) => l.startsWith(`${key}: `))
    ?.slice(key.length + 2) ?? '';

const IQN_A = 'iqn.2024-01.org.example.csi-lvm-iscsi:vg0:vol-a';
const IQN_B = 'iqn.2024-01.org.example.csi-lvm-iscsi:vg0:vol-b';
const WWID_A = 'naa.6001405aaaaaaaaaaaaaaaaaaaaaaaaa';
const WWID_B = 'naa.6001405bbbbbbbbbbbbbbbbbbbbbbbbb';
const P1 = '127.0.0.1:3260';

describe('sysfs parsers (captured on Debian 12)', () => {
  it('finds session, H:C:T:L and LUN in the /sys/block link of an iSCSI disk, nothing for other disks', () => {
    expect(parseScsiDevicePath(line('readlink /sys/block/sda'))).toEqual({ session: 1, hctl: '0:0:0:0', lun: 0 });
    expect(parseScsiDevicePath('/sys/devices/platform/host3/session12/target3:0:0/3:0:0:17/block/sdq')).toEqual({
      session: 12,
      hctl: '3:0:0:17',
      lun: 17,
    });
    expect(parseScsiDevicePath(line('readlink /sys/block/vda'))).toBeUndefined();
    expect(parseScsiDevicePath('/sys/devices/virtual/block/dm-0')).toBeUndefined();
    // a SCSI disk that is not under an iSCSI session (SATA, virtio-scsi)
    expect(
      parseScsiDevicePath('/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda'),
    ).toEqual({ session: undefined, hctl: '0:0:0:0', lun: 0 });
  });

  it('reads the WWID and the VPD 0x80 unit serial; the LIO NAA WWID in scsi_id form is the multipath uuid', () => {
    const wwid = parseSysfsWwid(`${line('/sys/block/sda/device/wwid')}\n`);
    expect(wwid).toBe('naa.60014050123456789abcdef012345678');
    expect(parseSysfsWwid('  \n\0')).toBeUndefined();
    expect(parseVpdUnitSerial(readFileSync(fixture('vpd_pg80-lio.bin')))).toBe('0123456789abcdef0123456789abcdef');
    expect(parseVpdUnitSerial(Buffer.from([0, 0x83, 0, 1, 0x41]))).toBeUndefined();
    expect(parseVpdUnitSerial(Buffer.from([0, 0x80]))).toBeUndefined();
    expect(scsiIdOfWwid(wwid ?? '')).toBe(line('udev ID_SERIAL (scsi_id)'));
    expect(`mpath-${scsiIdOfWwid(wwid ?? '')}`).toBe(/dm\/uuid (\S+),/.exec(line('multipath map dm-0'))?.[1]);
    expect(scsiIdOfWwid('t10.LIO-ORG_IBLOCK:0123')).toBeUndefined();
  });
});

function sysfs(): string {
  const root = mkdtempSync(join(tmpdir(), 'sysfs-'));
  fakeIscsiSysfs(root, [
    { sid: 1, iqn: IQN_A, disks: [{ name: 'sda', lun: 0, wwid: WWID_A, serial: 'aaaa' }] },
    { sid: 2, iqn: IQN_B, disks: [{ name: 'sdb', lun: 0, wwid: WWID_B, serial: 'bbbb' }] },
    { sid: 3, iqn: IQN_A, state: 'FAILED', disks: [{ name: 'sdc', lun: 1, wwid: WWID_A }] },
  ]);
  return root;
}

describe('sysfs-scsi on a tree laid out like the captured one', () => {
  it('tells who a disk is now and lists the disks of a target', async () => {
    const sys = sysfs();
    expect(await scsiDiskIdentity('sdb', { sysfsRoot: sys })).toEqual({
      name: 'sdb',
      session: 2,
      targetIqn: IQN_B,
      sessionState: 'LOGGED_IN',
      hctl: '2:0:0:0',
      lun: 0,
      wwid: WWID_B,
      serial: 'bbbb',
      state: 'running',
    });
    expect(await scsiDiskIdentity('sdz', { sysfsRoot: sys })).toBeUndefined();
    await expect(scsiDiskIdentity('../sda', { sysfsRoot: sys })).rejects.toThrow(/not a kernel disk name/);
    expect((await iscsiDisksOf(IQN_A, { sysfsRoot: sys })).map((d) => d.name)).toEqual(['sda', 'sdc']);
    expect((await iscsiDisksOf(IQN_A, { lun: 0, sysfsRoot: sys })).map((d) => d.name)).toEqual(['sda']);
    expect(await sessionsTo(IQN_A, { sysfsRoot: sys })).toEqual([1, 3]);
    expect(await sessionsTo('iqn.2024-01.x:none', { sysfsRoot: sys })).toEqual([]);
    expect(await sessionStatesTo(IQN_A, { sysfsRoot: sys })).toEqual([
      { sid: 1, state: 'LOGGED_IN' },
      { sid: 3, state: 'FAILED' },
    ]);
    expect(await sessionStatesTo(IQN_B, { sysfsRoot: sys })).toEqual([{ sid: 2, state: 'LOGGED_IN' }]);
    expect(await sessionStatesTo(IQN_A, { sysfsRoot: join(sys, 'nothing-here') })).toEqual([]);
  });

  it('assertDiskOfTarget: gone, present, or a mismatch when the name now belongs to another target or LUN', async () => {
    const sys = sysfs();
    expect(await assertDiskOfTarget('sda', IQN_A, { lun: 0, sysfsRoot: sys })).toBe('present');
    expect(await assertDiskOfTarget('sdx', IQN_A, { sysfsRoot: sys })).toBe('gone');
    await expect(assertDiskOfTarget('sdb', IQN_A, { sysfsRoot: sys })).rejects.toThrow(AttachmentMismatch);
    await expect(assertDiskOfTarget('sdb', IQN_A, { sysfsRoot: sys })).rejects.toThrow(
      `disk sdb now belongs to ${IQN_B}`,
    );
    await expect(assertDiskOfTarget('sdc', IQN_A, { lun: 0, sysfsRoot: sys })).rejects.toThrow(
      /LUN 1\), not to .* LUN 0/,
    );
  });
});

describe('currentAttachment', () => {
  const mp = (sys: string) => new Multipath(new FakeRunner(), { sysfsRoot: sys });
  function byPath(links: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'by-path-'));
    // block device nodes cannot be made here: the links point at /dev/null-like targets only for the mismatch test
    for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
    return dir;
  }

  it('finds the disks from the target, whatever names were saved', async () => {
    const sys = sysfs();
    const now = await currentAttachment(
      { targetIqn: IQN_A, portals: [P1], lun: 0, wwids: [WWID_A] },
      { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
    );
    expect(now.disks.map((d) => d.name)).toEqual(['sda']);
    expect(now.device).toBe('/dev/sda');
    expect(now.multipath).toBeUndefined();
  });

  it('refuses a disk of the target whose WWID is not the one seen at stage', async () => {
    const sys = sysfs();
    await expect(
      currentAttachment(
        { targetIqn: IQN_A, portals: [P1], lun: 0, wwids: [WWID_B] },
        { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
      ),
    ).rejects.toThrow(
      /disk sda .* reports WWID naa.6001405a+, but the volume was staged with naa.6001405b+: not touching it/,
    );
  });

  it('nothing left: no disks, no device', async () => {
    const sys = sysfs();
    expect(
      await currentAttachment(
        { targetIqn: 'iqn.2024-01.x:gone', portals: [P1], lun: 0, wwids: [WWID_A] },
        { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
      ),
    ).toEqual({ disks: [] });
  });

  it("accepts a multipath map whose paths and uuid are the target's, refuses one that holds another disk", async () => {
    const sys = sysfs();
    const dm = join(sys, 'block', 'dm-4');
    mkdirSync(join(dm, 'dm'), { recursive: true });
    mkdirSync(join(dm, 'slaves', 'sda'), { recursive: true });
    writeFileSync(join(dm, 'dm', 'uuid'), 'mpath-36001405aaaaaaaaaaaaaaaaaaaaaaaaa\n');
    writeFileSync(join(dm, 'dm', 'name'), 'mpatha\n');
    mkdirSync(join(sys, 'block', 'sda', 'holders', 'dm-4'), { recursive: true });
    const now = await currentAttachment(
      { targetIqn: IQN_A, portals: [P1], lun: 0, wwids: [WWID_A] },
      { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
    );
    expect(now.multipath).toEqual({ name: 'mpatha', dm: 'dm-4', devicePath: '/dev/mapper/mpatha' });
    expect(now.device).toBe('/dev/mapper/mpatha');
    mkdirSync(join(dm, 'slaves', 'sdb'));
    await expect(
      currentAttachment(
        { targetIqn: IQN_A, portals: [P1], lun: 0 },
        { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
      ),
    ).rejects.toThrow(/multipath map mpatha \(dm-4\) also holds sdb, which are not disks of/);
  });

  it('refuses a map whose uuid carries another WWID', async () => {
    const sys = sysfs();
    const dm = join(sys, 'block', 'dm-4');
    mkdirSync(join(dm, 'dm'), { recursive: true });
    mkdirSync(join(dm, 'slaves', 'sda'), { recursive: true });
    writeFileSync(join(dm, 'dm', 'uuid'), 'mpath-36001405bbbbbbbbbbbbbbbbbbbbbbbbb\n');
    mkdirSync(join(sys, 'block', 'sda', 'holders', 'dm-4'), { recursive: true });
    await expect(
      currentAttachment(
        { targetIqn: IQN_A, portals: [P1], lun: 0 },
        { multipath: mp(sys), sysfsRoot: sys, byPathDir: byPath({}) },
      ),
    ).rejects.toThrow(/has uuid mpath-36001405b+, not mpath-36001405a+/);
  });

  it("the by-path name it checks is udev's", () => {
    expect(byPathName(P1, IQN_A, 0)).toBe(`ip-127.0.0.1:3260-iscsi-${IQN_A}-lun-0`);
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import { diskUse, probeExclusive, type MountLike } from '../../../src/iscsi-initiator/in-use.js';

function sysfs(entries: Record<string, string | null>): string {
  const root = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
  for (const [p, content] of Object.entries(entries)) {
    const full = join(root, p);
    if (content === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
  return root;
}

const mount = (target: string, device: string, majMin: string, fstype = 'ext4', fsroot = '/'): MountLike => ({
  target,
  device,
  majMin,
  fstype,
  fsroot,
});

describe('diskUse', () => {
  const sys = sysfs({
    'block/sdb/dev': '8:16\n',
    'block/sdb/holders': null,
    'block/sdc/dev': '8:32\n',
    'block/sdc/sdc1/partition': '1\n',
    'block/sdc/sdc1/dev': '8:33\n',
    'block/sdc/sdc2/partition': '2\n',
    'block/sdc/sdc2/dev': '8:34\n',
    'block/sdc/sdc2/holders/dm-5': null,
    'block/dm-5/dm/uuid': 'LVM-xyz\n',
    'block/dm-5/dm/name': 'tenant-lv\n',
    'block/sdd/dev': '8:48\n',
    'block/sdd/holders/dm-3': null,
    'block/sde/dev': '8:64\n',
    'block/sde/holders/dm-3': null,
    'block/dm-3/dev': '254:3\n',
    'block/dm-3/dm/uuid': 'mpath-36001405abc\n',
    'block/dm-3/dm/name': 'mpathb\n',
    'block/dm-3/holders/dm-4': null,
    'block/dm-4/dm/uuid': 'part1-mpath-36001405abc\n',
    'block/dm-4/dm/name': 'mpathb1\n',
    'block/sdf/dev': '8:80\n',
    'block/sdf/holders/dm-6': null,
    'block/dm-6/dev': '254:6\n',
    'block/dm-6/dm/uuid': 'mpath-36001405def\n',
    'block/dm-6/dm/name': '36001405def\n',
  });

  it('nothing on a disk without mounts or holders', async () => {
    expect(await diskUse('sdb', [mount('/', '/dev/vda1', '254:1')], { sysfsRoot: sys })).toEqual({ users: [] });
    expect(await diskUse('sdz', [], { sysfsRoot: sys })).toEqual({ users: [] }); // already gone
  });

  it('mounts of the disk by major:minor or by name, and raw binds of its device node', async () => {
    const mounts = [
      mount('/a', '/dev/disk/by-id/x', '8:16'),
      mount('/b', '/dev/sdb', '0:0'),
      mount('/c', 'udev', '0:5', 'devtmpfs', '/sdb'),
      mount('/d', 'udev', '0:5', 'devtmpfs', '/sdbb'),
    ];
    expect((await diskUse('sdb', mounts, { sysfsRoot: sys })).users).toEqual([
      'sdb is mounted at /a',
      'sdb is mounted at /b',
      'sdb is mounted at /c',
    ]);
  });

  it('partitions: mounted or held', async () => {
    expect((await diskUse('sdc', [mount('/p1', '/dev/sdc1', '8:33')], { sysfsRoot: sys })).users).toEqual([
      'sdc1 is mounted at /p1',
      'sdc2 is held by dm-5 (tenant-lv)',
    ]);
  });

  it('the multipath map over the disk is reported, not counted; what sits on the map is', async () => {
    expect(await diskUse('sdd', [], { sysfsRoot: sys })).toEqual({
      users: ['dm-3 is held by dm-4 (mpathb1)'],
      multipath: { name: 'mpathb', dm: 'dm-3' },
    });
    expect(await diskUse('sdf', [], { sysfsRoot: sys })).toEqual({
      users: [],
      multipath: { name: '36001405def', dm: 'dm-6' },
    });
    expect((await diskUse('sdf', [mount('/m', '/dev/mapper/36001405def', '254:6')], { sysfsRoot: sys })).users).toEqual(
      ['dm-6 is mounted at /m'],
    );
  });

  it('refuses names that are not kernel disk names', async () => {
    await expect(diskUse('../sda', [], { sysfsRoot: sys })).rejects.toBeInstanceOf(InvalidArgument);
  });
});

describe('probeExclusive', () => {
  it('free when the open succeeds, unknown when it fails otherwise than EBUSY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-'));
    writeFileSync(join(dir, 'plain'), '');
    expect(await probeExclusive(join(dir, 'plain'))).toBe('free'); // O_EXCL without O_CREAT is only checked on block devices
    expect(await probeExclusive(join(dir, 'missing'))).toBe('unknown');
  });
});

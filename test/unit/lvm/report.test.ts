import { describe, expect, it } from 'vitest';
import {
  ReportParseError,
  isInvalidSnapshot,
  parseLvAttr,
  parseLvTime,
  parseLvs,
  parsePvs,
  parseVgs,
  splitList,
  type Lv,
} from '../../../src/lvm/report.js';
import { fixture } from './fixtures.js';

function byName(lvs: Lv[], name: string): Lv {
  const lv = lvs.find((l) => l.name === name);
  if (!lv) throw new Error(`no LV ${name}`);
  return lv;
}

describe('parseLvs on a host with device-mapper (lvs-active.json)', () => {
  const lvs = parseLvs(fixture('lvs-active.json'));

  it('returns one entry per LV, in lvm order, dropping the second segment row', () => {
    expect(lvs.map((l) => l.name)).toEqual([
      'pool0',
      'snap_cow1',
      'snap_cow2',
      'snap_skip',
      'snap_thin1',
      'vol_clone1',
      'vol_mirror1',
      'vol_stripe1',
      'vol_thick1',
      'vol_thin1',
    ]);
    expect(byName(lvs, 'vol_thick1').segCount).toBe(2);
  });

  it('decodes a thin pool', () => {
    const pool = byName(lvs, 'pool0');
    expect(pool).toMatchObject({
      uuid: 'eRUVFG-KEN6-QV4C-sZOn-X3p3-GKch-0ao7Nb',
      vg: 'csivg',
      path: undefined,
      dmPath: '/dev/mapper/csivg-pool0',
      sizeBytes: 83886080,
      active: true,
      tags: ['csi-lvm-iscsi.pool'],
      layout: ['thin', 'pool'],
      segtype: 'thin-pool',
      dataPercent: 12.5,
      metadataPercent: 10.94,
      zero: true,
      discards: 'passdown',
      whenFull: 'error',
      metadataSizeBytes: 4194304,
      pool: undefined,
      origin: undefined,
    });
    expect(pool.attr).toMatchObject({
      volumeType: 'thin-pool',
      permission: 'writeable',
      state: 'active',
      open: true,
      targetType: 't',
      zeroing: true,
      health: 'ok',
      skipActivation: false,
    });
    expect(pool.createdAt?.toISOString()).toBe('2026-11-25T09:46:40.000Z');
  });

  it('decodes thin volumes, snapshots and clones', () => {
    const vol = byName(lvs, 'vol_thin1');
    expect(vol).toMatchObject({
      path: '/dev/csivg/vol_thin1',
      sizeBytes: 67108864,
      pool: 'pool0',
      origin: undefined,
      dataPercent: 9.38,
      segtype: 'thin',
      layout: ['thin', 'sparse'],
      stripes: 0,
    });
    expect(vol.tags).toEqual([
      'csi.kind=volume',
      'csi.name=pvc-3f1c2a9e+2D8b7d+2D4e21',
      'csi.params=+7B+22fsType+22+3A+22xfs+22+7D',
      'csi.ready=1',
    ]);
    expect(vol.attr.volumeType).toBe('thin-volume');

    const snap = byName(lvs, 'snap_thin1');
    expect(snap.origin).toBe('vol_thin1');
    expect(snap.attr).toMatchObject({
      volumeType: 'thin-volume',
      permission: 'read-only',
      state: 'active',
      open: false,
    });

    const clone = byName(lvs, 'vol_clone1');
    expect(clone.origin).toBe('snap_thin1');

    const skip = byName(lvs, 'snap_skip');
    expect(skip.active).toBe(false);
    expect(skip.attr).toMatchObject({ state: 'inactive', open: false, skipActivation: true });
  });

  it('decodes thick LVs: COW origin and snapshots, raid1, striped', () => {
    const origin = byName(lvs, 'vol_thick1');
    expect(origin.attr.volumeType).toBe('origin');
    expect(origin).toMatchObject({
      segtype: 'linear',
      sizeBytes: 41943040,
      originSizeBytes: 41943040,
      zero: undefined,
      discards: undefined,
      whenFull: undefined,
    });

    const cow = byName(lvs, 'snap_cow1');
    expect(cow.attr.volumeType).toBe('snapshot');
    expect(cow).toMatchObject({
      segtype: 'linear',
      origin: 'vol_thick1',
      sizeBytes: 8388608,
      originSizeBytes: 33554432,
      snapPercent: 0.05,
    });
    expect(isInvalidSnapshot(cow)).toBe(false);

    const bad = byName(lvs, 'snap_cow2');
    expect(bad.attr.state).toBe('invalid-snapshot');
    expect(isInvalidSnapshot(bad)).toBe(true);
    expect(bad.snapPercent).toBe(100);

    const raid = byName(lvs, 'vol_mirror1');
    expect(raid).toMatchObject({ segtype: 'raid1', stripes: 2, copyPercent: 100, layout: ['raid', 'raid1'] });
    expect(raid.attr).toMatchObject({ volumeType: 'raid', targetType: 'r', health: 'ok' });

    const striped = byName(lvs, 'vol_stripe1');
    expect(striped).toMatchObject({ segtype: 'striped', stripes: 2, stripeSizeBytes: 65536, tags: [] });
    expect(striped.attr.volumeType).toBe('plain');
  });
});

describe('parseLvs on real output without device-mapper (lvs-no-dm.json)', () => {
  const lvs = parseLvs(fixture('lvs-no-dm.json'));

  it('parses every LV and reports unknown state/open', () => {
    expect(lvs).toHaveLength(9);
    for (const lv of lvs) {
      expect(lv.active).toBe(false);
      expect(lv.attr.state).toBe('unknown');
      expect(lv.attr.open).toBeUndefined();
      expect(lv.dataPercent).toBeUndefined();
    }
    expect(byName(lvs, 'vol_mirror1').attr.health).toBe('unknown');
  });
});

describe('parseLvs edge cases', () => {
  it('parses an empty VG', () => {
    expect(parseLvs(fixture('lvs-empty.json'))).toEqual([]);
  });

  it('rejects output that is not an lvm report', () => {
    expect(() => parseLvs('  Volume group "x" not found')).toThrow(ReportParseError);
    expect(() => parseLvs('{"nope":[]}')).toThrow(ReportParseError);
    expect(() => parseLvs('{"report":[{"lv":[{"lv_name":1}]}]}')).toThrow(/not a string/);
  });

  it('rejects a row without a requested field', () => {
    expect(() => parseLvs('{"report":[{"lv":[{"lv_uuid":"u","lv_name":"x"}]}]}')).toThrow(/lacks field/);
  });

  it('rejects sizes that do not fit a JS number', () => {
    const row = (JSON.parse(fixture('lvs-active.json')) as { report: Array<{ lv: Record<string, string>[] }> })
      .report[0]!.lv[0]!;
    row['lv_size'] = '9007199254740993';
    expect(() => parseLvs(JSON.stringify({ report: [{ lv: [row] }] }))).toThrow(/does not fit/);
  });

  it('splits lists and parses lv_time', () => {
    expect(splitList('')).toEqual([]);
    expect(splitList('a,b')).toEqual(['a', 'b']);
    expect(parseLvTime('2026-11-25 10:44:48 +0100')?.toISOString()).toBe('2026-11-25T09:44:48.000Z');
    expect(parseLvTime('')).toBeUndefined();
  });

  it('decodes every lv_attr position', () => {
    expect(parseLvAttr('Vri-a-tz-k')).toMatchObject({
      volumeType: 'thin-volume',
      permission: 'read-only',
      state: 'active',
      open: false,
      zeroing: true,
      skipActivation: true,
    });
    expect(parseLvAttr('swi-I-s---').state).toBe('invalid-snapshot');
    expect(parseLvAttr('swi-S-s---').state).toBe('invalid-suspended-snapshot');
    expect(parseLvAttr('twi-aotzD-').health).toBe('out-of-data-space');
    expect(parseLvAttr('twi-aotzM-').health).toBe('metadata-read-only');
    expect(parseLvAttr('rwi-aor-p-').health).toBe('partial');
    expect(parseLvAttr('-wRm-o----')).toMatchObject({
      permission: 'writeable',
      allocationPolicy: 'R',
      fixedMinor: true,
    });
    expect(parseLvAttr('-XX-XX----')).toMatchObject({ permission: 'unknown', state: 'unknown', open: undefined });
    expect(parseLvAttr('-Ri-ao----').permission).toBe('read-only-activation');
    expect(() => parseLvAttr('-wi')).toThrow(ReportParseError);
  });
});

describe('parseVgs / parsePvs', () => {
  it('parses vgs', () => {
    const vgs = parseVgs(fixture('vgs.json'));
    expect(vgs).toHaveLength(2);
    expect(vgs[0]).toEqual({
      name: 'csivg',
      uuid: 'sRdT9F-wznZ-ocjA-0LUy-Jt7N-HU3T-UxtV59',
      attr: 'wz--n-',
      sizeBytes: 411041792,
      freeBytes: 226492416,
      extentSizeBytes: 4194304,
      extentCount: 98,
      freeExtentCount: 54,
      pvCount: 2,
      lvCount: 9,
      snapCount: 1,
      tags: [],
      mdaSizeBytes: 1044480,
      mdaFreeBytes: 514560,
      mdaCount: 2,
    });
    expect(vgs[1]?.tags).toEqual(['csi.managed=1', 'owner=csi-lvm-iscsi']);
    expect(vgs[1]?.mdaSizeBytes).toBe(9433088);
  });

  it('parses pvs, orphans have no VG', () => {
    const pvs = parsePvs(fixture('pvs.json'));
    expect(pvs.map((p) => [p.name, p.vg])).toEqual([
      ['/dev/loop0', 'csivg'],
      ['/dev/loop1', 'csivg'],
      ['/dev/loop2', undefined],
    ]);
    expect(pvs[0]).toMatchObject({ sizeBytes: 205520896, freeBytes: 88080384, devSizeBytes: 209715200 });
  });
});

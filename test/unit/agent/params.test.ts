import { describe, expect, it } from 'vitest';
import { parseSnapshotParams, parseVolumeParams } from '../../../src/agent/params.js';
import { InvalidArgument } from '../../../src/errors.js';

const d = { volumeGroups: ['vg0', 'vg1'], thinPoolConfigured: (vg: string) => vg === 'vg0' };

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidArgument) return e.field;
    throw e;
  }
  throw new Error('expected InvalidArgument');
}

describe('StorageClass parameters', () => {
  it('defaults to thin on a VG with a thin pool, thick (zeroed on delete) without', () => {
    expect(parseVolumeParams({}, d)).toMatchObject({
      lvmType: 'thin',
      volumeGroup: 'vg0',
      mirrors: 0,
      stripes: 1,
      volumeClear: 'none',
    });
    expect(parseVolumeParams({ volumeGroup: 'vg1' }, d)).toMatchObject({ lvmType: 'thick', volumeClear: 'zero' });
  });

  it('parses thick layouts', () => {
    expect(parseVolumeParams({ lvmType: 'thick', mirrors: '1' }, d)).toMatchObject({ mirrors: 1 });
    expect(
      parseVolumeParams({ lvmType: 'thick', stripes: '2', stripeSize: '64k', volumeClear: 'none' }, d),
    ).toMatchObject({
      stripes: 2,
      stripeSizeKiB: 64,
      volumeClear: 'none',
    });
  });

  it('names the parameter that does not apply or is wrong', () => {
    expect(fieldOf(() => parseVolumeParams({ mirrors: '1' }, d))).toBe('parameters.mirrors');
    expect(fieldOf(() => parseVolumeParams({ volumeClear: 'zero' }, d))).toBe('parameters.volumeClear');
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'thin', volumeGroup: 'vg1' }, d))).toBe('parameters.lvmType');
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'thick', stripes: 'two' }, d))).toBe('parameters.stripes');
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'thick', stripeSize: '64k' }, d))).toBe('parameters.stripeSize');
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'thick', stripes: '2', stripeSize: '3k' }, d))).toBe(
      'parameters.stripeSize',
    );
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'thick', mirrors: '1', stripes: '2' }, d))).toBe(
      'parameters.stripes',
    );
    expect(fieldOf(() => parseVolumeParams({ volumeGroup: 'other' }, d))).toBe('parameters.volumeGroup');
    expect(fieldOf(() => parseVolumeParams({ fsType: 'btrfs' }, d))).toBe('parameters.fsType');
    expect(fieldOf(() => parseVolumeParams({ colour: 'red' }, d))).toBe('parameters.colour');
    expect(fieldOf(() => parseVolumeParams({ lvmType: 'fat' }, d))).toBe('parameters.lvmType');
  });

  it("accepts the provisioner's extra metadata keys", () => {
    expect(parseVolumeParams({ 'csi.storage.k8s.io/pvc/name': 'data' }, d).lvmType).toBe('thin');
  });

  it('snapshotReserve defaults to 100 percent and is bounded', () => {
    expect(parseSnapshotParams({})).toEqual({ snapshotReserve: 100 });
    expect(parseSnapshotParams({ snapshotReserve: '30' })).toEqual({ snapshotReserve: 30 });
    expect(fieldOf(() => parseSnapshotParams({ snapshotReserve: '0' }))).toBe('parameters.snapshotReserve');
    expect(fieldOf(() => parseSnapshotParams({ lvmType: 'thin' }))).toBe('parameters.lvmType');
  });
});

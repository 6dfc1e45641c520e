import { describe, expect, it } from 'vitest';
import { capacityFor, noRoomReason, thinPoolHealth, thinPoolProblem } from '../../../src/agent/capacity.js';
import { parseLvAttr, type Lv } from '../../../src/lvm/report.js';
import type { PoolStatus } from '../../../src/agent/types.js';

const MiB = 1024 * 1024;
const limits = { reservedPercent: 10, overSubscriptionRatio: 2, thinPoolThresholdPercent: 90 };
const base: PoolStatus = {
  vg: 'vg0',
  vgSizeBytes: 1000 * MiB,
  vgFreeBytes: 400 * MiB,
  extentBytes: 4 * MiB,
  pvCount: 3,
  thinPool: {
    name: 'pool',
    sizeBytes: 500 * MiB,
    dataPercent: 10,
    metadataPercent: 5,
    provisionedBytes: 600 * MiB,
    zeroing: true,
    health: 'ok',
  },
};

describe('capacity', () => {
  it('thick: free minus the reserved share, whole extents', () => {
    expect(capacityFor(base, { vg: 'vg0', lvmType: 'thick', mirrors: 0, stripes: 1 }, limits)).toEqual({
      availableBytes: 300 * MiB,
      maximumVolumeBytes: 300 * MiB,
    });
  });

  it('thick mirrors: divided by the copies, less one metadata extent per leg', () => {
    const c = capacityFor(base, { vg: 'vg0', lvmType: 'thick', mirrors: 1, stripes: 1 }, limits);
    expect(c.maximumVolumeBytes).toBe(144 * MiB);
  });

  it('thick: zero when there are fewer PVs than copies or stripes', () => {
    expect(capacityFor(base, { vg: 'vg0', lvmType: 'thick', mirrors: 3, stripes: 1 }, limits).maximumVolumeBytes).toBe(
      0,
    );
    expect(noRoomReason(base, { vg: 'vg0', lvmType: 'thick', mirrors: 3, stripes: 1 }, MiB, limits)).toMatch(
      /need 4 physical volumes/,
    );
    expect(noRoomReason(base, { vg: 'vg0', lvmType: 'thick', mirrors: 0, stripes: 4 }, MiB, limits)).toMatch(
      /4 stripes/,
    );
  });

  it('thin: pool x ratio minus provisioned', () => {
    expect(capacityFor(base, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, limits)).toEqual({
      availableBytes: 400 * MiB,
      maximumVolumeBytes: 400 * MiB,
    });
    expect(noRoomReason(base, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, 404 * MiB, limits)).toMatch(
      /over-subscription/,
    );
    expect(
      noRoomReason(base, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, 400 * MiB, limits),
    ).toBeUndefined();
  });

  it('thin: nothing once data or metadata passes the threshold', () => {
    const full = { ...base, thinPool: { ...base.thinPool!, dataPercent: 95 } };
    expect(capacityFor(full, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, limits).availableBytes).toBe(0);
    expect(noRoomReason(full, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, MiB, limits)).toMatch(/95% full/);
    const meta = { ...base, thinPool: { ...base.thinPool!, metadataPercent: 91 } };
    expect(noRoomReason(meta, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, MiB, limits)).toMatch(
      /metadata is 91% full/,
    );
  });

  it('thin: an unhealthy pool takes nothing new, whatever its fill', () => {
    for (const health of ['failed', 'out-of-data-space', 'metadata-read-only', 'read-only']) {
      const sick = { ...base, thinPool: { ...base.thinPool!, health } };
      expect(capacityFor(sick, { vg: 'vg0', lvmType: 'thin', mirrors: 0, stripes: 1 }, limits).availableBytes).toBe(0);
      expect(thinPoolProblem(sick, 90)).toBe(`thin pool vg0/pool is unhealthy (${health})`);
    }
    expect(thinPoolProblem(base, 90)).toBeUndefined();
    expect(thinPoolProblem({ ...base, thinPool: { ...base.thinPool!, metadataPercent: 90 } }, 90)).toMatch(
      /metadata is 90% full, at or above the 90% threshold/,
    );
    expect(thinPoolProblem({ ...base, thinPool: undefined }, 90)).toMatch(/has no thin pool/);
  });

  it('thinPoolHealth reads lv_attr: health character, read-only permission', () => {
    const lv = (raw: string) => ({ attr: parseLvAttr(raw) }) as Lv;
    expect(thinPoolHealth(lv('twi-aotz--'))).toBe('ok');
    expect(thinPoolHealth(lv('twi-aotzD-'))).toBe('out-of-data-space');
    expect(thinPoolHealth(lv('twi-aotzM-'))).toBe('metadata-read-only');
    expect(thinPoolHealth(lv('twi-aotzF-'))).toBe('failed');
    expect(thinPoolHealth(lv('tri-aotz--'))).toBe('read-only');
    expect(thinPoolHealth(lv('twi---tzX-'))).toBe('ok');
  });
});

import { describe, expect, it } from 'vitest';
import { chooseSize, sizeFits } from '../../../src/agent/sizing.js';
import { sizeRequest } from '../../../src/csi/controller-ops.js';
import { InvalidArgument, OutOfRange } from '../../../src/errors.js';

const MiB = 1024 * 1024;
const extent = 4 * MiB;

describe('sizing', () => {
  it('uses the default when no capacity_range is given', () => {
    expect(chooseSize(sizeRequest(undefined), 64 * MiB, extent, 0)).toBe(64 * MiB);
  });

  it('rounds up to whole extents', () => {
    expect(chooseSize(sizeRequest({ required_bytes: String(10 * MiB + 1) }), 64 * MiB, extent, 0)).toBe(12 * MiB);
  });

  it('caps the default by limit_bytes', () => {
    expect(chooseSize(sizeRequest({ limit_bytes: String(8 * MiB) }), 64 * MiB, extent, 0)).toBe(8 * MiB);
  });

  it('is OUT_OF_RANGE when required > limit or the rounded size passes the limit', () => {
    expect(() => sizeRequest({ required_bytes: '10', limit_bytes: '5' })).toThrow(OutOfRange);
    expect(() =>
      chooseSize(sizeRequest({ required_bytes: String(5 * MiB), limit_bytes: String(6 * MiB) }), 0, extent, 0),
    ).toThrow(OutOfRange);
  });

  it('grows to the source size', () => {
    expect(chooseSize(sizeRequest(undefined), 8 * MiB, extent, 16 * MiB)).toBe(16 * MiB);
  });

  it('rejects negative and non-integer sizes naming the field', () => {
    expect(() => sizeRequest({ required_bytes: '-1' })).toThrow(InvalidArgument);
    expect(() => sizeRequest({ limit_bytes: '1e400' })).toThrow(/capacity_range.limit_bytes/);
  });

  it('sizeFits honours both bounds', () => {
    expect(sizeFits(10, { required: 10, limit: 0 })).toBe(true);
    expect(sizeFits(9, { required: 10, limit: 0 })).toBe(false);
    expect(sizeFits(12, { required: 10, limit: 11 })).toBe(false);
  });
});

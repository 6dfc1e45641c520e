/**
 * Sizes of new and grown volumes (pure): the CSI capacity range, the
 * default, the source's size and the VG's extent size decide the bytes the
 * agent asks LVM for. The agent applies them against its one read of the VG.
 */
import { OutOfRange } from '../errors.js';
import type { SourceRef } from './types.js';

/** A CSI capacity_range in bytes; 0 = not given. */
export interface SizeRange {
  required: number;
  limit: number;
}

function roundUp(bytes: number, unit: number): number {
  return Math.ceil(bytes / unit) * unit;
}

/** The size to allocate: required (or the default, capped by limit, or the source's size), rounded up to whole extents. */
export function chooseSize(req: SizeRange, defaultBytes: number, extentBytes: number, minimumBytes: number): number {
  let want = req.required > 0 ? req.required : req.limit > 0 ? Math.min(defaultBytes, req.limit) : defaultBytes;
  want = Math.max(want, minimumBytes);
  const size = roundUp(want, extentBytes);
  if (req.limit > 0 && size > req.limit) {
    throw new OutOfRange(
      `a volume of ${want} bytes rounds up to ${size} bytes (whole ${extentBytes}-byte extents), above capacity_range.limit_bytes ${req.limit}`,
    );
  }
  return size;
}

export function sizeFits(size: number, req: SizeRange): boolean {
  return size >= req.required && (req.limit === 0 || size <= req.limit);
}

/** A copy is never smaller than its source: OUT_OF_RANGE naming the bound that is. */
export function checkAgainstSource(req: SizeRange, sourceBytes: number): void {
  if (req.limit > 0 && req.limit < sourceBytes)
    throw new OutOfRange(`capacity_range.limit_bytes ${req.limit} is smaller than the source (${sourceBytes} bytes)`);
  if (req.required > 0 && req.required < sourceBytes) {
    throw new OutOfRange(
      `capacity_range.required_bytes ${req.required} is smaller than the source (${sourceBytes} bytes)`,
    );
  }
}

export function sameSource(a: SourceRef | undefined, b: SourceRef | undefined): boolean {
  return a?.kind === b?.kind && a?.id === b?.id;
}

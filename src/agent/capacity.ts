/**
 * Capacity arithmetic (pure): what can still be provisioned in a VG or thin
 * pool under the configured limits, like Cinder's capacity filter:
 * reserved percentage, thin over-subscription ratio, pool fill threshold.
 */
import type { Lv } from '../lvm/report.js';
import type { Capacity, CapacityQuery, PoolStatus } from './types.js';

/** lv_attr health characters that make a thin pool unfit for anything new ('X' unknown and raid states are not). */
const UNHEALTHY = new Set(['failed', 'out-of-data-space', 'metadata-read-only', 'error', 'partial']);

/** "ok" or what is wrong with the thin pool LV, from its lv_attr (health character, read-only permission). */
export function thinPoolHealth(pool: Lv): string {
  if (UNHEALTHY.has(pool.attr.health)) return pool.attr.health;
  if (pool.attr.permission === 'read-only' || pool.attr.permission === 'read-only-activation') return 'read-only';
  return 'ok';
}

export interface CapacityLimits {
  /** Share of each VG kept free (percent of its size). */
  reservedPercent: number;
  /** Thin: provisioned virtual size may reach pool size x ratio. */
  overSubscriptionRatio: number;
  /** Thin: no new volumes once the pool's data is this full (percent). */
  thinPoolThresholdPercent: number;
}

function thickCapacity(p: PoolStatus, q: Pick<CapacityQuery, 'mirrors' | 'stripes'>, l: CapacityLimits): Capacity {
  const reserved = Math.ceil((p.vgSizeBytes * l.reservedPercent) / 100);
  const usable = Math.max(0, p.vgFreeBytes - reserved);
  const copies = q.mirrors + 1;
  // raid1 keeps one metadata extent per leg.
  const overhead = q.mirrors > 0 ? copies * p.extentBytes : 0;
  const perCopy = Math.max(0, Math.floor((usable - overhead) / copies / p.extentBytes) * p.extentBytes);
  const fits = copies <= p.pvCount && q.stripes <= p.pvCount;
  const size = fits ? perCopy : 0;
  return { availableBytes: size, maximumVolumeBytes: size };
}

/**
 * Why nothing new may go into the thin pool (data or metadata at or above
 * the threshold, or the pool unhealthy), or undefined. CreateVolume and thin
 * CreateSnapshot both honour it; the volume condition reports it.
 */
export function thinPoolProblem(p: PoolStatus, thresholdPercent: number): string | undefined {
  const pool = p.thinPool;
  if (!pool) return `volume group ${p.vg} has no thin pool`;
  if (pool.health !== 'ok') return `thin pool ${p.vg}/${pool.name} is unhealthy (${pool.health})`;
  if (pool.dataPercent >= thresholdPercent) {
    return `thin pool ${p.vg}/${pool.name} data is ${pool.dataPercent}% full, at or above the ${thresholdPercent}% threshold`;
  }
  if (pool.metadataPercent >= thresholdPercent) {
    return `thin pool ${p.vg}/${pool.name} metadata is ${pool.metadataPercent}% full, at or above the ${thresholdPercent}% threshold`;
  }
  return undefined;
}

function thinCapacity(p: PoolStatus, l: CapacityLimits): Capacity {
  const pool = p.thinPool;
  if (!pool || thinPoolProblem(p, l.thinPoolThresholdPercent)) {
    return { availableBytes: 0, maximumVolumeBytes: 0 };
  }
  const virtualRoom = Math.floor(pool.sizeBytes * l.overSubscriptionRatio) - pool.provisionedBytes;
  const size = Math.max(0, Math.floor(virtualRoom / p.extentBytes) * p.extentBytes);
  return { availableBytes: size, maximumVolumeBytes: size };
}

export function capacityFor(p: PoolStatus, q: CapacityQuery, l: CapacityLimits): Capacity {
  return q.lvmType === 'thin' ? thinCapacity(p, l) : thickCapacity(p, q, l);
}

/** Why a volume of `bytes` does not fit, or undefined when it does. */
export function noRoomReason(p: PoolStatus, q: CapacityQuery, bytes: number, l: CapacityLimits): string | undefined {
  if (q.lvmType === 'thin') {
    const pool = p.thinPool;
    const problem = thinPoolProblem(p, l.thinPoolThresholdPercent);
    if (!pool || problem) return problem;
    const cap = thinCapacity(p, l);
    if (bytes > cap.maximumVolumeBytes) {
      return `thin pool ${p.vg}/${pool.name}: ${bytes} bytes would exceed the over-subscription limit (${pool.provisionedBytes} of ${Math.floor(pool.sizeBytes * l.overSubscriptionRatio)} bytes provisioned, ratio ${l.overSubscriptionRatio})`;
    }
    return undefined;
  }
  if (q.mirrors + 1 > p.pvCount)
    return `${q.mirrors} mirror(s) need ${q.mirrors + 1} physical volumes; volume group ${p.vg} has ${p.pvCount}`;
  if (q.stripes > p.pvCount)
    return `${q.stripes} stripes need ${q.stripes} physical volumes; volume group ${p.vg} has ${p.pvCount}`;
  const cap = thickCapacity(p, q, l);
  if (bytes > cap.maximumVolumeBytes) {
    return `volume group ${p.vg} has room for ${cap.maximumVolumeBytes} bytes (${p.vgFreeBytes} free, ${l.reservedPercent}% reserved, ${q.mirrors + 1} copies), ${bytes} requested`;
  }
  return undefined;
}

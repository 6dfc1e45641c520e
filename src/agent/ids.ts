/**
 * Volume and snapshot ids: "<storage-node short id>/<vg>/<lv>". Opaque to the
 * CO, at most 128 bytes, and enough to route a request to the right agent
 * without any lookup table. '/' cannot occur in LVM names or the short id.
 */
import { createHash } from 'node:crypto';
import { base32 } from '../lvm/names.js';

export interface LvRef {
  node: string;
  vg: string;
  lv: string;
}

export const MAX_ID_BYTES = 128;
const PART = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;

/** A short, stable id for a storage node name: 8 base32 characters of its SHA-256. */
export function shortNodeId(nodeName: string): string {
  return base32(createHash('sha256').update(nodeName).digest(), 8);
}

export function formatId(ref: LvRef): string {
  const id = `${ref.node}/${ref.vg}/${ref.lv}`;
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new Error(`id ${id} exceeds ${MAX_ID_BYTES} bytes`);
  return id;
}

/** undefined for anything that is not an id this plugin made (the caller decides: NOT_FOUND or OK). */
export function parseId(id: string): LvRef | undefined {
  if (Buffer.byteLength(id) > MAX_ID_BYTES) return undefined;
  const parts = id.split('/');
  if (parts.length !== 3) return undefined;
  const [node, vg, lv] = parts as [string, string, string];
  for (const part of parts) if (!PART.test(part) || part === '.' || part === '..') return undefined;
  return { node, vg, lv };
}

/**
 * LV tags <-> the agent's records. LVM is the source of truth: everything the
 * agent knows about a volume or snapshot is read back from its LV.
 *
 * Keys (see src/lvm/tags.ts for the encoding):
 *   name     the CSI name                     kind    volume | snapshot | temporary
 *   source   "snapshot:<id>" / "volume:<id>"  created creation time (ISO 8601)
 *   params   volume parameters (JSON)         ready   completion mark ("1")
 *   size     snapshot and temporary: the origin's size when taken (the length a copy from it reads);
 *            volume: the size asked at creation (what an unfinished thin clone is grown to), not
 *            updated by an expansion (the LV's own size is the volume's size)
 *   state    deleting | hidden (removed once its snapshots are gone)
 *   for      temporary LVs: the LV they serve
 *   fill     "zero": a new thick volume zeroed before it is ready (its VG holds unzeroed free extents)
 *
 * VG tag: csi.unzeroed=1 once extents of a thick LV went back to the VG without zeroing
 * (a volumeClear: none volume or snapshot); see LocalAgent.markUnzeroed.
 */
import type { Lv } from '../lvm/report.js';
import { isInvalidSnapshot } from '../lvm/report.js';
import { decodeTags, encodeTags } from '../lvm/tags.js';
import { formatId } from './ids.js';
import type { LvmType, VolumeParams } from './params.js';
import type { Publication, SnapshotInfo, SourceRef, VolumeInfo } from './types.js';

type LvKind = 'volume' | 'snapshot' | 'temporary';

export interface TagFields {
  name?: string;
  kind: LvKind;
  source?: string;
  created?: string;
  params?: string;
  ready?: string;
  size?: string;
  state?: string;
  for?: string;
  published?: string;
  fill?: string;
}

export function tagsFor(fields: TagFields): string[] {
  const map: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields) as Array<[string, string | undefined]>) if (v !== undefined) map[k] = v;
  return encodeTags(map);
}

/**
 * Decoded once per tag list: an LV's tags array is replaced, never changed in place, when its
 * tags change, and a listing decodes the same LVs again for every page (a profile of ListVolumes
 * over 1,000 volumes spent half its time here). Frozen, since every caller shares it.
 */
const DECODED = new WeakMap<readonly string[], Readonly<Record<string, string>>>();

export function tagValues(lv: Lv): Readonly<Record<string, string>> {
  let v = DECODED.get(lv.tags);
  if (!v) {
    v = Object.freeze(decodeTags(lv.tags).values);
    DECODED.set(lv.tags, v);
  }
  return v;
}

export function encodeSource(s: SourceRef | undefined): string | undefined {
  return s ? `${s.kind}:${s.id}` : undefined;
}

export function decodeSource(text: string | undefined): SourceRef | undefined {
  if (!text) return undefined;
  const i = text.indexOf(':');
  const kind = text.slice(0, i);
  const id = text.slice(i + 1);
  if ((kind === 'snapshot' || kind === 'volume') && id) return { kind, id };
  return undefined;
}

/** The VolumeParams stored at creation; undefined when the tag is missing or unreadable. */
function decodeParams(text: string | undefined): VolumeParams | undefined {
  if (!text) return undefined;
  try {
    const p = JSON.parse(text) as VolumeParams;
    return typeof p === 'object' && p && (p.lvmType === 'thin' || p.lvmType === 'thick') ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The `published` tag: a JSON list of publications; unreadable entries are dropped. */
export function decodePublished(text: string | undefined): Publication[] {
  if (!text) return [];
  try {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list)) return [];
    return list
      .filter((p: unknown): p is Publication => {
        if (typeof p !== 'object' || p === null) return false;
        const r = p as Record<string, unknown>;
        return typeof r['nodeId'] === 'string' && typeof r['readOnly'] === 'boolean' && typeof r['mode'] === 'string';
      })
      .map((p) => (p.chapId !== undefined && typeof p.chapId !== 'string' ? { ...p, chapId: undefined } : p));
  } catch {
    return [];
  }
}

export function encodePublished(list: readonly Publication[]): string | undefined {
  return list.length === 0
    ? undefined
    : JSON.stringify(
        list.map((p) => ({
          nodeId: p.nodeId,
          readOnly: p.readOnly,
          mode: p.mode,
          ...(p.chap ? { chap: true } : {}),
          ...(p.chap && p.chapId ? { chapId: p.chapId } : {}),
        })),
      );
}

function date(text: string | undefined, fallback: Date | undefined): Date {
  const d = text ? new Date(text) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : (fallback ?? new Date(0));
}

/** A volume record, or undefined when the LV is not one of our volumes. */
/** COW snapshots per origin LV name, counted once per listing (a listing is never changed after it is read). */
const cowSnapshotCounts = new WeakMap<readonly Lv[], ReadonlyMap<string, number>>();

function cowSnapshotsOf(all: readonly Lv[], origin: string): number {
  let counts = cowSnapshotCounts.get(all);
  if (!counts) {
    const m = new Map<string, number>();
    for (const x of all) {
      if (x.origin && !x.pool && tagValues(x)['kind'] === 'snapshot') m.set(x.origin, (m.get(x.origin) ?? 0) + 1);
    }
    cowSnapshotCounts.set(all, m);
    counts = m;
  }
  return counts.get(origin) ?? 0;
}

/**
 * The record made from one Lv object, kept while that object lives: the agent's copy of a VG
 * replaces an LV's object whenever anything about it changes, and ListVolumes makes the records
 * of every LV for each page (ListVolumes of 500 volumes took 4.1 s in the guest, most of it here
 * and in the garbage it left). Frozen, since every caller shares it.
 */
const RECORDS = new WeakMap<Lv, { node: string; snapshotCount: number; info: VolumeInfo | undefined }>();

/** `all`: the LVs of the volume's VG (for its COW snapshot count); a whole listing costs one pass over it, not one per volume. */
export function toVolume(node: string, lv: Lv, all: readonly Lv[]): VolumeInfo | undefined {
  const snapshotCount = cowSnapshotsOf(all, lv.name);
  const kept = RECORDS.get(lv);
  if (kept && kept.node === node && kept.snapshotCount === snapshotCount) return kept.info;
  const info = volumeRecord(node, lv, snapshotCount);
  RECORDS.set(lv, { node, snapshotCount, info });
  return info;
}

function volumeRecord(node: string, lv: Lv, snapshotCount: number): VolumeInfo | undefined {
  const t = tagValues(lv);
  if (t['kind'] !== 'volume' || !t['name']) return undefined;
  const params = decodeParams(t['params']);
  if (!params) return undefined;
  const state =
    t['state'] === 'deleting' || t['state'] === 'hidden' ? 'deleting' : t['ready'] === '1' ? 'ready' : 'copying';
  return Object.freeze({
    id: formatId({ node, vg: lv.vg, lv: lv.name }),
    name: t['name'],
    vg: lv.vg,
    lv: lv.name,
    sizeBytes: lv.sizeBytes,
    params,
    source: decodeSource(t['source']),
    createdAt: date(t['created'], lv.createdAt),
    state,
    active: lv.active,
    partial: lv.attr.health === 'partial',
    devicePath: `/dev/${lv.vg}/${lv.name}`,
    snapshotCount,
    published: decodePublished(t['published']),
  });
}

export function toSnapshot(node: string, lv: Lv): SnapshotInfo | undefined {
  const t = tagValues(lv);
  if (t['kind'] !== 'snapshot' || !t['name'] || !t['source']) return undefined;
  const lvmType: LvmType = lv.pool ? 'thin' : 'thick';
  const size = Number(t['size']);
  return {
    id: formatId({ node, vg: lv.vg, lv: lv.name }),
    name: t['name'],
    vg: lv.vg,
    lv: lv.name,
    sourceVolumeId: t['source'],
    sizeBytes: Number.isSafeInteger(size) && size > 0 ? size : (lv.originSizeBytes ?? lv.sizeBytes),
    createdAt: date(t['created'], lv.createdAt),
    readyToUse: !isInvalidSnapshot(lv) && t['ready'] === '1',
    lvmType,
  };
}

/**
 * Pure parsers for `lvs|vgs|pvs --reportformat json --units b --nosuffix -o <fields>`.
 *
 * Output shape (lvm2 2.03.16): `{"report":[{"lv":[{"lv_name":"x", ...}, ...]}]}`;
 * every value is a string, "" when not applicable, lists (tags, layout) are
 * joined with "," (pinned by the report section of our --config).
 *
 * Sizes are JS numbers (bytes). Every size lvm can report fits below 2^53
 * (8 PiB); a value that does not is rejected rather than rounded.
 *
 * Facts the parsers rely on, all observed on 2.03.16:
 * - asking for a segment field (segtype, stripes, stripe_size, zero, discards)
 *   makes lvs print one row PER SEGMENT: an LV that was extended onto a second
 *   PV appears twice. parseLvs keeps the first row of each lv_uuid.
 * - thin pools have lv_path "" (they are not public devices); lv_dm_path is set.
 * - a thick (COW) snapshot reports segtype "linear" (its COW store) with
 *   lv_attr[0] = 's' and origin set; its origin reports lv_attr[0] = 'o'.
 * - `zero` is "zero" (on), "" (off), or "unknown" (not a thin LV/pool).
 * - without a working device-mapper lv_attr shows 'X' for state and open,
 *   and lv_active is "unknown".
 */

export const LV_FIELDS = [
  'lv_uuid',
  'lv_name',
  'vg_name',
  'lv_path',
  'lv_dm_path',
  'lv_size',
  'lv_attr',
  'lv_active',
  'lv_tags',
  'lv_time',
  'lv_layout',
  'segtype',
  'seg_count',
  'stripes',
  'stripe_size',
  'pool_lv',
  'origin',
  'origin_size',
  'data_percent',
  'metadata_percent',
  'snap_percent',
  'copy_percent',
  'zero',
  'discards',
  'lv_when_full',
  'lv_metadata_size',
] as const;

export const VG_FIELDS = [
  'vg_name',
  'vg_uuid',
  'vg_attr',
  'vg_size',
  'vg_free',
  'vg_extent_size',
  'vg_extent_count',
  'vg_free_count',
  'pv_count',
  'lv_count',
  'snap_count',
  'vg_tags',
  'vg_mda_size',
  'vg_mda_free',
  'vg_mda_count',
] as const;

export const PV_FIELDS = ['pv_name', 'pv_uuid', 'vg_name', 'pv_size', 'pv_free', 'dev_size'] as const;

/** lv_attr[0]. */
type LvVolumeType =
  | 'plain' // '-': linear or striped
  | 'cache' // C
  | 'mirrored' // m
  | 'mirrored-nosync' // M
  | 'origin' // o
  | 'origin-merging' // O
  | 'raid' // r
  | 'raid-nosync' // R
  | 'snapshot' // s
  | 'snapshot-merging' // S
  | 'pvmove' // p
  | 'virtual' // v
  | 'image' // i
  | 'image-out-of-sync' // I
  | 'mirror-log' // l
  | 'converting' // c
  | 'thin-volume' // V
  | 'thin-pool' // t
  | 'thin-pool-data' // T
  | 'vdo-pool' // d
  | 'vdo-pool-data' // D
  | 'metadata' // e
  | 'unknown';

/** lv_attr[4]. */
type LvState =
  | 'inactive' // '-'
  | 'active' // a
  | 'historical' // h
  | 'suspended' // s
  | 'invalid-snapshot' // I
  | 'invalid-suspended-snapshot' // S
  | 'merge-failed' // m
  | 'suspended-merge-failed' // M
  | 'device-without-tables' // d
  | 'inactive-table' // i
  | 'check-needed' // c
  | 'suspended-check-needed' // C
  | 'unknown'; // X (or anything else)

/** lv_attr[8]. */
type LvHealth =
  | 'ok' // '-'
  | 'partial' // p: a PV is missing
  | 'refresh-needed' // r (raid)
  | 'mismatches' // m (raid)
  | 'writemostly' // w (raid1 leg)
  | 'reshaping' // s (raid)
  | 'remove-after-reshape' // R (raid)
  | 'failed' // F (thin pool / thin)
  | 'out-of-data-space' // D (thin pool)
  | 'metadata-read-only' // M (thin pool)
  | 'error' // E (writecache, integrity)
  | 'unknown'; // X

export interface LvAttr {
  raw: string;
  volumeType: LvVolumeType;
  /** lv_attr[1]: w, r, or R (read-only activation of a writable LV). */
  permission: 'writeable' | 'read-only' | 'read-only-activation' | 'unknown';
  /** lv_attr[2], e.g. 'i' inherited; capitalised when locked (pvmove). */
  allocationPolicy: string;
  fixedMinor: boolean;
  state: LvState;
  /** lv_attr[5]: device open; undefined when lvm could not tell ('X'). */
  open: boolean | undefined;
  /** lv_attr[6]: target type letter (t thin, s snapshot, r raid, m mirror, '-' linear/striped). */
  targetType: string;
  /** lv_attr[7]: newly allocated blocks are zeroed (thin pools and thin volumes). */
  zeroing: boolean;
  health: LvHealth;
  /** lv_attr[9]: 'k' = skipped by normal activation (thin snapshots by default). */
  skipActivation: boolean;
}

export interface Lv {
  uuid: string;
  name: string;
  vg: string;
  /** /dev/<vg>/<lv>; undefined for thin pools and other non-public LVs. */
  path: string | undefined;
  /** /dev/mapper/<vg>-<lv> (hyphens doubled). */
  dmPath: string | undefined;
  sizeBytes: number;
  attr: LvAttr;
  /** lv_active === "active" (the attr state letter says the same for plain LVs). */
  active: boolean;
  /** Raw LVM tags, in lvm's order (lvm sorts them). */
  tags: string[];
  /** Creation time, when lvm recorded one. */
  createdAt: Date | undefined;
  /** lv_layout split on ",", e.g. ["thin","sparse"], ["thin","pool"], ["raid","raid1"]. */
  layout: string[];
  /** Type of the FIRST segment: linear, striped, thin, thin-pool, raid1, ... */
  segtype: string;
  segCount: number;
  stripes: number;
  stripeSizeBytes: number;
  /** For thin volumes: the thin pool. */
  pool: string | undefined;
  /** For snapshots and thin volumes created as snapshots (clones too): the origin LV. */
  origin: string | undefined;
  originSizeBytes: number | undefined;
  dataPercent: number | undefined;
  metadataPercent: number | undefined;
  snapPercent: number | undefined;
  /** copy_percent (== sync_percent): raid/mirror sync progress. */
  copyPercent: number | undefined;
  /** Thin pools and thin volumes: zeroing of new blocks; undefined for other LVs. */
  zero: boolean | undefined;
  /** Thin pools and thin volumes: "passdown" | "nopassdown" | "ignore". */
  discards: string | undefined;
  /** Thin pools: "error" (error when full) or "queue". */
  whenFull: 'error' | 'queue' | undefined;
  /** Thin pools: size of the metadata LV. */
  metadataSizeBytes: number | undefined;
}

export interface Vg {
  name: string;
  uuid: string;
  attr: string;
  sizeBytes: number;
  freeBytes: number;
  extentSizeBytes: number;
  extentCount: number;
  freeExtentCount: number;
  pvCount: number;
  lvCount: number;
  snapCount: number;
  tags: string[];
  /** Size of the smallest metadata area. */
  mdaSizeBytes: number;
  /** Free space in the fullest metadata area (lvm needs room for a second copy). */
  mdaFreeBytes: number;
  mdaCount: number;
}

export interface Pv {
  name: string;
  uuid: string;
  /** undefined for a PV that belongs to no VG (an "orphan"). */
  vg: string | undefined;
  sizeBytes: number;
  freeBytes: number;
  devSizeBytes: number;
}

type Row = Record<string, string>;

/** Thrown when lvm's output is not what the parser expects: a bug or an lvm change, never a user error. */
export class ReportParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReportParseError';
  }
}

/** The rows of one report kind ("lv", "vg", "pv") across all report objects. */
function reportRows(stdout: string, kind: 'lv' | 'vg' | 'pv'): Row[] {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (e) {
    throw new ReportParseError(`${kind}s: output is not JSON: ${(e as Error).message}`);
  }
  const reports = (doc as { report?: unknown } | null)?.report;
  if (!Array.isArray(reports)) throw new ReportParseError(`${kind}s: output has no "report" array`);
  const rows: Row[] = [];
  for (const r of reports) {
    const list = (r as Record<string, unknown> | null)?.[kind];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new ReportParseError(`${kind}s: "${kind}" is not an array`);
    for (const item of list as unknown[]) {
      if (typeof item !== 'object' || item === null) throw new ReportParseError(`${kind}s: row is not an object`);
      for (const [k, v] of Object.entries(item)) {
        if (typeof v !== 'string') throw new ReportParseError(`${kind}s: field ${k} is not a string`);
      }
      rows.push(item as Row);
    }
  }
  return rows;
}

function field(row: Row, name: string): string {
  const v = row[name];
  if (v === undefined) throw new ReportParseError(`report row lacks field ${name}`);
  return v;
}

function opt(row: Row, name: string): string | undefined {
  const v = field(row, name);
  return v === '' ? undefined : v;
}

function int(row: Row, name: string): number {
  const v = field(row, name);
  if (!/^\d+$/.test(v)) throw new ReportParseError(`field ${name}: "${v}" is not a non-negative integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ReportParseError(`field ${name}: ${v} does not fit in a JS number`);
  return n;
}

function optInt(row: Row, name: string): number | undefined {
  return field(row, name) === '' ? undefined : int(row, name);
}

function percent(row: Row, name: string): number | undefined {
  const v = field(row, name);
  if (v === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new ReportParseError(`field ${name}: "${v}" is not a percentage`);
  return Number(v);
}

/** Split an lvm list field ("a,b,c"; "" = empty list). */
export function splitList(v: string): string[] {
  return v === '' ? [] : v.split(',');
}

/** "2026-11-25 09:46:40 +0000" -> Date; undefined when empty or not in that format. */
export function parseLvTime(v: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$/.exec(v);
  if (!m) return undefined;
  const d = new Date(`${m[1]}T${m[2]}${m[3]}:${m[4]}`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const VOLUME_TYPES: Record<string, LvVolumeType> = {
  '-': 'plain',
  C: 'cache',
  m: 'mirrored',
  M: 'mirrored-nosync',
  o: 'origin',
  O: 'origin-merging',
  r: 'raid',
  R: 'raid-nosync',
  s: 'snapshot',
  S: 'snapshot-merging',
  p: 'pvmove',
  v: 'virtual',
  i: 'image',
  I: 'image-out-of-sync',
  l: 'mirror-log',
  c: 'converting',
  V: 'thin-volume',
  t: 'thin-pool',
  T: 'thin-pool-data',
  d: 'vdo-pool',
  D: 'vdo-pool-data',
  e: 'metadata',
};

const STATES: Record<string, LvState> = {
  '-': 'inactive',
  a: 'active',
  h: 'historical',
  s: 'suspended',
  I: 'invalid-snapshot',
  S: 'invalid-suspended-snapshot',
  m: 'merge-failed',
  M: 'suspended-merge-failed',
  d: 'device-without-tables',
  i: 'inactive-table',
  c: 'check-needed',
  C: 'suspended-check-needed',
};

const HEALTH: Record<string, LvHealth> = {
  '-': 'ok',
  p: 'partial',
  r: 'refresh-needed',
  m: 'mismatches',
  w: 'writemostly',
  s: 'reshaping',
  R: 'remove-after-reshape',
  F: 'failed',
  D: 'out-of-data-space',
  M: 'metadata-read-only',
  E: 'error',
};

/** Decode the 10-character lv_attr (see lvs(8), "The lv_attr bits are"). */
export function parseLvAttr(raw: string): LvAttr {
  if (raw.length < 10) throw new ReportParseError(`lv_attr "${raw}" is shorter than 10 characters`);
  const c = (i: number): string => raw.charAt(i);
  const perm = c(1);
  return {
    raw,
    volumeType: VOLUME_TYPES[c(0)] ?? 'unknown',
    permission:
      perm === 'w' ? 'writeable' : perm === 'r' ? 'read-only' : perm === 'R' ? 'read-only-activation' : 'unknown',
    allocationPolicy: c(2),
    fixedMinor: c(3) === 'm',
    state: STATES[c(4)] ?? 'unknown',
    open: c(5) === 'o' ? true : c(5) === '-' ? false : undefined,
    targetType: c(6),
    zeroing: c(7) === 'z',
    health: HEALTH[c(8)] ?? 'unknown',
    skipActivation: c(9) === 'k',
  };
}

/** True for a snapshot lvm has invalidated (a COW snapshot that overflowed). */
export function isInvalidSnapshot(lv: Lv): boolean {
  return lv.attr.state === 'invalid-snapshot' || lv.attr.state === 'invalid-suspended-snapshot';
}

function lvFromRow(row: Row): Lv {
  const zero = field(row, 'zero');
  const whenFull = field(row, 'lv_when_full');
  return {
    uuid: field(row, 'lv_uuid'),
    name: field(row, 'lv_name'),
    vg: field(row, 'vg_name'),
    path: opt(row, 'lv_path'),
    dmPath: opt(row, 'lv_dm_path'),
    sizeBytes: int(row, 'lv_size'),
    attr: parseLvAttr(field(row, 'lv_attr')),
    active: field(row, 'lv_active') === 'active',
    tags: splitList(field(row, 'lv_tags')),
    createdAt: parseLvTime(field(row, 'lv_time')),
    layout: splitList(field(row, 'lv_layout')),
    segtype: field(row, 'segtype'),
    segCount: int(row, 'seg_count'),
    stripes: int(row, 'stripes'),
    stripeSizeBytes: int(row, 'stripe_size'),
    pool: opt(row, 'pool_lv'),
    origin: opt(row, 'origin'),
    originSizeBytes: optInt(row, 'origin_size'),
    dataPercent: percent(row, 'data_percent'),
    metadataPercent: percent(row, 'metadata_percent'),
    snapPercent: percent(row, 'snap_percent'),
    copyPercent: percent(row, 'copy_percent'),
    zero: zero === 'zero' ? true : zero === '' ? false : undefined,
    discards: opt(row, 'discards'),
    whenFull: whenFull === 'error' || whenFull === 'queue' ? whenFull : undefined,
    metadataSizeBytes: optInt(row, 'lv_metadata_size'),
  };
}

/**
 * Parse `lvs -o LV_FIELDS` output. One entry per LV (rows of later segments
 * of the same lv_uuid are dropped), in lvm's order.
 */
export function parseLvs(stdout: string): Lv[] {
  const seen = new Set<string>();
  const out: Lv[] = [];
  for (const row of reportRows(stdout, 'lv')) {
    const uuid = field(row, 'lv_uuid');
    if (seen.has(uuid)) continue;
    seen.add(uuid);
    out.push(lvFromRow(row));
  }
  return out;
}

/** Parse `vgs -o VG_FIELDS` output. */
export function parseVgs(stdout: string): Vg[] {
  return reportRows(stdout, 'vg').map((row) => ({
    name: field(row, 'vg_name'),
    uuid: field(row, 'vg_uuid'),
    attr: field(row, 'vg_attr'),
    sizeBytes: int(row, 'vg_size'),
    freeBytes: int(row, 'vg_free'),
    extentSizeBytes: int(row, 'vg_extent_size'),
    extentCount: int(row, 'vg_extent_count'),
    freeExtentCount: int(row, 'vg_free_count'),
    pvCount: int(row, 'pv_count'),
    lvCount: int(row, 'lv_count'),
    snapCount: int(row, 'snap_count'),
    tags: splitList(field(row, 'vg_tags')),
    mdaSizeBytes: int(row, 'vg_mda_size'),
    mdaFreeBytes: int(row, 'vg_mda_free'),
    mdaCount: int(row, 'vg_mda_count'),
  }));
}

/** Parse `pvs -o PV_FIELDS` output. */
export function parsePvs(stdout: string): Pv[] {
  return reportRows(stdout, 'pv').map((row) => ({
    name: field(row, 'pv_name'),
    uuid: field(row, 'pv_uuid'),
    vg: opt(row, 'vg_name'),
    sizeBytes: int(row, 'pv_size'),
    freeBytes: int(row, 'pv_free'),
    devSizeBytes: int(row, 'dev_size'),
  }));
}

/**
 * StorageClass and VolumeSnapshotClass parameters: parsed, defaulted and
 * validated once; anything unknown or not applicable is InvalidArgument
 * naming the parameter. Documented in README.md ("StorageClass parameters").
 */
import { InvalidArgument } from '../errors.js';

export type LvmType = 'thin' | 'thick';
export type VolumeClear = 'none' | 'zero';

export interface VolumeParams {
  lvmType: LvmType;
  volumeGroup: string;
  /** raid1 extra copies (thick only); 0 = linear. */
  mirrors: number;
  /** stripes (thick only); 1 = not striped. */
  stripes: number;
  /** stripe size in KiB (thick, stripes > 1); undefined = LVM's default. */
  stripeSizeKiB: number | undefined;
  volumeClear: VolumeClear;
  /** passed through for the node (ext4, xfs). */
  fsType: string | undefined;
  /** use the LV directly when the pod runs on the storage node (iSCSI otherwise). */
  localAttach: boolean;
}

export interface SnapshotParams {
  /** COW size of a thick snapshot in percent of the origin. */
  snapshotReserve: number;
}

export interface ParamDefaults {
  volumeGroups: readonly string[];
  thinPoolConfigured: (vg: string) => boolean;
}

/** Keys the external-provisioner adds with --extra-create-metadata; accepted and ignored. */
const CO_PREFIX = 'csi.storage.k8s.io/';
const VOLUME_KEYS = [
  'lvmType',
  'volumeGroup',
  'mirrors',
  'stripes',
  'stripeSize',
  'volumeClear',
  'fsType',
  'localAttach',
] as const;
const FS_TYPES = ['ext4', 'xfs'];

function field(key: string): string {
  return `parameters.${key}`;
}

function int(params: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const raw = params[key];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new InvalidArgument(field(key), `"${raw}" must be a whole number`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new InvalidArgument(field(key), `${n} must be between ${min} and ${max}`);
  return n;
}

/** "64", "64k", "64KiB", "1M" -> KiB; must be a power of two between 4 KiB and 512 MiB (LVM's limits). */
function stripeSizeKiB(raw: string): number {
  const m = /^(\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(raw.trim());
  if (!m) throw new InvalidArgument(field('stripeSize'), `"${raw}" must be a size in KiB such as 64k`);
  const kib = Number(m[1]) * (m[2] && m[2].toLowerCase().startsWith('m') ? 1024 : 1);
  if (kib < 4 || kib > 512 * 1024 || (kib & (kib - 1)) !== 0) {
    throw new InvalidArgument(field('stripeSize'), `${kib} KiB must be a power of two between 4k and 512M`);
  }
  return kib;
}

export function parseVolumeParams(params: Record<string, string>, d: ParamDefaults): VolumeParams {
  for (const key of Object.keys(params)) {
    if (!key.startsWith(CO_PREFIX) && !(VOLUME_KEYS as readonly string[]).includes(key)) {
      throw new InvalidArgument(field(key), `unknown parameter; known: ${VOLUME_KEYS.join(', ')}`);
    }
  }
  const volumeGroup = params['volumeGroup'] ?? d.volumeGroups[0];
  if (volumeGroup === undefined) throw new InvalidArgument(field('volumeGroup'), 'no volume group is configured');
  if (!d.volumeGroups.includes(volumeGroup)) {
    throw new InvalidArgument(
      field('volumeGroup'),
      `"${volumeGroup}" is not one of this plugin's volume groups (${d.volumeGroups.join(', ')})`,
    );
  }
  const lvmTypeRaw = params['lvmType'] ?? (d.thinPoolConfigured(volumeGroup) ? 'thin' : 'thick');
  if (lvmTypeRaw !== 'thin' && lvmTypeRaw !== 'thick')
    throw new InvalidArgument(field('lvmType'), `"${lvmTypeRaw}" must be thin or thick`);
  const lvmType: LvmType = lvmTypeRaw;
  if (lvmType === 'thin' && !d.thinPoolConfigured(volumeGroup)) {
    throw new InvalidArgument(
      field('lvmType'),
      `thin volumes need a thin pool, and volume group ${volumeGroup} has none configured (--thin-pool)`,
    );
  }
  if (lvmType === 'thin') {
    for (const key of ['mirrors', 'stripes', 'stripeSize', 'volumeClear'] as const) {
      if (params[key] !== undefined) throw new InvalidArgument(field(key), 'applies to lvmType=thick only');
    }
  }
  const mirrors = int(params, 'mirrors', 0, 10) ?? 0;
  const stripes = int(params, 'stripes', 1, 128) ?? 1;
  if (mirrors > 0 && stripes > 1) throw new InvalidArgument(field('stripes'), 'cannot be combined with mirrors');
  const stripeSize = params['stripeSize'];
  if (stripeSize !== undefined && stripes < 2)
    throw new InvalidArgument(field('stripeSize'), 'needs stripes of 2 or more');
  const clear = params['volumeClear'] ?? (lvmType === 'thick' ? 'zero' : 'none');
  if (clear !== 'none' && clear !== 'zero')
    throw new InvalidArgument(field('volumeClear'), `"${clear}" must be none or zero`);
  const fsType = params['fsType'];
  if (fsType !== undefined && !FS_TYPES.includes(fsType))
    throw new InvalidArgument(field('fsType'), `"${fsType}" must be one of ${FS_TYPES.join(', ')}`);
  const local = params['localAttach'] ?? 'false';
  if (local !== 'true' && local !== 'false')
    throw new InvalidArgument(field('localAttach'), `"${local}" must be true or false`);
  return {
    lvmType,
    volumeGroup,
    mirrors,
    stripes,
    stripeSizeKiB: stripeSize === undefined ? undefined : stripeSizeKiB(stripeSize),
    volumeClear: clear,
    fsType,
    localAttach: local === 'true',
  };
}

export function parseSnapshotParams(params: Record<string, string>): SnapshotParams {
  for (const key of Object.keys(params)) {
    if (!key.startsWith(CO_PREFIX) && key !== 'snapshotReserve') {
      throw new InvalidArgument(field(key), 'unknown parameter; known: snapshotReserve');
    }
  }
  return { snapshotReserve: int(params, 'snapshotReserve', 1, 100) ?? 100 };
}

/** Two parameter sets ask for the same kind of volume (used for idempotent CreateVolume). */
export function sameVolumeParams(a: VolumeParams, b: VolumeParams): boolean {
  return (
    a.lvmType === b.lvmType &&
    a.volumeGroup === b.volumeGroup &&
    a.mirrors === b.mirrors &&
    a.stripes === b.stripes &&
    a.stripeSizeKiB === b.stripeSizeKiB &&
    a.volumeClear === b.volumeClear &&
    a.fsType === b.fsType &&
    a.localAttach === b.localAttach
  );
}

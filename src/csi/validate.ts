/**
 * Request validation shared by the CSI services. Every failure is an
 * InvalidArgument naming the request field.
 */
import { InvalidArgument } from '../errors.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';

export function requireField(field: string, value: string | undefined | null): string {
  if (value === undefined || value === null || value === '') throw new InvalidArgument(field, 'is required');
  return value;
}

/** int64 fields arrive as decimal strings (loader option longs: String). */
export function int64(field: string, value: string | number | undefined | null): number {
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgument(field, `"${value}" is not a usable integer`);
  if (n < 0) throw new InvalidArgument(field, 'must not be negative');
  return n;
}

/** Access modes this plugin serves: one node at a time, or many readers. */
const SUPPORTED_MODES = ['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY'] as const;
const SUPPORTED_FS = ['', 'ext4', 'xfs'];

/** undefined when supported, otherwise why not. */
export function unsupportedReason(cap: VolumeCapability__Output): string | undefined {
  const mode = cap.access_mode?.mode ?? 'UNKNOWN';
  if (!(SUPPORTED_MODES as readonly string[]).includes(mode))
    return `access mode ${mode} is not supported (supported: ${SUPPORTED_MODES.join(', ')})`;
  if (cap.access_type === 'mount') {
    const fs = cap.mount?.fs_type ?? '';
    if (!SUPPORTED_FS.includes(fs)) return `fs_type ${fs} is not supported (ext4, xfs)`;
    if (mode === 'MULTI_NODE_READER_ONLY') return undefined;
  } else if (cap.access_type !== 'block') {
    return 'access_type must be mount or block';
  }
  return undefined;
}

/** Checks presence and shape; unsupported modes are reported by the caller (INVALID_ARGUMENT here, or unconfirmed in ValidateVolumeCapabilities). */
export function requireCapabilities(
  field: string,
  caps: VolumeCapability__Output[] | undefined,
): VolumeCapability__Output[] {
  if (!caps || caps.length === 0) throw new InvalidArgument(field, 'at least one volume capability is required');
  caps.forEach((c, i) => {
    if (!c.access_mode) throw new InvalidArgument(`${field}[${i}].access_mode`, 'is required');
    if (c.access_type !== 'mount' && c.access_type !== 'block')
      throw new InvalidArgument(`${field}[${i}]`, 'access_type (mount or block) is required');
  });
  return caps;
}

export function requireSupportedCapabilities(
  field: string,
  caps: VolumeCapability__Output[] | undefined,
): VolumeCapability__Output[] {
  const checked = requireCapabilities(field, caps);
  checked.forEach((c, i) => {
    const why = unsupportedReason(c);
    if (why) throw new InvalidArgument(`${field}[${i}]`, why);
  });
  return checked;
}

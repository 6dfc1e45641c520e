/**
 * Making a file system on a blank device.
 *
 *   ext4/ext3/ext2: mkfs.<fs> -q [-L LABEL] [extra...] DEV
 *   xfs:            mkfs.xfs -q [-L LABEL] [extra...] DEV
 *
 * Deliberately WITHOUT -F (mke2fs) / -f (mkfs.xfs). The guard against
 * formatting someone's data is BlockProbe.isBlank(), which the caller must
 * check first. Seen on the VM tier (e2fsprogs 1.47): mke2fs with stdin not a
 * terminal overwrites an existing file system without asking, but still
 * refuses a MOUNTED device (a single -F would not change either); mkfs.xfs
 * without -f refuses any device with an existing signature.
 * Note: mkfs.xfs (xfsprogs >= 5.19) refuses file systems under 300 MB.
 */
import { InvalidArgument } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';

export const SUPPORTED_FS = ['ext4', 'ext3', 'ext2', 'xfs'] as const;
type FsType = (typeof SUPPORTED_FS)[number];

function isSupportedFs(fs: string): fs is FsType {
  return (SUPPORTED_FS as readonly string[]).includes(fs);
}

export interface MkfsOptions {
  label?: string;
  /** Extra arguments for mkfs (e.g. from a StorageClass parameter, see parseMkfsArgs). */
  extraArgs?: readonly string[];
  signal?: AbortSignal;
  /** Default 10 minutes (large devices). */
  timeoutMs?: number;
}

/**
 * Splits a whitespace-separated option string ("-m 0 -E nodiscard") into
 * arguments. No quoting: an argument cannot contain spaces. Rejects anything
 * that looks like a device or path (an argument starting with "/"), which
 * mkfs would take as the device to format.
 */
export function parseMkfsArgs(text: string, field = 'parameters.mkfsOptions'): string[] {
  const args = text.split(/\s+/).filter(Boolean);
  for (const a of args) {
    if (a.startsWith('/'))
      throw new InvalidArgument(field, `${JSON.stringify(a)}: paths are not allowed in mkfs options`);
    // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
    if (/[\u0000-\u001f]/.test(a)) throw new InvalidArgument(field, 'must not contain control characters');
  }
  return args;
}

export function mkfsArgv(fsType: string, device: string, o: Pick<MkfsOptions, 'label' | 'extraArgs'> = {}): string[] {
  if (!isSupportedFs(fsType))
    throw new InvalidArgument('fs_type', `${JSON.stringify(fsType)} is not supported (${SUPPORTED_FS.join(', ')})`);
  const label: string[] = [];
  if (o.label !== undefined) {
    const max = fsType === 'xfs' ? 12 : 16;
    if (!o.label || o.label.length > max || /[\s/]/.test(o.label))
      throw new InvalidArgument('label', `must be 1-${max} characters without spaces or "/"`);
    label.push('-L', o.label);
  }
  return [`mkfs.${fsType}`, '-q', ...label, ...(o.extraArgs ?? []), device];
}

export async function mkfs(runner: CommandRunner, fsType: string, device: string, o: MkfsOptions = {}): Promise<void> {
  await runner.run(mkfsArgv(fsType, device, o), { signal: o.signal, timeoutMs: o.timeoutMs ?? 600_000 });
}

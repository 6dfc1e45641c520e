/**
 * What is on a block device, before anything writes to it.
 *
 *   blkid -p -o export DEV   low-level probe (no cache): KEY=VALUE lines,
 *                            TYPE for a file system / PTTYPE for a partition table;
 *                            exit 2 = nothing found, 8 = ambivalent result
 *                            (several signatures), 4 = usage or other error
 *   wipefs -n -J DEV         every signature libblkid knows, without erasing
 *
 * isBlank() needs both to find nothing: a device is only formatted when it
 * is certainly empty. Anything unexpected throws instead of answering
 * "blank".
 */
import { FailedPrecondition } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';

const BLKID_NOTHING_FOUND = 2;
const BLKID_AMBIVALENT = 8;

export interface ProbeResult {
  /** File system (or other content) type, e.g. "ext4", "xfs", "LVM2_member", "crypto_LUKS". */
  type: string | undefined;
  /** Partition table type, e.g. "dos", "gpt". */
  ptType: string | undefined;
  /** "filesystem", "raid", "crypto", "other". */
  usage: string | undefined;
  uuid: string | undefined;
  label: string | undefined;
  /** Every KEY=VALUE blkid printed. */
  raw: Record<string, string>;
}

/** Parses `blkid -o export` output for ONE device (later devices' keys would overwrite). */
export function parseBlkidExport(text: string): ProbeResult {
  const raw: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    raw[line.slice(0, i).trim()] = unescapeBlkid(line.slice(i + 1).trim());
  }
  return { type: raw['TYPE'], ptType: raw['PTTYPE'], usage: raw['USAGE'], uuid: raw['UUID'], label: raw['LABEL'], raw };
}

/** blkid -o export escapes unsafe characters with a backslash. */
function unescapeBlkid(v: string): string {
  return v.replace(/\\(.)/g, '$1');
}

export interface WipefsSignature {
  device: string;
  offset: string;
  type: string;
}

/** Parses `wipefs -n -J` (util-linux 2.3x). Empty output = no signatures. */
export function parseWipefsJson(text: string): WipefsSignature[] {
  if (!text.trim()) return [];
  const doc = JSON.parse(text) as { signatures?: Array<Record<string, unknown>> };
  const field = (s: Record<string, unknown>, k: string): string => {
    const v = s[k];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
  };
  return (doc.signatures ?? []).map((s) => ({
    device: field(s, 'device'),
    offset: field(s, 'offset'),
    type: field(s, 'type'),
  }));
}

export interface ProbeCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class BlockProbe {
  constructor(private readonly runner: CommandRunner) {}

  /**
   * Low-level probe; undefined when nothing was found (exit 2). An ambivalent
   * result (exit 8: several signatures) is FailedPrecondition: the device is
   * neither blank nor one clear file system.
   */
  async probe(device: string, o: ProbeCallOptions = {}): Promise<ProbeResult | undefined> {
    const r = await this.runner.run(['blkid', '-p', '-o', 'export', device], {
      okExitCodes: [BLKID_NOTHING_FOUND, BLKID_AMBIVALENT],
      signal: o.signal,
      timeoutMs: o.timeoutMs ?? 60_000,
    });
    if (r.exitCode === BLKID_NOTHING_FOUND) return undefined;
    if (r.exitCode === BLKID_AMBIVALENT) {
      throw new FailedPrecondition(
        `${device} carries several conflicting signatures (blkid: ambivalent result); refusing to use or format it`,
      );
    }
    return parseBlkidExport(r.stdout);
  }

  /** The file system type on the device, or undefined (nothing, or only a partition table). */
  async fsType(device: string, o: ProbeCallOptions = {}): Promise<string | undefined> {
    return (await this.probe(device, o))?.type;
  }

  /** True only when neither blkid nor wipefs finds any signature (no file system, no partition table, no LVM/RAID/LUKS). */
  async isBlank(device: string, o: ProbeCallOptions = {}): Promise<boolean> {
    if (await this.probe(device, o)) return false;
    return this.noSignatures(device, o);
  }

  /** wipefs's half of isBlank(), for a caller that has just probed the device with blkid and found nothing. */
  async noSignatures(device: string, o: ProbeCallOptions = {}): Promise<boolean> {
    const r = await this.runner.run(['wipefs', '-n', '-J', device], {
      signal: o.signal,
      timeoutMs: o.timeoutMs ?? 60_000,
    });
    return parseWipefsJson(r.stdout).length === 0;
  }
}

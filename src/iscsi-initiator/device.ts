/**
 * Waiting for the block device of a LUN after login (udev creates the
 * /dev/disk/by-path link once the SCSI scan found the disk) and resolving it
 * to its kernel name.
 */
import { realpath, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Unavailable } from '../errors.js';
import { abortError, sleep } from '../abort.js';

export interface WaitForDeviceOptions {
  /** Longest poll interval (the first polls are 20 ms apart). Default 200 ms. */
  pollMs?: number;
}

export interface ResolvedDevice {
  /** The path waited for (e.g. the by-path link). */
  path: string;
  /** Where it points, e.g. /dev/sdb. */
  devicePath: string;
  /** Kernel name, e.g. "sdb". */
  name: string;
}

/**
 * Polls until `path` exists and is a block device, then resolves its target.
 * The first polls are 20 ms apart (udev makes the link a few ms after the
 * login), doubling up to pollMs. Bounded by timeoutMs: Unavailable naming the path when it never appears;
 * the signal rejects at once with an AbortError.
 */
export async function waitForDevice(
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
  o: WaitForDeviceOptions = {},
): Promise<ResolvedDevice> {
  const pollMs = o.pollMs ?? 200;
  let next = Math.min(20, pollMs);
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw abortError(signal);
    const found = await resolveDevice(path);
    if (found) return found;
    const left = until - Date.now();
    if (left <= 0) {
      throw new Unavailable(
        `device ${path} did not appear within ${Math.round(timeoutMs / 100) / 10} s (is the session logged in and the LUN mapped to this initiator?)`,
      );
    }
    await sleep(Math.min(next, left), signal);
    next = Math.min(next * 2, pollMs);
  }
}

/** The block device behind path, or undefined when it does not exist (yet) or is not a block device. */
export async function resolveDevice(path: string): Promise<ResolvedDevice | undefined> {
  try {
    const st = await stat(path);
    if (!st.isBlockDevice()) return undefined;
    const devicePath = await realpath(path);
    return { path, devicePath, name: basename(devicePath) };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

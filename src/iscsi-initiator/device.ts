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
  /** Longest poll interval (the polls of the first FAST_POLL_FOR_MS are 20 ms apart). Default 200 ms. */
  pollMs?: number;
}

/** How long the wait polls every 20 ms before backing off: a disk found by the login's scan shows up within it. */
const FAST_POLL_FOR_MS = 2_000;
const FAST_POLL_MS = 20;

/**
 * The pause before the next poll: 20 ms while the wait is younger than
 * FAST_POLL_FOR_MS (each poll is one stat(), and every ms of lateness is the
 * caller's: NodeStageVolume waits here), then doubling up to `cap`.
 */
export function nextPollMs(elapsedMs: number, previousMs: number, cap: number): number {
  if (elapsedMs < FAST_POLL_FOR_MS) return Math.min(FAST_POLL_MS, cap);
  return Math.min(Math.max(previousMs, FAST_POLL_MS) * 2, cap);
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
 * The polls are 20 ms apart for the first 2 s (udev makes the link a few ms
 * after the SCSI scan finds the disk), then back off to pollMs (nextPollMs).
 * Bounded by timeoutMs: Unavailable naming the path when it never appears;
 * the signal rejects at once with an AbortError.
 */
export async function waitForDevice(
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
  o: WaitForDeviceOptions = {},
): Promise<ResolvedDevice> {
  const pollMs = o.pollMs ?? 200;
  const started = Date.now();
  const until = started + timeoutMs;
  let pause = 0;
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
    pause = nextPollMs(Date.now() - started, pause, pollMs);
    await sleep(Math.min(pause, left), signal);
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

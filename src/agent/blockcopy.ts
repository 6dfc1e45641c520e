/**
 * Block copies and zeroing with dd through the command runner, in chunks so
 * that progress is visible and a shutdown stops between chunks. Direct I/O
 * keeps the page cache out of it (and makes the data reach the device before
 * the completion mark is set).
 *
 * Progress comes from the chunks (not from dd's `status=progress`, which
 * the runner would only hand over when dd ends): by default a job is cut
 * into about 20 chunks of 64..256 MiB, so a caller sees a step every 5% on
 * all but the smallest and the largest volumes, and a shutdown waits for one
 * chunk at most.
 */
import type { CommandRunner } from '../exec/runner.js';

export interface BlockJobOptions {
  signal?: AbortSignal;
  /** After each chunk: the fraction done and the bytes behind it. */
  onProgress?: (fraction: number, bytes: { done: number; total: number }) => void;
  /** Bytes per dd run. Default: chunkFor(total). */
  chunkBytes?: number;
}

const MiB = 1024 * 1024;
const MIN_CHUNK = 64 * MiB;
const MAX_CHUNK = 256 * MiB;

/** About a twentieth of the job, in whole MiB, within 64..256 MiB. */
export function chunkFor(total: number): number {
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(total / 20 / MiB) * MiB));
}

function ddArgv(
  input: string,
  output: string,
  offset: number,
  length: number,
  extra: { sparse: boolean; fromZero: boolean },
): string[] {
  const iflags = extra.fromZero ? ['count_bytes'] : ['direct', 'count_bytes', 'skip_bytes'];
  const argv = [
    'dd',
    `if=${input}`,
    `of=${output}`,
    'bs=1M',
    `count=${length}`,
    `iflag=${iflags.join(',')}`,
    'oflag=direct,seek_bytes',
    `seek=${offset}`,
    // nocreat: the output must exist already (a block device checked by lv-device.ts); never create a file there
    `conv=${extra.sparse ? 'notrunc,nocreat,sparse' : 'notrunc,nocreat'}`,
    'status=none',
  ];
  if (!extra.fromZero) argv.splice(6, 0, `skip=${offset}`);
  return argv;
}

async function chunked(
  total: number,
  start: number,
  o: BlockJobOptions,
  run: (offset: number, length: number) => Promise<void>,
): Promise<void> {
  const chunk = o.chunkBytes ?? chunkFor(total);
  const end = start + total;
  for (let off = start; off < end; off += chunk) {
    o.signal?.throwIfAborted();
    await run(off, Math.min(chunk, end - off));
    const done = Math.min(off + chunk, end) - start;
    o.onProgress?.(done / total, { done, total });
  }
}

/**
 * Copies `bytes` from the start of `source` to the start of `target`.
 * `sparse`: skip writing zero blocks (only for targets that read back zeros
 * where never written: thin LVs in a zeroing pool). Never sparse onto thick LVs.
 */
export async function copyBlocks(
  runner: CommandRunner,
  source: string,
  target: string,
  bytes: number,
  sparse: boolean,
  o: BlockJobOptions = {},
): Promise<void> {
  await chunked(bytes, 0, o, async (offset, length) => {
    await runner.run(ddArgv(source, target, offset, length, { sparse, fromZero: false }), {
      timeoutMs: 3_600_000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  });
}

/** Writes zeros over [offset, offset + bytes) of `target`. */
export async function zeroBlocks(
  runner: CommandRunner,
  target: string,
  offset: number,
  bytes: number,
  o: BlockJobOptions = {},
): Promise<void> {
  if (bytes <= 0) return;
  await chunked(bytes, offset, o, async (off, length) => {
    await runner.run(ddArgv('/dev/zero', target, off, length, { sparse: false, fromZero: true }), {
      timeoutMs: 3_600_000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  });
}

/**
 * Background copies and wipes log their progress: per 10% and at least every
 * 30 s, not once per dd chunk; blockcopy cuts a job into about 20 chunks and
 * reports the bytes behind each step.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunkFor, copyBlocks, zeroBlocks } from '../../../src/agent/blockcopy.js';
import { Jobs, PROGRESS_LOG_MS } from '../../../src/agent/jobs.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { createLogger } from '../../../src/log.js';

const MiB = 1024 * 1024;

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

describe('job progress logging', () => {
  it('logs each 10% crossed once, with bytes, rate and ETA; not every step', async () => {
    const { lines, log } = capture();
    let now = 0;
    const jobs = new Jobs(log, () => now);
    jobs.start('vg/lv', 'copy', async (ctx) => {
      for (let i = 1; i <= 100; i++) {
        now += 100;
        ctx.setProgress(i / 100, { done: i * 10 * MiB, total: 1000 * MiB });
      }
    });
    await jobs.wait('vg/lv');
    const progress = lines.filter((l) => l['msg'] === 'background job progress');
    expect(progress.map((l) => l['percent'])).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(progress[0]).toMatchObject({
      job: 'copy',
      key: 'vg/lv',
      done_mib: 100,
      total_mib: 1000,
      seconds: 1,
      mib_per_second: 100,
      eta_seconds: 9,
    });
    expect(lines.map((l) => l['msg'])).toEqual([
      'background job started',
      ...progress.map(() => 'background job progress'),
      'background job finished',
    ]);
  });

  it('a slow job logs at least every 30 s even within one tenth', async () => {
    const { lines, log } = capture();
    let now = 0;
    const jobs = new Jobs(log, () => now);
    jobs.start('vg/big', 'zero', async (ctx) => {
      for (let i = 1; i <= 8; i++) {
        now += 10_000;
        ctx.setProgress(i / 1000);
      }
    });
    await jobs.wait('vg/big');
    const progress = lines.filter((l) => l['msg'] === 'background job progress');
    // 80 s at 0.1%..0.8%: a line at 30 s and at 60 s
    expect(progress.map((l) => l['seconds'])).toEqual([PROGRESS_LOG_MS / 1000, (2 * PROGRESS_LOG_MS) / 1000]);
  });

  it('a job stopped at shutdown says so at info, not as a failure', async () => {
    const { lines, log } = capture();
    const jobs = new Jobs(log);
    jobs.start(
      'vg/lv',
      'copy',
      (ctx) =>
        new Promise<void>((_res, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason as Error))),
    );
    await jobs.stopAll();
    expect(lines.find((l) => l['msg'] === 'background job failed')).toBeUndefined();
    expect(lines.find((l) => String(l['msg']).startsWith('background job stopped'))).toMatchObject({ level: 'info' });
  });
});

describe('blockcopy chunks', () => {
  it('about a twentieth of the job, 64..256 MiB', () => {
    expect(chunkFor(32 * MiB)).toBe(64 * MiB);
    expect(chunkFor(1024 * MiB)).toBe(64 * MiB);
    expect(chunkFor(2000 * MiB)).toBe(100 * MiB);
    expect(chunkFor(1024 * 1024 * MiB)).toBe(256 * MiB);
  });

  it('a 2000 MiB copy is 20 dd runs, each reported with its bytes', async () => {
    const runner = new FakeRunner();
    const total = 2000 * MiB;
    const chunk = 100 * MiB;
    for (let off = 0; off < total; off += chunk) {
      runner.expect([
        'dd',
        'if=/dev/a',
        'of=/dev/b',
        'bs=1M',
        `count=${chunk}`,
        'iflag=direct,count_bytes,skip_bytes',
        `skip=${off}`,
        'oflag=direct,seek_bytes',
        `seek=${off}`,
        'conv=notrunc,nocreat',
        'status=none',
      ]);
    }
    const seen: Array<[number, number]> = [];
    await copyBlocks(runner, '/dev/a', '/dev/b', total, false, { onProgress: (f, b) => seen.push([f, b.done]) });
    runner.assertDone();
    expect(seen).toHaveLength(20);
    expect(seen[0]).toEqual([0.05, chunk]);
    expect(seen.at(-1)).toEqual([1, total]);
  });

  it('zeroing reports bytes relative to its own range', async () => {
    const runner = new FakeRunner();
    runner.expect([
      'dd',
      'if=/dev/zero',
      'of=/dev/b',
      'bs=1M',
      `count=${8 * MiB}`,
      'iflag=count_bytes',
      'oflag=direct,seek_bytes',
      `seek=${16 * MiB}`,
      'conv=notrunc,nocreat',
      'status=none',
    ]);
    const seen: Array<{ done: number; total: number }> = [];
    await zeroBlocks(runner, '/dev/b', 16 * MiB, 8 * MiB, { onProgress: (_f, b) => seen.push(b) });
    runner.assertDone();
    expect(seen).toEqual([{ done: 8 * MiB, total: 8 * MiB }]);
  });
});

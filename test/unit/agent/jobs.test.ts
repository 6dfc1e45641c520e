import { describe, expect, it } from 'vitest';
import { Jobs } from '../../../src/agent/jobs.js';
import { createLogger } from '../../../src/log.js';
import { Writable } from 'node:stream';

const log = createLogger('fatal', new Writable({ write: (_c, _e, cb) => cb() }));

describe('Jobs', () => {
  it('runs one job per key and lets a retry join it', async () => {
    const jobs = new Jobs(log);
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    jobs.start('vg/lv', 'copy', async (ctx) => {
      runs++;
      ctx.setProgress(0.5);
      await gate;
    });
    jobs.start('vg/lv', 'copy', async () => {
      runs++;
    });
    expect(jobs.describe('vg/lv')).toMatch(/copy of vg\/lv in progress 50% done/);
    release();
    await jobs.wait('vg/lv');
    expect(runs).toBe(1);
    expect(jobs.get('vg/lv')).toBeUndefined();
  });

  it('remembers a failure until the next start', async () => {
    const jobs = new Jobs(log);
    jobs.start('k', 'zero', async () => {
      throw new Error('disk on fire');
    });
    await jobs.wait('k');
    expect(jobs.lastFailure('k')).toBe('disk on fire');
    jobs.start('k', 'zero', async () => undefined);
    expect(jobs.lastFailure('k')).toBeUndefined();
    await jobs.wait('k');
  });

  it('stopAll aborts the jobs signal', async () => {
    const jobs = new Jobs(log);
    let aborted = false;
    jobs.start(
      'k',
      'copy',
      (ctx) =>
        new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = true), resolve()))),
    );
    await jobs.stopAll();
    expect(aborted).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { Gate } from '../../../src/agent/gate.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Gate', () => {
  it('runs shared holders side by side', async () => {
    const g = new Gate();
    let running = 0;
    let peak = 0;
    const job = () =>
      g.runShared(async () => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
      });
    await Promise.all([job(), job(), job()]);
    expect(peak).toBe(3);
  });

  it('an exclusive holder waits for the shared ones in flight and keeps new ones out until it is done', async () => {
    const g = new Gate();
    const order: string[] = [];
    const first = g.runShared(async () => {
      order.push('shared-1 start');
      await tick();
      order.push('shared-1 end');
    });
    const excl = g.runExclusive(async () => {
      order.push('exclusive start');
      await tick();
      order.push('exclusive end');
    });
    const second = g.runShared(async () => {
      order.push('shared-2');
    });
    await Promise.all([first, excl, second]);
    expect(order).toEqual(['shared-1 start', 'shared-1 end', 'exclusive start', 'exclusive end', 'shared-2']);
  });

  it('a failing holder releases the gate', async () => {
    const g = new Gate();
    await expect(g.runExclusive(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(g.runShared(async () => Promise.reject(new Error('y')))).rejects.toThrow('y');
    expect(await g.runExclusive(async () => 1)).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { sleep } from '../../src/abort.js';
import { Mutex, Semaphore } from '../../src/mutex.js';

describe('Mutex', () => {
  it('runs one holder at a time, in arrival order, and survives a throwing holder', async () => {
    const m = new Mutex();
    const log: string[] = [];
    let inside = 0;
    const job = (name: string, ms: number, fail = false) =>
      m.runExclusive(async () => {
        inside++;
        expect(inside).toBe(1);
        log.push(`start ${name}`);
        await sleep(ms);
        log.push(`end ${name}`);
        inside--;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([job('a', 20), job('b', 1, true), job('c', 5)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a caller cancelled while queued never runs and does not block the next one', async () => {
    const m = new Mutex();
    const ran: string[] = [];
    const ac = new AbortController();
    const first = m.runExclusive(async () => {
      await sleep(30);
      ran.push('first');
    });
    const cancelled = m.runExclusive(async () => void ran.push('cancelled'), ac.signal);
    const third = m.runExclusive(async () => void ran.push('third'));
    expect(m.queued).toBe(2);
    ac.abort();
    await expect(cancelled).rejects.toThrow(/cancel|abort/i);
    await Promise.all([first, third]);
    expect(ran).toEqual(['first', 'third']);
  });

  it('a Semaphore runs up to its permits at once, then the others in call order', async () => {
    const s = new Semaphore(2);
    let inside = 0;
    let most = 0;
    const started: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.runExclusive(async () => {
          started.push(i);
          most = Math.max(most, ++inside);
          await sleep(5 + (i % 3) * 5);
          inside--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.queued).toBe(0);
  });

  it('refuses a Semaphore of no permits', () => {
    expect(() => new Semaphore(0)).toThrow(/permits/);
  });
});

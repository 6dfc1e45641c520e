import { describe, expect, it } from 'vitest';
import { sleep } from '../../../src/abort.js';
import { Mutex } from '../../../src/initiator/mutex.js';

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
    expect(m.queued).toBe(3);
    ac.abort();
    await expect(cancelled).rejects.toThrow(/cancel|abort/i);
    await Promise.all([first, third]);
    expect(ran).toEqual(['first', 'third']);
  });
});

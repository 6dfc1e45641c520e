import { describe, expect, it } from 'vitest';
import { Busy } from '../../../src/errors.js';
import { KeyLocks } from '../../../src/server/locks.js';

describe('KeyLocks', () => {
  it('refuses a second holder of the same key instead of waiting', () => {
    const locks = new KeyLocks();
    const release = locks.acquire(['vol-1'], 'A');
    expect(() => locks.acquire(['vol-1'], 'B')).toThrow(Busy);
    expect(() => locks.acquire(['vol-1'], 'B')).toThrow(/vol-1.*in progress/);
    release();
    const again = locks.acquire(['vol-1'], 'B');
    again();
    expect(locks.size).toBe(0);
  });

  it('takes all keys or none', () => {
    const locks = new KeyLocks();
    const r1 = locks.acquire(['b'], 'A');
    expect(() => locks.acquire(['a', 'b'], 'B')).toThrow(Busy);
    expect(locks.isHeld('a')).toBe(false);
    r1();
  });

  it('release is idempotent and does not drop a later holder', () => {
    const locks = new KeyLocks();
    const r1 = locks.acquire(['k'], 'A');
    r1();
    const r2 = locks.acquire(['k'], 'B');
    r1();
    expect(locks.isHeld('k')).toBe(true);
    r2();
    expect(locks.isHeld('k')).toBe(false);
  });
});

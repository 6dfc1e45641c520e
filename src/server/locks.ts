/**
 * Per-key locks that refuse rather than wait: a second operation on a key that
 * is held answers ABORTED and the CO retries. Check-and-add happens with no
 * await in between, so it is atomic on Node's single thread.
 */
import { Busy } from '../errors.js';

export class KeyLocks {
  private readonly held = new Map<string, string>();

  /** Take every key or none. Returns the release function; throws Busy naming the holder. */
  acquire(keys: readonly string[], holder: string): () => void {
    const unique = [...new Set(keys)];
    for (const k of unique) {
      const by = this.held.get(k);
      if (by !== undefined) throw new Busy(`an operation on ${k} is already in progress (${by}); retry later`);
    }
    for (const k of unique) this.held.set(k, holder);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of unique) if (this.held.get(k) === holder) this.held.delete(k);
    };
  }

  isHeld(key: string): boolean {
    return this.held.has(key);
  }

  get size(): number {
    return this.held.size;
  }
}

/**
 * FIFO limits for async work on one Node thread: a Semaphore lets up to N
 * callers run at once and queues the others in call order; a Mutex is a
 * Semaphore of one. Used by ISCSIADM_MUTEX (src/iscsi-initiator/iscsiadm.ts)
 * and LVM_CHANGES (src/lvm/lvm.ts). A caller cancelled while queued leaves
 * the queue and runs nothing.
 */

import { abortError } from './abort.js';

export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new Error(`Semaphore permits must be >= 1, got ${permits}`);
  }

  /** Runs fn once fewer than `permits` earlier callers are running; the permit is released however fn ends. */
  async runExclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw abortError(signal);
    if (this.running < this.permits && this.queue.length === 0) this.running++;
    else await this.turn(signal);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Callers queued behind the running ones (for logs and tests). */
  get queued(): number {
    return this.queue.length;
  }

  /** Waits in the queue; a released permit is handed straight to the first in it (running stays the same). */
  private turn(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.queue.indexOf(go);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortError(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(go);
    });
  }

  private release(): void {
    const next = this.queue.shift();
    if (next) next();
    else this.running--;
  }
}

/** One at a time, in call order. */
export class Mutex extends Semaphore {
  constructor() {
    super(1);
  }
}

/**
 * A FIFO mutex for async work on one Node thread. iscsiadm is not safe to run
 * concurrently (it rewrites the node database under /etc/iscsi/nodes and talks
 * to iscsid over one socket), so every iscsiadm call of this process goes
 * through ISCSIADM_MUTEX.
 */

import { abortError } from '../abort.js';


export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Runs fn once every earlier caller is done; the lock is released however fn ends. */
  async runExclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const before = this.tail;
    this.tail = before.then(() => mine);
    this.waiting++;
    try {
      await waitUnlessAborted(before, signal);
    } catch (e) {
      // Cancelled while queued: give our turn away as soon as it comes.
      void before.then(release);
      throw e;
    } finally {
      this.waiting--;
    }
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Callers queued behind the current holder (for logs and tests). */
  get queued(): number {
    return this.waiting;
  }
}

function waitUnlessAborted(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** The one mutex all Iscsiadm instances of this process share (unless a test passes its own). */
export const ISCSIADM_MUTEX = new Mutex();

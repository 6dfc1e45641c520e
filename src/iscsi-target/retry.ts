/**
 * Retrying transient failures with a small exponential backoff, as Cinder's
 * target helpers do (LIO configfs writes answering EBUSY/EAGAIN while the
 * kernel is busy with the object; tgtd answering "still active" or being
 * restarted).
 */

import { sleep, throwIfAborted } from '../abort.js';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Upper bound for one delay. */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 5, baseDelayMs: 100, maxDelayMs: 2000 });

/**
 * Runs fn until it succeeds, fails with an error `retryable` rejects, or the
 * attempts are used up (then the last error is thrown).
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  retryable: (e: unknown) => boolean,
  policy: RetryPolicy = DEFAULT_RETRY,
  signal?: AbortSignal,
): Promise<T> {
  let wait = policy.baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal);
    try {
      return await fn(attempt);
    } catch (e) {
      if (attempt >= policy.attempts || !retryable(e)) throw e;
    }
    await sleep(Math.min(wait, policy.maxDelayMs), signal);
    wait *= 2;
  }
}

/**
 * Exponential backoff without jitter: initialMs after the first failure, then
 * doubled per failure up to maxMs; reset() after a success. Used for failed
 * start attempts (app.ts) and unreachable storage agents (agent-directory.ts).
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export class Backoff {
  private count = 0;

  constructor(private readonly o: BackoffOptions) {}

  /** Failures since the last reset. */
  get failures(): number {
    return this.count;
  }

  /** Records a failure; returns how long to wait before the next try. */
  next(): number {
    this.count++;
    return Math.min(this.o.maxMs, this.o.initialMs * 2 ** Math.min(30, this.count - 1));
  }

  reset(): void {
    this.count = 0;
  }
}

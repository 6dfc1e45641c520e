/**
 * What Probe and /readyz report: still initializing, ready, or failed because a
 * local dependency is missing (the message names it).
 */
export type ReadinessState = { state: 'initializing' } | { state: 'ready' } | { state: 'failed'; reason: string };

export class Readiness {
  private current: ReadinessState = { state: 'initializing' };
  private readonly checks: Array<() => Promise<void>> = [];

  get(): ReadinessState {
    return this.current;
  }

  ready(): void {
    this.current = { state: 'ready' };
  }

  fail(reason: string): void {
    this.current = { state: 'failed', reason };
  }

  isReady(): boolean {
    return this.current.state === 'ready';
  }

  /** A live check run on every Probe once initialized (e.g. "the volume group still exists"). */
  addCheck(check: () => Promise<void>): void {
    this.checks.push(check);
  }

  async runChecks(): Promise<void> {
    for (const c of this.checks) await c();
  }
}

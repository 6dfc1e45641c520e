/**
 * What Probe and /readyz report: still initializing (with the reason of the
 * last failed start attempt while the start is retried), ready, or failed
 * because a local dependency is missing (the message names it).
 */
export type ReadinessState =
  { state: 'initializing'; reason?: string } | { state: 'ready' } | { state: 'failed'; reason: string };

export class Readiness {
  private current: ReadinessState = { state: 'initializing' };
  private readonly checks: Array<() => Promise<void>> = [];
  private readonly readyzChecks: Array<() => Promise<void>> = [];

  get(): ReadinessState {
    return this.current;
  }

  ready(): void {
    this.current = { state: 'ready' };
  }

  fail(reason: string): void {
    this.current = { state: 'failed', reason };
  }

  /** A start attempt failed and will be retried: not ready, and why. */
  retrying(reason: string): void {
    this.current = { state: 'initializing', reason };
  }

  isReady(): boolean {
    return this.current.state === 'ready';
  }

  /** A live check run on every Probe and /readyz once initialized (e.g. "the volume group still exists"). */
  addCheck(check: () => Promise<void>): void {
    this.checks.push(check);
  }

  /**
   * A check for /readyz only, never for Probe: the CSI livenessprobe sidecar
   * restarts a container whose Probe fails, and a restart cannot help with
   * what such a check sees (e.g. "no storage agent is reachable").
   */
  addReadyzCheck(check: () => Promise<void>): void {
    this.readyzChecks.push(check);
  }

  async runChecks(): Promise<void> {
    for (const c of this.checks) await c();
  }

  async runReadyzChecks(): Promise<void> {
    await this.runChecks();
    for (const c of this.readyzChecks) await c();
  }
}

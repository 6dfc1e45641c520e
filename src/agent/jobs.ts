/**
 * Background jobs that outlive the RPC that started them (thick copies,
 * zeroing before delete). One job per key (the LV); a retry of the RPC sees
 * the job still running and answers ABORTED with its progress.
 */
import type { Logger } from '../log.js';

export interface JobInfo {
  key: string;
  kind: string;
  startedAt: number;
  /** 0..1 when known. */
  progress: number | undefined;
}

export interface JobContext {
  /** Aborted only when the agent shuts down; never by an RPC. */
  signal: AbortSignal;
  setProgress(fraction: number): void;
}

export class Jobs {
  private readonly running = new Map<string, { info: JobInfo; done: Promise<void> }>();
  private readonly shutdown = new AbortController();
  private readonly failures = new Map<string, string>();

  constructor(private readonly log: Logger) {}

  get(key: string): JobInfo | undefined {
    return this.running.get(key)?.info;
  }

  /** The last failure of a job for this key, if it failed (cleared when a new job starts). */
  lastFailure(key: string): string | undefined {
    return this.failures.get(key);
  }

  list(): JobInfo[] {
    return [...this.running.values()].map((j) => j.info);
  }

  /** Starts fn unless a job for key runs already; returns the running job's info either way. */
  start(key: string, kind: string, fn: (ctx: JobContext) => Promise<void>): JobInfo {
    const existing = this.running.get(key);
    if (existing) return existing.info;
    const info: JobInfo = { key, kind, startedAt: Date.now(), progress: undefined };
    this.failures.delete(key);
    const log = this.log.child({ job: kind, key });
    log.info('background job started');
    const done = (async () => {
      try {
        await fn({
          signal: this.shutdown.signal,
          setProgress: (f) => {
            info.progress = f;
          },
        });
        log.info({ seconds: (Date.now() - info.startedAt) / 1000 }, 'background job finished');
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        this.failures.set(key, reason);
        log.error({ reason }, 'background job failed');
      } finally {
        this.running.delete(key);
      }
    })();
    this.running.set(key, { info, done });
    return info;
  }

  /** Resolves when the job for key (if any) has finished. */
  async wait(key: string): Promise<void> {
    await this.running.get(key)?.done;
  }

  /** Stop every job (agent shutdown); their LVs keep no completion mark and are resumed at the next start. */
  async stopAll(): Promise<void> {
    this.shutdown.abort(new Error('agent shutting down'));
    await Promise.allSettled([...this.running.values()].map((j) => j.done));
  }

  describe(key: string): string {
    const j = this.get(key);
    if (!j) return '';
    const pct = j.progress === undefined ? '' : ` ${Math.floor(j.progress * 100)}% done`;
    return `${j.kind} of ${key} in progress${pct}, started ${Math.round((Date.now() - j.startedAt) / 1000)} s ago`;
  }
}

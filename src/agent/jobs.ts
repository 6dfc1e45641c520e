/**
 * Background jobs that outlive the RPC that started them (thick copies,
 * zeroing before delete). One job per key (the LV); a retry of the RPC sees
 * the job still running and answers ABORTED with its progress.
 *
 * Progress is logged (with the job's kind and key) each time it crosses
 * another tenth, and at least every PROGRESS_LOG_MS while it moves, so a long
 * copy or wipe shows up in the logs without one line per dd chunk.
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
  /** fraction 0..1; bytes when known, for the log line. */
  setProgress: (fraction: number, bytes?: { done: number; total: number }) => void;
}

/** A progress line at least this often while a job moves (besides one per 10%). */
export const PROGRESS_LOG_MS = 30_000;

const MiB = 1024 * 1024;

export class Jobs {
  private readonly running = new Map<string, { info: JobInfo; done: Promise<void> }>();
  private readonly shutdown = new AbortController();
  private readonly failures = new Map<string, string>();
  private readonly settled: Array<(info: JobInfo) => void> = [];

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called after every job ends (finished, failed or stopped); e.g. to refresh the inventory. */
  onSettled(listener: (info: JobInfo) => void): void {
    this.settled.push(listener);
  }

  get(key: string): JobInfo | undefined {
    return this.running.get(key)?.info;
  }

  /** The last failure of a job for this key, if it failed (cleared when a new job starts). */
  lastFailure(key: string): string | undefined {
    return this.failures.get(key);
  }

  /** The last failure of a job for this key, forgotten once returned (so it is reported once). */
  takeFailure(key: string): string | undefined {
    const f = this.failures.get(key);
    this.failures.delete(key);
    return f;
  }

  list(): JobInfo[] {
    return [...this.running.values()].map((j) => j.info);
  }

  /** Starts fn unless a job for key runs already; returns the running job's info either way. */
  start(key: string, kind: string, fn: (ctx: JobContext) => Promise<void>): JobInfo {
    const existing = this.running.get(key);
    if (existing) return existing.info;
    const info: JobInfo = { key, kind, startedAt: this.now(), progress: undefined };
    this.failures.delete(key);
    const log = this.log.child({ job: kind, key });
    log.info('background job started');
    let lastTenth = 0;
    let lastLogAt = info.startedAt;
    const setProgress = (fraction: number, bytes?: { done: number; total: number }) => {
      const f = Math.min(1, Math.max(0, fraction));
      info.progress = f;
      const t = this.now();
      const tenth = Math.floor(f * 10);
      if (tenth <= lastTenth && t - lastLogAt < PROGRESS_LOG_MS) return;
      lastTenth = Math.max(lastTenth, tenth);
      lastLogAt = t;
      const seconds = (t - info.startedAt) / 1000;
      const fields: Record<string, number> = { percent: Math.floor(f * 100), seconds: Math.round(seconds) };
      if (bytes) {
        fields['done_mib'] = Math.floor(bytes.done / MiB);
        fields['total_mib'] = Math.ceil(bytes.total / MiB);
        if (seconds > 0) fields['mib_per_second'] = Math.round((bytes.done / MiB / seconds) * 10) / 10;
      }
      if (f > 0 && f < 1) fields['eta_seconds'] = Math.round((seconds * (1 - f)) / f);
      log.info(fields, 'background job progress');
    };
    const done = (async () => {
      try {
        await fn({ signal: this.shutdown.signal, setProgress });
        log.info({ seconds: (this.now() - info.startedAt) / 1000 }, 'background job finished');
      } catch (e) {
        const reason = e instanceof Error ? e.message : String(e);
        this.failures.set(key, reason);
        if (this.shutdown.signal.aborted)
          log.info(
            { reason, percent: Math.floor((info.progress ?? 0) * 100) },
            'background job stopped; it resumes at the next start',
          );
        else log.error({ reason }, 'background job failed');
      } finally {
        this.running.delete(key);
        for (const l of this.settled) {
          try {
            l(info);
          } catch (e) {
            log.warn({ err: String(e) }, 'job listener failed');
          }
        }
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
    return `${j.kind} of ${key} in progress${pct}, started ${Math.round((this.now() - j.startedAt) / 1000)} s ago`;
  }
}

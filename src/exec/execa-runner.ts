import { execa, type ResultPromise } from 'execa';
import { CommandFailed } from '../errors.js';
import { redact, redactArgv, type CommandRunner, type RunObserver, type RunOptions, type RunResult } from './runner.js';

export interface ExecaRunnerOptions {
  defaultTimeoutMs?: number;
  /**
   * How long after a child was told to stop (its timeout or its cancel, plus
   * the 5 s before SIGKILL when that is sent) the runner still waits for it to
   * exit. A child in uninterruptible sleep (I/O to a suspended device-mapper
   * device) outlives even SIGKILL; the call that ran it must not wait forever,
   * so it fails then, saying the child is still running, and the child is left
   * to end on its own. Default 30 s.
   */
  abandonAfterMs?: number;
  observer?: RunObserver;
  /** Prefix every argv with this (e.g. ["nsenter", "--mount=/proc/1/ns/mnt", "--"]). */
  wrapper?: readonly string[];
}

const FORCE_KILL_AFTER_MS = 5_000;
const STUCK = Symbol('stuck');

/** Resolves STUCK `graceMs` after the child's timeout or its cancel, whichever comes first. */
function stuckAfter(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  graceMs: number,
): { promise: Promise<typeof STUCK>; clear: () => void } {
  const timers: NodeJS.Timeout[] = [];
  let onAbort: (() => void) | undefined;
  const promise = new Promise<typeof STUCK>((resolve) => {
    const later = (ms: number) => timers.push(setTimeout(() => resolve(STUCK), ms));
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) later(timeoutMs + graceMs);
    if (signal) {
      onAbort = () => later(graceMs);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  return {
    promise,
    clear: () => {
      for (const t of timers) clearTimeout(t);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** The production CommandRunner. The only module in the project that imports execa. */
export class ExecaRunner implements CommandRunner {
  private readonly defaultTimeoutMs: number;
  private readonly observer: RunObserver | undefined;
  private readonly wrapper: readonly string[];
  private readonly abandonAfterMs: number;

  constructor(options: ExecaRunnerOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
    this.abandonAfterMs = options.abandonAfterMs ?? 30_000;
    this.observer = options.observer;
    this.wrapper = options.wrapper ?? [];
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0 || !argv[0]) throw new Error('CommandRunner.run: empty argv');
    const full = [...this.wrapper, ...argv];
    const [file, ...args] = full as [string, ...string[]];
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const forceKill = options.forceKill ?? true;
    const child: ResultPromise = execa(file, args, {
      shell: false,
      reject: false,
      stripFinalNewline: false,
      timeout: timeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: forceKill ? FORCE_KILL_AFTER_MS : false,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      env: { ...options.env, LC_ALL: 'C', LANG: 'C' },
      extendEnv: true,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const stuck = stuckAfter(timeoutMs, options.signal, (forceKill ? FORCE_KILL_AFTER_MS : 0) + this.abandonAfterMs);
    const r = await Promise.race([child, stuck.promise]).finally(stuck.clear);
    const durationMs = performance.now() - started;
    if (r === STUCK) {
      // reject: false, so the abandoned child's promise never rejects: nothing to catch
      const shown = redactArgv(argv, options.secrets);
      this.observer?.onFinish({ argv: shown, durationMs, exitCode: undefined, ok: false });
      throw new CommandFailed({
        argv: shown,
        exitCode: undefined,
        stderr: `still running ${Math.round(durationMs / 1000)} s after it started (pid ${child.pid ?? '?'}), ${forceKill ? 'after SIGKILL' : 'after SIGTERM'}; no longer waited for (a process in uninterruptible sleep, e.g. I/O to a suspended device)`,
        timedOut: !options.signal?.aborted,
        cancelled: options.signal?.aborted ?? false,
      });
    }
    const exitCode = typeof r.exitCode === 'number' ? r.exitCode : undefined;
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    const ok =
      !r.timedOut &&
      !r.isCanceled &&
      exitCode !== undefined &&
      (exitCode === 0 || (options.okExitCodes ?? []).includes(exitCode));
    this.observer?.onFinish({ argv: redactArgv(argv, options.secrets), durationMs, exitCode, ok });
    if (ok) return { stdout, stderr, exitCode, durationMs };
    // ENOENT and friends: no exit code, the message says why.
    const spawnError =
      exitCode === undefined && !r.timedOut && !r.isCanceled ? String(r.originalMessage ?? r.message ?? '') : '';
    throw new CommandFailed({
      argv: redactArgv(argv, options.secrets),
      exitCode,
      stderr: redact(stderr || spawnError, options.secrets),
      timedOut: r.timedOut,
      cancelled: r.isCanceled,
    });
  }
}

/**
 * The production CommandRunner: node:child_process's spawn, argv arrays only
 * (no shell), output gathered in memory up to a bound, a timeout and a cancel
 * that send SIGTERM and then, unless told otherwise, SIGKILL. The only module
 * in the project that starts processes.
 *
 * It replaced execa (9.6): in the real-kernel guest (one emulated vCPU) execa
 * cost 84-94 ms to start and reap `/bin/true` against 60 ms for spawn with the
 * same pipes, timeout and signal (30 runs each, interleaved, 2026-12-03); on the
 * host about 14 against 11.6 ms. Every command the plugin runs paid that
 * difference: a NodeStageVolume runs seven.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CommandFailed } from '../errors.js';
import { redact, redactArgv, type CommandRunner, type RunObserver, type RunOptions, type RunResult } from './runner.js';

export interface ProcessRunnerOptions {
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
/** stdout and stderr together; a child that writes more is killed and the call fails. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

/** How one child ended, as the runner saw it. */
interface Ended {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
  /** Why there is no exit code when the runner knows (spawn error, output over the bound). */
  problem?: string;
}

/** A child that outlived its stop by the abandon delay: no longer waited for. */
interface Stuck {
  stuck: true;
  pid: number | undefined;
}

export class ProcessRunner implements CommandRunner {
  private readonly defaultTimeoutMs: number;
  private readonly observer: RunObserver | undefined;
  private readonly wrapper: readonly string[];
  private readonly abandonAfterMs: number;

  constructor(options: ProcessRunnerOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
    this.abandonAfterMs = options.abandonAfterMs ?? 30_000;
    this.observer = options.observer;
    this.wrapper = options.wrapper ?? [];
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0 || !argv[0]) throw new Error('CommandRunner.run: empty argv');
    const started = performance.now();
    const r = await this.spawnAndWait([...this.wrapper, ...argv], options);
    const durationMs = performance.now() - started;
    const shown = redactArgv(argv, options.secrets);
    if ('stuck' in r) {
      this.observer?.onFinish({ argv: shown, durationMs, exitCode: undefined, ok: false });
      throw new CommandFailed({
        argv: shown,
        exitCode: undefined,
        stderr: `still running ${Math.round(durationMs / 1000)} s after it started (pid ${r.pid ?? '?'}), ${options.forceKill === false ? 'after SIGTERM' : 'after SIGKILL'}; no longer waited for (a process in uninterruptible sleep, e.g. I/O to a suspended device)`,
        timedOut: !options.signal?.aborted,
        cancelled: options.signal?.aborted ?? false,
      });
    }
    const ok =
      !r.timedOut &&
      !r.cancelled &&
      r.exitCode !== undefined &&
      (r.exitCode === 0 || (options.okExitCodes ?? []).includes(r.exitCode));
    this.observer?.onFinish({ argv: shown, durationMs, exitCode: r.exitCode, ok });
    if (ok) return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode as number, durationMs };
    throw new CommandFailed({
      argv: shown,
      exitCode: r.exitCode,
      stderr: redact([r.problem, r.stderr].filter(Boolean).join('\n'), options.secrets),
      timedOut: r.timedOut,
      cancelled: r.cancelled,
    });
  }

  /**
   * Starts the child and resolves when it has ended and its output is read
   * ('close'), or as stuck when it outlives its stop by the abandon delay.
   */
  private spawnAndWait(full: readonly string[], o: RunOptions): Promise<Ended | Stuck> {
    const [file, ...args] = full as [string, ...string[]];
    const timeoutMs = o.timeoutMs ?? this.defaultTimeoutMs;
    const forceKill = o.forceKill ?? true;
    const signal = o.signal;
    const state: Ended = { exitCode: undefined, stdout: '', stderr: '', timedOut: false, cancelled: false };
    if (signal?.aborted) return Promise.resolve({ ...state, cancelled: true, problem: 'cancelled before it started' });
    return new Promise((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      const later = (ms: number, fn: () => void) => timers.push(setTimeout(fn, ms));
      let settled = false;
      const finish = (v: Ended | Stuck) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        resolve(v);
      };
      let child: ChildProcess;
      try {
        child = spawn(file, args, {
          shell: false,
          stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          env: { ...process.env, ...o.env, LC_ALL: 'C', LANG: 'C' },
        });
      } catch (e) {
        // invalid arguments (a NUL byte in argv): no process
        finish({ ...state, problem: e instanceof Error ? e.message : String(e) });
        return;
      }
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        child.kill('SIGTERM');
        if (forceKill) later(FORCE_KILL_AFTER_MS, () => child.kill('SIGKILL'));
        later((forceKill ? FORCE_KILL_AFTER_MS : 0) + this.abandonAfterMs, () =>
          finish({ stuck: true, pid: child.pid }),
        );
      };
      function onAbort() {
        state.cancelled = true;
        stop();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs > 0 && Number.isFinite(timeoutMs))
        later(timeoutMs, () => {
          state.timedOut = true;
          stop();
        });

      let bytes = 0;
      const out: string[] = [];
      const err: string[] = [];
      const gather = (into: string[]) => (d: string) => {
        bytes += Buffer.byteLength(d);
        if (bytes > MAX_OUTPUT_BYTES) {
          state.problem ??= `output exceeded ${MAX_OUTPUT_BYTES} bytes; killed`;
          child.kill('SIGKILL');
          return;
        }
        into.push(d);
      };
      child.stdout?.setEncoding('utf8').on('data', gather(out));
      child.stderr?.setEncoding('utf8').on('data', gather(err));
      if (o.input !== undefined && child.stdin) {
        // a child that exits without reading its input closes the pipe: EPIPE is not the call's error
        child.stdin.on('error', () => undefined);
        child.stdin.end(o.input);
      }
      child.on('error', (e) => {
        // spawn failed (ENOENT, EACCES): no 'close' follows for a child that never ran
        state.problem ??= e.message;
        if (child.pid === undefined) finish(state);
      });
      child.on('close', (code) => {
        state.stdout = out.join('');
        state.stderr = err.join('');
        state.exitCode = typeof code === 'number' && state.problem === undefined ? code : undefined;
        finish(state);
      });
    });
  }
}

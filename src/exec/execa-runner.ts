import { execa, type ResultPromise } from 'execa';
import { CommandFailed } from '../errors.js';
import { redact, redactArgv, type CommandRunner, type RunObserver, type RunOptions, type RunResult } from './runner.js';

export interface ExecaRunnerOptions {
  defaultTimeoutMs?: number;
  observer?: RunObserver;
  /** Prefix every argv with this (e.g. ["nsenter", "--mount=/proc/1/ns/mnt", "--"]). */
  wrapper?: readonly string[];
}

/** The production CommandRunner. The only module in the project that imports execa. */
export class ExecaRunner implements CommandRunner {
  private readonly defaultTimeoutMs: number;
  private readonly observer: RunObserver | undefined;
  private readonly wrapper: readonly string[];

  constructor(options: ExecaRunnerOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 60_000;
    this.observer = options.observer;
    this.wrapper = options.wrapper ?? [];
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0 || !argv[0]) throw new Error('CommandRunner.run: empty argv');
    const full = [...this.wrapper, ...argv];
    const [file, ...args] = full as [string, ...string[]];
    const started = performance.now();
    const child: ResultPromise = execa(file, args, {
      shell: false,
      reject: false,
      stripFinalNewline: false,
      timeout: options.timeoutMs ?? this.defaultTimeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      input: options.input,
      stdin: options.input === undefined ? 'ignore' : 'pipe',
      env: { ...options.env, LC_ALL: 'C', LANG: 'C' },
      extendEnv: true,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const r = await child;
    const durationMs = performance.now() - started;
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

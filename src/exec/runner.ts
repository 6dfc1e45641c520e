/**
 * The one way this program starts other programs. Argv arrays only, never a
 * shell; LC_ALL=C so messages can be classified; a timeout; an AbortSignal
 * that kills the child when the gRPC call that wanted it is cancelled.
 */

export interface RunOptions {
  /** Kill the command after this long. Default: the runner's default (60 s). */
  timeoutMs?: number;
  /** Cancelling this kills the child (SIGTERM, then SIGKILL unless forceKill is false). */
  signal?: AbortSignal;
  /**
   * Whether a child still running 5 s after its SIGTERM (timeout or cancel)
   * gets SIGKILL. Default true. false for programs that block signals while
   * they must not be interrupted (LVM holding a VG's write lock, a device
   * suspended): SIGTERM waits for the end of that section, SIGKILL would not.
   * Either way the runner stops waiting for a child that outlives its stop
   * by the runner's abandon delay, and says so (see ProcessRunner).
   */
  forceKill?: boolean;
  /** Written to the child's stdin. */
  input?: string;
  /** Exit codes that are not failures (0 always is). */
  okExitCodes?: readonly number[];
  /** Values that must never appear in logs or errors (CHAP secrets on an argv). */
  secrets?: readonly string[];
  /** Extra environment for the child (merged over the runner's base). */
  env?: Readonly<Record<string, string>>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
}

export interface CommandRunner {
  /**
   * Run argv[0] with argv[1..]. Resolves for exit 0 and okExitCodes; otherwise
   * rejects with CommandFailed {argv (secrets redacted), exitCode, stderr}.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** Observers for metrics and logging; the runner itself knows neither. */
export interface RunObserver {
  onFinish(info: { argv: readonly string[]; durationMs: number; exitCode: number | undefined; ok: boolean }): void;
}

const REDACTED = '***';

/** Replace every secret in every string. Empty secrets are ignored. */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  if (!secrets) return text;
  let out = text;
  for (const s of secrets) {
    if (s.length > 0) out = out.split(s).join(REDACTED);
  }
  return out;
}

export function redactArgv(argv: readonly string[], secrets: readonly string[] | undefined): string[] {
  return argv.map((a) => redact(a, secrets));
}

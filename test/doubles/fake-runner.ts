import { CommandFailed } from '../../src/errors.js';
import type { CommandRunner, RunOptions, RunResult } from '../../src/exec/runner.js';

/** One scripted expectation: the exact argv, and what the "command" answers. */
export interface Expectation {
  argv: readonly string[];
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** Instead of answering, check the options the caller passed (e.g. a signal). */
  inspect?: (options: RunOptions | undefined) => void;
}

/**
 * A scripted CommandRunner for unit tests. Calls must arrive in the scripted
 * order with the exact argv; anything else throws (and is remembered, so
 * assertDone() fails the test even when the code under test swallowed it).
 */
export class FakeRunner implements CommandRunner {
  private readonly queue: Expectation[] = [];
  readonly calls: string[][] = [];
  private readonly unexpected: string[] = [];

  expect(argv: readonly string[], answer: Omit<Expectation, 'argv'> = {}): this {
    this.queue.push({ argv, ...answer });
    return this;
  }

  async run(argv: readonly string[], options?: RunOptions): Promise<RunResult> {
    this.calls.push([...argv]);
    const next = this.queue.shift();
    if (!next) {
      const msg = `FakeRunner: unexpected command ${JSON.stringify(argv)} (no more expectations)`;
      this.unexpected.push(msg);
      throw new Error(msg);
    }
    if (JSON.stringify(next.argv) !== JSON.stringify(argv)) {
      const msg = `FakeRunner: unexpected argv\n  expected ${JSON.stringify(next.argv)}\n  got      ${JSON.stringify(argv)}`;
      this.unexpected.push(msg);
      throw new Error(msg);
    }
    next.inspect?.(options);
    const exitCode = next.exitCode ?? 0;
    const result = { stdout: next.stdout ?? '', stderr: next.stderr ?? '', exitCode, durationMs: 0 };
    if (exitCode === 0 || (options?.okExitCodes ?? []).includes(exitCode)) return result;
    throw new CommandFailed({ argv, exitCode, stderr: result.stderr });
  }

  /** Throws if a call was unexpected or scripted calls were never made. */
  assertDone(): void {
    if (this.unexpected.length > 0) throw new Error(this.unexpected.join('\n'));
    if (this.queue.length > 0) {
      throw new Error(
        `FakeRunner: ${this.queue.length} expected command(s) never ran, first: ${JSON.stringify(this.queue[0]?.argv)}`,
      );
    }
  }
}

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/grpc.js';
import { CommandFailed } from '../../../src/errors.js';
import { ProcessRunner } from '../../../src/exec/process-runner.js';

// Real child processes, harmless ones: node itself is always there.
const node = process.execPath;

describe('ProcessRunner', () => {
  it('runs an argv without a shell and with LC_ALL=C', async () => {
    const r = new ProcessRunner();
    const res = await r.run([
      node,
      '-e',
      'process.stdout.write(process.env.LC_ALL + " " + process.argv[1])',
      '$(echo hi); rm -rf /',
    ]);
    expect(res.stdout).toBe('C $(echo hi); rm -rf /');
    expect(res.exitCode).toBe(0);
  });

  it('throws CommandFailed with argv, exit code and stderr', async () => {
    const r = new ProcessRunner();
    const err = await r
      .run([node, '-e', 'process.stderr.write("bad thing\\n"); process.exit(5)'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    const cf = err as CommandFailed;
    expect(cf.exitCode).toBe(5);
    expect(cf.stderr).toBe('bad thing\n');
    expect(cf.argv[0]).toBe(node);
  });

  it('accepts okExitCodes', async () => {
    const res = await new ProcessRunner().run([node, '-e', 'process.exit(15)'], { okExitCodes: [15] });
    expect(res.exitCode).toBe(15);
  });

  it('kills a command at its timeout', async () => {
    const err = (await new ProcessRunner()
      .run([node, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 })
      .catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.timedOut).toBe(true);
  });

  it('kills a command when its signal is aborted', async () => {
    const ac = new AbortController();
    const p = new ProcessRunner().run([node, '-e', 'setTimeout(() => {}, 60000)'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 200);
    const err = (await p.catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.cancelled).toBe(true);
  });

  // a child that ignores SIGTERM stands for one that cannot stop yet: lvm with a VG's write lock
  // (every signal blocked), or any process in uninterruptible sleep (which even SIGKILL does not end)
  // (a shell, not node: node takes hundreds of ms to start on a busy host, and a SIGTERM that comes
  // before its handler is set ends it; the trap is the shell's first act). It touches $1 once the
  // trap is set, if given.
  const ignoresTerm = (ready = '/dev/null') => [
    'sh',
    '-c',
    'trap \'\' TERM; : > "$1"; while :; do sleep 1; done',
    'ignores-term',
    ready,
  ];
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const pidOf = (stderr: string) => Number(/pid (\d+)/.exec(stderr)?.[1]);

  it('forceKill false: no SIGKILL after the timeout; the call fails after the abandon delay, the child left running', async () => {
    const started = Date.now();
    const err = (await new ProcessRunner({ abandonAfterMs: 700 })
      .run(ignoresTerm(), { timeoutMs: 300, forceKill: false })
      .catch((e: unknown) => e)) as CommandFailed;
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.timedOut).toBe(true);
    expect(err.message).toMatch(/still running .* after SIGTERM; no longer waited for/);
    // well before the 5 s after which SIGKILL would have been sent
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4_000);
    const pid = pidOf(err.stderr);
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });

  it('forceKill false and a cancel: the call fails the abandon delay after the cancel', async () => {
    const ac = new AbortController();
    const ready = join(mkdtempSync(join(tmpdir(), 'runner-')), 'ready');
    const p = new ProcessRunner({ abandonAfterMs: 500 }).run(ignoresTerm(ready), {
      signal: ac.signal,
      forceKill: false,
    });
    await waitFor(() => existsSync(ready), 10_000);
    ac.abort();
    const err = (await p.catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.cancelled).toBe(true);
    expect(err.timedOut).toBe(false);
    const pid = pidOf(err.stderr);
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });

  it('by default a child that ignores SIGTERM is killed 5 s after it and the call fails as timed out', async () => {
    const err = (await new ProcessRunner({ abandonAfterMs: 10_000 })
      .run(ignoresTerm(), { timeoutMs: 200 })
      .catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.timedOut).toBe(true);
    expect(err.message).not.toMatch(/still running/);
  }, 20_000);

  it('redacts secrets from the argv and stderr of a failure', async () => {
    const secret = 'S3cretChapPass';
    const err = (await new ProcessRunner()
      .run([node, '-e', 'process.stderr.write("pw=" + process.argv[1]); process.exit(1)', secret], {
        secrets: [secret],
      })
      .catch((e: unknown) => e)) as CommandFailed;
    expect(JSON.stringify(err.argv)).not.toContain(secret);
    expect(err.stderr).not.toContain(secret);
    expect(err.message).not.toContain(secret);
  });

  it('reports a missing program as CommandFailed without an exit code', async () => {
    const err = (await new ProcessRunner().run(['/nonexistent/program']).catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.exitCode).toBeUndefined();
    expect(err.stderr).toMatch(/ENOENT/);
  });

  it("writes input to stdin, and sets the call's variables over the inherited environment", async () => {
    const res = await new ProcessRunner().run(
      [
        node,
        '-e',
        'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write([s, process.env.EXTRA, typeof process.env.PATH].join(" ")))',
      ],
      { input: 'from stdin', env: { EXTRA: 'extra' } },
    );
    expect(res.stdout).toBe('from stdin extra string');
  });

  it('a child that writes more than 64 MiB is killed and the call fails saying so', async () => {
    const err = (await new ProcessRunner()
      .run([node, '-e', 'const b = Buffer.alloc(1 << 20, 97); for (let i = 0; i < 70; i++) process.stdout.write(b)'])
      .catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.exitCode).toBeUndefined();
    expect(err.stderr).toMatch(/output exceeded 67108864 bytes; killed/);
  });

  it('a signal aborted before the call starts nothing and fails as cancelled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    const ac = new AbortController();
    ac.abort();
    const err = (await new ProcessRunner()
      .run(['sh', '-c', ': > "$1"', 'sh', join(dir, 'ran')], { signal: ac.signal })
      .catch((e: unknown) => e)) as CommandFailed;
    expect(err).toBeInstanceOf(CommandFailed);
    expect(err.cancelled).toBe(true);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('tells the observer about every command', async () => {
    const seen: Array<{ ok: boolean; exitCode: number | undefined }> = [];
    const r = new ProcessRunner({ observer: { onFinish: (i) => seen.push({ ok: i.ok, exitCode: i.exitCode }) } });
    await r.run([node, '-e', '0']);
    await r.run([node, '-e', 'process.exit(2)']).catch(() => undefined);
    expect(seen).toEqual([
      { ok: true, exitCode: 0 },
      { ok: false, exitCode: 2 },
    ]);
  });
});

import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandFailed, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import type { CommandRunner, RunOptions, RunResult } from '../../../src/exec/runner.js';
import { Iscsiadm } from '../../../src/iscsi-initiator/iscsiadm.js';
import { sleep } from '../../../src/abort.js';
import { Mutex } from '../../../src/mutex.js';

const IQN = 'iqn.2024-01.io.example:vol-aaaa';
const PORTAL = '10.0.0.5:3260';
const NODE = ['iscsiadm', '-m', 'node', '-T', IQN, '-p', PORTAL];
const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

/** nodeDbDirs: where the record database is; by default nowhere this machine has one (iscsiadm is asked). */
function setup(o: { retries?: number; backoffMs?: number; nodeDbDirs?: string[] } = {}) {
  const runner = new FakeRunner();
  const iscsi = new Iscsiadm(runner, undefined, {
    retries: o.retries ?? 2,
    backoffMs: o.backoffMs ?? 1,
    mutex: new Mutex(),
    nodeDbDirs: o.nodeDbDirs ?? ['/nonexistent-iscsi/nodes'],
  });
  return { runner, iscsi };
}

const LOGIN_AUTH_STDERR =
  'iscsiadm: Could not login to [iface: default, target: iqn.2024-01.io.example:vol-aaaa, portal: 10.0.0.5,3260].\n' +
  'iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n' +
  'iscsiadm: Could not log into all portals\n';

describe('Iscsiadm.createNode', () => {
  /** The one `-o update` with every name/value pair (seen applied in order by iscsiadm 2.1.8 in the guest). */
  const updAll = (node: readonly string[], pairs: [string, string][]) => [
    ...node,
    '-o',
    'update',
    ...pairs.flatMap(([n, v]) => ['-n', n, '-v', v]),
  ];
  const BASE: [string, string][] = [
    ['node.startup', 'manual'],
    ['node.session.initial_login_retry_max', '2'],
  ];
  /** user1 / pw-secret-0123, one way: left-over mutual credentials cleared. */
  const ONE_WAY_CHAP: [string, string][] = [
    ['node.session.auth.authmethod', 'CHAP'],
    ['node.session.auth.username', 'user1'],
    ['node.session.auth.password', 'pw-secret-0123'],
    ['node.session.auth.username_in', ''],
    ['node.session.auth.password_in', ''],
  ];

  it('creates a missing record, then sets manual startup, login retries and no auth in one update', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect([...NODE, '-o', 'show'], { exitCode: 21, stderr: 'iscsiadm: No records found\n' })
      .expect([...NODE, '-o', 'new'], {
        stdout: 'New iSCSI node [tcp:[hw=,ip=,net_if=,iscsi_if=default] 10.0.0.5,3260,-1 iqn...] added\n',
      })
      .expect(updAll(NODE, [...BASE, ['node.session.auth.authmethod', 'None']]));
    await iscsi.createNode({ iqn: IQN, portal: '10.0.0.5' });
    runner.assertDone();
  });

  it('updates an existing record (never -o new over it), with CHAP, the user name and password as secrets', async () => {
    const { runner, iscsi } = setup();
    const seen: (readonly string[] | undefined)[] = [];
    const spy = { inspect: (o: RunOptions | undefined) => void seen.push(o?.secrets) };
    runner
      .expect([...NODE, '-o', 'show'], { stdout: 'node.name = ...\n' })
      .expect(updAll(NODE, [...BASE, ...ONE_WAY_CHAP]), spy);
    await iscsi.createNode({ iqn: IQN, portal: PORTAL, chap: { userid: 'user1', password: 'pw-secret-0123' } });
    runner.assertDone();
    expect(seen).toEqual([['user1', 'pw-secret-0123']]);
  });

  it('mutual CHAP and an iface', async () => {
    const { runner, iscsi } = setup();
    const node = [...NODE, '-I', 'eth1'];
    runner
      .expect([...node, '-o', 'show'])
      .expect(
        updAll(node, [
          ...BASE,
          ['node.session.auth.authmethod', 'CHAP'],
          ['node.session.auth.username', 'user1'],
          ['node.session.auth.password', 'pw-secret-0123'],
          ['node.session.auth.username_in', 'target1'],
          ['node.session.auth.password_in', 'mutual-secret-456'],
        ]),
        {
          inspect: (o) => expect(o?.secrets).toEqual(['user1', 'pw-secret-0123', 'target1', 'mutual-secret-456']),
        },
      );
    await iscsi.createNode({
      iqn: IQN,
      portal: PORTAL,
      iface: 'eth1',
      chap: {
        userid: 'user1',
        password: 'pw-secret-0123',
        mutualUserid: 'target1',
        mutualPassword: 'mutual-secret-456',
      },
    });
    runner.assertDone();
  });

  it('a failing update never shows the password (even from a runner that does not redact)', async () => {
    const { runner, iscsi } = setup();
    runner.expect([...NODE, '-o', 'show']).expect(updAll(NODE, [...BASE, ...ONE_WAY_CHAP]), {
      exitCode: 6,
      stderr: 'iscsiadm: cannot set pw-secret-0123\n',
    });
    const err = await iscsi
      .createNode({ iqn: IQN, portal: PORTAL, chap: { userid: 'user1', password: 'pw-secret-0123' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandFailed);
    const text = `${(err as Error).message} ${JSON.stringify(err)} ${(err as CommandFailed).argv.join(' ')} ${(err as CommandFailed).stderr}`;
    expect(text).not.toContain('pw-secret-0123');
    expect(text).toContain('***');
  });

  it('no `-o show` when the record database is there without a directory of the target; with one, iscsiadm is asked', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'iscsi-db-')), 'nodes');
    mkdirSync(join(db, 'iqn.2024-01.io.example:other'), { recursive: true });
    const { runner, iscsi } = setup({ nodeDbDirs: ['/nonexistent-iscsi/nodes', db] });
    runner.expect([...NODE, '-o', 'new']).expect(updAll(NODE, [...BASE, ['node.session.auth.authmethod', 'None']]));
    await iscsi.createNode({ iqn: IQN, portal: PORTAL });
    runner.assertDone();
    mkdirSync(join(db, IQN));
    runner
      .expect([...NODE, '-o', 'show'], { stdout: 'node.name = ...\n' })
      .expect(updAll(NODE, [...BASE, ['node.session.auth.authmethod', 'None']]));
    await iscsi.createNode({ iqn: IQN, portal: PORTAL });
    runner.assertDone();
  });

  it('rejects bad input before running anything', async () => {
    const { runner, iscsi } = setup();
    await expect(iscsi.createNode({ iqn: 'not-an-iqn', portal: PORTAL })).rejects.toBeInstanceOf(InvalidArgument);
    await expect(iscsi.createNode({ iqn: IQN, portal: 'host:3260' })).rejects.toBeInstanceOf(InvalidArgument);
    await expect(
      iscsi.createNode({ iqn: IQN, portal: PORTAL, chap: { userid: 'u', password: '' } }),
    ).rejects.toBeInstanceOf(InvalidArgument);
    await expect(
      iscsi.createNode({ iqn: IQN, portal: PORTAL, chap: { userid: 'u', password: 'p', mutualUserid: 'm' } }),
    ).rejects.toBeInstanceOf(InvalidArgument);
    const err = await iscsi
      .createNode({ iqn: IQN, portal: PORTAL, chap: { userid: 'u', password: 'sec\nret' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgument);
    expect((err as Error).message).not.toContain('sec');
    runner.assertDone();
  });
});

describe('Iscsiadm.login', () => {
  it('logs in', async () => {
    const { runner, iscsi } = setup();
    runner.expect([...NODE, '--login'], { inspect: (o) => expect(o?.okExitCodes).toEqual([15]) });
    expect(await iscsi.login(IQN, PORTAL)).toBe('logged-in');
    runner.assertDone();
  });

  it('exit 15 (ISCSI_ERR_SESS_EXISTS) is already logged in', async () => {
    const { runner, iscsi } = setup();
    runner.expect([...NODE, '--login'], {
      exitCode: 15,
      stderr: 'iscsiadm: default: 1 session requested, but 1 already present.\n',
    });
    expect(await iscsi.login(IQN, PORTAL)).toBe('already-logged-in');
    runner.assertDone();
  });

  it('exit 24 (auth failure) is FailedPrecondition at once: no retry', async () => {
    const { runner, iscsi } = setup({ retries: 5 });
    runner.expect([...NODE, '--login'], { exitCode: 24, stderr: LOGIN_AUTH_STDERR });
    const err = await iscsi.login(IQN, PORTAL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPrecondition);
    expect((err as Error).message).toMatch(/refused: authorization failure/);
    runner.assertDone();
  });

  it('the real refusal seen on the VM tier (wrong CHAP password against LIO)', async () => {
    const { runner, iscsi } = setup({ retries: 5 });
    const [first, ...rest] = fixture('iscsiadm-login-wrong-chap-vm.txt').split('\n');
    expect(first).toBe('exit 24');
    runner.expect(
      ['iscsiadm', '-m', 'node', '-T', 'iqn.2024-01.test.vm:nodelayers', '-p', '127.0.0.1:3260', '--login'],
      { exitCode: 24, stderr: rest.join('\n') },
    );
    await expect(iscsi.login('iqn.2024-01.test.vm:nodelayers', '127.0.0.1:3260')).rejects.toThrow(FailedPrecondition);
    runner.assertDone();
  });

  it('exit 19 with "authorization failure" in the message is an auth refusal too', async () => {
    const { runner, iscsi } = setup({ retries: 5 });
    runner.expect([...NODE, '--login'], {
      exitCode: 19,
      stderr:
        'iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\niscsiadm: authorization failure\n',
    });
    await expect(iscsi.login(IQN, PORTAL)).rejects.toThrow(/authorization failure/);
    runner.assertDone();
  });

  it('exit 19 (fatal login) is FailedPrecondition, not retried', async () => {
    const { runner, iscsi } = setup({ retries: 5 });
    runner.expect([...NODE, '--login'], {
      exitCode: 19,
      stderr: 'iscsiadm: initiator reported error (19 - encountered non-retryable iSCSI login failure)\n',
    });
    await expect(iscsi.login(IQN, PORTAL)).rejects.toThrow(FailedPrecondition);
    runner.assertDone();
  });

  it('exit 21 (no node record) is FailedPrecondition', async () => {
    const { runner, iscsi } = setup();
    runner.expect([...NODE, '--login'], { exitCode: 21, stderr: 'iscsiadm: No records found\n' });
    await expect(iscsi.login(IQN, PORTAL)).rejects.toThrow(/no iSCSI node record/);
    runner.assertDone();
  });

  it('transient failures (8 timeout, 4 transport) are retried with backoff, then succeed', async () => {
    const { runner, iscsi } = setup({ retries: 2 });
    runner
      .expect([...NODE, '--login'], {
        exitCode: 8,
        stderr: 'iscsiadm: initiator reported error (8 - connection timed out)\n',
      })
      .expect([...NODE, '--login'], {
        exitCode: 4,
        stderr: 'iscsiadm: initiator reported error (4 - encountered connection failure)\n',
      })
      .expect([...NODE, '--login']);
    expect(await iscsi.login(IQN, PORTAL)).toBe('logged-in');
    runner.assertDone();
  });

  it('gives up after the retries with Unavailable naming the target and the reason', async () => {
    const { runner, iscsi } = setup({ retries: 1 });
    runner
      .expect([...NODE, '--login'], { exitCode: 8, stderr: 'iscsiadm: connection timed out\n' })
      .expect([...NODE, '--login'], { exitCode: 8, stderr: 'iscsiadm: connection timed out\n' });
    const err = await iscsi.login(IQN, PORTAL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unavailable);
    expect((err as Error).message).toBe(
      `iSCSI login to ${IQN} at ${PORTAL} failed after 2 attempt(s) (iscsiadm exit 8): iscsiadm: connection timed out`,
    );
    runner.assertDone();
  });

  it('other exit codes (7 invalid argument) fail at once as CommandFailed', async () => {
    const { runner, iscsi } = setup({ retries: 3 });
    runner.expect([...NODE, '--login'], { exitCode: 7, stderr: 'iscsiadm: invalid\n' });
    await expect(iscsi.login(IQN, PORTAL)).rejects.toBeInstanceOf(CommandFailed);
    runner.assertDone();
  });

  it('cancelling stops the backoff wait', async () => {
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { retries: 3, backoffMs: 60_000, mutex: new Mutex() });
    const ac = new AbortController();
    runner.expect([...NODE, '--login'], { exitCode: 8 });
    const p = iscsi.login(IQN, PORTAL, { signal: ac.signal });
    await sleep(20);
    ac.abort();
    await expect(p).rejects.toThrow(/abort/i);
    runner.assertDone();
  });
});

describe('Iscsiadm.logout / deleteNode', () => {
  it('logout: exit 21 (no session) is OK; reports whether a session ended', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect([...NODE, '--logout'])
      .expect([...NODE, '--logout'], { exitCode: 21, stderr: 'iscsiadm: No matching sessions found\n' });
    expect(await iscsi.logout(IQN, PORTAL)).toBe(true);
    expect(await iscsi.logout(IQN, PORTAL)).toBe(false);
    runner.assertDone();
  });

  it('deleteNode: exit 21 (no record) is OK', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect([...NODE, '-o', 'delete'])
      .expect([...NODE, '-o', 'delete'], { exitCode: 21, stderr: 'iscsiadm: No records found\n' });
    expect(await iscsi.deleteNode(IQN, PORTAL)).toBe(true);
    expect(await iscsi.deleteNode(IQN, PORTAL)).toBe(false);
    runner.assertDone();
  });

  it('other failures propagate', async () => {
    const { runner, iscsi } = setup();
    runner.expect([...NODE, '--logout'], { exitCode: 10, stderr: 'iscsiadm: Could not logout\n' });
    await expect(iscsi.logout(IQN, PORTAL)).rejects.toBeInstanceOf(CommandFailed);
    runner.assertDone();
  });
});

describe('Iscsiadm.sessions / rescan', () => {
  it('parses -P 3; exit 21 (no sessions) is []', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], { stdout: fixture('iscsiadm-session-P3-multi.txt') })
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], { exitCode: 21, stderr: 'iscsiadm: No active sessions.\n' });
    expect((await iscsi.sessions()).map((s) => s.sid)).toEqual([3, 4, 7, 8, 9]);
    expect(await iscsi.sessions()).toEqual([]);
    runner.assertDone();
  });

  it('nodes lists the node records; exit 21 (none) is []', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect(['iscsiadm', '-m', 'node'], { stdout: `10.0.0.5:3260,1 ${IQN}\n10.0.1.5:3260,-1 ${IQN}\n` })
      .expect(['iscsiadm', '-m', 'node'], { exitCode: 21, stderr: 'iscsiadm: No records found\n' });
    expect(await iscsi.nodes()).toEqual([
      { iqn: IQN, portal: '10.0.0.5:3260' },
      { iqn: IQN, portal: '10.0.1.5:3260' },
    ]);
    expect(await iscsi.nodes()).toEqual([]);
    runner.assertDone();
  });

  it('sessionsOf filters by target and portal', async () => {
    const { runner, iscsi } = setup();
    runner.expect(['iscsiadm', '-m', 'session', '-P', '3'], { stdout: fixture('iscsiadm-session-P3-multi.txt') });
    expect((await iscsi.sessionsOf(IQN, '10.0.1.5')).map((s) => s.sid)).toEqual([4]);
    runner.assertDone();
  });

  it('rescan rescans every session of the target', async () => {
    const { runner, iscsi } = setup();
    runner
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], { stdout: fixture('iscsiadm-session-P3-multi.txt') })
      .expect(['iscsiadm', '-m', 'session', '-r', '3', '--rescan'])
      .expect(['iscsiadm', '-m', 'session', '-r', '4', '--rescan']);
    expect(await iscsi.rescan(IQN)).toBe(2);
    runner.assertDone();
  });

  it('rescan without a session is NotFound', async () => {
    const { runner, iscsi } = setup();
    runner.expect(['iscsiadm', '-m', 'session', '-P', '3'], { exitCode: 21 });
    await expect(iscsi.rescan(IQN)).rejects.toBeInstanceOf(NotFound);
    runner.assertDone();
  });
});

describe('Iscsiadm serialization', () => {
  it('never runs two iscsiadm at once, across instances sharing the mutex, and releases it during backoff', async () => {
    let running = 0;
    let max = 0;
    const order: string[] = [];
    const slow: CommandRunner = {
      async run(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
        running++;
        max = Math.max(max, running);
        order.push(argv.slice(1).join(' '));
        await sleep(5);
        running--;
        const first = argv.includes('--login') && order.filter((x) => x.includes('--login')).length === 1;
        if (first) throw new CommandFailed({ argv, exitCode: 8, stderr: 'timeout' });
        const code = argv.includes('--logout') ? 21 : 0;
        if (code && !(o?.okExitCodes ?? []).includes(code))
          throw new CommandFailed({ argv, exitCode: code, stderr: '' });
        return { stdout: '', stderr: '', exitCode: code, durationMs: 5 };
      },
    };
    const mutex = new Mutex();
    const a = new Iscsiadm(slow, undefined, { retries: 1, backoffMs: 30, mutex });
    const b = new Iscsiadm(slow, undefined, { mutex });
    await Promise.all([
      a.login(IQN, PORTAL),
      b.logout('iqn.2024-01.io.example:other', PORTAL),
      b.deleteNode('iqn.2024-01.io.example:other', PORTAL),
    ]);
    expect(max).toBe(1);
    // the logout and delete ran while the login waited for its retry
    expect(order.map((x) => x.split(' ').at(-1))).toEqual(['--login', '--logout', 'delete', '--login']);
  });
});

/**
 * open-iscsi on the consumer node, through iscsiadm. Every call of every
 * instance goes through one in-process mutex (iscsiadm is not safe to run
 * concurrently: it rewrites /etc/iscsi/nodes and shares iscsid's socket).
 *
 * Check, then act, by exit code (open-iscsi include/iscsi_err.h):
 *   login  15 ISCSI_ERR_SESS_EXISTS   already logged in   -> OK
 *   logout 21 ISCSI_ERR_NO_OBJS_FOUND no session          -> OK
 *   delete 21 ISCSI_ERR_NO_OBJS_FOUND no node record      -> OK
 *   login  24 ISCSI_ERR_LOGIN_AUTH_FAILED, 19 ISCSI_ERR_FATAL_LOGIN: refused,
 *          not retried -> FailedPrecondition (no secret in the message)
 *   login  transport / timeout / iscsid errors: retried with exponential
 *          backoff (the mutex is released while waiting), then Unavailable
 *
 * CHAP user names and passwords reach iscsiadm only as `-v <value>` of an update and are
 * always listed in the runner's `secrets`, so they are redacted from every
 * error; errors thrown here are rebuilt from redacted text again in case a
 * runner does not redact. They are never logged.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandFailed, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../errors.js';
import { redact, redactArgv, type CommandRunner, type RunResult } from '../exec/runner.js';
import type { Logger } from '../log.js';
import { ISCSI_ERR, RETRYABLE_LOGIN_EXIT_CODES, saysAuthFailure } from './iscsi-errors.js';
import { sleep } from '../abort.js';
import { Mutex } from '../mutex.js';
import { normalizePortal } from './portal.js';
import { parseNodeRecords, parseSessionTree, type IscsiSession, type NodeRecord } from './session-parser.js';

interface ChapSettings {
  /** node.session.auth.username */
  userid: string;
  /** node.session.auth.password (a secret) */
  password: string;
  /** Mutual CHAP: node.session.auth.username_in. Both mutual fields or neither. */
  mutualUserid?: string;
  /** node.session.auth.password_in (a secret) */
  mutualPassword?: string;
}

export interface NodeSpec {
  /** Target IQN. */
  iqn: string;
  /** "addr:port" or "[v6]:port" (default port 3260). */
  portal: string;
  /** open-iscsi iface (-I); default: iscsiadm's own default iface. */
  iface?: string;
  /** Without it the record is set to authmethod None (and stale credentials are cleared). */
  chap?: ChapSettings;
}

export interface IscsiCallOptions {
  /** open-iscsi iface (-I) the node record belongs to. */
  iface?: string;
  /** Cancels the running iscsiadm and any backoff wait. */
  signal?: AbortSignal;
}

export interface IscsiadmOptions {
  /** Extra login attempts after the first for transient failures. Default 3. */
  retries?: number;
  /** Delay before the first retry; doubles each time (capped at 10 s). Default 1000 ms. */
  backoffMs?: number;
  /** Timeout of one iscsiadm run. Default 60 s (a login waits for iscsid's own login retries). */
  timeoutMs?: number;
  /**
   * node.session.initial_login_retry_max written into each node record: how
   * often iscsid itself retries a login before iscsiadm gives up. open-iscsi's
   * default (8, with a 15 s login timeout) can hold the iscsiadm mutex for
   * minutes; our own retries replace it. Default 2.
   */
  initialLoginRetryMax?: number;
  /** Defaults to the process-wide ISCSIADM_MUTEX. */
  mutex?: Mutex;
  /** Program name. Default "iscsiadm". */
  binary?: string;
  /** Where open-iscsi keeps its node records (one directory per target). Default NODE_DB_DIRS. */
  nodeDbDirs?: readonly string[];
}

/**
 * iscsiadm is not safe to run concurrently (it rewrites the node database
 * under /etc/iscsi/nodes and talks to iscsid over one socket): every iscsiadm
 * call of this process goes through this one mutex (unless a test passes its own).
 */
const ISCSIADM_MUTEX = new Mutex();

/** open-iscsi's node record database: /etc/iscsi/nodes on Debian and Ubuntu, /var/lib/iscsi/nodes on Fedora and SUSE. */
const NODE_DB_DIRS = ['/etc/iscsi/nodes', '/var/lib/iscsi/nodes'] as const;

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export type LoginResult = 'logged-in' | 'already-logged-in';

const AUTH = 'node.session.auth';

export class Iscsiadm {
  private readonly log: Logger | undefined;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;
  private readonly loginRetryMax: number;
  private readonly mutex: Mutex;
  private readonly bin: string;
  private readonly nodeDbDirs: readonly string[];

  constructor(
    private readonly runner: CommandRunner,
    logger?: Logger,
    options: IscsiadmOptions = {},
  ) {
    this.log = logger?.child({ component: 'iscsiadm' });
    this.retries = Math.max(0, options.retries ?? 3);
    this.backoffMs = Math.max(0, options.backoffMs ?? 1000);
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.loginRetryMax = options.initialLoginRetryMax ?? 2;
    this.mutex = options.mutex ?? ISCSIADM_MUTEX;
    this.bin = options.binary ?? 'iscsiadm';
    this.nodeDbDirs = options.nodeDbDirs ?? NODE_DB_DIRS;
  }

  /**
   * Whether a node record of the target may exist. False only when the
   * record database is there and holds no directory of the target: then
   * `-o show` is not needed to know that `-o new` resets nothing. A
   * database in an unknown place answers true (ask iscsiadm).
   */
  private async mayHaveRecord(iqn: string): Promise<boolean> {
    let found = false;
    for (const dir of this.nodeDbDirs) {
      if (await exists(join(dir, iqn))) return true;
      if (await exists(dir)) found = true;
    }
    return !found;
  }

  /**
   * Creates the node record (if missing) and sets it up: manual startup (the
   * plugin logs in, not iscsid at boot), iscsid's own login retries, and the
   * authentication settings. Idempotent: an existing record is updated, never
   * recreated (that would reset settings under a live session).
   */
  async createNode(spec: NodeSpec, o: { signal?: AbortSignal } = {}): Promise<void> {
    const portal = normalizePortal(spec.portal);
    validateIqn(spec.iqn);
    if (spec.chap) validateChap(spec.chap);
    const node = this.nodeArgs(spec.iqn, portal, spec.iface);
    const call = { iface: spec.iface, signal: o.signal };
    // The record database without this target's directory: no record, no `-o show` process.
    const missing =
      !(await this.mayHaveRecord(spec.iqn)) ||
      (await this.exec([...node, '-o', 'show'], call, [ISCSI_ERR.NO_OBJS_FOUND])).exitCode === ISCSI_ERR.NO_OBJS_FOUND;
    if (missing) {
      await this.exec([...node, '-o', 'new'], call);
      this.log?.info({ iqn: spec.iqn, portal, iface: spec.iface }, 'iSCSI node record created');
    }
    // One `-o update` with every name/value pair (iscsiadm applies them in order): one process, not one per setting.
    const pairs: [string, string][] = [
      ['node.startup', 'manual'],
      ['node.session.initial_login_retry_max', String(this.loginRetryMax)],
    ];
    const secrets: string[] = [];
    const chap = spec.chap;
    if (chap) {
      pairs.push(
        [`${AUTH}.authmethod`, 'CHAP'],
        [`${AUTH}.username`, chap.userid],
        [`${AUTH}.password`, chap.password],
      );
      // user names count as secret values too (log.ts): they come from the same Secret
      secrets.push(chap.userid, chap.password);
      if (chap.mutualUserid !== undefined && chap.mutualPassword !== undefined) {
        pairs.push([`${AUTH}.username_in`, chap.mutualUserid], [`${AUTH}.password_in`, chap.mutualPassword]);
        secrets.push(chap.mutualUserid, chap.mutualPassword);
      } else {
        // Left-over mutual credentials would make iscsid demand that the target authenticates.
        pairs.push([`${AUTH}.username_in`, ''], [`${AUTH}.password_in`, '']);
      }
    } else {
      // With authmethod None iscsid ignores any credentials left in the record.
      pairs.push([`${AUTH}.authmethod`, 'None']);
    }
    await this.exec([...node, '-o', 'update', ...pairs.flatMap(([n, v]) => ['-n', n, '-v', v])], call, [], secrets);
  }

  /**
   * Logs in to one portal of a target (the node record must exist: see
   * createNode). Already logged in (exit 15) is success. Transient failures
   * are retried with backoff; a refused login (auth, fatal login) is not.
   */
  async login(iqn: string, portal: string, o: IscsiCallOptions = {}): Promise<LoginResult> {
    const p = normalizePortal(portal);
    validateIqn(iqn);
    const argv = [...this.nodeArgs(iqn, p, o.iface), '--login'];
    let wait = this.backoffMs;
    for (let attempt = 1; ; attempt++) {
      let failure: CommandFailed;
      try {
        const r = await this.exec(argv, o, [ISCSI_ERR.SESS_EXISTS]);
        const already = r.exitCode === ISCSI_ERR.SESS_EXISTS;
        this.log?.info({ iqn, portal: p, attempt, already }, already ? 'iSCSI session already present' : 'iSCSI login');
        return already ? 'already-logged-in' : 'logged-in';
      } catch (e) {
        if (!(e instanceof CommandFailed) || e.cancelled || o.signal?.aborted) throw e;
        failure = e;
      }
      const code = failure.exitCode;
      const why = tail(failure.stderr);
      if (code === ISCSI_ERR.LOGIN_AUTH_FAILED || saysAuthFailure(failure.stderr)) {
        throw new FailedPrecondition(
          `iSCSI login to ${iqn} at ${p} was refused: authorization failure (CHAP credentials wrong or missing, or this initiator is not allowed by the target)`,
        );
      }
      if (code === ISCSI_ERR.FATAL_LOGIN)
        throw new FailedPrecondition(
          `iSCSI login to ${iqn} at ${p} was refused by the target (fatal login error)${why ? `: ${why}` : ''}`,
        );
      if (code === ISCSI_ERR.NO_OBJS_FOUND)
        throw new FailedPrecondition(`no iSCSI node record for ${iqn} at ${p}; create it before logging in`);
      const retryable = failure.timedOut || (code !== undefined && RETRYABLE_LOGIN_EXIT_CODES.has(code));
      if (!retryable) throw failure;
      if (attempt > this.retries) {
        throw new Unavailable(
          `iSCSI login to ${iqn} at ${p} failed after ${attempt} attempt(s) (${failure.timedOut ? 'timed out' : `iscsiadm exit ${code}`})${why ? `: ${why}` : ''}`,
          {
            cause: failure,
          },
        );
      }
      this.log?.warn({ iqn, portal: p, attempt, exitCode: code, stderr: why }, 'iSCSI login failed, retrying');
      await sleep(wait, o.signal);
      wait = Math.min(wait * 2, 10_000);
    }
  }

  /** Logs out of one portal of a target. No session (exit 21) is success. Returns whether a session was ended. */
  async logout(iqn: string, portal: string, o: IscsiCallOptions = {}): Promise<boolean> {
    const p = normalizePortal(portal);
    validateIqn(iqn);
    const r = await this.exec([...this.nodeArgs(iqn, p, o.iface), '--logout'], o, [ISCSI_ERR.NO_OBJS_FOUND]);
    const ended = r.exitCode === 0;
    if (ended) this.log?.info({ iqn, portal: p }, 'iSCSI logout');
    return ended;
  }

  /** Deletes the node record. No record (exit 21) is success. Returns whether a record was deleted. */
  async deleteNode(iqn: string, portal: string, o: IscsiCallOptions = {}): Promise<boolean> {
    const p = normalizePortal(portal);
    validateIqn(iqn);
    const r = await this.exec([...this.nodeArgs(iqn, p, o.iface), '-o', 'delete'], o, [ISCSI_ERR.NO_OBJS_FOUND]);
    const deleted = r.exitCode === 0;
    if (deleted) this.log?.info({ iqn, portal: p }, 'iSCSI node record deleted');
    return deleted;
  }

  /** Every session of this host with its attached disks (none: exit 21 -> []). */
  async sessions(o: { signal?: AbortSignal } = {}): Promise<IscsiSession[]> {
    const r = await this.exec(['-m', 'session', '-P', '3'], o, [ISCSI_ERR.NO_OBJS_FOUND]);
    return r.exitCode === ISCSI_ERR.NO_OBJS_FOUND ? [] : parseSessionTree(r.stdout);
  }

  /** Every node record of this host (none: exit 21 -> []). */
  async nodes(o: { signal?: AbortSignal } = {}): Promise<NodeRecord[]> {
    const r = await this.exec(['-m', 'node'], o, [ISCSI_ERR.NO_OBJS_FOUND]);
    return r.exitCode === ISCSI_ERR.NO_OBJS_FOUND ? [] : parseNodeRecords(r.stdout);
  }

  /** The sessions to one target (optionally one portal). */
  async sessionsOf(iqn: string, portal?: string, o: { signal?: AbortSignal } = {}): Promise<IscsiSession[]> {
    const p = portal === undefined ? undefined : normalizePortal(portal);
    return (await this.sessions(o)).filter((s) => s.iqn === iqn && (p === undefined || s.portal === p));
  }

  /**
   * Rescans every session to the target so the kernel re-reads LUN sizes
   * (after the volume was extended) and finds new LUNs. NotFound when there is
   * no session. Returns the number of sessions rescanned.
   */
  async rescan(iqn: string, o: { signal?: AbortSignal } = {}): Promise<number> {
    validateIqn(iqn);
    const mine = await this.sessionsOf(iqn, undefined, o);
    if (mine.length === 0) throw new NotFound(`no iSCSI session to ${iqn} to rescan`);
    for (const s of mine) await this.exec(['-m', 'session', '-r', String(s.sid), '--rescan'], o);
    this.log?.info({ iqn, sessions: mine.map((s) => s.sid) }, 'iSCSI sessions rescanned');
    return mine.length;
  }

  private nodeArgs(iqn: string, portal: string, iface: string | undefined): string[] {
    return ['-m', 'node', '-T', iqn, '-p', portal, ...(iface ? ['-I', iface] : [])];
  }

  /** One iscsiadm run under the mutex; secrets redacted from any error. */
  private async exec(
    args: string[],
    o: { signal?: AbortSignal },
    okExitCodes: number[] = [],
    secrets: string[] = [],
  ): Promise<RunResult> {
    const argv = [this.bin, ...args];
    try {
      return await this.mutex.runExclusive(
        () =>
          this.runner.run(argv, {
            timeoutMs: this.timeoutMs,
            signal: o.signal,
            okExitCodes,
            ...(secrets.length ? { secrets } : {}),
          }),
        o.signal,
      );
    } catch (e) {
      if (e instanceof CommandFailed && secrets.length > 0) {
        throw new CommandFailed({
          argv: redactArgv(e.argv, secrets),
          exitCode: e.exitCode,
          stderr: redact(e.stderr, secrets),
          timedOut: e.timedOut,
          cancelled: e.cancelled,
        });
      }
      throw e;
    }
  }
}

function tail(stderr: string): string {
  return stderr
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-2)
    .join(' | ');
}

/** iSCSI names as targets and initiators use them: iqn., eui. or naa. (RFC 3720/3721), no spaces. */
function validateIqn(iqn: string, field = 'iqn'): void {
  if (!/^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/.test(iqn) || iqn.length > 223) {
    throw new InvalidArgument(
      field,
      `${JSON.stringify(iqn)} is not an iSCSI name (iqn.YYYY-MM.domain[:id], eui.* or naa.*)`,
    );
  }
}

function validateChap(chap: ChapSettings): void {
  if (!chap.userid) throw new InvalidArgument('chap.userid', 'is required with CHAP');
  if (!chap.password) throw new InvalidArgument('chap.password', 'is required with CHAP');
  if ((chap.mutualUserid === undefined) !== (chap.mutualPassword === undefined)) {
    throw new InvalidArgument('chap.mutualUserid', 'mutual CHAP needs both the user id and the password');
  }
  for (const [k, v] of Object.entries(chap)) {
    // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
    if (typeof v === 'string' && /[\u0000-\u001f]/.test(v))
      throw new InvalidArgument(`chap.${k}`, 'must not contain control characters');
  }
}

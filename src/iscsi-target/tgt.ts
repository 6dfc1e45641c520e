/**
 * The user-space target tgtd, driven with tgtadm through the CommandRunner
 * (argv arrays only). Data goes on LUN 1: tgt makes LUN 0 its controller.
 *
 * What tgt does differently from LIO, and what that means here:
 * - No state survives a tgtd restart: every target, LUN, ACL and account is
 *   gone, and listTargets() shows none. The agent must re-run ensureTarget()
 *   and allowInitiator() from its own records (the CO's re-publish does it).
 * - Targets are numbered (tid): a new one gets the highest tid + 1. Calls are
 *   serialized inside this process so two exports never pick the same tid.
 * - Portals belong to the daemon (tgtd --iscsi portal=ADDR:PORT, or added
 *   with --mode portal): ensureTarget() adds the missing ones and never
 *   removes any; every target is reachable on every portal.
 * - CHAP accounts are daemon-wide and bound to a target, not to an
 *   initiator: the credentials of the last allowInitiator() apply to every
 *   initiator of that target, and one CHAP user cannot serve two targets
 *   with different passwords. A userid already bound to another target is
 *   refused (FailedPrecondition) rather than re-pointed: use a per-volume
 *   CHAP user with tgt. tgtd does not show passwords, so a changed password
 *   can only be applied by deleting and re-creating the account; a random
 *   guard account is bound meanwhile so the target never stops demanding
 *   CHAP. The last password set per user is remembered (as a SHA-256, in
 *   memory) to make repeated calls no-ops.
 * - Passwords travel on tgtadm's argv (tgtadm has no other way): they are
 *   passed to the runner as `secrets` and never appear in logs or errors.
 * - Sessions are ended with --mode conn --op delete, after the ACL is gone
 *   (otherwise the initiator logs straight back in).
 * - Resize: tgt reads the backing store's size when the LUN is opened.
 *   refreshSize() re-opens it in one command (--params online=0,path=DEV).
 *   Commands in flight at that moment fail (seen: READ(16) MEDIUM ERROR), so
 *   it is refused while initiators are logged in: expand offline with tgt.
 * - readonly=1 is a parameter of the logical unit, so it holds for every
 *   initiator of the target (there is no per-initiator write protection):
 *   the controller never publishes one volume read-only to one node and
 *   read-write to another, and a read-only LUN is never made writable while
 *   initiators are bound (FailedPrecondition).
 * - Discards: thin_provisioning=1 makes tgt answer UNMAP with
 *   fallocate(PUNCH_HOLE), which a block device only honours when it
 *   supports WRITE ZEROES; off unless TgtOptions.thinProvisioning.
 * - Sizes are only shown as rounded MB: TargetState.sizeBytes stays undefined.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Busy, CommandFailed, FailedPrecondition, InvalidArgument, NotFound, Unavailable } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import { redactArgv } from '../exec/runner.js';
import type { Logger } from '../log.js';
import { assertChap } from './chap.js';
import { validateTargetSpec } from './spec.js';
import { assertIscsiName, isValidIscsiName } from './iqn.js';
import { sleep, throwIfAborted } from '../abort.js';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry.js';
import { parseAccountShow, parsePortalShow, parseTargetShow, type TgtLun, type TgtTargetInfo } from './tgtadm-parse.js';
import { classifyTgtadm, TgtadmArgv, type TgtErrorKind } from './tgtadm.js';
import type { ChapCredentials, Portal, Target, TargetCallOptions, TargetSpec, TargetState } from './types.js';

const TGT_LUN = 1;

export interface TgtOptions {
  runner: CommandRunner;
  /** tgtd's control port (tgtd -C N); default tgtd's own. */
  controlPort?: number;
  logger?: Logger;
  retry?: RetryPolicy;
  /** Per tgtadm call. Default 30 s. */
  timeoutMs?: number;
  /** Answer UNMAP by punching holes in the backing device (needs WRITE ZEROES support). Default false. */
  thinProvisioning?: boolean;
  /** Password of the temporary guard account; tests make it predictable. Default: 24 random characters. */
  guardPassword?: () => string;
}

interface RunOpts {
  signal?: AbortSignal | undefined;
  secrets?: readonly string[];
  /** Failures of these kinds are not errors: the call resolves to undefined. */
  ok?: readonly TgtErrorKind[];
}

const RETRYABLE: readonly TgtErrorKind[] = ['busy', 'no-daemon'];

export class TgtTarget implements Target {
  readonly kind = 'tgt' as const;
  readonly lun = TGT_LUN;
  private readonly runner: CommandRunner;
  private readonly argv: TgtadmArgv;
  private readonly log: Logger | undefined;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly thin: boolean;
  private readonly guardPassword: () => string;
  /** user -> sha256(password) of what this process last set. */
  private readonly passwordDigests = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(o: TgtOptions) {
    this.runner = o.runner;
    this.argv = new TgtadmArgv(o.controlPort);
    this.log = o.logger?.child({ target: 'tgt' });
    this.retry = o.retry ?? DEFAULT_RETRY;
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.thin = o.thinProvisioning ?? false;
    this.guardPassword = o.guardPassword ?? (() => randomBytes(18).toString('base64url'));
  }

  // ---------------------------------------------------------------- ensureTarget

  ensureTarget(spec: TargetSpec, o: TargetCallOptions = {}): Promise<void> {
    validateSpec(spec);
    return this.exclusive(async () => {
      const s = o.signal;
      await this.ensurePortals(spec.portals, s);
      const all = await this.targets(s);
      const t = all.find((x) => x.iqn === spec.iqn) ?? (await this.createTarget(spec.iqn, all, s));
      const lun = t.luns.find((l) => l.lun === TGT_LUN);
      if (lun?.backingStorePath !== undefined && lun.backingStorePath !== spec.devicePath) {
        throw new FailedPrecondition(
          `tgt target ${spec.iqn} exports ${lun.backingStorePath}, not ${spec.devicePath}; remove the target first`,
        );
      }
      // readonly is per LUN, i.e. for every initiator: never lifted under initiators that may rely on it
      if (lun?.readOnly && !spec.readOnly && t.acls.length > 0) {
        throw new FailedPrecondition(
          `tgt target ${spec.iqn} is exported read-only to ${t.acls.join(', ')}; remove the target to export it read-write`,
        );
      }
      if (!lun) await this.run(this.argv.newLun(t.tid, TGT_LUN, spec.devicePath), { signal: s });
      const params = this.lunParams(spec, lun);
      if (params.length > 0) await this.run(this.argv.updateLun(t.tid, TGT_LUN, params.join(',')), { signal: s });
      if (!lun) this.log?.info({ iqn: spec.iqn, tid: t.tid, device: spec.devicePath }, 'tgt target created');
    });
  }

  /** The LUN parameters that differ from what tgtd shows (for a new LUN: serials, and the flags that are not tgt's defaults). */
  private lunParams(spec: TargetSpec, lun: TgtLun | undefined): string[] {
    const ro = Boolean(spec.readOnly);
    const p: string[] = [];
    if (!lun || lun.scsiId !== spec.serial) p.push(`scsi_id=${spec.serial}`);
    if (!lun || lun.scsiSn !== spec.serial) p.push(`scsi_sn=${spec.serial}`);
    if (lun ? lun.readOnly !== ro : ro) p.push(`readonly=${ro ? 1 : 0}`);
    if (lun ? lun.thinProvisioning !== this.thin : this.thin) p.push(`thin_provisioning=${this.thin ? 1 : 0}`);
    return p;
  }

  private async createTarget(
    iqn: string,
    known: TgtTargetInfo[],
    signal: AbortSignal | undefined,
  ): Promise<TgtTargetInfo> {
    let all = known;
    for (let attempt = 1; ; attempt++) {
      const tid = Math.max(0, ...all.map((x) => x.tid)) + 1;
      const made = await this.run(this.argv.newTarget(tid, iqn), { signal, ok: attempt < 3 ? ['target-exists'] : [] });
      if (made !== undefined) return emptyTarget(tid, iqn);
      // tid or name taken by someone outside this process (tgt-admin?): look again
      all = await this.targets(signal);
      const found = all.find((x) => x.iqn === iqn);
      if (found) return found;
    }
  }

  private async ensurePortals(portals: readonly Portal[], signal: AbortSignal | undefined): Promise<void> {
    const have = parsePortalShow((await this.run(this.argv.showPortals(), { signal })) ?? '');
    for (const p of portals) {
      const covered = have.some(
        (h) => h.port === p.port && (h.address === p.address || h.address === '0.0.0.0' || h.address === '::'),
      );
      if (!covered) {
        await this.run(this.argv.newPortal(p.address, p.port), { signal });
        this.log?.info({ portal: `${p.address}:${p.port}` }, 'tgt portal added');
      }
    }
  }

  // ---------------------------------------------------------------- initiators

  allowInitiator(iqn: string, initiatorIqn: string, chap?: ChapCredentials, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    assertIscsiName('initiatorIqn', initiatorIqn);
    if (chap) assertChap(chap);
    return this.exclusive(async () => {
      const s = o.signal;
      const all = await this.targets(s);
      const t = all.find((x) => x.iqn === iqn);
      if (!t) throw new NotFound(`no tgt target ${iqn}`);
      // Credentials first: the initiator is never admitted without the CHAP it will need.
      if (chap) {
        await this.ensureIncoming(t, all, chap, s);
        await this.ensureOutgoing(t, all, chap, s);
      } else {
        await this.dropCredentials(t, all, initiatorIqn, s);
      }
      if (!t.acls.includes(initiatorIqn)) {
        await this.run(this.argv.bindInitiator(t.tid, initiatorIqn), { signal: s, ok: ['acl-exists'] });
        this.log?.info({ iqn, initiator: initiatorIqn, chap: Boolean(chap) }, 'tgt initiator allowed');
      }
    });
  }

  private async ensureIncoming(
    t: TgtTargetInfo,
    all: TgtTargetInfo[],
    chap: ChapCredentials,
    s: AbortSignal | undefined,
  ): Promise<void> {
    const user = chap.userid;
    this.refuseShared(t, all, user);
    const bound = t.incomingAccounts.includes(user);
    if (!bound || this.passwordDigests.get(user) !== digest(chap.password)) {
      const accounts = parseAccountShow((await this.run(this.argv.showAccounts(), { signal: s })) ?? '');
      if (accounts.includes(user)) {
        // tgtd cannot change a password: re-create the account. While it is
        // gone a guard account keeps the target demanding CHAP.
        const guard = bound ? await this.bindGuard(t, s) : undefined;
        await this.run(this.argv.deleteAccount(user), { signal: s, ok: ['account-missing'] });
        await this.createAccount(user, chap.password, s);
        await this.run(this.argv.bindAccount(t.tid, user), { signal: s, ok: ['account-exists'] });
        if (guard) await this.removeAccount(t.tid, guard, false, s);
        this.log?.info({ iqn: t.iqn, user }, 'tgt CHAP account re-created');
      } else {
        await this.createAccount(user, chap.password, s);
        await this.run(this.argv.bindAccount(t.tid, user), { signal: s, ok: ['account-exists'] });
      }
      this.passwordDigests.set(user, digest(chap.password));
    }
    // one credential set per target: others go (after the new one is bound)
    for (const other of t.incomingAccounts) {
      if (other !== user) await this.removeAccount(t.tid, other, false, s, all);
    }
  }

  private async ensureOutgoing(
    t: TgtTargetInfo,
    all: TgtTargetInfo[],
    chap: ChapCredentials,
    s: AbortSignal | undefined,
  ): Promise<void> {
    const user = chap.mutualUserid;
    const password = chap.mutualPassword;
    if (user === undefined || password === undefined) {
      if (t.outgoingAccount) await this.removeAccount(t.tid, t.outgoingAccount, true, s, all);
      return;
    }
    this.refuseShared(t, all, user);
    if (t.outgoingAccount === user && this.passwordDigests.get(user) === digest(password)) return;
    if (t.outgoingAccount) await this.removeAccount(t.tid, t.outgoingAccount, true, s, all);
    await this.run(this.argv.deleteAccount(user), { signal: s, ok: ['account-missing'] });
    await this.createAccount(user, password, s);
    await this.run(this.argv.bindAccount(t.tid, user, true), { signal: s });
    this.passwordDigests.set(user, digest(password));
  }

  /** No CHAP for this initiator: drop the target's credentials, unless other initiators rely on them. */
  private async dropCredentials(
    t: TgtTargetInfo,
    all: TgtTargetInfo[],
    initiatorIqn: string,
    s: AbortSignal | undefined,
  ): Promise<void> {
    if (t.incomingAccounts.length === 0 && !t.outgoingAccount) return;
    const others = t.acls.filter((a) => a !== initiatorIqn);
    if (others.length > 0) {
      throw new FailedPrecondition(
        `tgt target ${t.iqn} requires CHAP for ${others.join(', ')}; tgt credentials are per target, so ${initiatorIqn} cannot be allowed without CHAP`,
      );
    }
    for (const u of t.incomingAccounts) await this.removeAccount(t.tid, u, false, s, all);
    if (t.outgoingAccount) await this.removeAccount(t.tid, t.outgoingAccount, true, s, all);
  }

  /** A userid bound to another target cannot be re-pointed without breaking that target. */
  private refuseShared(t: TgtTargetInfo, all: TgtTargetInfo[], user: string): void {
    const other = all.find((x) => x.tid !== t.tid && (x.incomingAccounts.includes(user) || x.outgoingAccount === user));
    if (other) {
      throw new FailedPrecondition(
        `tgt CHAP accounts are daemon-wide: user ${user} already belongs to target ${other.iqn}; use a CHAP user per volume with tgt`,
      );
    }
  }

  private async createAccount(user: string, password: string, s: AbortSignal | undefined): Promise<void> {
    await this.run(this.argv.newAccount(user, password), { signal: s, secrets: [password] });
  }

  private async bindGuard(t: TgtTargetInfo, s: AbortSignal | undefined): Promise<string> {
    const guard = `csi-guard-${t.tid}`;
    const password = this.guardPassword();
    await this.run(this.argv.deleteAccount(guard), { signal: s, ok: ['account-missing'] });
    await this.createAccount(guard, password, s);
    await this.run(this.argv.bindAccount(t.tid, guard), { signal: s, ok: ['account-exists'] });
    return guard;
  }

  /** Unbinds the account from this target, and deletes it unless another target uses it. */
  private async removeAccount(
    tid: number,
    user: string,
    outgoing: boolean,
    s: AbortSignal | undefined,
    all: TgtTargetInfo[] = [],
  ): Promise<void> {
    await this.run(this.argv.unbindAccount(tid, user, outgoing), { signal: s, ok: ['account-missing'] });
    const elsewhere = all.some(
      (x) => x.tid !== tid && (x.incomingAccounts.includes(user) || x.outgoingAccount === user),
    );
    if (!elsewhere) {
      await this.run(this.argv.deleteAccount(user), { signal: s, ok: ['account-missing'] });
      this.passwordDigests.delete(user);
    }
  }

  denyInitiator(iqn: string, initiatorIqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    assertIscsiName('initiatorIqn', initiatorIqn);
    return this.exclusive(async () => {
      const s = o.signal;
      const t = (await this.targets(s)).find((x) => x.iqn === iqn);
      if (!t) return;
      // ACL first: a closed connection would otherwise log straight back in.
      if (t.acls.includes(initiatorIqn))
        await this.run(this.argv.unbindInitiator(t.tid, initiatorIqn), { signal: s, ok: ['acl-missing'] });
      if (!(await this.closeSessions(iqn, (initiator) => initiator === initiatorIqn, s))) {
        throw new Busy(`tgt target ${iqn} still shows sessions of ${initiatorIqn} after closing them`);
      }
      this.log?.info({ iqn, initiator: initiatorIqn }, 'tgt initiator denied');
    });
  }

  /** Closes the matching sessions' connections and waits until tgtd shows none of them (false: some remain). */
  private async closeSessions(
    iqn: string,
    match: (initiator: string) => boolean,
    s: AbortSignal | undefined,
  ): Promise<boolean> {
    for (let round = 0; round < 10; round++) {
      const t = (await this.targets(s)).find((x) => x.iqn === iqn);
      const nexus = t?.nexus.filter((n) => match(n.initiator)) ?? [];
      if (!t || nexus.length === 0) return true;
      for (const n of nexus) {
        for (const c of n.connections)
          await this.run(this.argv.deleteConnection(t.tid, n.id, c.cid), { signal: s, ok: ['no-session'] });
      }
      await sleep(Math.min(50 * 2 ** round, 1000), s);
    }
    return false;
  }

  // ---------------------------------------------------------------- removeTarget

  removeTarget(iqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    return this.exclusive(async () => {
      const s = o.signal;
      const all = await this.targets(s);
      const t = all.find((x) => x.iqn === iqn);
      if (!t) return;
      for (const a of t.acls) {
        const argv = isValidIscsiName(a) ? this.argv.unbindInitiator(t.tid, a) : this.argv.unbindAddress(t.tid, a);
        await this.run(argv, { signal: s, ok: ['acl-missing'] });
      }
      // sessions that do not go away are cut by the --force delete below
      await this.closeSessions(iqn, () => true, s);
      for (const l of t.luns)
        if (l.lun !== 0) await this.run(this.argv.deleteLun(t.tid, l.lun), { signal: s, ok: ['no-lun'] });
      const gone = await this.run(this.argv.deleteTarget(t.tid), { signal: s, ok: ['no-target', 'target-active'] });
      if (gone === undefined) await this.run(this.argv.deleteTarget(t.tid, true), { signal: s, ok: ['no-target'] });
      const accounts = [...t.incomingAccounts, ...(t.outgoingAccount ? [t.outgoingAccount] : [])];
      for (const u of accounts) {
        if (all.some((x) => x.tid !== t.tid && (x.incomingAccounts.includes(u) || x.outgoingAccount === u))) continue;
        await this.run(this.argv.deleteAccount(u), { signal: s, ok: ['account-missing'] });
        this.passwordDigests.delete(u);
      }
      this.log?.info({ iqn, tid: t.tid }, 'tgt target removed');
    });
  }

  // ---------------------------------------------------------------- state

  async listTargets(o: TargetCallOptions = {}): Promise<TargetState[]> {
    const portals = parsePortalShow((await this.run(this.argv.showPortals(), { signal: o.signal })) ?? '').map(
      ({ address, port }) => ({ address, port }),
    );
    return (await this.targets(o.signal)).map((t) => toState(t, portals));
  }

  async hasTarget(iqn: string, o: TargetCallOptions = {}): Promise<boolean> {
    assertIscsiName('iqn', iqn);
    return (await this.targets(o.signal)).some((t) => t.iqn === iqn);
  }

  /** tgt keeps nothing outside its targets (a LUN lives in its target): nothing can be orphaned. */
  removeOrphans(_iqnPrefix: string, _o?: TargetCallOptions): Promise<string[]> {
    return Promise.resolve([]);
  }

  refreshSize(iqn: string, o: TargetCallOptions = {}): Promise<void> {
    assertIscsiName('iqn', iqn);
    return this.exclusive(async () => {
      const s = o.signal;
      const t = (await this.targets(s)).find((x) => x.iqn === iqn);
      const path = t?.luns.find((l) => l.lun === TGT_LUN)?.backingStorePath;
      if (!t || path === undefined) throw new NotFound(`no tgt target ${iqn} with LUN ${TGT_LUN}`);
      if (t.nexus.length > 0) {
        throw new FailedPrecondition(
          `tgt can only re-read the size of ${iqn} by re-opening its backing store, which fails commands in flight; ` +
            `${t.nexus.map((n) => n.initiator).join(', ')} still logged in: expand offline (log out first)`,
        );
      }
      await this.run(this.argv.updateLun(t.tid, TGT_LUN, `online=0,path=${path}`), { signal: s });
      this.log?.info({ iqn }, 'tgt LUN re-opened for its new size');
    });
  }

  // ---------------------------------------------------------------- plumbing

  private async targets(signal: AbortSignal | undefined): Promise<TgtTargetInfo[]> {
    return parseTargetShow((await this.run(this.argv.showTargets(), { signal })) ?? '');
  }

  /** One call at a time per process (tid allocation, account re-creation). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs tgtadm with retries for "busy" and "tgtd not reachable"; resolves
   * to stdout, or undefined when the failure's kind is in `ok`. Errors carry
   * the argv with secrets redacted and never the original error.
   */
  private async run(argv: string[], o: RunOpts = {}): Promise<string | undefined> {
    const secrets = o.secrets ?? [];
    try {
      return await withRetry(
        async () =>
          (
            await this.runner.run(argv, {
              timeoutMs: this.timeoutMs,
              secrets,
              ...(o.signal ? { signal: o.signal } : {}),
            })
          ).stdout,
        (e) => e instanceof CommandFailed && !e.timedOut && !e.cancelled && RETRYABLE.includes(classifyTgtadm(e)),
        this.retry,
        o.signal,
      );
    } catch (e) {
      throwIfAborted(o.signal);
      if (!(e instanceof CommandFailed)) throw e;
      const kind = classifyTgtadm(e);
      if (o.ok?.includes(kind)) return undefined;
      const safe = new CommandFailed({
        argv: redactArgv(argv, secrets),
        exitCode: e.exitCode,
        stderr: redactArgv([e.stderr], secrets)[0] ?? '',
        timedOut: e.timedOut,
        cancelled: e.cancelled,
      });
      if (kind === 'no-daemon') throw new Unavailable(`tgtd is not reachable (is it running?): ${safe.message}`);
      if (kind === 'busy') throw new Busy(`tgtd is busy: ${safe.message}`);
      throw safe;
    }
  }
}

function emptyTarget(tid: number, iqn: string): TgtTargetInfo {
  return {
    tid,
    iqn,
    driver: 'iscsi',
    state: 'ready',
    nexus: [],
    luns: [],
    incomingAccounts: [],
    outgoingAccount: undefined,
    acls: [],
  };
}

function digest(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}

function toState(t: TgtTargetInfo, portals: Portal[]): TargetState {
  const lun = t.luns.find((l) => l.lun === TGT_LUN);
  const incoming = t.incomingAccounts[0];
  return {
    iqn: t.iqn,
    devicePath: lun?.backingStorePath,
    serial: lun?.scsiSn || undefined,
    lun: lun ? TGT_LUN : undefined,
    portals,
    readOnly: lun?.readOnly ?? false,
    authRequired: t.incomingAccounts.length > 0,
    enabled: t.state === 'ready',
    initiators: t.acls.map((a) => ({
      iqn: a,
      chapUserid: incoming,
      mutualChapUserid: t.outgoingAccount,
      sessions: t.nexus.filter((n) => n.initiator === a).length,
    })),
    sizeBytes: undefined,
  };
}

function validateSpec(spec: TargetSpec): void {
  validateTargetSpec(spec, (p) => {
    if (
      !Number.isInteger(p.port) ||
      p.port < 1 ||
      p.port > 65535 ||
      p.address.length === 0 ||
      /[\s,[\]]/.test(p.address)
    ) {
      throw new InvalidArgument('portals', `bad portal ${JSON.stringify(p)}`);
    }
  });
}

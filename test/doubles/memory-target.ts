/**
 * An in-memory Target with the same contract (idempotent calls, NotFound,
 * InvalidArgument, FailedPrecondition for a different device), for unit
 * tests of the storage agent. Also records every mutating call.
 */
import { FailedPrecondition, NotFound } from '../../src/errors.js';
import { assertChap } from '../../src/iscsi-target/chap.js';
import { assertIscsiName } from '../../src/iscsi-target/iqn.js';
import type {
  ChapCredentials,
  Target,
  TargetCallOptions,
  TargetKind,
  TargetSpec,
  TargetState,
} from '../../src/iscsi-target/types.js';

interface MemTarget {
  spec: TargetSpec;
  initiators: Map<string, { chap: ChapCredentials | undefined; sessions: number }>;
  sizeBytes: number | undefined;
}

export class MemoryTarget implements Target {
  readonly targets = new Map<string, MemTarget>();
  readonly calls: string[] = [];

  constructor(
    readonly kind: TargetKind = 'lio',
    readonly lun: number = kind === 'lio' ? 0 : 1,
  ) {}

  async ensureTarget(spec: TargetSpec, _o?: TargetCallOptions): Promise<void> {
    assertIscsiName('iqn', spec.iqn);
    this.calls.push(`ensureTarget ${spec.iqn}`);
    const t = this.targets.get(spec.iqn);
    if (t && t.spec.devicePath !== spec.devicePath)
      throw new FailedPrecondition(`${spec.iqn} exports ${t.spec.devicePath}`);
    if (t) t.spec = { ...spec, portals: [...spec.portals] };
    else
      this.targets.set(spec.iqn, {
        spec: { ...spec, portals: [...spec.portals] },
        initiators: new Map(),
        sizeBytes: undefined,
      });
  }

  async allowInitiator(
    iqn: string,
    initiatorIqn: string,
    chap?: ChapCredentials,
    _o?: TargetCallOptions,
  ): Promise<void> {
    assertIscsiName('initiatorIqn', initiatorIqn);
    if (chap) assertChap(chap);
    this.calls.push(`allowInitiator ${iqn} ${initiatorIqn}${chap ? ' chap' : ''}`);
    const t = this.targets.get(iqn);
    if (!t) throw new NotFound(`no target ${iqn}`);
    const sessions = t.initiators.get(initiatorIqn)?.sessions ?? 0;
    t.initiators.set(initiatorIqn, { chap: chap ? { ...chap } : undefined, sessions });
  }

  async denyInitiator(iqn: string, initiatorIqn: string, _o?: TargetCallOptions): Promise<void> {
    this.calls.push(`denyInitiator ${iqn} ${initiatorIqn}`);
    this.targets.get(iqn)?.initiators.delete(initiatorIqn);
  }

  async removeTarget(iqn: string, _o?: TargetCallOptions): Promise<void> {
    this.calls.push(`removeTarget ${iqn}`);
    this.targets.delete(iqn);
  }

  async hasTarget(iqn: string, _o?: TargetCallOptions): Promise<boolean> {
    return this.targets.has(iqn);
  }

  async listTargets(_o?: TargetCallOptions): Promise<TargetState[]> {
    return [...this.targets.values()].map((t) => ({
      iqn: t.spec.iqn,
      devicePath: t.spec.devicePath,
      serial: t.spec.serial,
      lun: this.lun,
      portals: t.spec.portals.map((p) => ({ ...p })),
      readOnly: Boolean(t.spec.readOnly),
      authRequired: [...t.initiators.values()].some((i) => i.chap),
      enabled: true,
      initiators: [...t.initiators.entries()].map(([iqn, i]) => ({
        iqn,
        chapUserid: i.chap?.userid,
        mutualChapUserid: i.chap?.mutualUserid,
        sessions: i.sessions,
      })),
      sizeBytes: t.sizeBytes,
    }));
  }

  async removeOrphans(_iqnPrefix: string, _o?: TargetCallOptions): Promise<string[]> {
    return [];
  }

  async refreshSize(iqn: string, _o?: TargetCallOptions): Promise<void> {
    this.calls.push(`refreshSize ${iqn}`);
    if (!this.targets.has(iqn)) throw new NotFound(`no target ${iqn}`);
  }

  /** Test helper: pretend an initiator logged in (or out). */
  setSessions(iqn: string, initiatorIqn: string, sessions: number): void {
    const i = this.targets.get(iqn)?.initiators.get(initiatorIqn);
    if (i) i.sessions = sessions;
  }
}

/**
 * The agent's export side: one iSCSI target per published volume, one ACL per
 * node it is published to, publications recorded in the LV's `published` tag.
 * The live target state is the truth for exports; the tag says which nodes
 * the CO published the volume to (for ListVolumes and for recovery).
 */
import { FailedPrecondition, InvalidArgument, NotFound } from '../errors.js';
import type { Logger } from '../log.js';
import type { Lvm } from '../lvm/lvm.js';
import { tagChanges } from '../lvm/tags.js';
import { assertIscsiName, targetIqn, unitSerial } from '../iscsi-target/iqn.js';
import { assertChap } from '../iscsi-target/chap.js';
import type { Portal, Target } from '../iscsi-target/types.js';
import { encodePublished, toVolume } from './records.js';
import type { CallOptions, Publication, PublishArgs, PublishInfo, VolumeInfo } from './types.js';
import { parseNodeId } from './node-id.js';
import { chapFingerprint, chapFromSecrets, nodeSecrets, type ChapCredentials } from './chap.js';
import { Gate } from './gate.js';
import { checkPublication, exportReadOnly } from './access.js';
import { formatHostPort } from '../host-port.js';
import type { Lv } from '../lvm/report.js';
import { lvBlockDevice, sysDeviceProbe, type DeviceProbe } from './lv-device.js';

export interface ExportOptions {
  nodeId: string;
  nodeName: string;
  iqnPrefix: string;
  portals: readonly Portal[];
  /** Agent-level CHAP secrets (--chap-secret-dir), read at each reconcile: CHAP exports come back without a CO. */
  agentSecrets?: () => Promise<Record<string, string> | undefined>;
  /** How an LV's block device is checked (tests); default the real /dev and /sys. */
  deviceProbe?: DeviceProbe;
}

export class Exports {
  /** Publishes and unpublishes share it; a reconcile holds it alone. */
  private readonly gate = new Gate();

  constructor(
    private readonly lvm: Lvm,
    private readonly target: Target,
    private readonly log: Logger,
    private readonly o: ExportOptions,
  ) {}

  iqnOf(vg: string, lv: string): string {
    return targetIqn(vg, lv, this.o.iqnPrefix);
  }

  private async volume(vg: string, lv: string, o?: CallOptions): Promise<{ v: VolumeInfo; tags: string[]; lv: Lv }> {
    const all = await this.lvm.listLvs(vg, o);
    const l = all.find((x) => x.name === lv);
    const v = l ? toVolume(this.o.nodeId, l, all) : undefined;
    if (!l || !v) throw new NotFound(`volume ${vg}/${lv} does not exist`);
    return { v, tags: l.tags, lv: l };
  }

  /**
   * The LV's device must be there before a target or a local attach hands it out. An LV can exist
   * inactive: an lvcreate killed at its deadline after LVM had committed the LV (CreateVolume's
   * retry then finds it), activation skipped at boot, an operator's lvchange -an. LIO's enable then
   * fails with ENOENT on every retry. A block device at the path costs no LVM call; otherwise the
   * LV is activated and its device proven (lv-device.ts).
   */
  private async ensureDevice(v: VolumeInfo, l: Lv, o?: CallOptions): Promise<void> {
    const probe = this.o.deviceProbe ?? sysDeviceProbe;
    if (await probe.blockDevice(v.devicePath)) return;
    this.log.info({ volume: v.id }, "volume's LV has no device (inactive): activating it before the export");
    await lvBlockDevice(this.lvm, probe, l, 'data', o?.signal ? { signal: o.signal } : {});
  }

  private async record(
    vg: string,
    lv: string,
    tags: string[],
    list: readonly Publication[],
    o?: CallOptions,
  ): Promise<void> {
    await this.lvm.changeTags(vg, lv, tagChanges(tags, { published: encodePublished(list) }), o);
  }

  private isLocal(v: VolumeInfo, nodeName: string): boolean {
    return v.params.localAttach && nodeName === this.o.nodeName;
  }

  publish(a: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    return this.gate.runShared(() => this.publishNow(a, o));
  }

  private async publishNow(a: PublishArgs, o?: CallOptions): Promise<PublishInfo> {
    // Refused before anything changes, whoever calls: a target made for an initiator that cannot be
    // allowed would stay without an ACL (the host fuzz test saw tgtadm create one for a bad IQN).
    const node = parseNodeId(a.publication.nodeId);
    if (!node)
      throw new InvalidArgument(
        'publication.node_id',
        `"${a.publication.nodeId}" is not a node id of this plugin (<node>:<initiator IQN>)`,
      );
    if (node.iqn !== a.initiatorIqn || node.node !== a.nodeName)
      throw new InvalidArgument(
        'initiator_iqn',
        'initiator_iqn and node_name must be the ones publication.node_id names',
      );
    assertIscsiName('initiator_iqn', a.initiatorIqn);
    if (a.chap) assertChap(a.chap);
    const { v, tags, lv } = await this.volume(a.vg, a.lv, o);
    if (v.state === 'deleting') throw new NotFound(`volume ${v.id} does not exist`);
    checkPublication(v, a.publication);
    if (a.chap && this.target.kind === 'tgt') this.oneCredentialSet(v, a.publication.nodeId, chapFingerprint(a.chap));
    await this.ensureDevice(v, lv, o);
    let info: PublishInfo;
    if (this.isLocal(v, a.nodeName)) {
      info = { kind: 'local', devicePath: v.devicePath };
    } else {
      const iqn = this.iqnOf(a.vg, a.lv);
      await this.target.ensureTarget(
        {
          iqn,
          volumeKey: `${a.vg}/${a.lv}`,
          devicePath: v.devicePath,
          serial: unitSerial(a.vg, a.lv),
          portals: this.o.portals,
          readOnly: exportReadOnly(a.publication),
        },
        o,
      );
      await this.target.allowInitiator(iqn, a.initiatorIqn, a.chap, o);
      info = {
        kind: 'iscsi',
        targetIqn: iqn,
        portals: this.o.portals.map((p) => formatHostPort(p.address, p.port)),
        lun: this.target.lun,
      };
    }
    const publication: Publication = {
      ...a.publication,
      readOnly: exportReadOnly(a.publication),
      ...(a.chap ? { chap: true, chapId: chapFingerprint(a.chap) } : {}),
    };
    const had = v.published.find((p) => p.nodeId === publication.nodeId);
    // recorded again when the credentials changed (another Secret), so reconcile knows which one holds
    if (!had) await this.record(a.vg, a.lv, tags, [...v.published, publication], o);
    else if (had.chapId !== publication.chapId && publication.chap) {
      await this.record(
        a.vg,
        a.lv,
        tags,
        v.published.map((p) =>
          p.nodeId === publication.nodeId ? { ...p, chap: true, chapId: publication.chapId } : p,
        ),
        o,
      );
    }
    return info;
  }

  /**
   * tgt binds CHAP accounts to the target, not to an initiator: every node of a volume logs in with the same
   * credentials, so per-node credentials (agent/chap.ts) cannot serve a second node there. Refused before
   * anything changes, rather than replacing the first node's account under it.
   */
  private oneCredentialSet(v: VolumeInfo, nodeId: string, chapId: string): void {
    const other = v.published.find(
      (p) => p.nodeId !== nodeId && p.chap && p.chapId !== undefined && p.chapId !== chapId,
    );
    if (other)
      throw new FailedPrecondition(
        `volume ${v.id} is published to node ${other.nodeId} with other CHAP credentials, and tgt has one CHAP credential set per target (not per initiator): per-node CHAP serves one node per volume on tgt; use LIO (--target-backend lio) or chapMode shared`,
      );
  }

  /** `nodeId` empty: every node the volume is published to. */
  unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    return this.gate.runShared(() => this.unpublishNow(vg, lv, nodeId, o));
  }

  private async unpublishNow(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void> {
    const { v, tags } = await this.volume(vg, lv, o).catch((e: unknown) => {
      if (e instanceof NotFound) return { v: undefined, tags: [] };
      throw e;
    });
    if (!v) return;
    const iqn = this.iqnOf(vg, lv);
    // A node id the volume was never published to may still hold a stale ACL (crash between steps): clean it too.
    const ids = nodeId ? [nodeId] : v.published.map((p) => p.nodeId);
    const rest = v.published.filter((p) => !ids.includes(p.nodeId));
    // The record goes first, while the node's session is still up: once the ACL is gone the initiator's
    // disk hangs in recovery, and an LVM command that scans devices then (an iSCSI disk on this same host,
    // seen in `all` mode) blocks on it. A crash after the record leaves an export no publication owns,
    // which reconcile() removes.
    if (rest.length !== v.published.length) await this.record(vg, lv, tags, rest, o);
    for (const id of ids) {
      const node = parseNodeId(id);
      if (node && !this.isLocal(v, node.node)) await this.target.denyInitiator(iqn, node.iqn, o);
    }
    const remote = rest.filter((p) => !this.isLocal(v, parseNodeId(p.nodeId)?.node ?? ''));
    if (remote.length === 0) await this.target.removeTarget(iqn, o);
  }

  /** After lvextend: make the LUN report the new size (if the volume is exported). */
  async refreshSize(vg: string, lv: string, o?: CallOptions): Promise<void> {
    if (await this.isExported(vg, lv, o)) await this.target.refreshSize(this.iqnOf(vg, lv), o);
  }

  /** True when the volume's target exists (an exported LV is held open by the target). */
  async isExported(vg: string, lv: string, o?: CallOptions): Promise<boolean> {
    return this.target.hasTarget(this.iqnOf(vg, lv), o);
  }

  /**
   * At start and then every --reconcile-interval: by difference with the
   * live targets, alone (no publish or unpublish runs meanwhile). Targets
   * under our prefix that no published volume owns are removed; targets of
   * volumes that are published but have no live target (a storage-node
   * reboot, a tgtd restart) are re-created with their ACLs. A CHAP export
   * needs its credentials: it is re-created only with the agent-level secret
   * (--chap-secret-dir), otherwise it waits for the attacher's re-publish,
   * which carries the secret (re-creating it without CHAP would let the
   * initiator in unauthenticated). Live targets that match are left alone:
   * no session is ever dropped.
   */
  reconcile(volumes: () => Promise<readonly VolumeInfo[]>): Promise<void> {
    return this.gate.runExclusive(async () => this.reconcileNow(await volumes()));
  }

  private async reconcileNow(volumes: readonly VolumeInfo[]): Promise<void> {
    const live = await this.target.listTargets();
    const owned = new Map<string, VolumeInfo>();
    for (const v of volumes) {
      const remote = v.published.filter((p) => !this.isLocal(v, parseNodeId(p.nodeId)?.node ?? ''));
      if (remote.length > 0) owned.set(this.iqnOf(v.vg, v.lv), v);
    }
    for (const t of live) {
      if (t.iqn.startsWith(`${this.o.iqnPrefix}:`) && !owned.has(t.iqn)) {
        this.log.info({ iqn: t.iqn }, 'removing a target no published volume owns');
        await this.target.removeTarget(t.iqn);
      }
      const v = owned.get(t.iqn);
      if (v && !t.readOnly && v.published.some(exportReadOnly)) {
        // made before reader-only modes were exported read-only: left alone (no live session is dropped), but said
        this.log.warn(
          { iqn: t.iqn, volume: v.id },
          'a reader-only volume is exported read-write; unpublish and publish it again to make it read-only',
        );
      }
    }
    // Backstores a crash left between their creation and the LUN link (ours by alias, linked by no LUN).
    for (const name of await this.target.removeOrphans(this.o.iqnPrefix)) {
      this.log.info({ backstore: name }, 'removed a backstore no target exports');
    }
    let secrets: Record<string, string> | undefined | null = null;
    for (const [iqn, v] of owned) {
      if (live.some((x) => x.iqn === iqn)) continue;
      if (v.published.some((p) => p.chap)) {
        if (secrets === null) secrets = (await this.o.agentSecrets?.()) ?? undefined;
        if (!secrets || !chapFromSecrets(secrets, v.id, 'chap-secret-dir')) {
          this.log.info(
            { iqn, volume: v.id },
            'published with CHAP and no agent-level secret: the export returns with the re-publish',
          );
          continue;
        }
      }
      const remote = v.published.filter((p) => {
        const node = parseNodeId(p.nodeId);
        return node !== undefined && !this.isLocal(v, node.node);
      });
      // A CHAP publication comes back only with the credentials it was made with (shared or per-node, from
      // the agent-level secret): a StorageClass with another Secret than --chap-secret-dir's would otherwise
      // get credentials its node does not have (records from before the fingerprint use the shared ones).
      const allowed: { p: Publication; chap: ChapCredentials | undefined }[] = [];
      for (const p of remote) {
        if (!p.chap) {
          allowed.push({ p, chap: undefined });
          continue;
        }
        const chap = secrets ? this.credentialsOf(secrets, v.id, p) : undefined;
        if (chap) allowed.push({ p, chap });
        else
          this.log.warn(
            { iqn, volume: v.id, node_id: p.nodeId },
            "not re-creating a CHAP publication made with another Secret than the agent-level one (--chap-secret-dir); it returns with the attacher's re-publish",
          );
      }
      if (allowed.length === 0) continue;
      const chap = allowed.some((x) => x.chap);
      this.log.info({ iqn, volume: v.id, chap: Boolean(chap) }, 're-creating the export of a published volume');
      const readOnly = v.published.some(exportReadOnly);
      await this.target.ensureTarget({
        iqn,
        volumeKey: `${v.vg}/${v.lv}`,
        devicePath: v.devicePath,
        serial: unitSerial(v.vg, v.lv),
        portals: this.o.portals,
        readOnly,
      });
      for (const { p, chap: credentials } of allowed) {
        const node = parseNodeId(p.nodeId);
        if (node) await this.target.allowInitiator(iqn, node.iqn, credentials);
      }
    }
  }

  /**
   * The credentials a CHAP publication was made with, from the agent-level secret: the shared ones or the
   * node's per-node ones, whichever has the recorded fingerprint; the shared ones for a record without one.
   * undefined when neither matches (another Secret).
   */
  private credentialsOf(
    secrets: Record<string, string>,
    volumeId: string,
    p: Publication,
  ): ChapCredentials | undefined {
    const shared = chapFromSecrets(secrets, volumeId, 'chap-secret-dir');
    if (!shared || p.chapId === undefined || chapFingerprint(shared) === p.chapId) return shared;
    const node = parseNodeId(p.nodeId);
    if (!node) return undefined;
    const perNode = chapFromSecrets(nodeSecrets(secrets, node.node, 'chap-secret-dir'), volumeId, 'chap-secret-dir');
    return perNode && chapFingerprint(perNode) === p.chapId ? perNode : undefined;
  }
}

/**
 * The storage agent as the controller sees it. The in-process implementation
 * (src/agent/service.ts, LocalAgent) is used by `all` mode; a gRPC client with the same
 * interface talks to remote agents (packaging issue).
 */
import type { ChapCredentials } from './chap.js';
import type { LvmType, SnapshotParams, VolumeParams } from './params.js';
import type { SizeRange } from './sizing.js';

/** Where a new volume's data comes from. */
export type SourceRef = { kind: 'snapshot'; id: string } | { kind: 'volume'; id: string };

export interface CreateVolumeArgs {
  /** The CSI name (idempotency key). */
  name: string;
  /** The CSI capacity_range; the agent rounds to its extents and checks it against an existing volume. */
  range: SizeRange;
  /** The size when the range gives none. */
  defaultBytes: number;
  params: VolumeParams;
  source: SourceRef | undefined;
}

export type VolumeState = 'ready' | 'copying' | 'deleting';

export interface VolumeInfo {
  id: string;
  name: string;
  vg: string;
  lv: string;
  sizeBytes: number;
  params: VolumeParams;
  source: SourceRef | undefined;
  createdAt: Date;
  state: VolumeState;
  /** LV is active (has a device node). */
  active: boolean;
  /** A PV under the LV is missing. */
  partial: boolean;
  /** /dev/<vg>/<lv> */
  devicePath: string;
  /** Thick COW snapshots that still depend on this LV. */
  snapshotCount: number;
  /** The nodes the volume is published to (from its LV tag). */
  published: Publication[];
}

/** One ControllerPublishVolume that holds: kept in the LV's `published` tag. */
export interface Publication {
  /** The CO's node id ("<node>:<initiator IQN>"). */
  nodeId: string;
  readOnly: boolean;
  /** The access mode it was published with. */
  mode: string;
  /** Published with CHAP (the credentials themselves are never stored). */
  chap?: boolean;
  /**
   * Fingerprint of the CHAP credentials it was published with (chapFingerprint), so reconcile can
   * tell whether the agent-level secret is the Secret this publication used. Agent-side only.
   */
  chapId?: string;
}

export interface PublishArgs {
  vg: string;
  lv: string;
  /** nodeId is the CO's node id "<node name>:<initiator IQN>" (src/agent/node-id.ts). */
  publication: Publication;
  initiatorIqn: string;
  /** The node's name, to decide on local attach. */
  nodeName: string;
  chap: ChapCredentials | undefined;
}

/** What the node needs to attach: never a secret. */
export type PublishInfo =
  { kind: 'iscsi'; targetIqn: string; portals: string[]; lun: number } | { kind: 'local'; devicePath: string };

export interface SnapshotInfo {
  id: string;
  name: string;
  vg: string;
  lv: string;
  sourceVolumeId: string;
  /** Size of the origin at snapshot time (what a restore needs at least). */
  sizeBytes: number;
  createdAt: Date;
  readyToUse: boolean;
  lvmType: LvmType;
}

export interface PoolStatus {
  vg: string;
  vgSizeBytes: number;
  vgFreeBytes: number;
  extentBytes: number;
  pvCount: number;
  thinPool:
    | {
        name: string;
        sizeBytes: number;
        dataPercent: number;
        metadataPercent: number;
        /** Sum of the virtual sizes of the thin LVs in the pool. */
        provisionedBytes: number;
        zeroing: boolean;
        /**
         * "ok", or what lv_attr's health character says is wrong with the pool:
         * "failed", "out-of-data-space", "metadata-read-only" (also when lv_attr
         * shows the pool read-only), "error", "partial".
         */
        health: string;
      }
    | undefined;
}

export interface CapacityQuery {
  vg: string;
  lvmType: LvmType;
  mirrors: number;
  stripes: number;
}

export interface Capacity {
  /** What can still be provisioned under the configured limits. */
  availableBytes: number;
  /** The largest single volume that fits now. */
  maximumVolumeBytes: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** A page of ListVolumes, made on the storage node so only the page travels. */
export interface ListVolumesOptions extends CallOptions {
  /** Only volumes whose id sorts after this one (UTF-16 code units, as `<` orders). */
  after?: string;
  /** At most this many, sorted by id; 0 or absent = all, in no particular order. */
  limit?: number;
  /** Only volumes in state `ready`. */
  readyOnly?: boolean;
}

export interface StorageAgent {
  /** Short storage-node id, the first part of every id this agent hands out. */
  readonly nodeId: string;
  /** The storage node's name. */
  readonly nodeName: string;
  volumeGroups(): readonly string[];
  hasThinPool(vg: string): boolean;

  /**
   * The whole CreateVolume of one storage node from one read of its VG:
   * idempotency (an existing volume of that name is returned, or
   * ALREADY_EXISTS when it differs in size range, parameters or source),
   * the source's checks, rounding, the room check, then the one lvcreate.
   * A volume still being filled answers ABORTED (Busy) with its progress.
   */
  createVolume(args: CreateVolumeArgs, o?: CallOptions): Promise<VolumeInfo>;
  /** By the CSI name; undefined when no such volume. */
  findVolumeByName(name: string, o?: CallOptions): Promise<VolumeInfo | undefined>;
  getVolume(vg: string, lv: string, o?: CallOptions): Promise<VolumeInfo | undefined>;
  listVolumes(o?: ListVolumesOptions): Promise<VolumeInfo[]>;
  /** Gone already: fine. Published or exported: FAILED_PRECONDITION. */
  deleteVolume(vg: string, lv: string, o?: CallOptions): Promise<void>;
  /** Grows to the range (rounded to extents); a volume already large enough is returned as it is. */
  expandVolume(vg: string, lv: string, range: SizeRange, o?: CallOptions): Promise<VolumeInfo>;

  /** Idempotent by name: the existing snapshot, or ALREADY_EXISTS when it was taken of another volume. */
  createSnapshot(
    name: string,
    sourceVg: string,
    sourceLv: string,
    params: SnapshotParams,
    o?: CallOptions,
  ): Promise<SnapshotInfo>;
  findSnapshotByName(name: string, o?: CallOptions): Promise<SnapshotInfo | undefined>;
  getSnapshot(vg: string, lv: string, o?: CallOptions): Promise<SnapshotInfo | undefined>;
  listSnapshots(o?: CallOptions): Promise<SnapshotInfo[]>;
  deleteSnapshot(vg: string, lv: string, o?: CallOptions): Promise<void>;

  /**
   * Exports the volume to one more initiator (idempotent) and records the
   * publication, after the access rules (src/agent/access.ts): a ready
   * volume, one node for single-node modes, never read-write next to read-only.
   */
  publish(args: PublishArgs, o?: CallOptions): Promise<PublishInfo>;
  /**
   * Ends that node's access (ACL removed, live sessions closed) and forgets the
   * publication; every node's when nodeId is empty. The target goes with its last ACL.
   */
  unpublish(vg: string, lv: string, nodeId: string, o?: CallOptions): Promise<void>;

  poolStatus(vg: string, o?: CallOptions): Promise<PoolStatus>;
  capacity(q: CapacityQuery, o?: CallOptions): Promise<Capacity>;
}

/** The controller's storage agents: one in-process agent (`all` mode) or the remote ones (src/server/agent-directory.ts). */
export interface AgentDirectory {
  all(): readonly StorageAgent[];
  /**
   * The agent of a storage node by its short id. In-process: undefined when
   * the id is not this node's. Remote: throws Unavailable when no agent with
   * that id is known, since its volumes may well exist out of reach.
   */
  byNodeId(nodeId: string): StorageAgent | undefined;
  /** Why an agent cannot be called now (unreachable, never connected), undefined when it can. */
  unavailable(agent: StorageAgent): string | undefined;
}

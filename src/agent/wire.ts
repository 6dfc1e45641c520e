/**
 * The storage agent's domain objects (types.ts) to and from the messages of
 * proto/agent.proto. Pure functions; int64 fields travel as decimal strings.
 */
import type { AgentInfo__Output } from '../gen/csilvmiscsi/agent/v1/AgentInfo.js';
import type {
  ChapCredentials as WireChap,
  ChapCredentials__Output as WireChapOut,
} from '../gen/csilvmiscsi/agent/v1/ChapCredentials.js';
import type {
  PoolStatus as WirePool,
  PoolStatus__Output as WirePoolOut,
} from '../gen/csilvmiscsi/agent/v1/PoolStatus.js';
import type {
  Publication as WirePublication,
  Publication__Output as WirePublicationOut,
} from '../gen/csilvmiscsi/agent/v1/Publication.js';
import type {
  PublishInfo as WirePublishInfo,
  PublishInfo__Output as WirePublishInfoOut,
} from '../gen/csilvmiscsi/agent/v1/PublishInfo.js';
import type {
  Snapshot as WireSnapshot,
  Snapshot__Output as WireSnapshotOut,
} from '../gen/csilvmiscsi/agent/v1/Snapshot.js';
import type {
  SourceRef as WireSource,
  SourceRef__Output as WireSourceOut,
} from '../gen/csilvmiscsi/agent/v1/SourceRef.js';
import type { Volume as WireVolume, Volume__Output as WireVolumeOut } from '../gen/csilvmiscsi/agent/v1/Volume.js';
import type {
  VolumeParams as WireParams,
  VolumeParams__Output as WireParamsOut,
} from '../gen/csilvmiscsi/agent/v1/VolumeParams.js';
import { Internal, InvalidArgument } from '../errors.js';
import type { ChapCredentials } from './chap.js';
import type { LvmType, VolumeClear, VolumeParams } from './params.js';
import type {
  PoolStatus,
  Publication,
  PublishInfo,
  SnapshotInfo,
  SourceRef,
  VolumeInfo,
  VolumeState,
} from './types.js';

/**
 * Who sent the message being read: an agent's answer (a peer that sent
 * nonsense: Internal) or a caller's request to the agent API (a bad field:
 * InvalidArgument naming it).
 */
export type Sender = 'agent' | 'caller';

function bad(from: Sender, field: string, message: string): Internal | InvalidArgument {
  return from === 'caller' ? new InvalidArgument(field, message) : new Internal(`agent sent ${field} ${message}`);
}

/** An int64 from the wire (a decimal string) as a number; sizes stay far below 2^53. */
export function num(v: string | number | undefined | null, from: Sender = 'agent', field = 'a number'): number {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n)) throw bad(from, field, `out of range: ${String(v)}`);
  return n;
}

function oneOf<T extends string>(from: Sender, field: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw bad(from, field, `"${v}", expected one of ${allowed.join(', ')}`);
  return v as T;
}

export function paramsToWire(p: VolumeParams): WireParams {
  return {
    lvm_type: p.lvmType,
    volume_group: p.volumeGroup,
    mirrors: p.mirrors,
    stripes: p.stripes,
    stripe_size_kib: p.stripeSizeKiB ?? 0,
    volume_clear: p.volumeClear,
    fs_type: p.fsType ?? '',
    local_attach: p.localAttach,
  };
}

export function paramsFromWire(w: WireParamsOut | null, from: Sender = 'agent'): VolumeParams {
  if (!w) throw bad(from, 'params', 'missing: a volume needs its parameters');
  const field = (f: string) => (from === 'caller' ? `params.${f}` : f);
  return {
    lvmType: oneOf<LvmType>(from, field('lvm_type'), w.lvm_type, ['thin', 'thick']),
    volumeGroup: w.volume_group,
    mirrors: w.mirrors,
    stripes: w.stripes,
    stripeSizeKiB: w.stripe_size_kib || undefined,
    volumeClear: oneOf<VolumeClear>(from, field('volume_clear'), w.volume_clear, ['none', 'zero']),
    fsType: w.fs_type || undefined,
    localAttach: w.local_attach,
  };
}

export function sourceToWire(s: SourceRef | undefined): WireSource | null {
  return s ? { kind: s.kind, id: s.id } : null;
}

export function sourceFromWire(s: WireSourceOut | null, from: Sender = 'agent'): SourceRef | undefined {
  return s ? { kind: oneOf(from, 'source.kind', s.kind, ['snapshot', 'volume'] as const), id: s.id } : undefined;
}

export function publicationToWire(p: Publication): WirePublication {
  return { node_id: p.nodeId, read_only: p.readOnly, mode: p.mode, chap: Boolean(p.chap) };
}

export function publicationFromWire(p: WirePublicationOut | null): Publication {
  if (!p) throw new Internal('agent sent an empty publication');
  return { nodeId: p.node_id, readOnly: p.read_only, mode: p.mode, ...(p.chap ? { chap: true } : {}) };
}

export function volumeToWire(v: VolumeInfo): WireVolume {
  return {
    id: v.id,
    name: v.name,
    vg: v.vg,
    lv: v.lv,
    size_bytes: String(v.sizeBytes),
    params: paramsToWire(v.params),
    source: sourceToWire(v.source),
    created_at_ms: String(v.createdAt.getTime()),
    state: v.state,
    active: v.active,
    partial: v.partial,
    device_path: v.devicePath,
    snapshot_count: v.snapshotCount,
    published: v.published.map(publicationToWire),
  };
}

export function volumeFromWire(w: WireVolumeOut): VolumeInfo {
  return {
    id: w.id,
    name: w.name,
    vg: w.vg,
    lv: w.lv,
    sizeBytes: num(w.size_bytes),
    params: paramsFromWire(w.params),
    source: sourceFromWire(w.source),
    createdAt: new Date(num(w.created_at_ms)),
    state: oneOf<VolumeState>('agent', 'state', w.state, ['ready', 'copying', 'deleting']),
    active: w.active,
    partial: w.partial,
    devicePath: w.device_path,
    snapshotCount: w.snapshot_count,
    published: w.published.map(publicationFromWire),
  };
}

export function snapshotToWire(s: SnapshotInfo): WireSnapshot {
  return {
    id: s.id,
    name: s.name,
    vg: s.vg,
    lv: s.lv,
    source_volume_id: s.sourceVolumeId,
    size_bytes: String(s.sizeBytes),
    created_at_ms: String(s.createdAt.getTime()),
    ready_to_use: s.readyToUse,
    lvm_type: s.lvmType,
  };
}

export function snapshotFromWire(w: WireSnapshotOut): SnapshotInfo {
  return {
    id: w.id,
    name: w.name,
    vg: w.vg,
    lv: w.lv,
    sourceVolumeId: w.source_volume_id,
    sizeBytes: num(w.size_bytes),
    createdAt: new Date(num(w.created_at_ms)),
    readyToUse: w.ready_to_use,
    lvmType: oneOf<LvmType>('agent', 'lvm_type', w.lvm_type, ['thin', 'thick']),
  };
}

export function chapToWire(c: ChapCredentials | undefined): WireChap | null {
  return c
    ? {
        userid: c.userid,
        password: c.password,
        mutual_userid: c.mutualUserid ?? '',
        mutual_password: c.mutualPassword ?? '',
      }
    : null;
}

export function chapFromWire(w: WireChapOut | null): ChapCredentials | undefined {
  if (!w) return undefined;
  return {
    userid: w.userid,
    password: w.password,
    ...(w.mutual_userid ? { mutualUserid: w.mutual_userid, mutualPassword: w.mutual_password } : {}),
  };
}

export function publishInfoToWire(i: PublishInfo): WirePublishInfo {
  return i.kind === 'iscsi'
    ? { kind: 'iscsi', target_iqn: i.targetIqn, portals: i.portals, lun: i.lun, device_path: '' }
    : { kind: 'local', target_iqn: '', portals: [], lun: 0, device_path: i.devicePath };
}

export function publishInfoFromWire(w: WirePublishInfoOut): PublishInfo {
  if (w.kind === 'local') return { kind: 'local', devicePath: w.device_path };
  if (w.kind === 'iscsi') return { kind: 'iscsi', targetIqn: w.target_iqn, portals: w.portals, lun: w.lun };
  throw new Internal(`agent sent publish kind "${w.kind}"`);
}

export function poolToWire(p: PoolStatus): WirePool {
  const t = p.thinPool;
  return {
    vg: p.vg,
    vg_size_bytes: String(p.vgSizeBytes),
    vg_free_bytes: String(p.vgFreeBytes),
    extent_bytes: String(p.extentBytes),
    pv_count: p.pvCount,
    thin_pool: t
      ? {
          name: t.name,
          size_bytes: String(t.sizeBytes),
          data_percent: t.dataPercent,
          metadata_percent: t.metadataPercent,
          provisioned_bytes: String(t.provisionedBytes),
          zeroing: t.zeroing,
          health: t.health,
        }
      : null,
  };
}

export function poolFromWire(w: WirePoolOut): PoolStatus {
  const t = w.thin_pool;
  return {
    vg: w.vg,
    vgSizeBytes: num(w.vg_size_bytes),
    vgFreeBytes: num(w.vg_free_bytes),
    extentBytes: num(w.extent_bytes),
    pvCount: w.pv_count,
    thinPool: t
      ? {
          name: t.name,
          sizeBytes: num(t.size_bytes),
          dataPercent: t.data_percent,
          metadataPercent: t.metadata_percent,
          provisionedBytes: num(t.provisioned_bytes),
          zeroing: t.zeroing,
          health: t.health || 'ok',
        }
      : undefined,
  };
}

export interface AgentIdentity {
  nodeName: string;
  nodeId: string;
  volumeGroups: string[];
  thinPoolVgs: string[];
}

export function infoFromWire(w: AgentInfo__Output): AgentIdentity {
  return { nodeName: w.node_name, nodeId: w.node_id, volumeGroups: w.volume_groups, thinPoolVgs: w.thin_pool_vgs };
}

/**
 * CSI Node service: attach over iSCSI (or use the LV directly for local
 * attach), format a blank device, mount, bind into pods, expand online,
 * report stats and health. Every step checks before it acts, so each RPC can
 * be repeated.
 */
import { rmdir } from 'node:fs/promises';
import { sleep } from '../abort.js';
import { FailedPrecondition, InvalidArgument, NotFound } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Logger } from '../log.js';
import type { NodeHandlers } from '../gen/csi/v1/Node.js';
import type { NodeExpandVolumeRequest__Output } from '../gen/csi/v1/NodeExpandVolumeRequest.js';
import type { NodeExpandVolumeResponse } from '../gen/csi/v1/NodeExpandVolumeResponse.js';
import type { NodeGetVolumeStatsRequest__Output } from '../gen/csi/v1/NodeGetVolumeStatsRequest.js';
import type { NodeGetVolumeStatsResponse } from '../gen/csi/v1/NodeGetVolumeStatsResponse.js';
import type { NodePublishVolumeRequest__Output } from '../gen/csi/v1/NodePublishVolumeRequest.js';
import type { NodeUnpublishVolumeRequest__Output } from '../gen/csi/v1/NodeUnpublishVolumeRequest.js';
import type { NodeUnstageVolumeRequest__Output } from '../gen/csi/v1/NodeUnstageVolumeRequest.js';
import type { NodeStageVolumeRequest__Output } from '../gen/csi/v1/NodeStageVolumeRequest.js';
import type { VolumeCapability__Output } from '../gen/csi/v1/VolumeCapability.js';
import type { VolumeCondition } from '../gen/csi/v1/VolumeCondition.js';
import { BlockProbe } from '../host/blkid.js';
import { mkfs, parseMkfsArgs } from '../host/mkfs.js';
import { Mounter } from '../host/mount.js';
import { assertSafePath, ensureDir, ensureFile, pathExists, pathKind, removeTarget } from '../host/paths.js';
import { readOnlyMountOptions } from '../host/readonly.js';
import { deviceSize, fsSize, growfs } from '../host/resize.js';
import { fsStats } from '../host/stats.js';
import { withXfsNoUuid } from '../host/xfs-uuid.js';
import { assertDiskOfTarget } from '../iscsi-initiator/attachment.js';
import { waitForDevice } from '../iscsi-initiator/device.js';
import type { Iscsiadm } from '../iscsi-initiator/iscsiadm.js';
import { Multipath, multipathProblem } from '../iscsi-initiator/multipath.js';
import { byPathDevice } from '../iscsi-initiator/portal.js';
import { tuneIscsiDisk } from '../iscsi-initiator/queue.js';
import { scsiDiskIdentity, sessionStatesTo } from '../iscsi-initiator/sysfs-scsi.js';
import { unary, type AdapterDeps } from '../server/adapter.js';
import { stageChap } from './node-chap.js';
import { assertKubeletPaths, withPathErrors, type RequestPaths } from './node-paths.js';
import type { StageGate } from './node-orphans.js';
import { withStageRollback } from './node-stage-rollback.js';
import { unstageVolume } from './node-unstage.js';
import { locateBlockMap } from './node-block-map.js';
import {
  locate,
  PublishIndex,
  readState,
  writeState,
  type Located,
  type PublishRecord,
  type StageState,
} from './node-state.js';
import type { Segment } from './topology.js';
import { requireField, requireSupportedCapabilities } from './validate.js';

export interface NodeOptions {
  /** What NodeGetInfo answers: the node name and its initiator name (node-id.ts), not the bare node name. */
  csiNodeId: string;
  /** The driver's topology segment (topology.ts), reported by NodeGetInfo. */
  topology: Segment;
  maxVolumesPerNode: number;
  runner: CommandRunner;
  iscsi: Iscsiadm;
  deviceTimeoutMs: number;
  /** Shared with the orphan clean-up at start (node-orphans.ts): stage and unstage answer ABORTED while it runs. */
  gate?: StageGate;
  /** Where NodePublishVolume keeps its target path -> staging path index (node-state.ts). */
  publishIndexDir: string;
  /** This node's name (--node-id): a per-node CHAP key file must name it. */
  nodeName: string;
  /** --chap-node-key-file: this node's own CHAP secrets for volumes published with per-node CHAP. */
  chapNodeKeyFile: string | undefined;
  /** --kubelet-dir and --restrict-paths-to-kubelet-dir: request paths only where kubelet puts them (node-paths.ts). */
  kubeletPaths?: { kubeletDir: string };
}

/**
 * Several target paths on this node are fine for SINGLE_NODE_WRITER (kubelet
 * publishes a ReadWriteOnce volume once per pod on the node, and sends
 * SINGLE_NODE_WRITER for ReadWriteOncePod too, since this driver does not
 * report SINGLE_NODE_MULTI_WRITER); SINGLE_NODE_SINGLE_WRITER allows one.
 */
const ONE_TARGET = new Set(['SINGLE_NODE_SINGLE_WRITER']);
/** Staged read-only whatever the CO's readonly flag; never formatted. */
const READER_ONLY = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY']);

/** volume_path of stats and expand: required and well-formed when absolute; a relative one is reported NOT_FOUND by the handler. */
function checkVolumePath(path: string): void {
  requireField('volume_path', path);
  if (path.startsWith('/')) assertSafePath('volume_path', path);
}

async function requireExisting(path: string): Promise<void> {
  if (!path.startsWith('/') || !(await pathExists(path))) throw new NotFound(`volume path ${path} does not exist`);
}

function capability(field: string, cap: VolumeCapability__Output | null | undefined): VolumeCapability__Output {
  if (!cap) throw new InvalidArgument(field, 'is required');
  return requireSupportedCapabilities(field, [cap])[0] as VolumeCapability__Output;
}

/** What the handlers share: the options and the host tools built from its runner. */
interface NodeContext {
  o: NodeOptions;
  log: Logger;
  mounter: Mounter;
  probe: BlockProbe;
  multipath: Multipath;
  index: PublishIndex;
}

async function attach(
  n: NodeContext,
  r: { volume_id: string; publish_context: Record<string, string>; secrets: Record<string, string> },
  signal: AbortSignal,
  log: Logger,
): Promise<Omit<StageState, 'block' | 'targets' | 'fsType'>> {
  const ctx = r.publish_context;
  if (ctx['attach'] === 'local') {
    const device = requireField('publish_context.devicePath', ctx['devicePath']);
    if (!(await pathExists(device))) throw new NotFound(`local device ${device} does not exist on this node`);
    return { volumeId: r.volume_id, attach: 'local', portals: [], lun: 0, device, disks: [] };
  }
  const iqn = requireField('publish_context.targetIqn', ctx['targetIqn']);
  const portals = requireField('publish_context.portals', ctx['portals'])
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const lun = Number(requireField('publish_context.lun', ctx['lun']));
  if (!Number.isInteger(lun) || lun < 0) throw new InvalidArgument('publish_context.lun', 'must be a LUN number');
  const chap = await stageChap(n.o, r);
  if (portals.length > 1) {
    const problem = await multipathProblem(n.o.runner, { signal });
    if (problem)
      throw new FailedPrecondition(
        `volume ${r.volume_id} has ${portals.length} portals and needs dm-multipath: ${problem}`,
      );
  }
  const disks: string[] = [];
  const wwids: string[] = [];
  for (const portal of portals) {
    await n.o.iscsi.createNode({ iqn, portal, ...(chap ? { chap } : {}) }, { signal });
    await n.o.iscsi.login(iqn, portal, { signal });
    const name = (await waitForDevice(byPathDevice(portal, iqn, lun), n.o.deviceTimeoutMs, signal)).name;
    // a stale by-path link must not lead mkfs to another disk: the disk must hang under a session to this target
    await assertDiskOfTarget(name, iqn, { lun });
    // scheduler none for a network disk (src/iscsi-initiator/queue.ts); never fatal
    const tuned = await tuneIscsiDisk(name);
    if (tuned.changed.length > 0) log.info({ disk: name, set: tuned.changed }, 'iSCSI disk queue tuned');
    if (tuned.failed.length > 0)
      log.warn({ disk: name, failed: tuned.failed }, 'iSCSI disk queue settings not applied: the kernel defaults stay');
    disks.push(name);
    const wwid = (await scsiDiskIdentity(name))?.wwid;
    if (wwid && !wwids.includes(wwid)) wwids.push(wwid);
  }
  let device = `/dev/${disks[0]}`;
  let multipathMap: string | undefined;
  if (disks.length > 1) {
    // multipathd assembles the map from the udev events of the new paths: poll, bounded like the device wait.
    const until = Date.now() + n.o.deviceTimeoutMs;
    let map = await n.multipath.mapOf(disks);
    while (!map && Date.now() < until) {
      await sleep(250, signal);
      map = await n.multipath.mapOf(disks);
    }
    if (!map)
      throw new FailedPrecondition(
        `no dm-multipath map formed over ${disks.join(', ')} within ${Math.round(n.o.deviceTimeoutMs / 1000)} s: is this WWID blacklisted in multipathd's configuration?`,
      );
    // the map exists in sysfs before udev makes its /dev/mapper link (seen in the VM tier: wipefs found no device)
    await waitForDevice(map.devicePath, Math.max(until - Date.now(), 5_000), signal);
    device = map.devicePath;
    multipathMap = map.name;
  }
  return {
    volumeId: r.volume_id,
    attach: 'iscsi',
    targetIqn: iqn,
    portals,
    lun,
    device,
    disks,
    wwids,
    ...(multipathMap ? { multipathMap } : {}),
  };
}

/** `mountPath` is the staging mount (the publish targets may be read-only binds on purpose). */
async function condition(n: NodeContext, s: StageState, mountPath: string): Promise<VolumeCondition> {
  if (!(await pathExists(s.device))) return { abnormal: true, message: `device ${s.device} is gone` };
  if (s.attach === 'iscsi' && s.targetIqn) {
    // from sysfs: kubelet asks every volume's stats each minute, and an iscsiadm run per ask would queue
    // behind (and hold up) the logins and logouts of stages under iscsiadm's lock
    const sessions = await sessionStatesTo(s.targetIqn);
    if (sessions.length === 0) return { abnormal: true, message: `no iSCSI session to ${s.targetIqn}` };
    const down = sessions.find((x) => x.state && !/LOGGED.IN/i.test(x.state));
    if (down) return { abnormal: true, message: `iSCSI session to ${s.targetIqn} is ${down.state}` };
  }
  if (!s.block && !s.readOnly && (await n.mounter.isReadOnly(mountPath)) === true) {
    return { abnormal: true, message: `file system at ${mountPath} went read-only (I/O errors?)` };
  }
  return { abnormal: false, message: 'volume is healthy' };
}

async function stage(
  n: NodeContext,
  r: NodeStageVolumeRequest__Output,
  signal: AbortSignal,
  log: Logger,
): Promise<Record<string, never>> {
  const cap = capability('volume_capability', r.volume_capability);
  const block = cap.access_type === 'block';
  const readOnly = READER_ONLY.has(cap.access_mode?.mode ?? '');
  const fsType = block ? undefined : cap.mount?.fs_type || r.volume_context['fsType'] || 'ext4';
  const mkfsArgs = r.volume_context['mkfsOptions'] ? parseMkfsArgs(r.volume_context['mkfsOptions']) : [];
  await ensureDir(r.staging_target_path);
  const prior = await readState(r.staging_target_path);
  if (prior && prior.volumeId !== r.volume_id)
    throw new FailedPrecondition(`staging path ${r.staging_target_path} holds volume ${prior.volumeId}`);
  const attached = await attach(n, r, signal, log);
  const state: StageState = {
    ...attached,
    block,
    ...(fsType ? { fsType } : {}),
    ...(readOnly ? { readOnly } : {}),
    targets: prior?.targets ?? [],
  };
  await writeState(r.staging_target_path, state);
  if (block || !fsType) return {};
  // Both read-only probes at once: blkid names the file system, wipefs sees every signature (blank = neither finds anything).
  const [probed, noSignatures] = await Promise.all([n.probe.probe(state.device), n.probe.noSignatures(state.device)]);
  const found = probed?.type;
  const formatting = !found;
  if (!found) {
    if (readOnly)
      throw new FailedPrecondition(
        `volume ${r.volume_id} holds no file system and is staged through ${cap.access_mode?.mode}: a reader-only volume is never formatted (stage it once through a writer mode to format it)`,
      );
    if (probed || !noSignatures)
      throw new FailedPrecondition(
        `device ${state.device} is not blank (partition table or unknown signature); refusing to format it`,
      );
    await mkfs(n.o.runner, fsType, state.device, { extraArgs: mkfsArgs, signal });
  } else if (found !== fsType) {
    throw new FailedPrecondition(
      `volume ${r.volume_id} holds a ${found} file system, not ${fsType}; it is never reformatted`,
    );
  }
  await ensureDir(r.staging_target_path);
  const options = withXfsNoUuid(fsType, cap.mount?.mount_flags ?? []);
  await n.mounter.mount(
    state.device,
    r.staging_target_path,
    fsType,
    readOnly ? readOnlyMountOptions(fsType, options) : options,
    { signal },
  );
  // A file system made just now spans its device; a restore into a larger volume does not.
  if (readOnly || formatting) return {};
  const dev = await deviceSize(n.o.runner, state.device);
  if ((await fsSize(n.o.runner, fsType, fsType === 'xfs' ? r.staging_target_path : state.device)) < dev - 1024 * 1024) {
    await growfs(n.o.runner, fsType, state.device, r.staging_target_path, { signal });
  }
  return {};
}

// ---------------------------------------------------------------- validation (before any lock)

function validateStage(r: NodeStageVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  assertSafePath('staging_target_path', r.staging_target_path);
  capability('volume_capability', r.volume_capability);
}

function validateUnstage(r: NodeUnstageVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  assertSafePath('staging_target_path', r.staging_target_path);
}

function validatePublish(r: NodePublishVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  assertSafePath('staging_target_path', r.staging_target_path);
  assertSafePath('target_path', r.target_path);
  if (r.target_path === r.staging_target_path)
    throw new InvalidArgument('target_path', `${JSON.stringify(r.target_path)} is the staging_target_path`);
  capability('volume_capability', r.volume_capability);
}

function validateUnpublish(r: NodeUnpublishVolumeRequest__Output): void {
  requireField('volume_id', r.volume_id);
  assertSafePath('target_path', r.target_path);
}

/** NodeGetVolumeStats and NodeExpandVolume. */
function validateVolumePath<R extends { volume_id: string; volume_path: string; staging_target_path: string }>(
  r: R,
): void {
  requireField('volume_id', r.volume_id);
  checkVolumePath(r.volume_path);
  if (r.staging_target_path) assertSafePath('staging_target_path', r.staging_target_path);
}

const volumePaths = (r: { volume_path: string; staging_target_path: string }) => ({
  volume_path: r.volume_path,
  ...(r.staging_target_path ? { staging_target_path: r.staging_target_path } : {}),
});

// ---------------------------------------------------------------- handlers

async function stageVolume(
  n: NodeContext,
  r: NodeStageVolumeRequest__Output,
  signal: AbortSignal,
  log: Logger,
): Promise<Record<string, never>> {
  const leave = n.o.gate?.enter(r.publish_context['targetIqn']);
  // a refused stage leaves no directory behind that it made itself (the rollback has unmounted by then)
  const made = !(await pathExists(r.staging_target_path));
  try {
    return await withStageRollback(
      { runner: n.o.runner, iscsi: n.o.iscsi, multipath: n.multipath, mounter: n.mounter, log: n.log },
      r,
      () => stage(n, r, signal, log),
    );
  } catch (e) {
    if (made) await rmdir(r.staging_target_path).catch(() => undefined);
    throw e;
  } finally {
    leave?.();
  }
}

async function unstage(n: NodeContext, r: NodeUnstageVolumeRequest__Output): Promise<Record<string, never>> {
  const leave = n.o.gate?.enter();
  try {
    await unstageVolume(
      { runner: n.o.runner, iscsi: n.o.iscsi, multipath: n.multipath, mounter: n.mounter },
      r.volume_id,
      r.staging_target_path,
    );
    return {};
  } finally {
    leave?.();
  }
}

async function publishVolume(n: NodeContext, r: NodePublishVolumeRequest__Output): Promise<Record<string, never>> {
  const cap = capability('volume_capability', r.volume_capability);
  const s = await readState(r.staging_target_path);
  if (!s || s.volumeId !== r.volume_id)
    throw new FailedPrecondition(`volume ${r.volume_id} is not staged at ${r.staging_target_path}`);
  const staged = await readState(r.target_path);
  if (staged)
    throw new FailedPrecondition(`target path ${r.target_path} is the staging path of volume ${staged.volumeId}`);
  const mode = cap.access_mode?.mode ?? '';
  // Targets recorded but no longer mounted (unpublished while an older version ran, lost to a reboot) do not count.
  const others: string[] = [];
  for (const t of s.targets) if (t !== r.target_path && (await n.mounter.isMountPoint(t))) others.push(t);
  if (ONE_TARGET.has(mode) && others.length > 0) {
    throw new FailedPrecondition(
      `volume ${r.volume_id} is already published at ${others[0]} and ${mode} allows one target path`,
    );
  }
  const readOnly = r.readonly || READER_ONLY.has(mode) || s.readOnly === true;
  // Recorded before the target is made: an unpublish after a crash halfway removes what was made. A refused
  // publish takes back the record and the target it made itself.
  const recorded = await n.index.lookup(r.target_path);
  const made = (await pathKind(r.target_path)) === 'missing';
  await n.index.record({ volumeId: r.volume_id, targetPath: r.target_path, stagingPath: r.staging_target_path });
  try {
    if (s.block) {
      await ensureFile(r.target_path);
      await n.mounter.bindDevice(s.device, r.target_path, readOnly);
    } else {
      await ensureDir(r.target_path);
      await n.mounter.bindMount(r.staging_target_path, r.target_path, readOnly);
    }
  } catch (e) {
    if (made && !(await n.mounter.isMountPoint(r.target_path)))
      await removeTarget(r.target_path).catch(() => undefined);
    if (!recorded) await n.index.remove(r.target_path);
    throw e;
  }
  const targets = [...others, r.target_path];
  if (targets.join('\0') !== s.targets.join('\0')) await writeState(r.staging_target_path, { ...s, targets });
  return {};
}

/**
 * What is mounted at a target path is unmounted only when it is this volume's publish: the stage state
 * its record names lists the target (the bind was made), or the mount is the file system of a staging
 * path holding this volume (a publish made before records were written, or whose record was lost).
 * Anything else (a staging path itself, another driver's volume, /sys/kernel/config, /dev) is not this
 * plugin's to unmount: FailedPrecondition, nothing touched.
 */
async function assertOwnMount(
  n: NodeContext,
  volumeId: string,
  target: string,
  rec: PublishRecord | undefined,
): Promise<void> {
  const cur = await n.mounter.mounts.mountAt(target);
  if (!cur || (await readState(target))) {
    if (cur)
      throw new FailedPrecondition(`target path ${target} is a staging path, not a publish of volume ${volumeId}`);
    return;
  }
  const s = rec ? await readState(rec.stagingPath) : undefined;
  if (s && s.volumeId === volumeId && s.targets.includes(target)) return;
  for (const m of await n.mounter.mounts.all()) {
    if (m.target === cur.target || m.majMin !== cur.majMin || m.fsroot !== cur.fsroot) continue;
    if ((await readState(m.target))?.volumeId === volumeId) return;
  }
  throw new FailedPrecondition(
    `target path ${target} has ${cur.source} (${cur.fstype}) mounted, which is not a publish of volume ${volumeId} by this plugin; nothing unmounted`,
  );
}

async function unpublishVolume(n: NodeContext, r: NodeUnpublishVolumeRequest__Output): Promise<Record<string, never>> {
  const rec = await n.index.lookup(r.target_path);
  if (rec && rec.volumeId !== r.volume_id)
    throw new NotFound(`target path ${r.target_path} holds volume ${rec.volumeId}, not ${r.volume_id}`);
  await assertOwnMount(n, r.volume_id, r.target_path, rec);
  await n.mounter.unmount(r.target_path);
  // Without a record this plugin did not make the target (NodePublishVolume records it first): not its to remove.
  if (!rec) return {};
  await removeTarget(r.target_path);
  // Forget the target in its stage state (so it no longer counts as a publish), then the index entry.
  const s = await readState(rec.stagingPath);
  if (s && s.volumeId === r.volume_id && s.targets.includes(r.target_path)) {
    await writeState(rec.stagingPath, { ...s, targets: s.targets.filter((t) => t !== r.target_path) });
  }
  await n.index.remove(r.target_path);
  return {};
}

/**
 * The stage a stats request's volume_path belongs to: a staging path or publish target (locate), or, for a
 * raw block volume, kubelet's own per-pod map of the device, proven to be that volume's device
 * (node-block-map.ts). Only a path no state file or index entry names is tried as such a map.
 */
async function locateForStats(n: NodeContext, r: NodeGetVolumeStatsRequest__Output): Promise<Located> {
  try {
    return await locate(n.index, r.volume_id, r.volume_path, r.staging_target_path || undefined);
  } catch (e) {
    if (!(e instanceof NotFound) || r.staging_target_path) throw e;
    if ((await readState(r.volume_path)) || (await n.index.lookup(r.volume_path))) throw e;
    const map = await locateBlockMap(n.index, r.volume_id, r.volume_path);
    if (!map)
      throw new NotFound(
        `volume ${r.volume_id} is neither staged nor published at ${r.volume_path}, and it is not the device of a raw block publish of it`,
      );
    return map;
  }
}

async function volumeStats(n: NodeContext, r: NodeGetVolumeStatsRequest__Output): Promise<NodeGetVolumeStatsResponse> {
  await requireExisting(r.volume_path);
  const { state: s, stagingPath } = await locateForStats(n, r);
  const volume_condition = await condition(n, s, stagingPath);
  if (s.block) {
    const total = await deviceSize(n.o.runner, s.device).catch(() => 0);
    return { usage: [{ total: String(total), unit: 'BYTES', available: '0', used: '0' }], volume_condition };
  }
  const st = await fsStats(r.volume_path);
  return {
    usage: [
      { unit: 'BYTES', total: String(st.totalBytes), used: String(st.usedBytes), available: String(st.availableBytes) },
      { unit: 'INODES', total: String(st.totalInodes), used: String(st.usedInodes), available: String(st.freeInodes) },
    ],
    volume_condition,
  };
}

async function expandVolume(
  n: NodeContext,
  r: NodeExpandVolumeRequest__Output,
  signal: AbortSignal,
): Promise<NodeExpandVolumeResponse> {
  await requireExisting(r.volume_path);
  const { state: s, stagingPath: staging } = await locate(
    n.index,
    r.volume_id,
    r.volume_path,
    r.staging_target_path || undefined,
  );
  if (s.readOnly && !s.block)
    throw new FailedPrecondition(
      `volume ${r.volume_id} is staged read-only (reader-only access mode); its file system is not grown on this node`,
    );
  const want = Number(r.capacity_range?.required_bytes ?? 0);
  if (s.attach === 'iscsi' && s.targetIqn) await n.o.iscsi.rescan(s.targetIqn, { signal });
  const until = Date.now() + n.o.deviceTimeoutMs;
  if (s.multipathMap) await n.multipath.resize(s.multipathMap, { signal });
  let size = await deviceSize(n.o.runner, s.device);
  while (want > 0 && size < want) {
    if (Date.now() > until)
      throw new FailedPrecondition(`device ${s.device} did not grow to ${want} bytes after the rescan`);
    await sleep(250, signal);
    if (s.multipathMap) await n.multipath.resize(s.multipathMap, { signal });
    size = await deviceSize(n.o.runner, s.device);
  }
  if (!s.block && s.fsType) await growfs(n.o.runner, s.fsType, s.device, staging, { signal });
  return { capacity_bytes: String(size) };
}

// ---------------------------------------------------------------- the service

const NODE_CAPABILITIES = ['STAGE_UNSTAGE_VOLUME', 'EXPAND_VOLUME', 'GET_VOLUME_STATS', 'VOLUME_CONDITION'] as const;

/** Each RPC: its validation, its lock keys and its handler, through the one unary adapter. */
export function nodeHandlers(o: NodeOptions, deps: AdapterDeps): NodeHandlers {
  const n: NodeContext = {
    o,
    log: deps.log,
    mounter: new Mounter(o.runner),
    probe: new BlockProbe(o.runner),
    multipath: new Multipath(o.runner),
    index: new PublishIndex(o.publishIndexDir),
  };
  const lockVolume = <R extends { volume_id: string }>(r: R) => [`node:${r.volume_id}`];
  /** The call with its paths confined to kubelet's directory when asked, and file-system refusals on them naming the field. */
  const guarded = <T>(paths: RequestPaths, work: () => Promise<T>) =>
    withPathErrors(paths, async () => {
      if (o.kubeletPaths) await assertKubeletPaths(o.kubeletPaths.kubeletDir, paths);
      return work();
    });
  return {
    NodeGetInfo: unary(
      'Node/NodeGetInfo',
      {
        quiet: true,
        handle: async () => ({
          node_id: o.csiNodeId,
          max_volumes_per_node: String(o.maxVolumesPerNode),
          accessible_topology: { segments: { ...o.topology } },
        }),
      },
      deps,
    ),
    NodeGetCapabilities: unary(
      'Node/NodeGetCapabilities',
      { quiet: true, handle: async () => ({ capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) }) },
      deps,
    ),
    NodeStageVolume: unary(
      'Node/NodeStageVolume',
      {
        validate: validateStage,
        lockKeys: lockVolume,
        handle: (r, ctx) =>
          guarded({ staging_target_path: r.staging_target_path }, () => stageVolume(n, r, ctx.signal, ctx.log)),
      },
      deps,
    ),
    NodeUnstageVolume: unary(
      'Node/NodeUnstageVolume',
      {
        validate: validateUnstage,
        lockKeys: lockVolume,
        handle: (r) => guarded({ staging_target_path: r.staging_target_path }, () => unstage(n, r)),
      },
      deps,
    ),
    NodePublishVolume: unary(
      'Node/NodePublishVolume',
      {
        validate: validatePublish,
        lockKeys: lockVolume,
        handle: (r) =>
          guarded({ staging_target_path: r.staging_target_path, target_path: r.target_path }, () =>
            publishVolume(n, r),
          ),
      },
      deps,
    ),
    NodeUnpublishVolume: unary(
      'Node/NodeUnpublishVolume',
      {
        validate: validateUnpublish,
        lockKeys: lockVolume,
        handle: (r) => guarded({ target_path: r.target_path }, () => unpublishVolume(n, r)),
      },
      deps,
    ),
    NodeGetVolumeStats: unary(
      'Node/NodeGetVolumeStats',
      {
        validate: validateVolumePath,
        handle: (r) => guarded(volumePaths(r), () => volumeStats(n, r)),
      },
      deps,
    ),
    NodeExpandVolume: unary(
      'Node/NodeExpandVolume',
      {
        validate: validateVolumePath,
        lockKeys: lockVolume,
        handle: (r, ctx) => guarded(volumePaths(r), () => expandVolume(n, r, ctx.signal)),
      },
      deps,
    ),
  };
}

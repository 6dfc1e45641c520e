/**
 * At start the node service removes iSCSI sessions (and the multipath maps
 * over them) that no staged volume owns: what a crash between login and the
 * state file, a lost state file or a volume unpublished while the plugin was
 * down leaves behind. Careful by design; when in doubt a session stays and a
 * warning says why:
 *
 * - candidates are sessions (and session-less node records) whose target IQN
 *   starts with this plugin's `--iqn-prefix` and a ":"; other software's
 *   sessions are never touched;
 * - a session is owned when a stage state file (`<staging>.lvm-iscsi.json`,
 *   or its `.tmp` from an interrupted write) names its target. The files are
 *   looked for where kubelet puts staging paths, at most three levels below
 *   `<kubelet-dir>/plugins/kubernetes.io/csi`:
 *     <driver>/<sha256(volume handle)>/globalmount   (kubelet 1.24 and later)
 *     pv/<pv name>/globalmount                       (before 1.24)
 *     volumeDevices/staging/<pv name>                (raw block volumes)
 *   No such directory (a wrong --kubelet-dir), or a state file that cannot be
 *   read: nothing is removed at all;
 * - a session whose disks, their partitions or the multipath map over them
 *   are mounted or held by another block device, or that the kernel has
 *   claimed (open O_EXCL fails), stays;
 * - NodeStageVolume and NodeUnstageVolume answer ABORTED (retry) while the
 *   clean-up runs, and targets of stage calls already running are skipped.
 *
 * An orphan goes the way NodeUnstageVolume takes a volume apart
 * (node-detach.ts): multipath flush, SCSI disks flushed and deleted, logout,
 * node record deleted. Its disks are the SCSI disks sysfs shows under
 * sessions to its target (iscsi-initiator/sysfs-scsi.ts), each checked again just
 * before it is deleted; a multipath map that also holds other disks stays.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Busy } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import { MountTable } from '../host/mountinfo.js';
import { diskUse, probeExclusive, type ExclusiveProbe } from '../iscsi-initiator/in-use.js';
import type { Iscsiadm } from '../iscsi-initiator/iscsiadm.js';
import { Multipath } from '../iscsi-initiator/multipath.js';
import { dmSlaves, iscsiDisksOf } from '../iscsi-initiator/sysfs-scsi.js';
import type { IscsiSession, NodeRecord } from '../iscsi-initiator/session-parser.js';
import type { Logger } from '../log.js';
import { detachIscsi } from './node-detach.js';
import { STATE_SUFFIX } from './node-state.js';

/**
 * Lets the clean-up and the stage/unstage RPCs exclude each other without
 * waiting (the project refuses rather than waits): while it is closed those
 * RPCs fail with Busy (ABORTED, kubelet retries); stage calls register their
 * target so a clean-up starting meanwhile leaves it alone.
 */
export class StageGate {
  private closedFor: string | undefined;
  private readonly running = new Map<string, number>();

  /** Busy while closed; otherwise registers the call (and its target, if known) and returns its release. */
  enter(targetIqn?: string): () => void {
    if (this.closedFor) throw new Busy(`this node is ${this.closedFor}; retry shortly`);
    if (!targetIqn) return () => undefined;
    this.running.set(targetIqn, (this.running.get(targetIqn) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.running.get(targetIqn) ?? 1) - 1;
      if (n > 0) this.running.set(targetIqn, n);
      else this.running.delete(targetIqn);
    };
  }

  /** Refuses new calls from now on; returns the targets of stage calls still running. */
  close(why: string): Set<string> {
    this.closedFor = why;
    return new Set(this.running.keys());
  }

  open(): void {
    this.closedFor = undefined;
  }
}

/** The directory below which kubelet keeps CSI staging paths. */
function csiPluginDir(kubeletDir: string): string {
  return join(kubeletDir, 'plugins', 'kubernetes.io', 'csi');
}

/**
 * The target IQNs named by the stage state files under csiDir (files at most
 * three levels down; directories are never followed below that, so no staged
 * file system is ever walked). Throws when a state file cannot be read or
 * parsed: it might own any session. A `.tmp` left half-written by a crash is
 * ignored (kubelet retries that stage and writes it again).
 */
export async function stagedTargets(csiDir: string): Promise<{ owned: Set<string>; files: string[] }> {
  const files: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' && depth > 0) return; // removed meanwhile
      throw e;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isFile() && (e.name.endsWith(STATE_SUFFIX) || e.name.endsWith(`${STATE_SUFFIX}.tmp`))) files.push(path);
      else if (e.isDirectory() && depth < 2) await walk(path, depth + 1);
    }
  };
  await walk(csiDir, 0);
  const owned = new Set<string>();
  for (const file of files) {
    const tmp = file.endsWith('.tmp');
    let s: unknown;
    try {
      s = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT' || tmp) continue;
      throw new Error(`cannot read the stage state ${file}: ${(e as Error).message}`);
    }
    const state = (s ?? {}) as { volumeId?: unknown; attach?: unknown; targetIqn?: unknown };
    if (typeof state.targetIqn === 'string') owned.add(state.targetIqn);
    else if (state.attach !== 'local' && !tmp)
      throw new Error(`the stage state ${file} names no target (attach ${JSON.stringify(state.attach)})`);
  }
  return { owned, files };
}

interface OrphanCandidate {
  iqn: string;
  sessions: IscsiSession[];
  /** Every portal with a session or a node record for this target (all get logout + record delete). */
  portals: string[];
}

export interface OrphanPlan {
  candidates: OrphanCandidate[];
  /** Node records of our targets with no session and no owner. */
  staleRecords: NodeRecord[];
}

/** Which sessions and records are this plugin's and unowned (pure: the decision before any in-use check). */
export function planOrphans(i: {
  iqnPrefix: string;
  sessions: readonly IscsiSession[];
  records: readonly NodeRecord[];
  owned: ReadonlySet<string>;
  running: ReadonlySet<string>;
}): OrphanPlan {
  const ours = (iqn: string) => iqn.startsWith(`${i.iqnPrefix}:`) && !i.owned.has(iqn) && !i.running.has(iqn);
  const byIqn = new Map<string, OrphanCandidate>();
  for (const s of i.sessions) {
    if (!ours(s.iqn)) continue;
    const c = byIqn.get(s.iqn) ?? { iqn: s.iqn, sessions: [], portals: [] };
    c.sessions.push(s);
    if (!c.portals.includes(s.portal)) c.portals.push(s.portal);
    byIqn.set(s.iqn, c);
  }
  const staleRecords: NodeRecord[] = [];
  for (const r of i.records) {
    if (!ours(r.iqn)) continue;
    const c = byIqn.get(r.iqn);
    if (!c) staleRecords.push(r);
    else if (!c.portals.includes(r.portal)) c.portals.push(r.portal);
  }
  return { candidates: [...byIqn.values()], staleRecords };
}

export interface OrphanCleanupOptions {
  kubeletDir: string;
  iqnPrefix: string;
  runner: CommandRunner;
  iscsi: Iscsiadm;
  log: Logger;
  gate?: StageGate;
  /** For tests: default /proc/self/mountinfo, /sys, /dev, open(O_EXCL). */
  mounts?: MountTable;
  sysfsRoot?: string;
  devDir?: string;
  probe?: (devicePath: string) => Promise<ExclusiveProbe>;
}

export interface OrphanCleanupReport {
  /** Why nothing was looked at. */
  skipped?: string;
  removed: { iqn: string; portals: string[]; disks: string[]; multipathMap?: string }[];
  kept: { iqn: string; reasons: string[] }[];
  failed: { iqn: string; error: string }[];
  recordsDeleted: NodeRecord[];
}

export async function cleanupOrphans(o: OrphanCleanupOptions): Promise<OrphanCleanupReport> {
  const log = o.log.child({ component: 'orphan-cleanup' });
  const report: OrphanCleanupReport = { removed: [], kept: [], failed: [], recordsDeleted: [] };
  const csiDir = csiPluginDir(o.kubeletDir);
  if (!(await isDir(csiDir))) {
    report.skipped = `${csiDir} does not exist, so this node cannot tell which iSCSI sessions staged volumes own (no volume was staged here yet, or kubelet keeps its files elsewhere: set --kubelet-dir)`;
    log.warn({ csiDir }, `no clean-up of orphaned iSCSI sessions: ${report.skipped}`);
    return report;
  }
  const running =
    o.gate?.close('removing iSCSI sessions no staged volume owns (start-up clean-up)') ?? new Set<string>();
  try {
    let owned: Set<string>;
    try {
      ({ owned } = await stagedTargets(csiDir));
    } catch (e) {
      report.skipped = `${(e as Error).message}; it might own any session`;
      log.warn({ csiDir }, `no clean-up of orphaned iSCSI sessions: ${report.skipped}`);
      return report;
    }
    const sessions = await o.iscsi.sessions();
    const records = await o.iscsi.nodes();
    const plan = planOrphans({ iqnPrefix: o.iqnPrefix, sessions, records, owned, running });
    const mounts = plan.candidates.length > 0 ? await (o.mounts ?? new MountTable()).all() : [];
    const multipath = new Multipath(o.runner, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {});
    const probe = o.probe ?? ((path: string) => probeExclusive(path));

    for (const c of plan.candidates) {
      try {
        // The disks as the kernel has them under sessions to this target now (sysfs), not names from elsewhere.
        const disks = (await iscsiDisksOf(c.iqn, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {})).map((d) => d.name);
        const reasons: string[] = [];
        const maps = new Map<string, string>();
        for (const disk of disks) {
          const use = await diskUse(disk, mounts, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {});
          reasons.push(...use.users);
          if (use.multipath) maps.set(use.multipath.name, use.multipath.dm);
        }
        if (maps.size > 1)
          reasons.push(`its disks are in ${maps.size} multipath maps (${[...maps.keys()].join(', ')})`);
        for (const [name, dm] of maps) {
          const foreign = (await dmSlaves(dm, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {})).filter(
            (x) => !disks.includes(x),
          );
          if (foreign.length > 0)
            reasons.push(`multipath map ${name} also holds ${foreign.join(', ')}, which are not disks of this target`);
        }
        // The kernel's view of the top device, for users outside this mount namespace. A session that is not
        // logged in is not probed: opening its disks can block until the session's recovery timeout.
        if (reasons.length === 0 && c.sessions.every((s) => /^LOGGED.IN$/i.test(s.state))) {
          for (const top of maps.size > 0 ? [...maps.values()] : disks) {
            const seen = await probe(join(o.devDir ?? '/dev', top));
            if (seen === 'busy')
              reasons.push(`${top} is claimed by the kernel (open with O_EXCL is refused: mounted elsewhere or held)`);
            else if (seen === 'unknown')
              reasons.push(`${top} could not be checked (open with O_EXCL failed or did not answer)`);
          }
        }
        if (reasons.length > 0) {
          report.kept.push({ iqn: c.iqn, reasons });
          log.warn({ iqn: c.iqn, reasons }, 'an iSCSI session no staged volume owns is in use: left alone');
          continue;
        }
        const multipathMap = [...maps.keys()][0];
        await detachIscsi(
          { runner: o.runner, iscsi: o.iscsi, multipath, ...(o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {}) },
          { targetIqn: c.iqn, portals: c.portals, disks, ...(multipathMap ? { multipathMap } : {}) },
        );
        report.removed.push({ iqn: c.iqn, portals: c.portals, disks, ...(multipathMap ? { multipathMap } : {}) });
        log.info(
          { iqn: c.iqn, portals: c.portals, disks, multipathMap },
          'orphaned iSCSI session removed (no staged volume owns it)',
        );
      } catch (e) {
        report.failed.push({ iqn: c.iqn, error: (e as Error).message });
        log.warn(
          { iqn: c.iqn, err: (e as Error).message },
          'could not remove an orphaned iSCSI session; left as it is',
        );
      }
    }
    for (const r of plan.staleRecords) {
      try {
        await o.iscsi.deleteNode(r.iqn, r.portal);
        report.recordsDeleted.push(r);
        log.info({ iqn: r.iqn, portal: r.portal }, 'orphaned iSCSI node record deleted (no session, no staged volume)');
      } catch (e) {
        report.failed.push({ iqn: r.iqn, error: (e as Error).message });
        log.warn(
          { iqn: r.iqn, portal: r.portal, err: (e as Error).message },
          'could not delete an orphaned iSCSI node record',
        );
      }
    }
    log.info(
      {
        removed: report.removed.length,
        kept: report.kept.length,
        failed: report.failed.length,
        records_deleted: report.recordsDeleted.length,
        owned: owned.size,
      },
      'start-up clean-up of orphaned iSCSI sessions done',
    );
    return report;
  } finally {
    o.gate?.open();
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

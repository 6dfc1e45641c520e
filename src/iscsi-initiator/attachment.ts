/**
 * The devices of a staged iSCSI volume as the kernel has them NOW, found
 * from the target (never from kernel names saved earlier):
 *
 * - disks: every SCSI disk under a session to the target IQN at the LUN
 *   (sysfs-scsi.ts), each with its WWID checked against the WWIDs seen when
 *   the volume was staged (when those were saved);
 * - the by-path link of each portal (/dev/disk/by-path/ip-<portal>-iscsi-
 *   <iqn>-lun-<n>), when udev has it, must point at one of those disks;
 * - the dm-multipath map over them, whose paths must all be disks of this
 *   target and whose uuid must carry the same WWID.
 *
 * Anything that does not add up is an AttachmentMismatch naming what: the
 * caller stops and touches nothing.
 */
import { FailedPrecondition } from '../errors.js';
import { resolveDevice } from './device.js';
import type { Multipath } from './multipath.js';
import { byPathDevice, BY_PATH_DIR } from './portal.js';
import { dmSlaves, dmUuid, iscsiDisksOf, scsiDiskIdentity, scsiIdOfWwid, type ScsiDiskIdentity } from './sysfs-scsi.js';

export class AttachmentMismatch extends FailedPrecondition {}

export interface AttachmentSpec {
  targetIqn: string;
  portals: readonly string[];
  lun: number;
  /** WWIDs (sysfs form) the volume's disks had when staged; empty or missing: not checked (state from an older version). */
  wwids?: readonly string[];
}

export interface CurrentAttachment {
  disks: ScsiDiskIdentity[];
  multipath?: { name: string; dm: string; devicePath: string };
  /** The device the volume is used through now: the map, else the first disk; undefined when no disk is left. */
  device?: string;
}

export interface AttachmentOptions {
  /** Finds the map over the disks (sysfs only; its runner is not used here). */
  multipath: Multipath;
  sysfsRoot?: string;
  byPathDir?: string;
}

export async function currentAttachment(a: AttachmentSpec, o: AttachmentOptions): Promise<CurrentAttachment> {
  const sys = o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {};
  const disks = await iscsiDisksOf(a.targetIqn, { lun: a.lun, ...sys });
  const names = new Set(disks.map((d) => d.name));
  const want = new Set(a.wwids ?? []);
  for (const d of disks) {
    if (want.size > 0 && (!d.wwid || !want.has(d.wwid))) {
      throw new AttachmentMismatch(
        `disk ${d.name} (session ${d.session} to ${a.targetIqn}, LUN ${a.lun}) reports WWID ${d.wwid ?? '(none)'}, but the volume was staged with ${[...want].join(', ')}: not touching it`,
      );
    }
  }
  const wwids = new Set(disks.map((d) => d.wwid).filter((w): w is string => !!w));
  if (wwids.size > 1)
    throw new AttachmentMismatch(
      `the disks of ${a.targetIqn} LUN ${a.lun} report different WWIDs (${[...wwids].join(', ')}): not touching them`,
    );
  for (const portal of a.portals) {
    const link = await resolveDevice(byPathDevice(portal, a.targetIqn, a.lun, o.byPathDir ?? BY_PATH_DIR));
    if (link && !names.has(link.name)) {
      throw new AttachmentMismatch(
        `${link.path} points at ${link.name}, which is not on a session to ${a.targetIqn} (LUN ${a.lun}): not touching it`,
      );
    }
  }
  if (disks.length === 0) return { disks };
  const multipath = await o.multipath.mapOf(disks.map((d) => d.name));
  if (multipath) {
    const slaves = await dmSlaves(multipath.dm, sys);
    const foreign = slaves.filter((s) => !names.has(s));
    if (foreign.length > 0) {
      throw new AttachmentMismatch(
        `multipath map ${multipath.name} (${multipath.dm}) also holds ${foreign.join(', ')}, which are not disks of ${a.targetIqn} LUN ${a.lun}: not touching it`,
      );
    }
    const uuid = await dmUuid(multipath.dm, sys);
    const scsiId = [...wwids].map(scsiIdOfWwid)[0];
    if (scsiId && uuid !== `mpath-${scsiId}`) {
      throw new AttachmentMismatch(
        `multipath map ${multipath.name} (${multipath.dm}) has uuid ${uuid ?? '(none)'}, not mpath-${scsiId} of ${a.targetIqn}: not touching it`,
      );
    }
    return { disks, multipath, device: multipath.devicePath };
  }
  return { disks, device: `/dev/${disks[0]?.name}` };
}

/**
 * Throws AttachmentMismatch unless the disk `name` is, right now, a SCSI disk
 * under a session to targetIqn (and at `lun` when given): the last check
 * before a flush or a delete by name.
 */
export async function assertDiskOfTarget(
  name: string,
  targetIqn: string,
  o: { lun?: number; sysfsRoot?: string } = {},
): Promise<'present' | 'gone'> {
  const id = await scsiDiskIdentity(name, o.sysfsRoot ? { sysfsRoot: o.sysfsRoot } : {});
  if (!id) return 'gone';
  if (id.targetIqn !== targetIqn || (o.lun !== undefined && id.lun !== o.lun)) {
    throw new AttachmentMismatch(
      `disk ${name} now belongs to ${id.targetIqn ?? 'no iSCSI session'} (LUN ${id.lun}), not to ${targetIqn}${o.lun !== undefined ? ` LUN ${o.lun}` : ''}: not touching it`,
    );
  }
  return 'present';
}

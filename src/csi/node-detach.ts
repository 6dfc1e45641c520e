/**
 * Taking an iSCSI attachment apart in the safe order, once the file system
 * on it is unmounted: flush the multipath map, flush and delete each SCSI
 * disk, log out of each portal, delete each node record. Every step is a
 * no-op when already done. Used by NodeUnstageVolume and by the orphan
 * clean-up at start, both of which find the disks from the target just
 * before (iscsi-initiator/attachment.ts); each disk is checked once more right
 * before its flush and delete (still a disk of this target, at this LUN):
 * a name that now belongs to something else stops the teardown there.
 */
import type { CommandRunner } from '../exec/runner.js';
import { assertDiskOfTarget } from '../iscsi-initiator/attachment.js';
import type { Iscsiadm } from '../iscsi-initiator/iscsiadm.js';
import type { Multipath } from '../iscsi-initiator/multipath.js';
import { deleteScsiDevice, flushBuffers } from '../iscsi-initiator/scsi.js';

export interface IscsiAttachment {
  targetIqn: string;
  portals: readonly string[];
  /** Kernel names of the SCSI disks (sdX), as found from the target just before. */
  disks: readonly string[];
  /** The LUN every disk must be at; any LUN of the target when missing (orphan clean-up). */
  lun?: number;
  multipathMap?: string;
}

export interface DetachDeps {
  runner: CommandRunner;
  iscsi: Iscsiadm;
  multipath: Multipath;
  /** For tests; default /sys. */
  sysfsRoot?: string;
}

export async function detachIscsi(d: DetachDeps, a: IscsiAttachment): Promise<void> {
  if (a.multipathMap) {
    await d.multipath.flush(a.multipathMap).catch(async (e: unknown) => {
      // Already gone is fine; a map still standing over the disks (in use) stops here, before its paths go.
      if (await d.multipath.mapOf(a.disks)) throw e;
    });
  }
  const sys = d.sysfsRoot ? { sysfsRoot: d.sysfsRoot } : {};
  for (const disk of a.disks) {
    if (
      (await assertDiskOfTarget(disk, a.targetIqn, { ...(a.lun !== undefined ? { lun: a.lun } : {}), ...sys })) ===
      'gone'
    )
      continue;
    await flushBuffers(d.runner, `/dev/${disk}`).catch(() => undefined);
    await deleteScsiDevice(disk, d.sysfsRoot);
  }
  for (const portal of a.portals) {
    await d.iscsi.logout(a.targetIqn, portal);
    await d.iscsi.deleteNode(a.targetIqn, portal);
  }
}

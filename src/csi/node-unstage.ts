/**
 * NodeUnstageVolume: unmount the staging path and take the iSCSI attachment
 * apart, acting only on devices proved to be this volume's now:
 *
 * 1. the disks are found from the target (sessions to the IQN at the LUN in
 *    sysfs, by-path links, WWIDs against those saved at stage, the multipath
 *    map's paths and uuid: iscsi-initiator/attachment.ts). The kernel names saved
 *    in the state file are never used: after a reboot, or any logout and
 *    login, they may name another volume's disk;
 * 2. nothing may use them but the staging mount itself: another mount (a
 *    pod's bind mount not yet unpublished, a mount made by hand), a holder
 *    (LVM, dm-crypt, md) or, once the staging mount is gone, an exclusive
 *    claim (open O_EXCL refused: a mount in another mount namespace) ->
 *    FAILED_PRECONDITION naming the user, the session stays up. The first
 *    two are checked before the staging path is unmounted;
 * 3. then node-detach.ts: map flushed, disks flushed and deleted (each
 *    checked once more), logout, node record deleted, state file removed.
 */
import { resolve } from 'node:path';
import { FailedPrecondition } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import type { Mounter } from '../host/mount.js';
import { currentAttachment } from '../iscsi-initiator/attachment.js';
import { diskUse, probeExclusive, type ExclusiveProbe } from '../iscsi-initiator/in-use.js';
import type { Iscsiadm } from '../iscsi-initiator/iscsiadm.js';
import type { Multipath } from '../iscsi-initiator/multipath.js';
import { detachIscsi } from './node-detach.js';
import { readState, removeState } from './node-state.js';

export interface UnstageDeps {
  runner: CommandRunner;
  iscsi: Iscsiadm;
  multipath: Multipath;
  mounter: Mounter;
  /** For tests: default /sys, /dev/disk/by-path, open(O_EXCL). */
  sysfsRoot?: string;
  byPathDir?: string;
  probe?: (devicePath: string) => Promise<ExclusiveProbe>;
}

export async function unstageVolume(d: UnstageDeps, volumeId: string, staging: string): Promise<void> {
  const s = await readState(staging);
  if (s && s.volumeId !== volumeId)
    throw new FailedPrecondition(
      `staging path ${staging} holds volume ${s.volumeId}, not ${volumeId}; nothing was done`,
    );
  if (!s) {
    // No stage record of this plugin: whatever is mounted there (a pod's bind, /sys/kernel/config) is not its to unmount.
    const cur = await d.mounter.mounts.mountAt(staging);
    if (cur)
      throw new FailedPrecondition(
        `staging path ${staging} has ${cur.source} (${cur.fstype}) mounted but holds no stage record of volume ${volumeId}; nothing unmounted`,
      );
    return;
  }
  if (s.attach !== 'iscsi' || !s.targetIqn) {
    await d.mounter.unmount(staging);
    await removeState(staging);
    return;
  }
  const sys = d.sysfsRoot ? { sysfsRoot: d.sysfsRoot } : {};
  const now = await currentAttachment(
    { targetIqn: s.targetIqn, portals: s.portals, lun: s.lun, ...(s.wwids ? { wwids: s.wwids } : {}) },
    { multipath: d.multipath, ...sys, ...(d.byPathDir ? { byPathDir: d.byPathDir } : {}) },
  );
  const stagingPath = resolve(staging);
  const others = (await d.mounter.mounts.all()).filter((m) => resolve(m.target) !== stagingPath);
  const users: string[] = [];
  for (const disk of now.disks) users.push(...(await diskUse(disk.name, others, sys)).users);
  if (users.length > 0) {
    throw new FailedPrecondition(
      `volume ${volumeId} is still in use on this node: ${[...new Set(users)].join('; ')}; nothing was unmounted or logged out`,
    );
  }
  await d.mounter.unmount(staging);
  // A session that is not logged in is not probed: opening its disk can block until its recovery timeout.
  if (now.device && now.disks.every((x) => x.sessionState === 'LOGGED_IN')) {
    const seen = await (d.probe ?? probeExclusive)(now.device);
    if (seen === 'busy') {
      throw new FailedPrecondition(
        `volume ${volumeId}: ${now.device} is claimed by the kernel (open with O_EXCL is refused: mounted in another mount namespace or opened exclusively); the session stays up`,
      );
    }
  }
  const portals = [...new Set([...s.portals])];
  await detachIscsi(
    { runner: d.runner, iscsi: d.iscsi, multipath: d.multipath, ...sys },
    {
      targetIqn: s.targetIqn,
      portals,
      lun: s.lun,
      disks: now.disks.map((x) => x.name),
      ...(now.multipath ? { multipathMap: now.multipath.name } : {}),
    },
  );
  await removeState(staging);
}

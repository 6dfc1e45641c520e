/**
 * A NodeStageVolume that fails after it logged in (the device never
 * appears, no multipath map forms, the volume holds a foreign signature or
 * another file system, mkfs or mount fails) takes back what this call made:
 * the staging mount it mounted, the disks, the session, the node record and
 * the state file. Only then: when the volume was staged at this path before
 * the call (a state file), or any session to the target existed before it
 * (another staging of this volume, a previous successful stage, something
 * else's login), nothing is taken apart; neither when the disks are in use.
 * Rollback failures are logged and the stage's own error is returned.
 */
import { resolve } from 'node:path';
import type { CommandRunner } from '../exec/runner.js';
import type { Mounter } from '../host/mount.js';
import { currentAttachment } from '../iscsi-initiator/attachment.js';
import { diskUse } from '../iscsi-initiator/in-use.js';
import type { Iscsiadm } from '../iscsi-initiator/iscsiadm.js';
import type { Multipath } from '../iscsi-initiator/multipath.js';
import { normalizePortal } from '../iscsi-initiator/portal.js';
import { sessionsTo } from '../iscsi-initiator/sysfs-scsi.js';
import type { Logger } from '../log.js';
import { detachIscsi } from './node-detach.js';
import { readState, removeState } from './node-state.js';

export interface RollbackDeps {
  runner: CommandRunner;
  iscsi: Iscsiadm;
  multipath: Multipath;
  mounter: Mounter;
  log: Logger;
  sysfsRoot?: string;
  byPathDir?: string;
}

export interface StageRequestLike {
  volume_id: string;
  staging_target_path: string;
  publish_context: Record<string, string>;
}

export async function withStageRollback<T>(d: RollbackDeps, r: StageRequestLike, run: () => Promise<T>): Promise<T> {
  const ctx = r.publish_context;
  const iqn = ctx['targetIqn'];
  if (ctx['attach'] === 'local' || !iqn) return run();
  const sys = d.sysfsRoot ? { sysfsRoot: d.sysfsRoot } : {};
  const before = {
    staged: (await readState(r.staging_target_path).catch(() => 'unreadable' as const)) !== undefined,
    sessions: (await sessionsTo(iqn, sys)).length,
    mounted: await d.mounter.isMountPoint(r.staging_target_path),
  };
  try {
    return await run();
  } catch (e) {
    if (before.staged || before.sessions > 0) {
      d.log.warn(
        { volume_id: r.volume_id, iqn, staged_before: before.staged, sessions_before: before.sessions },
        'stage failed; the session existed before this call and is left up',
      );
      // the state file this call wrote at a path that was not staged before goes: nothing is staged there
      if (!before.staged) await removeState(r.staging_target_path).catch(() => undefined);
      throw e;
    }
    await rollback(d, r, iqn, before.mounted).catch((err: unknown) =>
      d.log.warn(
        { volume_id: r.volume_id, iqn, err: (err as Error).message },
        'stage failed and taking back its session failed too; the start-up clean-up or the next unstage will retry',
      ),
    );
    throw e;
  }
}

async function rollback(d: RollbackDeps, r: StageRequestLike, iqn: string, wasMounted: boolean): Promise<void> {
  const sys = d.sysfsRoot ? { sysfsRoot: d.sysfsRoot } : {};
  const ctx = r.publish_context;
  const portals = (ctx['portals'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => normalizePortal(p, 'publish_context.portals'));
  const lun = Number(ctx['lun']);
  if (!Number.isInteger(lun) || lun < 0) return; // refused before any login
  if (!wasMounted) await d.mounter.unmount(r.staging_target_path);
  const now = await currentAttachment(
    { targetIqn: iqn, portals, lun },
    { multipath: d.multipath, ...sys, ...(d.byPathDir ? { byPathDir: d.byPathDir } : {}) },
  );
  const staging = resolve(r.staging_target_path);
  const mounts = (await d.mounter.mounts.all()).filter((m) => resolve(m.target) !== staging);
  const users: string[] = [];
  for (const disk of now.disks) users.push(...(await diskUse(disk.name, mounts, sys)).users);
  if (users.length > 0) {
    d.log.warn({ volume_id: r.volume_id, iqn, users }, 'stage failed; its disks are in use, so the session is left up');
    return;
  }
  await detachIscsi(
    { runner: d.runner, iscsi: d.iscsi, multipath: d.multipath, ...sys },
    {
      targetIqn: iqn,
      portals,
      lun,
      disks: now.disks.map((x) => x.name),
      ...(now.multipath ? { multipathMap: now.multipath.name } : {}),
    },
  );
  await removeState(r.staging_target_path);
  d.log.info(
    { volume_id: r.volume_id, iqn, portals, disks: now.disks.map((x) => x.name) },
    'stage failed: its session, disks and node records were taken back',
  );
}

/**
 * The commands each CSI call runs, pinned on the real plugin (all mode,
 * dist/main.js) with real LVM, LIO and open-iscsi: the plugin's own command
 * counter (csi_lvm_iscsi_command_duration_seconds_count by command) is read
 * before and after every call of one volume's life, and the difference must
 * be exactly the commands listed here. The unit tier pins the controller and
 * agent calls with a fake runner (test/unit/commands-per-rpc.test.ts); the
 * node calls need a real session, disk and mount, so they are pinned here.
 * A change that adds a command to a call fails this test; one that removes a
 * command must update the list (and docs/performance.md).
 *
 * No timer runs a command meanwhile: --stats-interval 0 and
 * --reconcile-interval 0 (the gauges after a change are recounted from the
 * agent's memory, without a command).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POOL_USE_MAX_AGE_MS } from '../../src/agent/context.js';
import { loadCsi } from '../../src/server/proto.js';
import {
  call,
  destroyVg,
  disks,
  freePort,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  teardownExports,
  type PluginProcess,
} from './lib.js';

const VG = 'cmdvg';
const SECRETS = { chapUser: 'cmd-tenant-1f', chapSecret: 'cmd-initiator-key-6b2e9d0c4a17' };

type Counts = Record<string, number>;

function commandCounts(text: string): Counts {
  const out: Counts = {};
  for (const m of text.matchAll(/^csi_lvm_iscsi_command_duration_seconds_count\{command="([^"]+)"\} (\d+)$/gm))
    out[m[1] ?? ''] = Number(m[2]);
  return out;
}

function delta(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) if (v > (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

describe.runIf(inGuest)('commands per CSI call on the real plugin (thin volume, ext4, CHAP)', () => {
  let p: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  let port = 0;
  let staging = '';
  let target = '';
  /** What each call ran, in call order; compared as a whole at the end, so one run shows every difference. */
  const ran: Record<string, Counts> = {};
  const expected: Record<string, Counts> = {};

  /** Runs one call and records the commands the plugin ran during it, beside what it should run. */
  const counted = async (what: string, want: Counts, fn: () => Promise<unknown>): Promise<void> => {
    const before = commandCounts(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    await fn();
    ran[what] = delta(commandCounts(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), before);
    expected[what] = want;
  };

  /** When the plugin last read the thin pool's use for certain: between these two times (ms). */
  let poolReadBetween: [number, number] | undefined;
  /**
   * Makes sure the thin pool's use is fresh for the next call, so that call runs no `lvs` for its threshold
   * check: the use is taken from memory when read at most POOL_USE_MAX_AGE_MS (30 s) ago. Nothing to do when
   * it was read less than 15 s ago. Otherwise GetCapacity reads it when it is older than the limit; when it
   * may be younger (read at a moment not known, or known too loosely), the limit is waited out first, so the
   * GetCapacity surely reads it (CI failed once when GetCapacity found the use 29 s old and the expansion,
   * seconds later, read it again).
   */
  const poolUseFresh = async (): Promise<void> => {
    if (poolReadBetween && Date.now() - poolReadBetween[0] < 15_000) return;
    const lvsNow = async () =>
      commandCounts(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())['lvs'] ?? 0;
    const capacity = () =>
      call(p.controller, 'GetCapacity', { volume_capabilities: [mountCap('ext4')], parameters: {} });
    const staleAt = (poolReadBetween?.[1] ?? Date.now()) + POOL_USE_MAX_AGE_MS + 1_000;
    if (poolReadBetween) await new Promise((r) => setTimeout(r, Math.max(0, staleAt - Date.now())));
    let before = await lvsNow();
    let a = Date.now();
    await capacity();
    if (!poolReadBetween && (await lvsNow()) === before) {
      // read at some moment of the last 30 s: wait it out and ask again
      await new Promise((r) => setTimeout(r, POOL_USE_MAX_AGE_MS + 1_000));
      before = await lvsNow();
      a = Date.now();
      await capacity();
    }
    expect(await lvsNow(), 'GetCapacity reads a pool use older than POOL_USE_MAX_AGE_MS').toBe(before + 1);
    poolReadBetween = [a, Date.now()];
  };

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    port = await freePort();
    p = await startPlugin([
      '--mode',
      'all',
      '--volume-group',
      VG,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '50',
      '--portals',
      '127.0.0.1:3260',
      '--metrics-address',
      `127.0.0.1:${port}`,
      '--stats-interval',
      '0',
      '--reconcile-interval',
      '0',
    ]);
    node = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
  });

  afterAll(async () => {
    console.log(
      `commands per call:\n${Object.entries(ran)
        .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
        .join('\n')}`,
    );
    node?.close();
    if (p) await p.stop();
    if (target) shStatus(['umount', target]);
    if (staging) shStatus(['umount', staging]);
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    await teardownExports(VG);
    destroyVg(VG);
  });

  it('create, publish, stage, publish on the node, expand, snapshot, and back: each call runs only its own commands', async () => {
    const cap = mountCap('ext4');
    let id = '';
    await counted('CreateVolume', { lvcreate: 1 }, async () => {
      id =
        (
          await call(p.controller, 'CreateVolume', {
            name: 'cmd-vol',
            capacity_range: { required_bytes: String(32 * MiB) },
            volume_capabilities: [cap],
            parameters: {},
          })
        ).volume?.volume_id ?? '';
    });

    const nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    let ctx: Record<string, string> = {};
    // the publication is recorded in the LV's tags: one lvchange; LIO is configfs writes, no command
    await counted('ControllerPublishVolume', { lvchange: 1 }, async () => {
      ctx = (
        await call(p.controller, 'ControllerPublishVolume', {
          volume_id: id,
          node_id: nodeId,
          volume_capability: cap,
          readonly: false,
          secrets: SECRETS,
          volume_context: {},
        })
      ).publish_context;
    });

    // A fresh node record: `-o new`, its settings in one `-o update`, the login. `-o show` first only when
    // open-iscsi's record database is not there yet (then a record elsewhere cannot be ruled out without
    // asking). blkid and `wipefs -n` find a blank disk; mkfs; mount.
    staging = join(sh(['mktemp', '-d', '/tmp/cmd-XXXXXX']).trim(), 'globalmount');
    const stageReq = {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: SECRETS,
      volume_context: {},
    };
    const recordDb = existsSync('/etc/iscsi/nodes');
    await counted(
      'NodeStageVolume',
      { iscsiadm: recordDb ? 3 : 4, blkid: 1, wipefs: 1, 'mkfs.ext4': 1, mount: 1 },
      () => call(node, 'NodeStageVolume', stageReq),
    );
    // Again, as kubelet may after a restart: the record exists (`-o show`, then its settings again), the session
    // too (login answers "already"), the file system is found (blkid, wipefs), the mount is there (mountinfo, no
    // command), then the size check of a file system not made by this call (blockdev, dumpe2fs).
    await counted('NodeStageVolume again', { iscsiadm: 3, blkid: 1, wipefs: 1, blockdev: 1, dumpe2fs: 1 }, () =>
      call(node, 'NodeStageVolume', stageReq),
    );

    target = join(staging, '..', 'pod-mount');
    await counted('NodePublishVolume', { mount: 1 }, () =>
      call(node, 'NodePublishVolume', {
        volume_id: id,
        publish_context: ctx,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      }),
    );
    writeFileSync(join(target, 'data'), 'commands per call');
    // kubelet asks every mounted volume's stats each minute: statfs, the device and the session state from
    // sysfs, the read-only flag from mountinfo, and no command (an iscsiadm run here queued behind logins)
    await counted('NodeGetVolumeStats', {}, async () => {
      const stats = await call(node, 'NodeGetVolumeStats', {
        volume_id: id,
        volume_path: target,
        staging_target_path: staging,
      });
      expect(stats.volume_condition).toEqual({ abnormal: false, message: 'volume is healthy' });
    });

    // The room check uses the thin pool's use when it was read at most 30 s ago, and reads it (one lvs)
    // otherwise: the use read just before makes the expansion's count exact (CI failed once when GetCapacity
    // found it 29 s old and the expansion, seconds later, read it again).
    await poolUseFresh();
    await counted('ControllerExpandVolume', { lvextend: 1 }, () =>
      call(p.controller, 'ControllerExpandVolume', {
        volume_id: id,
        capacity_range: { required_bytes: String(48 * MiB) },
        volume_capability: cap,
      }),
    );
    // the session's sids (iscsiadm -m session), its rescan, the disk's size (blockdev), resize2fs
    await counted('NodeExpandVolume', { iscsiadm: 2, blockdev: 1, resize2fs: 1 }, () =>
      call(node, 'NodeExpandVolume', {
        volume_id: id,
        volume_path: target,
        staging_target_path: staging,
        capacity_range: { required_bytes: String(48 * MiB) },
        volume_capability: cap,
      }),
    );
    expect(readFileSync(join(target, 'data'), 'utf8')).toBe('commands per call');

    let snap = '';
    await poolUseFresh(); // the snapshot checks the pool threshold too
    await counted('CreateSnapshot', { lvcreate: 1 }, async () => {
      snap =
        (await call(p.controller, 'CreateSnapshot', { source_volume_id: id, name: 'cmd-snap', parameters: {} }))
          .snapshot?.snapshot_id ?? '';
    });

    await counted('NodeUnpublishVolume', { umount: 1 }, () =>
      call(node, 'NodeUnpublishVolume', { volume_id: id, target_path: target }),
    );
    target = '';
    // flush, unmount, log out, delete the record
    await counted('NodeUnstageVolume', { blockdev: 1, umount: 1, iscsiadm: 2 }, () =>
      call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: staging }),
    );
    staging = '';
    await counted('ControllerUnpublishVolume', { lvchange: 1 }, () =>
      call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId }),
    );
    await counted('DeleteSnapshot', { lvremove: 1 }, () => call(p.controller, 'DeleteSnapshot', { snapshot_id: snap }));
    await counted('DeleteVolume', { lvremove: 1 }, () => call(p.controller, 'DeleteVolume', { volume_id: id }));
    // reads run none (with the pool's use fresh, as above)
    await poolUseFresh();
    await counted('ListVolumes, GetCapacity, Probe', {}, async () => {
      await call(p.controller, 'ListVolumes', { max_entries: 0, starting_token: '' });
      await call(p.controller, 'GetCapacity', { volume_capabilities: [cap], parameters: {} });
      await call(p.identity, 'Probe', {});
    });

    expect(ran).toEqual(expected);
  });
});

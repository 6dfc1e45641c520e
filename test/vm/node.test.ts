/**
 * The whole life of a volume through the plugin's gRPC socket, storage side
 * and node side in one guest, iSCSI over the guest's loopback:
 * create -> publish -> stage -> publish -> write -> snapshot -> restore into a
 * larger volume -> stage it -> same files, larger fs -> expand the first while
 * mounted -> unpublish/unstage/delete -> nothing left behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import { unitSerial } from '../../src/iscsi-target/iqn.js';
import { LioTarget } from '../../src/iscsi-target/lio.js';
import {
  blockCap,
  call,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  teardownExports,
  waitFor,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'nodevg2';
const LIO = '/sys/kernel/config/target/iscsi';
const DRIVER = 'lvm-iscsi.csi.example.org';
const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const FOREIGN = 'iqn.2024-01.test.foreign:disk1';
const PORTAL = '127.0.0.1:3260';

function dfBytes(path: string): number {
  return Number(sh(['df', '-B1', '--output=size', path]).split('\n')[1]?.trim());
}
function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
function sessions(): string {
  const r = shStatus(['iscsiadm', '-m', 'session']);
  return r.code === 0 ? r.out : '';
}
/** Target IQNs with a session ("tcp: [1] 127.0.0.1:3260,1 iqn... (non-flash)"). */
function sessionIqns(): string[] {
  return sessions()
    .split('\n')
    .map((l) => l.split(/\s+/)[3] ?? '')
    .filter(Boolean);
}
/** What a node outside the plugin does: a node record, then a login. */
function loginByHand(iqn: string): void {
  sh(['iscsiadm', '-m', 'node', '-o', 'new', '-T', iqn, '-p', PORTAL]);
  sh(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '--login']);
}
const byPath = (iqn: string) => `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;

describe.runIf(inGuest)('node service: the life of a volume', () => {
  let p: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  let nodeId = '';
  const root = mkdtempSync('/tmp/kubelet-');
  const flags = [
    '--mode',
    'all',
    ...PUBLISH_WITHOUT_CHAP,
    '--volume-group',
    VG,
    '--thin-pool',
    'pool',
    '--thin-pool-percent',
    '60',
    '--portals',
    PORTAL,
    '--job-wait-seconds',
    '60',
    '--kubelet-dir',
    root,
  ];

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin(flags);
    node = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
    nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
  });

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    // sessions out, every LIO target of this guest removed, then the VG: a failed test leaves the disks free
    await teardownExports(VG);
  });

  const create = async (name: string, mib: number, cap: object, source?: object) =>
    (
      await call(p.controller, 'CreateVolume', {
        name,
        capacity_range: { required_bytes: String(mib * MiB) },
        volume_capabilities: [cap],
        parameters: {},
        ...(source ? { volume_content_source: source } : {}),
      })
    ).volume?.volume_id ?? '';

  /** Publish, stage and publish to a pod path, each RPC `times` in a row. */
  async function attach(id: string, cap: object, name: string, times = 2) {
    const ctx = (
      await call(p.controller, 'ControllerPublishVolume', {
        volume_id: id,
        node_id: nodeId,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    // kubelet's layout (1.24+): <kubelet-dir>/plugins/kubernetes.io/csi/<driver>/<sha256(volume handle)>/globalmount
    const staging = join(root, 'plugins/kubernetes.io/csi', DRIVER, name, 'globalmount');
    const target = join(root, name, 'pod');
    const stage = {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    };
    for (let i = 0; i < times; i++) await call(node, 'NodeStageVolume', stage);
    const pub = {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
      readonly: false,
      secrets: {},
      volume_context: {},
    };
    for (let i = 0; i < times; i++) await call(node, 'NodePublishVolume', pub);
    return { staging, target, ctx };
  }

  async function detach(id: string, a: { staging: string; target: string }, times = 2) {
    for (let i = 0; i < times; i++) await call(node, 'NodeUnpublishVolume', { volume_id: id, target_path: a.target });
    for (let i = 0; i < times; i++)
      await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
    for (let i = 0; i < times; i++)
      await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
  }

  it('reports a node id naming the node and its initiator, and its capabilities', async () => {
    expect(nodeId).toBe('storage-1:iqn.2024-01.test.vm:guest');
    const caps = (await call(node, 'NodeGetCapabilities', {})).capabilities.map((c) => c.rpc?.type).sort();
    expect(caps).toEqual(['EXPAND_VOLUME', 'GET_VOLUME_STATS', 'STAGE_UNSTAGE_VOLUME', 'VOLUME_CONDITION']);
  });

  for (const fs of ['ext4', 'xfs'] as const) {
    it(`ext4/xfs (${fs}): stage, write, snapshot, restore larger, expand online, clean up`, async () => {
      const size = fs === 'xfs' ? 320 : 64;
      const cap = mountCap(fs);
      const a = await create(`life-${fs}`, size, cap);
      const va = await attach(a, cap, `a-${fs}`);
      expect(sh(['findmnt', '-n', '-o', 'FSTYPE', va.staging]).trim()).toBe(fs);
      writeFileSync(join(va.target, 'data.bin'), createHash('sha512').update(fs).digest().toString('hex').repeat(4000));
      sh(['sync']);
      const sum = sha(join(va.target, 'data.bin'));
      const statsReq = { volume_id: a, volume_path: va.target, staging_target_path: va.staging };
      const stats = await call(node, 'NodeGetVolumeStats', statsReq);
      expect(await call(node, 'NodeGetVolumeStats', statsReq)).toEqual(stats);
      expect(stats.volume_condition?.abnormal).toBe(false);
      expect(Number(stats.usage.find((u) => u.unit === 'BYTES')?.used)).toBeGreaterThan(0);

      sh(['fsfreeze', '-f', va.staging]);
      const snap =
        (await call(p.controller, 'CreateSnapshot', { source_volume_id: a, name: `snap-${fs}`, parameters: {} }))
          .snapshot?.snapshot_id ?? '';
      sh(['fsfreeze', '-u', va.staging]);
      const b = await create(`life-${fs}-restore`, size * 2, cap, { snapshot: { snapshot_id: snap } });
      const vb = await attach(b, cap, `b-${fs}`);
      expect(sha(join(vb.target, 'data.bin'))).toBe(sum);
      expect(dfBytes(vb.target)).toBeGreaterThan(dfBytes(va.target) * 1.5);

      const before = dfBytes(va.target);
      await call(p.controller, 'ControllerExpandVolume', {
        volume_id: a,
        capacity_range: { required_bytes: String(size * 2 * MiB) },
        volume_capability: cap,
      });
      const expandReq = {
        volume_id: a,
        volume_path: va.target,
        staging_target_path: va.staging,
        capacity_range: { required_bytes: String(size * 2 * MiB) },
        volume_capability: cap,
      };
      const grown = await call(node, 'NodeExpandVolume', expandReq);
      expect(Number(grown.capacity_bytes)).toBe(size * 2 * MiB);
      expect(await call(node, 'NodeExpandVolume', expandReq)).toEqual(grown);
      expect(dfBytes(va.target)).toBeGreaterThan(before * 1.5);

      await detach(b, vb);
      await detach(a, va);
      await call(p.controller, 'DeleteVolume', { volume_id: b });
      await call(p.controller, 'DeleteSnapshot', { snapshot_id: snap });
      await call(p.controller, 'DeleteVolume', { volume_id: a });
      expect(sh(['lvs', '--noheadings', '-o', 'lv_name', VG]).trim()).toBe('pool');
      expect(existsSync(LIO) ? readdirSync(LIO).filter((x) => x.startsWith('iqn.')) : []).toEqual([]);
      expect(sessions()).toBe('');
      expect(shStatus(['iscsiadm', '-m', 'node']).out).not.toMatch(/csi-lvm-iscsi/);
      expect(sh(['findmnt', '-rn', '-o', 'TARGET']).includes(root)).toBe(false);
    });
  }

  it('raw block: bound onto a file, no file system made; a second pod target path shares it (SINGLE_NODE_WRITER)', async () => {
    const cap = blockCap();
    const v = await create('life-block', 32, cap);
    const a = await attach(v, cap, 'blk');
    expect(shStatus(['blkid', '-p', a.target]).code).toBe(2);
    expect(Number(sh(['blockdev', '--getsize64', a.target]).trim())).toBe(32 * MiB);
    const second = {
      volume_id: v,
      publish_context: a.ctx,
      staging_target_path: a.staging,
      target_path: join(root, 'blk', 'pod2'),
      volume_capability: cap,
      readonly: false,
      secrets: {},
      volume_context: {},
    };
    await call(node, 'NodePublishVolume', second);
    expect(Number(sh(['blockdev', '--getsize64', second.target_path]).trim())).toBe(32 * MiB);
    await call(node, 'NodeUnpublishVolume', { volume_id: v, target_path: second.target_path });
    await detach(v, a);
    await call(p.controller, 'DeleteVolume', { volume_id: v });
  });

  it('unstage after the session was killed by hand succeeds and leaves nothing behind', async () => {
    const cap = mountCap();
    const v = await create('life-killed', 32, cap);
    const a = await attach(v, cap, 'killed');
    await call(node, 'NodeUnpublishVolume', { volume_id: v, target_path: a.target });
    sh(['umount', a.staging]);
    sh(['iscsiadm', '-m', 'node', '-T', a.ctx['targetIqn'] ?? '', '--logout']);
    await call(node, 'NodeUnstageVolume', { volume_id: v, staging_target_path: a.staging });
    expect(sessions()).toBe('');
    expect(shStatus(['iscsiadm', '-m', 'node']).out).not.toContain(a.ctx['targetIqn'] ?? '-');
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: v });
  });

  it('volume condition follows the session: the target side ends it (unpublish) -> abnormal naming the session state; published again -> the session recovers, healthy', async () => {
    const cap = mountCap();
    const v = await create('life-condition', 32, cap);
    const a = await attach(v, cap, 'condition', 1);
    const statsReq = { volume_id: v, volume_path: a.target, staging_target_path: a.staging };
    const conditionNow = async () => (await call(node, 'NodeGetVolumeStats', statsReq)).volume_condition;
    expect(await conditionNow()).toEqual({ abnormal: false, message: 'volume is healthy' });
    // the ACL (and, with no other publication, the target) goes: the initiator's session drops into recovery
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: nodeId });
    const down = await waitFor(async () => {
      const c = await conditionNow();
      return c?.abnormal ? c : undefined;
    }, 60_000);
    expect(down.message).toMatch(new RegExp(`^iSCSI session to ${a.ctx['targetIqn'] ?? '-'} is (?!LOGGED_IN)\\S+$`));
    // exported again: the initiator's retries log in again, the same disk carries on
    await call(p.controller, 'ControllerPublishVolume', {
      volume_id: v,
      node_id: nodeId,
      volume_capability: cap,
      readonly: false,
      secrets: {},
      volume_context: {},
    });
    await waitFor(async () => (await conditionNow())?.abnormal === false, 120_000);
    writeFileSync(join(a.target, 'after.txt'), 'written after the session came back\n');
    sh(['sync']);
    expect(readFileSync(join(a.target, 'after.txt'), 'utf8')).toBe('written after the session came back\n');
    await detach(v, a, 1);
    expect(sessions()).toBe('');
    await call(p.controller, 'DeleteVolume', { volume_id: v });
  });

  it('local attach: on the storage node itself the LV is used directly, no target is made', async () => {
    const cap = mountCap();
    const v =
      (
        await call(p.controller, 'CreateVolume', {
          name: 'life-local',
          capacity_range: { required_bytes: String(32 * MiB) },
          volume_capabilities: [cap],
          parameters: { localAttach: 'true' },
        })
      ).volume?.volume_id ?? '';
    const a = await attach(v, cap, 'local');
    expect(a.ctx).toEqual({ attach: 'local', devicePath: `/dev/${VG}/${v.split('/')[2]}` });
    expect(existsSync(LIO) ? readdirSync(LIO).filter((x) => x.startsWith('iqn.')) : []).toEqual([]);
    expect(sh(['findmnt', '-n', '-o', 'SOURCE', a.staging]).trim()).toMatch(/^\/dev\/(mapper\/nodevg2-|dm-)/);
    writeFileSync(join(a.target, 'local.txt'), 'local attach\n');
    expect(readFileSync(join(a.target, 'local.txt'), 'utf8')).toBe('local attach\n');
    // another node still gets iSCSI for the same kind of volume
    const w =
      (
        await call(p.controller, 'CreateVolume', {
          name: 'life-local-2',
          capacity_range: { required_bytes: String(32 * MiB) },
          volume_capabilities: [cap],
          parameters: { localAttach: 'true' },
        })
      ).volume?.volume_id ?? '';
    const other = (
      await call(p.controller, 'ControllerPublishVolume', {
        volume_id: w,
        node_id: 'elsewhere:iqn.2024-01.test.vm:other',
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    expect(other['attach']).toBe('iscsi');
    await call(p.controller, 'ControllerUnpublishVolume', {
      volume_id: w,
      node_id: 'elsewhere:iqn.2024-01.test.vm:other',
    });
    await detach(v, a);
    await call(p.controller, 'DeleteVolume', { volume_id: v });
    await call(p.controller, 'DeleteVolume', { volume_id: w });
  });

  it('rejects bad paths naming the field', async () => {
    const err = await call(node, 'NodeStageVolume', {
      volume_id: 'x',
      staging_target_path: 'relative/path',
      volume_capability: mountCap(),
      publish_context: {},
      secrets: {},
      volume_context: {},
    }).catch((e: { code: number; details: string }) => e);
    expect((err as { code: number }).code).toBe(Code.INVALID_ARGUMENT);
    expect((err as { details: string }).details).toMatch(/staging_target_path/);
  });

  it('several portals without multipathd: FAILED_PRECONDITION naming it, before any login', async () => {
    const iqn = `${PREFIX}:${VG}:never`;
    const ctx = { attach: 'iscsi', targetIqn: iqn, portals: `${PORTAL},127.0.0.2:3260`, lun: '0' };
    const req = {
      volume_id: 'x/nodevg2/never',
      publish_context: ctx,
      staging_target_path: join(root, 'mp', 'globalmount'),
      volume_capability: mountCap(),
      secrets: {},
      volume_context: {},
    };
    const err = await call(node, 'NodeStageVolume', req).catch((e: { code: number; details: string }) => e);
    expect((err as { code: number }).code).toBe(Code.FAILED_PRECONDITION);
    expect((err as { details: string }).details).toMatch(
      /has 2 portals and needs dm-multipath: multipathd is not running/,
    );
    expect(shStatus(['iscsiadm', '-m', 'node']).out).not.toContain(iqn);
  });

  it('at start, a session to our target that no staged volume owns is removed; staged, in-use and foreign ones stay', async () => {
    const cap = mountCap();
    const keep = await create('orph-keep', 32, cap);
    const vk = await attach(keep, cap, 'orph-keep', 1);
    writeFileSync(join(vk.target, 'before.txt'), 'written before the restart\n');
    // staged, then its state file lost: still mounted, so in use and left alone
    const inuse = await create('orph-inuse', 32, cap);
    const ctxU = (
      await call(p.controller, 'ControllerPublishVolume', {
        volume_id: inuse,
        node_id: nodeId,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    const vu = {
      staging: join(root, 'plugins/kubernetes.io/csi', DRIVER, 'orph-inuse', 'globalmount'),
      target: join(root, 'orph-inuse', 'pod'),
      ctx: ctxU,
    };
    await call(node, 'NodeStageVolume', {
      volume_id: inuse,
      publish_context: ctxU,
      staging_target_path: vu.staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    });
    const stateFile = `${vu.staging}.lvm-iscsi.json`;
    const saved = readFileSync(stateFile, 'utf8');
    rmSync(stateFile);
    // Two targets exported by hand on loop devices and logged in to by hand: one under our prefix that no
    // state file names (what a crash between login and the state file leaves), one of other software.
    const lio = new LioTarget();
    const lostIqn = `${PREFIX}:${VG}:vol-lost`;
    const loops: string[] = [];
    const exportLoop = async (iqn: string, name: string) => {
      const img = join(root, `${name}.img`);
      writeFileSync(img, '');
      sh(['truncate', '-s', '8M', img]);
      loops.push(sh(['losetup', '-f', '--show', img]).trim());
      await lio.ensureTarget({
        iqn,
        volumeKey: `test/${name}`,
        devicePath: loops.at(-1) ?? '',
        serial: unitSerial('test', name),
        portals: [{ address: '127.0.0.1', port: 3260 }],
      });
      await lio.allowInitiator(iqn, 'iqn.2024-01.test.vm:guest');
      loginByHand(iqn);
    };
    const recordOnly = `${PREFIX}:${VG}:vol-gone`;
    try {
      await exportLoop(lostIqn, 'lost');
      await exportLoop(FOREIGN, 'foreign');
      // udev makes the by-path link; on a loaded guest it can lag: settle once, then wait, and say what was there
      shStatus(['udevadm', 'settle', '--timeout=30']);
      await waitFor(
        () => existsSync(byPath(lostIqn)),
        60_000,
        () =>
          [
            shStatus(['iscsiadm', '-m', 'session', '-P', '3']).out,
            shStatus(['ls', '-l', '/dev/disk/by-path']).out,
            shStatus(['lsblk', '-o', 'NAME,SIZE,TRAN,SERIAL']).out,
          ].join('\n'),
      );
      const lostDisk = realpathSync(byPath(lostIqn));
      sh(['iscsiadm', '-m', 'node', '-o', 'new', '-T', recordOnly, '-p', PORTAL]); // a record without a session

      // A node plugin starting (as after a restart of the node DaemonSet's pod): it answers Probe once the clean-up is done.
      const restarted = await startPlugin(['--mode', 'node', '--kubelet-dir', root]);
      const log = restarted.log();
      await restarted.stop();

      const live = sessionIqns();
      expect(live).not.toContain(lostIqn);
      expect(live).toEqual(expect.arrayContaining([vk.ctx['targetIqn'], vu.ctx['targetIqn'], FOREIGN]));
      const records = shStatus(['iscsiadm', '-m', 'node']).out;
      expect(records).not.toContain(lostIqn);
      expect(records).not.toContain(recordOnly);
      expect(records).toContain(FOREIGN);
      expect(existsSync(lostDisk)).toBe(false);
      const lines = log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; iqn?: string; reasons?: string[] });
      expect(lines.find((l) => l.msg.startsWith('orphaned iSCSI session removed'))?.iqn).toBe(lostIqn);
      expect(lines.find((l) => l.msg.startsWith('orphaned iSCSI node record deleted'))?.iqn).toBe(recordOnly);
      expect(lines.find((l) => l.msg.includes('in use: left alone'))).toMatchObject({
        iqn: vu.ctx['targetIqn'],
        reasons: expect.arrayContaining([expect.stringMatching(/ is mounted at .*orph-inuse\/globalmount$/)]),
      });
      expect(lines.some((l) => l.msg.includes('clean-up of orphaned iSCSI sessions done'))).toBe(true);

      // the staged volume goes on working: written through, read back from the device
      writeFileSync(join(vk.target, 'after.txt'), 'written after the restart\n');
      sh(['sync', join(vk.target, 'after.txt')]);
      writeFileSync('/proc/sys/vm/drop_caches', '3');
      expect(readFileSync(join(vk.target, 'before.txt'), 'utf8')).toBe('written before the restart\n');
      expect(readFileSync(join(vk.target, 'after.txt'), 'utf8')).toBe('written after the restart\n');
      expect(
        (
          await call(node, 'NodeGetVolumeStats', {
            volume_id: keep,
            volume_path: vk.target,
            staging_target_path: vk.staging,
          })
        ).volume_condition?.abnormal,
      ).toBe(false);
    } finally {
      for (const iqn of [lostIqn, FOREIGN, recordOnly]) {
        shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '--logout']);
        shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-o', 'delete']);
      }
      for (const iqn of [lostIqn, FOREIGN]) await lio.removeTarget(iqn);
      for (const loop of loops) sh(['losetup', '-d', loop]);
    }
    writeFileSync(stateFile, saved);
    await detach(keep, vk, 1);
    await detach(inuse, vu, 1);
    for (const v of [keep, inuse]) await call(p.controller, 'DeleteVolume', { volume_id: v });
    expect(sessions()).toBe('');
  });
});

/**
 * The whole life of a volume through the plugin's gRPC socket, storage side
 * and node side in one guest, iSCSI over the guest's loopback:
 * create -> publish -> stage -> publish -> write -> snapshot -> restore into a
 * larger volume -> stage it -> same files, larger fs -> expand the first while
 * mounted -> unpublish/unstage/delete -> nothing left behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import { blockCap, call, codeOf, destroyVg, disks, inGuest, makeVg, MiB, mountCap, sh, shStatus, startPlugin, type PluginProcess } from './lib.js';

const VG = 'nodevg2';
const LIO = '/sys/kernel/config/target/iscsi';

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

describe.runIf(inGuest)('node service: the life of a volume', () => {
  let p: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  let nodeId = '';
  const root = mkdtempSync('/tmp/kubelet-');

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin(['--mode', 'all', '--volume-group', VG, '--thin-pool', 'pool', '--thin-pool-percent', '60', '--portals', '127.0.0.1:3260', '--job-wait-seconds', '60']);
    node = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
    nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
  });

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    destroyVg(VG);
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

  async function attach(id: string, cap: object, name: string) {
    const ctx = (await call(p.controller, 'ControllerPublishVolume', { volume_id: id, node_id: nodeId, volume_capability: cap, readonly: false, secrets: {}, volume_context: {} })).publish_context;
    const staging = join(root, name, 'globalmount');
    const target = join(root, name, 'pod');
    const stage = { volume_id: id, publish_context: ctx, staging_target_path: staging, volume_capability: cap, secrets: {}, volume_context: {} };
    await call(node, 'NodeStageVolume', stage);
    await call(node, 'NodeStageVolume', stage);
    const pub = { volume_id: id, publish_context: ctx, staging_target_path: staging, target_path: target, volume_capability: cap, readonly: false, secrets: {}, volume_context: {} };
    await call(node, 'NodePublishVolume', pub);
    await call(node, 'NodePublishVolume', pub);
    return { staging, target, ctx };
  }

  async function detach(id: string, a: { staging: string; target: string }) {
    for (let i = 0; i < 2; i++) await call(node, 'NodeUnpublishVolume', { volume_id: id, target_path: a.target });
    for (let i = 0; i < 2; i++) await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
    for (let i = 0; i < 2; i++) await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
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
      const stats = await call(node, 'NodeGetVolumeStats', { volume_id: a, volume_path: va.target, staging_target_path: va.staging });
      expect(stats.volume_condition?.abnormal).toBe(false);
      expect(Number(stats.usage.find((u) => u.unit === 'BYTES')?.used)).toBeGreaterThan(0);

      sh(['fsfreeze', '-f', va.staging]);
      const snap = (await call(p.controller, 'CreateSnapshot', { source_volume_id: a, name: `snap-${fs}`, parameters: {} })).snapshot?.snapshot_id ?? '';
      sh(['fsfreeze', '-u', va.staging]);
      const b = await create(`life-${fs}-restore`, size * 2, cap, { snapshot: { snapshot_id: snap } });
      const vb = await attach(b, cap, `b-${fs}`);
      expect(sha(join(vb.target, 'data.bin'))).toBe(sum);
      expect(dfBytes(vb.target)).toBeGreaterThan(dfBytes(va.target) * 1.5);

      const before = dfBytes(va.target);
      await call(p.controller, 'ControllerExpandVolume', { volume_id: a, capacity_range: { required_bytes: String(size * 2 * MiB) }, volume_capability: cap });
      const grown = await call(node, 'NodeExpandVolume', { volume_id: a, volume_path: va.target, staging_target_path: va.staging, capacity_range: { required_bytes: String(size * 2 * MiB) }, volume_capability: cap });
      expect(Number(grown.capacity_bytes)).toBe(size * 2 * MiB);
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

  it('raw block: bound onto a file, no file system made; a second target path is refused', async () => {
    const cap = blockCap();
    const v = await create('life-block', 32, cap);
    const a = await attach(v, cap, 'blk');
    expect(shStatus(['blkid', '-p', a.target]).code).toBe(2);
    expect(Number(sh(['blockdev', '--getsize64', a.target]).trim())).toBe(32 * MiB);
    const second = { volume_id: v, publish_context: a.ctx, staging_target_path: a.staging, target_path: join(root, 'blk', 'pod2'), volume_capability: cap, readonly: false, secrets: {}, volume_context: {} };
    expect(await codeOf(call(node, 'NodePublishVolume', second))).toBe(Code.FAILED_PRECONDITION);
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

  it('local attach: on the storage node itself the LV is used directly, no target is made', async () => {
    const cap = mountCap();
    const v = (await call(p.controller, 'CreateVolume', { name: 'life-local', capacity_range: { required_bytes: String(32 * MiB) }, volume_capabilities: [cap], parameters: { localAttach: 'true' } })).volume?.volume_id ?? '';
    const a = await attach(v, cap, 'local');
    expect(a.ctx).toEqual({ attach: 'local', devicePath: `/dev/${VG}/${v.split('/')[2]}` });
    expect(existsSync(LIO) ? readdirSync(LIO).filter((x) => x.startsWith('iqn.')) : []).toEqual([]);
    expect(sh(['findmnt', '-n', '-o', 'SOURCE', a.staging]).trim()).toMatch(/^\/dev\/(mapper\/nodevg2-|dm-)/);
    writeFileSync(join(a.target, 'local.txt'), 'local attach\n');
    expect(readFileSync(join(a.target, 'local.txt'), 'utf8')).toBe('local attach\n');
    // another node still gets iSCSI for the same kind of volume
    const w = (await call(p.controller, 'CreateVolume', { name: 'life-local-2', capacity_range: { required_bytes: String(32 * MiB) }, volume_capabilities: [cap], parameters: { localAttach: 'true' } })).volume?.volume_id ?? '';
    const other = (await call(p.controller, 'ControllerPublishVolume', { volume_id: w, node_id: 'elsewhere:iqn.2024-01.test.vm:other', volume_capability: cap, readonly: false, secrets: {}, volume_context: {} })).publish_context;
    expect(other['attach']).toBe('iscsi');
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: w, node_id: 'elsewhere:iqn.2024-01.test.vm:other' });
    await detach(v, a);
    await call(p.controller, 'DeleteVolume', { volume_id: v });
    await call(p.controller, 'DeleteVolume', { volume_id: w });
  });

  it('rejects bad paths naming the field', async () => {
    const err = await call(node, 'NodeStageVolume', { volume_id: 'x', staging_target_path: 'relative/path', volume_capability: mountCap(), publish_context: {}, secrets: {}, volume_context: {} }).catch((e: { code: number; details: string }) => e);
    expect((err as { code: number }).code).toBe(Code.INVALID_ARGUMENT);
    expect((err as { details: string }).details).toMatch(/staging_target_path/);
  });
});

/**
 * The node calls as kubelet (and csi-sanity) make them, through the plugin's
 * gRPC socket, with real iSCSI over the guest's loopback and kubelet's path
 * layout below a scratch --kubelet-dir:
 *
 * - NodeGetVolumeStats and NodeExpandVolume with the pod's target path, with
 *   and without the staging path, on ext4, xfs and raw block; a raw block
 *   volume's stats at kubelet's per-pod map of the device (what kubelet asks);
 * - unpublish, publish again at a new path while staged; two pods at once;
 * - the plugin restarted, then unpublish/unstage (repeated, out of order);
 * - reader-only access modes: a blank volume is never formatted, a formatted
 *   one (clean, or a snapshot with a dirty journal) is mounted read-only
 *   without replaying its journal: not one byte of the device changes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import {
  blockCap,
  call,
  checksum,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  writePattern,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'kubeletvg';
const DRIVER = 'lvm-iscsi.csi.example.org';
const PORTAL = '127.0.0.1:3260';
type Node = InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
type Mode = 'SINGLE_NODE_WRITER' | 'SINGLE_NODE_READER_ONLY' | 'MULTI_NODE_READER_ONLY';
type Cap =
  ReturnType<typeof blockCap> | { mount: { fs_type: string; mount_flags: string[] }; access_mode: { mode: Mode } };

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const dfBytes = (path: string) => Number(sh(['df', '-B1', '--output=size', path]).split('\n')[1]?.trim());
const failure = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 0, details: '' }),
    (e: { code: number; details: string }) => ({ code: e.code, details: e.details }),
  );
const readerCap = (mode: Mode, fs = 'ext4'): Cap => ({
  mount: { fs_type: fs, mount_flags: [] },
  access_mode: { mode },
});

describe.runIf(inGuest)('node calls as kubelet makes them', { timeout: 900_000 }, () => {
  let p: PluginProcess;
  let node: Node;
  let nodeId = '';
  const root = mkdtempSync('/tmp/kubelet-');
  const csiDir = join(root, 'plugins/kubernetes.io/csi');
  const flags = [
    '--mode',
    'all',
    ...PUBLISH_WITHOUT_CHAP,
    '--volume-group',
    VG,
    '--thin-pool',
    'pool',
    '--thin-pool-percent',
    '90',
    '--portals',
    PORTAL,
    '--job-wait-seconds',
    '60',
    '--kubelet-dir',
    root,
  ];
  const connect = (pp: PluginProcess) => new (loadCsi().csi.v1.Node)(`unix://${pp.sock}`, credentials.createInsecure());

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    p = await startPlugin(flags);
    node = connect(p);
    nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
  });

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    destroyVg(VG);
  });

  const create = async (name: string, mib: number, cap: Cap, source?: object) =>
    (
      await call(p.controller, 'CreateVolume', {
        name,
        capacity_range: { required_bytes: String(mib * MiB) },
        volume_capabilities: [cap],
        parameters: {},
        ...(source ? { volume_content_source: source } : {}),
      })
    ).volume?.volume_id ?? '';

  /** kubelet's paths (1.24+): staging per volume, one target per pod; raw block under volumeDevices. */
  const paths = (pv: string, block: boolean) =>
    block
      ? {
          staging: join(csiDir, 'volumeDevices/staging', pv),
          target: (pod: string) => join(csiDir, 'volumeDevices/publish', pv, pod),
        }
      : {
          staging: join(csiDir, DRIVER, createHash('sha256').update(pv).digest('hex'), 'globalmount'),
          target: (pod: string) => join(root, 'pods', pod, 'volumes/kubernetes.io~csi', pv, 'mount'),
        };

  async function stage(id: string, cap: Cap, pv: string, readonly = false) {
    const ctx = (
      await call(p.controller, 'ControllerPublishVolume', {
        volume_id: id,
        node_id: nodeId,
        volume_capability: cap,
        readonly,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    const { staging, target } = paths(pv, 'block' in cap);
    mkdirSync(staging, { recursive: true }); // kubelet makes the staging directory
    const req = {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    };
    return { ctx, staging, target, req };
  }
  async function publish(
    id: string,
    cap: Cap,
    a: { ctx: Record<string, string>; staging: string },
    target: string,
    readonly = false,
  ) {
    mkdirSync(join(target, '..'), { recursive: true }); // kubelet makes the parent, the plugin the target itself
    await call(node, 'NodePublishVolume', {
      volume_id: id,
      publish_context: a.ctx,
      staging_target_path: a.staging,
      target_path: target,
      volume_capability: cap,
      readonly,
      secrets: {},
      volume_context: {},
    });
  }
  const unpublish = (id: string, target: string) =>
    call(node, 'NodeUnpublishVolume', { volume_id: id, target_path: target });
  async function teardown(id: string, staging: string) {
    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: staging });
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: id });
  }
  const stateOf = (staging: string) =>
    JSON.parse(readFileSync(`${staging}.lvm-iscsi.json`, 'utf8')) as { targets: string[]; readOnly?: boolean };

  for (const kind of ['ext4', 'xfs', 'block'] as const) {
    it(`${kind}: NodeGetVolumeStats and NodeExpandVolume by target path, with and without the staging path`, async () => {
      const block = kind === 'block';
      const size = kind === 'xfs' ? 320 : 32;
      const cap = block ? blockCap() : mountCap(kind);
      const id = await create(`kl-${kind}`, size, cap);
      const a = await stage(id, cap, `pv-${kind}`);
      await call(node, 'NodeStageVolume', a.req);
      const target = a.target('pod-1');
      await publish(id, cap, a, target);
      let sum: string;
      if (block) {
        writePattern(target, 8 * MiB, 'kl-block');
        sum = checksum(target, 8 * MiB);
      } else {
        writeFileSync(join(target, 'data.bin'), Buffer.alloc(3 * MiB, 'kubelet'));
        sh(['sync']);
        sum = sha(join(target, 'data.bin'));
      }

      // kubelet: volume_path = the pod's target path, nothing else; also by the staging path, and with both
      const byTarget = await call(node, 'NodeGetVolumeStats', {
        volume_id: id,
        volume_path: target,
        staging_target_path: '',
      });
      expect(byTarget.volume_condition?.abnormal).toBe(false);
      const bytes = byTarget.usage.find((u) => u.unit === 'BYTES');
      if (block) expect(Number(bytes?.total)).toBe(size * MiB);
      else expect(Number(bytes?.used)).toBeGreaterThan(3 * MiB - 1);
      for (const req of [
        { volume_id: id, volume_path: a.staging, staging_target_path: '' },
        { volume_id: id, volume_path: target, staging_target_path: a.staging },
      ]) {
        expect((await call(node, 'NodeGetVolumeStats', req)).usage.find((u) => u.unit === 'BYTES')?.total).toBe(
          bytes?.total,
        );
      }
      // not there: NOT_FOUND, relative or absolute; another volume's path: NOT_FOUND naming it
      for (const volume_path of ['some/path', join(root, 'nowhere')]) {
        expect(
          (await failure(call(node, 'NodeGetVolumeStats', { volume_id: id, volume_path, staging_target_path: '' })))
            .code,
        ).toBe(Code.NOT_FOUND);
        expect(
          (
            await failure(
              call(node, 'NodeExpandVolume', {
                volume_id: id,
                volume_path,
                staging_target_path: '',
                capacity_range: null,
                volume_capability: null,
                secrets: {},
              }),
            )
          ).code,
        ).toBe(Code.NOT_FOUND);
      }
      const other = await failure(
        call(node, 'NodeGetVolumeStats', { volume_id: `${id}-other`, volume_path: target, staging_target_path: '' }),
      );
      expect(other).toEqual({ code: Code.NOT_FOUND, details: expect.stringContaining(`holds volume ${id}`) });

      // kubelet: target path + staging path; csi-sanity: target path alone
      let want = size;
      for (const staging_target_path of [a.staging, '']) {
        want += 16;
        const capacity_range = { required_bytes: String(want * MiB), limit_bytes: '0' };
        await call(p.controller, 'ControllerExpandVolume', {
          volume_id: id,
          capacity_range,
          volume_capability: cap,
          secrets: {},
        });
        const before = block ? 0 : dfBytes(target);
        const grown = await call(node, 'NodeExpandVolume', {
          volume_id: id,
          volume_path: target,
          staging_target_path,
          capacity_range,
          volume_capability: cap,
          secrets: {},
        });
        expect(Number(grown.capacity_bytes)).toBe(want * MiB);
        if (block) expect(Number(sh(['blockdev', '--getsize64', target]).trim())).toBe(want * MiB);
        else expect(dfBytes(target)).toBeGreaterThan(before);
      }
      expect(block ? checksum(target, 8 * MiB) : sha(join(target, 'data.bin'))).toBe(sum);

      await unpublish(id, target);
      expect(existsSync(target)).toBe(false);
      await teardown(id, a.staging);
    });
  }

  it("raw block: NodeGetVolumeStats at kubelet's per-pod map of the device, and for nothing that is not the volume's device", async () => {
    const cap = blockCap();
    const id = await create('kl-blockmap', 32, cap);
    const other = await create('kl-blockmap-other', 16, cap);
    const pv = 'pv-blockmap';
    const a = await stage(id, cap, pv);
    await call(node, 'NodeStageVolume', a.req);
    const pod = '6f1c2a8e-0d4b-4c47-9a57-block-map-1';
    const target = a.target(pod);
    await publish(id, cap, a, target);
    // a second raw block volume published on the node: its device is not the first one's
    const b = await stage(other, cap, 'pv-blockmap-other');
    await call(node, 'NodeStageVolume', b.req);
    const otherTarget = b.target(pod);
    await publish(other, cap, b, otherTarget);
    // kubelet (MapBlockVolume, after NodePublishVolume): <global map path>/<pod uid>, a bind mount of the publish
    // target, and the path its metrics provider asks NodeGetVolumeStats at (volume_path only, no staging path)
    const mapPath = (volume: string, uid: string) => join(csiDir, 'volumeDevices', volume, 'dev', uid);
    const bindMap = (from: string, map: string) => {
      mkdirSync(join(map, '..'), { recursive: true });
      writeFileSync(map, '');
      sh(['mount', '--bind', from, map]);
    };
    const map = mapPath(pv, pod);
    bindMap(target, map);
    const otherMap = mapPath('pv-blockmap-other', pod);
    bindMap(otherTarget, otherMap);
    const foreign = mapPath(pv, 'not-a-publish'); // a disk of the guest that is no volume's
    bindMap(disks[2] ?? '/dev/vdc', foreign);
    const statsAt = (volume_id: string, volume_path: string) =>
      call(node, 'NodeGetVolumeStats', { volume_id, volume_path, staging_target_path: '' });
    try {
      const stats = await statsAt(id, map);
      expect(stats.volume_condition?.abnormal).toBe(false);
      // the device's size; a raw block volume has no inodes
      expect(stats.usage.map((u) => [u.unit, Number(u.total)])).toEqual([['BYTES', 32 * MiB]]);
      expect(Number((await statsAt(other, otherMap)).usage[0]?.total)).toBe(16 * MiB);
      // no stats for a path that is not the volume's device: the other volume's map, a foreign disk, a plain file
      const plain = join(root, 'plain-file');
      writeFileSync(plain, '');
      for (const [volume_id, volume_path] of [
        [id, otherMap],
        [other, map],
        [id, foreign],
        [id, plain],
      ] as const) {
        expect(await failure(statsAt(volume_id, volume_path))).toEqual({
          code: Code.NOT_FOUND,
          details: expect.stringContaining('not the device of a raw block publish'),
        });
      }
      // kubelet unmaps before NodeUnpublishVolume; a map left behind after the unpublish is no longer the volume's
      await unpublish(id, target);
      expect(await failure(statsAt(id, map))).toEqual({
        code: Code.NOT_FOUND,
        details: expect.stringContaining('not the device of a raw block publish'),
      });
    } finally {
      for (const m of [map, otherMap, foreign]) shStatus(['umount', m]);
    }
    await unpublish(other, otherTarget);
    await teardown(id, a.staging);
    await teardown(other, b.staging);
  });

  it('unpublish, publish again at a new path while staged, then two pods at once', async () => {
    const cap = mountCap();
    const id = await create('kl-pods', 32, cap);
    const a = await stage(id, cap, 'pv-pods');
    await call(node, 'NodeStageVolume', a.req);
    const [pod1, pod2, pod3] = ['pod-a', 'pod-b', 'pod-c'].map((x) => a.target(x)) as [string, string, string];
    await publish(id, cap, a, pod1);
    writeFileSync(join(pod1, 'one.txt'), 'written by pod a\n');
    sh(['sync']);
    const sum = sha(join(pod1, 'one.txt'));
    await unpublish(id, pod1);
    expect(existsSync(pod1)).toBe(false);
    expect(stateOf(a.staging).targets).toEqual([]);

    // the replacement pod on the same node, volume still staged (this hung in ContainerCreating before)
    await publish(id, cap, a, pod2);
    expect(sha(join(pod2, 'one.txt'))).toBe(sum);
    // a second pod sharing the ReadWriteOnce volume on this node (kubelet sends SINGLE_NODE_WRITER)
    await publish(id, cap, a, pod3);
    await publish(id, cap, a, pod3); // repeated: OK
    expect(stateOf(a.staging).targets.sort()).toEqual([pod2, pod3].sort());
    writeFileSync(join(pod3, 'three.txt'), 'written by pod c\n');
    expect(readFileSync(join(pod2, 'three.txt'), 'utf8')).toBe('written by pod c\n');
    for (const t of [pod2, pod3])
      expect(
        (await call(node, 'NodeGetVolumeStats', { volume_id: id, volume_path: t, staging_target_path: '' }))
          .volume_condition?.abnormal,
      ).toBe(false);
    // the old pod's path is gone: NOT_FOUND for stats, OK for a repeated unpublish
    expect(
      (await failure(call(node, 'NodeGetVolumeStats', { volume_id: id, volume_path: pod1, staging_target_path: '' })))
        .code,
    ).toBe(Code.NOT_FOUND);
    await unpublish(id, pod1);

    await unpublish(id, pod2);
    expect(readFileSync(join(pod3, 'one.txt'), 'utf8')).toBe('written by pod a\n');
    await unpublish(id, pod3);
    expect(stateOf(a.staging).targets).toEqual([]);
    await teardown(id, a.staging);
  });

  it('unpublish never deletes recursively: a target directory with files in it is refused and kept', async () => {
    const cap = mountCap();
    const id = await create('kl-rm', 32, cap);
    const a = await stage(id, cap, 'pv-rm');
    await call(node, 'NodeStageVolume', a.req);
    const target = a.target('pod-rm');
    await publish(id, cap, a, target);
    sh(['umount', target]); // something unmounted it behind the plugin's back, and a file landed in the bare directory
    writeFileSync(join(target, 'stray.txt'), 'not on the volume\n');
    const err = await failure(unpublish(id, target));
    expect(err).toEqual({
      code: Code.FAILED_PRECONDITION,
      details: expect.stringMatching(/never removed recursively/),
    });
    expect(readFileSync(join(target, 'stray.txt'), 'utf8')).toBe('not on the volume\n');
    sh(['rm', join(target, 'stray.txt')]);
    await unpublish(id, target);
    expect(existsSync(target)).toBe(false);
    await teardown(id, a.staging);
  });

  it('after a plugin restart: stats by target path, unpublish (twice), unstage of a volume whose target path is gone', async () => {
    const cap = mountCap();
    const id = await create('kl-restart', 32, cap);
    const a = await stage(id, cap, 'pv-restart');
    await call(node, 'NodeStageVolume', a.req);
    const [t1, t2] = [a.target('pod-r1'), a.target('pod-r2')];
    await publish(id, cap, a, t1);
    await publish(id, cap, a, t2);
    writeFileSync(join(t1, 'r.txt'), 'before the restart\n');
    sh(['sync']);

    node.close();
    await p.stop();
    p = await startPlugin(flags);
    node = connect(p);

    expect(
      (await call(node, 'NodeGetVolumeStats', { volume_id: id, volume_path: t1, staging_target_path: '' }))
        .volume_condition?.abnormal,
    ).toBe(false);
    expect(readFileSync(join(t2, 'r.txt'), 'utf8')).toBe('before the restart\n');
    await unpublish(id, t1);
    await unpublish(id, t1);
    expect(existsSync(t1)).toBe(false);
    // t2 gone behind the plugin's back (as after a node reboot): unstage first, then kubelet's unpublish of the gone path
    sh(['umount', t2]);
    sh(['rmdir', t2]);
    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
    await unpublish(id, t2);
    expect(shStatus(['iscsiadm', '-m', 'session']).out).not.toContain(a.ctx['targetIqn'] ?? '-');
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: id });
  });

  it('reader-only: a blank volume staged through MULTI_NODE_READER_ONLY is refused and left blank', async () => {
    const cap = readerCap('MULTI_NODE_READER_ONLY');
    const id = await create('kl-ro-blank', 32, cap);
    const a = await stage(id, cap, 'pv-ro-blank');
    const err = await failure(call(node, 'NodeStageVolume', a.req));
    expect(err).toEqual({ code: Code.FAILED_PRECONDITION, details: expect.stringMatching(/never formatted/) });
    const lv = `/dev/${VG}/${id.split('/')[2]}`;
    expect(shStatus(['blkid', '-p', lv]).code).toBe(2); // nothing on it
    expect(sh(['wipefs', '-n', lv]).trim()).toBe('');
    await teardown(id, a.staging);
  });

  for (const fs of ['ext4', 'xfs'] as const) {
    it(`reader-only ${fs}: clean and dirty-journal file systems mount read-only, no byte of the device changes, writes fail with EROFS`, async () => {
      const size = fs === 'xfs' ? 320 : 32;
      const rw = mountCap(fs);
      const id = await create(`kl-ro-${fs}`, size, rw);
      const a = await stage(id, rw, `pv-ro-${fs}`);
      await call(node, 'NodeStageVolume', a.req);
      const t = a.target('pod-w');
      await publish(id, rw, a, t);
      writeFileSync(join(t, 'kept.bin'), Buffer.alloc(2 * MiB, `${fs} data`));
      const sum = sha(join(t, 'kept.bin'));
      sh(['fsfreeze', '-f', a.staging]); // kept.bin reaches its home location
      sh(['fsfreeze', '-u', a.staging]);
      writeFileSync(join(t, 'late.bin'), Buffer.alloc(MiB, 'late')); // ...and the journal/log is dirty again
      sh(['sync']);
      // a snapshot of the mounted volume: its file system needs journal recovery
      const snap =
        (
          await call(p.controller, 'CreateSnapshot', {
            source_volume_id: id,
            name: `kl-ro-snap-${fs}`,
            parameters: {},
            secrets: {},
          })
        ).snapshot?.snapshot_id ?? '';
      const dirty = await create(`kl-ro-dirty-${fs}`, size, rw, { snapshot: { snapshot_id: snap } });
      await unpublish(id, t);
      await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: a.staging });
      await call(p.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });

      for (const [vol, label] of [
        [id, 'clean'],
        [dirty, 'dirty'],
      ] as const) {
        const lv = `/dev/${VG}/${vol.split('/')[2]}`;
        const before = checksum(lv, size * MiB);
        const ro = readerCap(label === 'clean' ? 'SINGLE_NODE_READER_ONLY' : 'MULTI_NODE_READER_ONLY', fs);
        const b = await stage(vol, ro, `pv-ro-${fs}-${label}`);
        await call(node, 'NodeStageVolume', b.req);
        await call(node, 'NodeStageVolume', b.req); // repeated: OK
        const opts = sh(['findmnt', '-n', '-o', 'OPTIONS', b.staging]).trim().split(',');
        expect(opts).toEqual(expect.arrayContaining(['ro', 'norecovery'])); // ext4 reports its noload as norecovery
        const pod = b.target('pod-r');
        await publish(vol, ro, b, pod); // the CO's readonly flag is false: bound read-only anyway
        expect(sh(['findmnt', '-n', '-o', 'VFS-OPTIONS', pod]).trim().split(',')[0]).toBe('ro');
        expect(sha(join(pod, 'kept.bin'))).toBe(sum);
        const write = shStatus(['sh', '-c', `echo x > ${join(pod, 'new.txt')}`]);
        expect(write.code).not.toBe(0);
        expect(write.out).toMatch(/Read-only file system/);
        const stats = await call(node, 'NodeGetVolumeStats', {
          volume_id: vol,
          volume_path: pod,
          staging_target_path: '',
        });
        expect(stats.volume_condition?.abnormal).toBe(false);
        await unpublish(vol, pod);
        await call(node, 'NodeUnstageVolume', { volume_id: vol, staging_target_path: b.staging });
        await call(p.controller, 'ControllerUnpublishVolume', { volume_id: vol, node_id: nodeId });
        expect(checksum(lv, size * MiB)).toBe(before);
      }
      await call(p.controller, 'DeleteVolume', { volume_id: dirty });
      await call(p.controller, 'DeleteSnapshot', { snapshot_id: snap });
      await call(p.controller, 'DeleteVolume', { volume_id: id });
    });
  }
});

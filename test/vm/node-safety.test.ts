/**
 * Node-side data safety (issue #11 item 2 and the node's low items), on the
 * real kernel: iSCSI over the guest's loopback, ext4 on the staged volumes,
 * data checked by checksum.
 *
 * - NodeUnstageVolume finds the disks from the target, never from the kernel
 *   names saved at stage: with A's saved names pointing at B's disk (what a
 *   reboot that hands the names out in another order leaves), unstaging A
 *   leaves B's disk, mount and data alone and ends A's session;
 * - unstage refuses (FAILED_PRECONDITION, session up) while the volume is
 *   mounted elsewhere or held by another block device;
 * - a stage that fails after login takes its session and node record back,
 *   but not a session a previous successful stage owns;
 * - the plugin runs with --restrict-paths-to-kubelet-dir true, as deploy/ and
 *   the chart run it: a stage or publish outside kubelet's places (/tmp, a
 *   link in pods/ to /etc) is INVALID_ARGUMENT naming the field and makes
 *   nothing; at kubelet's own paths the volume stages and publishes.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCsi } from '../../src/server/proto.js';
import {
  call,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'safevg';
const DRIVER = 'lvm-iscsi.csi.example.org';
const PORTAL = '127.0.0.1:3260';

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
function sessionIqns(): string[] {
  const r = shStatus(['iscsiadm', '-m', 'session']);
  return r.code === 0
    ? r.out
        .split('\n')
        .map((l) => l.split(/\s+/)[3] ?? '')
        .filter(Boolean)
    : [];
}
function nodeRecords(): string {
  const r = shStatus(['iscsiadm', '-m', 'node']);
  return r.code === 0 ? r.out : '';
}
const byPath = (iqn: string) => `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;
const stateFile = (staging: string) => `${staging}.lvm-iscsi.json`;
function dropCaches(): void {
  sh(['sync']);
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

describe.runIf(inGuest)("node safety: unstage acts only on the volume's own devices", () => {
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
    '--restrict-paths-to-kubelet-dir',
    'true',
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
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    destroyVg(VG);
  });

  async function volume(name: string, fs = 'ext4') {
    const cap = mountCap(fs);
    const id =
      (
        await call(p.controller, 'CreateVolume', {
          name,
          capacity_range: { required_bytes: String(32 * MiB) },
          volume_capabilities: [cap],
          parameters: {},
        })
      ).volume?.volume_id ?? '';
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
    return { id, ctx, iqn: ctx['targetIqn'] ?? '' };
  }
  const stagingOf = (name: string) => join(root, 'plugins/kubernetes.io/csi', DRIVER, name, 'globalmount');
  const stageReq = (v: { id: string; ctx: Record<string, string> }, staging: string, fs = 'ext4') => ({
    volume_id: v.id,
    publish_context: v.ctx,
    staging_target_path: staging,
    volume_capability: mountCap(fs),
    secrets: {},
    volume_context: {},
  });
  async function remove(v: { id: string }) {
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v.id, node_id: nodeId });
    await call(p.controller, 'DeleteVolume', { volume_id: v.id });
  }

  it("unstaging A whose saved disk names point at B's disk leaves B's disk, mount and data intact and ends A's session", async () => {
    const a = await volume('swap-a');
    const b = await volume('swap-b');
    const sa = stagingOf('swap-a');
    const sb = stagingOf('swap-b');
    await call(node, 'NodeStageVolume', stageReq(a, sa));
    await call(node, 'NodeStageVolume', stageReq(b, sb));
    const bDisk = realpathSync(byPath(b.iqn)).replace('/dev/', '');
    const aDisk = realpathSync(byPath(a.iqn)).replace('/dev/', '');
    expect(aDisk).not.toBe(bDisk);
    writeFileSync(join(sb, 'data.bin'), createHash('sha512').update('tenant b').digest('hex').repeat(20000));
    dropCaches();
    const sum = sha(join(sb, 'data.bin'));

    // what a reboot that hands out the names in the other order leaves in A's state file
    const saved = JSON.parse(readFileSync(stateFile(sa), 'utf8')) as { disks: string[]; device: string };
    expect(saved.disks).toEqual([aDisk]);
    writeFileSync(stateFile(sa), JSON.stringify({ ...saved, disks: [bDisk], device: `/dev/${bDisk}` }));

    await call(node, 'NodeUnstageVolume', { volume_id: a.id, staging_target_path: sa });

    // B: the same disk under its session, still mounted, data intact after the page cache is dropped, still writable
    expect(existsSync(`/sys/block/${bDisk}`)).toBe(true);
    expect(realpathSync(byPath(b.iqn))).toBe(`/dev/${bDisk}`);
    expect(sh(['findmnt', '-n', '-o', 'SOURCE', sb]).trim()).toBe(`/dev/${bDisk}`);
    dropCaches();
    expect(sha(join(sb, 'data.bin'))).toBe(sum);
    writeFileSync(join(sb, 'after.txt'), 'still writable\n');
    dropCaches();
    expect(readFileSync(join(sb, 'after.txt'), 'utf8')).toBe('still writable\n');
    expect(sessionIqns()).toContain(b.iqn);
    // A: session, disk, node record and state file gone
    expect(sessionIqns()).not.toContain(a.iqn);
    expect(existsSync(`/sys/block/${aDisk}`)).toBe(false);
    expect(nodeRecords()).not.toContain(a.iqn);
    expect(existsSync(stateFile(sa))).toBe(false);

    await call(node, 'NodeUnstageVolume', { volume_id: b.id, staging_target_path: sb });
    expect(sessionIqns()).not.toContain(b.iqn);
    await remove(a);
    await remove(b);
  }, 600_000);

  it('unstage of a volume mounted elsewhere or held by another block device is FAILED_PRECONDITION naming the user; the session stays up', async () => {
    const c = await volume('busy-c');
    const sc = stagingOf('busy-c');
    await call(node, 'NodeStageVolume', stageReq(c, sc));
    writeFileSync(join(sc, 'keep.txt'), 'keep me\n');
    const disk = realpathSync(byPath(c.iqn));
    const other = mkdtempSync('/tmp/elsewhere-');
    sh(['mount', disk, other]);

    const mounted = await call(node, 'NodeUnstageVolume', { volume_id: c.id, staging_target_path: sc }).catch(
      (e: { code: number; details: string }) => e,
    );
    expect((mounted as { code: number }).code).toBe(Code.FAILED_PRECONDITION);
    expect((mounted as { details: string }).details).toContain(`mounted at ${other}`);
    expect(sessionIqns()).toContain(c.iqn);
    expect(sh(['findmnt', '-n', '-o', 'TARGET', sc]).trim()).toBe(sc); // not even the staging mount was taken
    sh(['umount', other]);

    // held: a device-mapper table over the disk (what LVM or dm-crypt on the raw disk would be)
    sh(['umount', sc]);
    const sectors = sh(['blockdev', '--getsz', disk]).trim();
    sh(['dmsetup', 'create', 'safety-holder', '--table', `0 ${sectors} linear ${disk} 0`]);
    const held = await call(node, 'NodeUnstageVolume', { volume_id: c.id, staging_target_path: sc }).catch(
      (e: { code: number; details: string }) => e,
    );
    expect((held as { code: number }).code).toBe(Code.FAILED_PRECONDITION);
    expect((held as { details: string }).details).toMatch(/is held by dm-\d+ \(safety-holder\)/);
    expect(sessionIqns()).toContain(c.iqn);
    expect(existsSync(disk)).toBe(true);
    sh(['dmsetup', 'remove', 'safety-holder']);

    // nothing uses it any more: unstage goes through, the data was never touched
    sh(['mount', disk, other]);
    expect(readFileSync(join(other, 'keep.txt'), 'utf8')).toBe('keep me\n');
    sh(['umount', other]);
    await call(node, 'NodeUnstageVolume', { volume_id: c.id, staging_target_path: sc });
    expect(sessionIqns()).not.toContain(c.iqn);
    expect(nodeRecords()).not.toContain(c.iqn);
    await remove(c);
  }, 600_000);

  it('a stage that fails after login (xfs asked of an ext4 volume) leaves no session and no node record; one a previous stage owns stays', async () => {
    const d = await volume('fail-d');
    const first = stagingOf('fail-d');
    await call(node, 'NodeStageVolume', stageReq(d, first)); // makes ext4
    await call(node, 'NodeUnstageVolume', { volume_id: d.id, staging_target_path: first });
    expect(sessionIqns()).not.toContain(d.iqn);

    const wrong = stagingOf('fail-d-xfs');
    const failed = await call(node, 'NodeStageVolume', stageReq(d, wrong, 'xfs')).catch(
      (e: { code: number; details: string }) => e,
    );
    expect((failed as { code: number }).code).toBe(Code.FAILED_PRECONDITION);
    expect((failed as { details: string }).details).toMatch(/holds a ext4 file system, not xfs/);
    expect(sessionIqns()).not.toContain(d.iqn);
    expect(nodeRecords()).not.toContain(d.iqn);
    expect(existsSync(stateFile(wrong))).toBe(false);
    expect(existsSync(byPath(d.iqn))).toBe(false);

    // staged and in use at its own path: a failing stage elsewhere leaves that session alone
    await call(node, 'NodeStageVolume', stageReq(d, first));
    writeFileSync(join(first, 'in-use.txt'), 'in use\n');
    expect(
      await call(node, 'NodeStageVolume', stageReq(d, wrong, 'xfs')).then(
        () => 0,
        (e: { code: number }) => e.code,
      ),
    ).toBe(Code.FAILED_PRECONDITION);
    expect(sessionIqns()).toContain(d.iqn);
    dropCaches();
    expect(readFileSync(join(first, 'in-use.txt'), 'utf8')).toBe('in use\n');
    await call(node, 'NodeUnstageVolume', { volume_id: d.id, staging_target_path: first });
    await remove(d);
  }, 600_000);

  it("stage and publish outside kubelet's places (/tmp, a link in pods/ to /etc) are INVALID_ARGUMENT naming the field and make nothing; at kubelet's paths the volume works", async () => {
    const v = await volume('paths-e');
    const codeAndDetails = (e: unknown) => [(e as { code?: number }).code, (e as { details?: string }).details ?? ''];
    const outside = join(mkdtempSync('/tmp/outside-'), 'globalmount');
    const [c1, d1] = codeAndDetails(await call(node, 'NodeStageVolume', stageReq(v, outside)).catch((e: unknown) => e));
    expect(c1, String(d1)).toBe(Code.INVALID_ARGUMENT);
    expect(d1).toMatch(/^staging_target_path: .* is not below /);
    expect(existsSync(outside)).toBe(false);
    expect(sessionIqns()).not.toContain(v.iqn); // refused before any login

    const staging = stagingOf('paths-e');
    await call(node, 'NodeStageVolume', stageReq(v, staging));
    const pod = join(root, 'pods', 'uid-e1');
    mkdirSync(pod, { recursive: true });
    symlinkSync('/etc', join(pod, 'volumes'));
    const pubReq = (target_path: string) => ({
      volume_id: v.id,
      staging_target_path: staging,
      target_path,
      volume_capability: mountCap(),
      readonly: false,
      publish_context: v.ctx,
      secrets: {},
      volume_context: {},
    });
    const linked = join(pod, 'volumes', 'kubernetes.io~csi', 'pvc-e', 'mount');
    const [c2, d2] = codeAndDetails(await call(node, 'NodePublishVolume', pubReq(linked)).catch((e: unknown) => e));
    expect(c2, String(d2)).toBe(Code.INVALID_ARGUMENT);
    expect(d2).toMatch(/^target_path: .*resolved: "\/etc\/kubernetes\.io~csi\/pvc-e\/mount"/);
    expect(existsSync('/etc/kubernetes.io~csi')).toBe(false);

    const target = join(root, 'pods', 'uid-e2', 'volumes', 'kubernetes.io~csi', 'pvc-e', 'mount');
    await call(node, 'NodePublishVolume', pubReq(target));
    writeFileSync(join(target, 'data.txt'), createHash('sha512').update('tenant e').digest('hex').repeat(1000));
    dropCaches();
    expect(sha(join(staging, 'data.txt'))).toBe(sha(join(target, 'data.txt')));
    await call(node, 'NodeUnpublishVolume', { volume_id: v.id, target_path: target });
    await call(node, 'NodeUnstageVolume', { volume_id: v.id, staging_target_path: staging });
    await remove(v);
  }, 600_000);
});

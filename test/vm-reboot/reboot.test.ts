/**
 * A storage-node reboot, in two guest boots on the same virtio disks
 * (test/run-all.sh runs phase 1, then phase 2 with phase 1's state file):
 *   1. volumes are created, published, written over iSCSI; checksums and the
 *      disk's WWID are recorded; the plugin is killed, the guest powers off.
 *   2. after the boot the plugin starts with an agent-level CHAP secret
 *      (--chap-secret-dir): the CHAP volume is exported again before any
 *      re-publish (no CO needed) and logs in with its per-volume credentials;
 *      then the attacher's re-publish arrives, and every volume is exported
 *      again with the same WWID and its data.
 * Disk names that change across the reboot (issue #11 item 2): phase 1
 * stages volume A, then B, through the node service (A gets the lower sdX);
 * phase 2 stages B first, then A, so B now has A's old name, and unstages A
 * with the stage state saved before the reboot (it names B's disk): B's
 * disk, mount and data stay, A's session ends.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { derivePassword, volumeUser } from '../../src/agent/chap.js';
import { loadCsi } from '../../src/server/proto.js';
import {
  call,
  checksum,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  waitFor,
  writePattern,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from '../vm/lib.js';

const VG = 'rebootvg';
const PORTAL = '127.0.0.1:3260';
const NODE_A = 'node-a:iqn.2024-01.test.vm:guest';
const phase = process.env['REBOOT_PHASE'];
const stateFile = process.env['REBOOT_STATE'] ?? '';
const flags = [
  '--mode',
  'all',
  ...PUBLISH_WITHOUT_CHAP,
  '--volume-group',
  VG,
  '--thin-pool',
  'pool',
  '--thin-pool-percent',
  '50',
  '--portals',
  PORTAL,
];
const SECRETS = { chapUser: 'tenant-rb', chapSecret: 'reboot-chap-key-0123456789' };

interface Saved {
  id: string;
  iqn: string;
  sum: string;
  wwid: string;
  chap: boolean;
}

function loginAndWait(iqn: string, chap?: { user: string; pass: string }): string {
  shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-o', 'new']);
  const set = (n: string, v: string) =>
    sh(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-o', 'update', '-n', n, '-v', v]);
  if (chap) {
    set('node.session.auth.authmethod', 'CHAP');
    set('node.session.auth.username', chap.user);
    set('node.session.auth.password', chap.pass);
  }
  const r = shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '--login']);
  if (r.code !== 0 && r.code !== 15) throw new Error(`login to ${iqn} failed (${r.code}): ${r.out}`); // 15: already logged in
  return `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;
}

function credsOf(id: string) {
  return { user: volumeUser(SECRETS.chapUser, id), pass: derivePassword(SECRETS.chapSecret, id, 'initiator') };
}

/** Phase 1 -> phase 2 for the disk-name case (written beside reboot-state.json). */
interface SwapSaved {
  a: { id: string; iqn: string; staging: string; disk: string; state: string };
  b: { id: string; iqn: string; staging: string; disk: string; sum: string };
}
const SWAP_FILE = 'swap-state.json';
const STAGING_ROOT = '/tmp/kubelet-reboot/plugins/kubernetes.io/csi/lvm-iscsi.csi.example.org';
const byPathOf = (iqn: string) => `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function nodeClient(p: PluginProcess) {
  return new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
}

async function publishAndStage(
  p: PluginProcess,
  node: ReturnType<typeof nodeClient>,
  id: string,
  staging: string,
): Promise<string> {
  const ctx = (
    await call(p.controller, 'ControllerPublishVolume', {
      volume_id: id,
      node_id: NODE_A,
      volume_capability: mountCap(),
      readonly: false,
      secrets: {},
      volume_context: {},
    })
  ).publish_context;
  mkdirSync(staging, { recursive: true });
  await call(node, 'NodeStageVolume', {
    volume_id: id,
    publish_context: ctx,
    staging_target_path: staging,
    volume_capability: mountCap(),
    secrets: {},
    volume_context: {},
  });
  return ctx['targetIqn'] ?? '';
}

function dropCaches(): void {
  sh(['sync']);
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

function wwid(dev: string): string {
  return (
    sh(['udevadm', 'info', '--query=property', `--name=${dev}`])
      .split('\n')
      .find((l) => l.startsWith('ID_SERIAL='))
      ?.slice(10) ?? ''
  );
}

describe.runIf(inGuest && phase === '1')('storage-node reboot, phase 1: before', () => {
  it('creates, publishes and writes thin and thick volumes, then the plugin dies', async () => {
    makeVg(VG, disks.slice(0, 2));
    const p = await startPlugin(flags);
    // disk-name case: A staged first (lower sdX), then B, before any other login
    const node = nodeClient(p);
    const swap: Partial<SwapSaved> = {};
    for (const name of ['rb-swap-a', 'rb-swap-b'] as const) {
      const id =
        (
          await call(p.controller, 'CreateVolume', {
            name,
            capacity_range: { required_bytes: String(32 * MiB) },
            volume_capabilities: [mountCap()],
            parameters: {},
          })
        ).volume?.volume_id ?? '';
      const staging = join(STAGING_ROOT, name, 'globalmount');
      const iqn = await publishAndStage(p, node, id, staging);
      const disk = realpathSync(byPathOf(iqn)).replace('/dev/', '');
      if (name === 'rb-swap-a')
        swap.a = { id, iqn, staging, disk, state: readFileSync(`${staging}.lvm-iscsi.json`, 'utf8') };
      else {
        writeFileSync(join(staging, 'data.bin'), createHash('sha512').update('tenant b').digest('hex').repeat(20000));
        dropCaches();
        swap.b = { id, iqn, staging, disk, sum: sha(join(staging, 'data.bin')) };
      }
    }
    node.close();
    expect(swap.a?.disk).not.toBe(swap.b?.disk);
    writeFileSync(join(process.env['VM_OUT'] ?? '/tmp', SWAP_FILE), JSON.stringify(swap));
    const saved: Saved[] = [];
    for (const [name, params, chap] of [
      ['rb-thin', {}, false],
      ['rb-thick', { lvmType: 'thick' }, false],
      ['rb-chap', {}, true],
    ] as const) {
      const id =
        (
          await call(p.controller, 'CreateVolume', {
            name,
            capacity_range: { required_bytes: String(32 * MiB) },
            volume_capabilities: [mountCap()],
            parameters: params,
          })
        ).volume?.volume_id ?? '';
      const ctx = (
        await call(p.controller, 'ControllerPublishVolume', {
          volume_id: id,
          node_id: NODE_A,
          volume_capability: mountCap(),
          readonly: false,
          secrets: chap ? SECRETS : {},
          volume_context: {},
        })
      ).publish_context;
      const iqn = ctx['targetIqn'] ?? '';
      const dev = loginAndWait(iqn, chap ? credsOf(id) : undefined);
      await waitFor(() => existsSync(dev), 30_000);
      writePattern(dev, 16 * MiB, name);
      saved.push({ id, iqn, sum: checksum(dev, 16 * MiB), wwid: wwid(dev), chap });
    }
    expect(saved.every((s) => s.wwid.length > 0)).toBe(true);
    writeFileSync(join(process.env['VM_OUT'] ?? '/tmp', 'reboot-state.json'), JSON.stringify(saved));
    p.child.kill('SIGKILL');
  }, 900_000); // five volumes created and written, two staged with mkfs: past the default 300 s on a loaded host
});

describe.runIf(inGuest && phase === '2')('storage-node reboot, phase 2: after', () => {
  it('exports every published volume again after the re-publish, with the same WWID and data', async () => {
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as Saved[];
    expect(saved).toHaveLength(3);
    const secretDir = mkdtempSync('/tmp/chap-secret-');
    for (const [k, v] of Object.entries(SECRETS)) writeFileSync(join(secretDir, k), v);
    const p = await startPlugin([...flags, '--chap-secret-dir', secretDir]);
    try {
      // no CO yet: the agent-level secret brought the CHAP export back, CHAP still required
      const withChap = saved.find((s) => s.chap) as Saved;
      const lio = `/sys/kernel/config/target/iscsi/${withChap.iqn}/tpgt_1`;
      expect(existsSync(lio)).toBe(true);
      expect(readFileSync(`${lio}/attrib/authentication`, 'utf8').trim()).toBe('1');
      const early = loginAndWait(withChap.iqn, credsOf(withChap.id));
      await waitFor(() => existsSync(early), 30_000);
      expect(checksum(early, 16 * MiB)).toBe(withChap.sum);
      for (const s of saved) {
        const ctx = (
          await call(p.controller, 'ControllerPublishVolume', {
            volume_id: s.id,
            node_id: NODE_A,
            volume_capability: mountCap(),
            readonly: false,
            secrets: s.chap ? SECRETS : {},
            volume_context: {},
          })
        ).publish_context;
        expect(ctx['targetIqn']).toBe(s.iqn);
        const dev = loginAndWait(s.iqn, s.chap ? credsOf(s.id) : undefined);
        await waitFor(() => existsSync(dev), 30_000);
        expect(wwid(dev)).toBe(s.wwid);
        expect(checksum(dev, 16 * MiB)).toBe(s.sum);
      }
      const swap = JSON.parse(readFileSync(join(dirname(stateFile), SWAP_FILE), 'utf8')) as SwapSaved;
      const listed = (await call(p.controller, 'ListVolumes', {})).entries.filter(
        (e) => ![swap.a.id, swap.b.id].includes(e.volume?.volume_id ?? ''),
      );
      expect(listed.map((e) => e.status?.published_node_ids)).toEqual([[NODE_A], [NODE_A], [NODE_A]]);
    } finally {
      shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
      await p.stop();
    }
  });

  it("disk names changed across the reboot: unstaging A with the state from before leaves B's disk, mount and data intact", async () => {
    const swap = JSON.parse(readFileSync(join(dirname(stateFile), SWAP_FILE), 'utf8')) as SwapSaved;
    const p = await startPlugin([...flags, '--kubelet-dir', '/tmp/kubelet-reboot']);
    const node = nodeClient(p);
    try {
      // every session of the first case is gone (logoutall): the names are handed out from the lowest again, B first
      await publishAndStage(p, node, swap.b.id, swap.b.staging);
      await publishAndStage(p, node, swap.a.id, swap.a.staging);
      const bDisk = realpathSync(byPathOf(swap.b.iqn)).replace('/dev/', '');
      expect(bDisk).toBe(swap.a.disk); // B now has the name A had before the reboot
      dropCaches();
      expect(sha(join(swap.b.staging, 'data.bin'))).toBe(swap.b.sum);
      // A's stage state from before the reboot: its disks name B's disk now
      writeFileSync(`${swap.a.staging}.lvm-iscsi.json`, swap.a.state);
      expect((JSON.parse(swap.a.state) as { disks: string[] }).disks).toEqual([bDisk]);
      await call(node, 'NodeUnstageVolume', { volume_id: swap.a.id, staging_target_path: swap.a.staging });
      expect(existsSync(`/sys/block/${bDisk}`)).toBe(true);
      expect(realpathSync(byPathOf(swap.b.iqn))).toBe(`/dev/${bDisk}`);
      expect(sh(['findmnt', '-n', '-o', 'SOURCE', swap.b.staging]).trim()).toBe(`/dev/${bDisk}`);
      dropCaches();
      expect(sha(join(swap.b.staging, 'data.bin'))).toBe(swap.b.sum);
      const sessions = shStatus(['iscsiadm', '-m', 'session']).out;
      expect(sessions).toContain(swap.b.iqn);
      expect(sessions).not.toContain(swap.a.iqn);
      await call(node, 'NodeUnstageVolume', { volume_id: swap.b.id, staging_target_path: swap.b.staging });
    } finally {
      node.close();
      shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
      await p.stop();
    }
  }, 600_000);
});

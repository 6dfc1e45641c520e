/**
 * CHAP through the plugin on real LIO with the guest's open-iscsi initiator:
 * required by default (a publish without a CHAP secret is refused and exports
 * nothing), and per-node CHAP (chapMode per-node): the controller gives the
 * target node A's own credentials, node A logs in with its key file (made by
 * `csi-lvm-iscsi chap-node-key`) and its data reads back through the session,
 * while node B's key (its own initiator name, or claiming A's) cannot log in
 * to A's publication although B knows the volume id.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chapFromSecrets, nodeSecrets, readNodeKeyFile } from '../../src/agent/chap.js';
import { loadCsi } from '../../src/server/proto.js';
import {
  blockCap,
  call,
  checksum,
  disks,
  inGuest,
  makeVg,
  MiB,
  repo,
  sh,
  shStatus,
  startPlugin,
  teardownExports,
  waitFor,
  writePattern,
  type PluginProcess,
} from './lib.js';

const VG = 'chapvg';
const PORTAL = '127.0.0.1:3260';
const LIO = '/sys/kernel/config/target/iscsi';
const IQN_A = 'iqn.2024-01.test.vm:guest';
const IQN_B = 'iqn.2024-01.test.vm:other';
const NODE_A = `node-a:${IQN_A}`;
const NODE_B = `node-b:${IQN_B}`;
/** The StorageClass's Secret (controller-publish secret only: per-node mode names no node-stage secret). */
const MASTER = { chapUser: 'tenant', chapSecret: 'master-chap-secret-0123456789', chapMode: 'per-node' };
const byPath = (iqn: string) => `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;

function iscsiadm(args: string[]) {
  return shStatus(['iscsiadm', ...args]);
}

/** A login through `iface` with the given CHAP credentials; iscsiadm's exit code (24: authorization failure). */
function loginAs(iqn: string, iface: string, chap: { userid: string; password: string }): number {
  iscsiadm(['-m', 'node', '-T', iqn, '-p', PORTAL, '-I', iface, '-o', 'new']);
  const set = (n: string, v: string) =>
    sh(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-I', iface, '-o', 'update', '-n', n, '-v', v]);
  set('node.session.auth.authmethod', 'CHAP');
  set('node.session.auth.username', chap.userid);
  set('node.session.auth.password', chap.password);
  set('node.session.initial_login_retry_max', '1');
  return iscsiadm(['-m', 'node', '-T', iqn, '-p', PORTAL, '-I', iface, '--login']).code;
}

/** Logs the iface's session out (if any) and deletes its node record. */
function forget(iqn: string, iface: string): void {
  iscsiadm(['-m', 'node', '-T', iqn, '-p', PORTAL, '-I', iface, '--logout']);
  iscsiadm(['-m', 'node', '-T', iqn, '-p', PORTAL, '-I', iface, '-o', 'delete']);
}

/** `csi-lvm-iscsi chap-node-key` as an operator runs it: the Secret as JSON on stdin, the key file on stdout. */
async function nodeKey(dir: string, node: string): Promise<string> {
  const secret = JSON.stringify({
    kind: 'Secret',
    data: Object.fromEntries(Object.entries(MASTER).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const child = spawn(process.execPath, [join(repo, 'dist', 'main.js'), 'chap-node-key', '--node-id', node], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(secret);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`csi-lvm-iscsi chap-node-key exited ${code}`);
  const file = join(dir, `${node}.json`);
  writeFileSync(file, out, { mode: 0o600 });
  return file;
}

describe.runIf(inGuest)('CHAP through the plugin on LIO', () => {
  let p: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  const work = mkdtempSync('/tmp/chap-vm-');
  const kubelet = join(work, 'kubelet');
  let keyA = '';
  let keyB = '';

  beforeAll(async () => {
    mkdirSync(kubelet);
    keyA = await nodeKey(work, 'node-a');
    keyB = await nodeKey(work, 'node-b');
    makeVg(VG, disks.slice(0, 2));
    iscsiadm(['-m', 'iface', '-I', 'other', '-o', 'delete']);
    sh(['iscsiadm', '-m', 'iface', '-I', 'other', '-o', 'new']);
    sh(['iscsiadm', '-m', 'iface', '-I', 'other', '-o', 'update', '-n', 'iface.initiatorname', '-v', IQN_B]);
    // a second iface that claims node A's initiator name, as a rogue node B would
    iscsiadm(['-m', 'iface', '-I', 'claim', '-o', 'delete']);
    sh(['iscsiadm', '-m', 'iface', '-I', 'claim', '-o', 'new']);
    sh(['iscsiadm', '-m', 'iface', '-I', 'claim', '-o', 'update', '-n', 'iface.initiatorname', '-v', IQN_A]);
    expect(readFileSync('/etc/iscsi/initiatorname.iscsi', 'utf8')).toContain(IQN_A);
    // no --allow-publish-without-chap: the default
    p = await startPlugin([
      '--mode',
      'all',
      '--node-id',
      'node-a',
      '--initiator-name',
      IQN_A,
      '--chap-node-key-file',
      keyA,
      '--volume-group',
      VG,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '50',
      '--portals',
      PORTAL,
      '--kubelet-dir',
      kubelet,
    ]);
    node = new (loadCsi().csi.v1.Node)(`unix://${p.sock}`, credentials.createInsecure());
    expect((await call(node, 'NodeGetInfo', {})).node_id).toBe(NODE_A);
  });

  afterAll(async () => {
    node?.close();
    if (p) await p.stop();
    iscsiadm(['-m', 'iface', '-I', 'other', '-o', 'delete']);
    iscsiadm(['-m', 'iface', '-I', 'claim', '-o', 'delete']);
    await teardownExports(VG);
  });

  const create = async (name: string) =>
    (
      await call(p.controller, 'CreateVolume', {
        name,
        capacity_range: { required_bytes: String(32 * MiB) },
        volume_capabilities: [blockCap()],
        parameters: {},
      })
    ).volume?.volume_id ?? '';
  const pub = (volume_id: string, node_id: string, secrets: Record<string, string>) =>
    call(p.controller, 'ControllerPublishVolume', {
      volume_id,
      node_id,
      volume_capability: blockCap(),
      readonly: false,
      secrets,
      volume_context: {},
    });
  const targets = () => (existsSync(LIO) ? sh(['ls', LIO]) : '');

  it('a publish without a CHAP secret is FAILED_PRECONDITION naming what to set, and exports nothing', async () => {
    const v = await create('chap-none');
    const before = targets();
    const err = await pub(v, NODE_A, {}).catch((e: { code: number; details: string }) => e);
    expect((err as { code: number }).code).toBe(Code.FAILED_PRECONDITION);
    expect((err as { details: string }).details).toMatch(/chapUser and chapSecret/);
    expect((err as { details: string }).details).toMatch(/--allow-publish-without-chap true/);
    expect(targets()).toBe(before);
    const listed = (await call(p.controller, 'ListVolumes', {})).entries.find((e) => e.volume?.volume_id === v);
    expect(listed?.status?.published_node_ids ?? []).toEqual([]);
    await call(p.controller, 'DeleteVolume', { volume_id: v });
  });

  it("per-node CHAP: node A's key logs in and its data reads back; node B's key cannot open A's publication", async () => {
    const v = await create('chap-pernode');
    const lv = v.split('/')[2] ?? '';
    const r = await pub(v, NODE_A, MASTER);
    const ctx = r.publish_context;
    expect(ctx).toMatchObject({ attach: 'iscsi', chapMode: 'per-node' });
    const iqn = ctx['targetIqn'] ?? '';
    // the ACL holds A's per-node credentials (the user name is readable in configfs; the password is write-only)
    const credsA = chapFromSecrets(nodeSecrets(MASTER, 'node-a', 'x'), v, 'x');
    expect(readFileSync(`${LIO}/${iqn}/tpgt_1/acls/${IQN_A}/auth/userid`, 'utf8').trim()).toBe(credsA?.userid);
    const credsB = chapFromSecrets(await readNodeKeyFile(keyB, 'node-b'), v, 'x');
    const shared = chapFromSecrets({ chapUser: MASTER.chapUser, chapSecret: MASTER.chapSecret }, v, 'x');
    if (!credsA || !credsB || !shared) throw new Error('no credentials');
    for (const secret of [credsA.password, credsB.password, MASTER.chapSecret]) {
      expect(JSON.stringify(ctx)).not.toContain(secret);
      expect(p.log()).not.toContain(secret);
    }

    // node A stages through the plugin with its key file: login, device, data through the session
    const staging = join(kubelet, 'stage-a');
    const target = join(kubelet, 'pod-a');
    await call(node, 'NodeStageVolume', {
      volume_id: v,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: blockCap(),
      secrets: {},
      volume_context: {},
    });
    const dev = byPath(iqn);
    await waitFor(() => existsSync(dev), 30_000);
    await call(node, 'NodePublishVolume', {
      volume_id: v,
      publish_context: ctx,
      staging_target_path: staging,
      target_path: target,
      volume_capability: blockCap(),
      readonly: false,
      secrets: {},
      volume_context: {},
    });
    writePattern(target, 4 * MiB, 'node-a-through-chap');
    const written = checksum(target, 4 * MiB);
    expect(checksum(`/dev/${VG}/${lv}`, 4 * MiB)).toBe(written);

    // node B knows the volume id and holds its own key: neither as itself nor claiming A's name does it get in
    expect(loginAs(iqn, 'other', credsB)).toBe(24);
    forget(iqn, 'other');
    expect(loginAs(iqn, 'claim', credsB)).toBe(24);
    forget(iqn, 'claim');
    // nor with what every node could derive in shared mode from the Secret
    expect(loginAs(iqn, 'claim', shared)).toBe(24);
    forget(iqn, 'claim');
    // A's session went on meanwhile
    expect(checksum(target, 4 * MiB)).toBe(written);
    expect(checksum(`/dev/${VG}/${lv}`, 4 * MiB)).toBe(written);

    await call(node, 'NodeUnpublishVolume', { volume_id: v, target_path: target });
    await call(node, 'NodeUnstageVolume', { volume_id: v, staging_target_path: staging });
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: v, node_id: NODE_A });

    // B's key is a working key: a volume published to node B takes B's credentials
    const w = await create('chap-pernode-b');
    const rb = await pub(w, NODE_B, MASTER);
    const iqnB = rb.publish_context['targetIqn'] ?? '';
    const credsBw = chapFromSecrets(await readNodeKeyFile(keyB, 'node-b'), w, 'x');
    if (!credsBw) throw new Error('no credentials');
    expect(loginAs(iqnB, 'other', credsBw)).toBe(0);
    forget(iqnB, 'other');
    await call(p.controller, 'ControllerUnpublishVolume', { volume_id: w, node_id: NODE_B });
    await call(p.controller, 'DeleteVolume', { volume_id: w });
    await call(p.controller, 'DeleteVolume', { volume_id: v });
  });
});

/**
 * The packaging split: agent, controller and node as three processes, the
 * controller calling the agent over the agent API with mutual TLS on the
 * guest's loopback (certificates made by openssl). The CSI flow passes
 * through all three: create, publish, stage, write, expand (controller and
 * node), snapshot, then teardown leaving nothing behind. The agent has two
 * portals (127.0.0.1 and 127.0.0.2), so the node stages through dm-multipath
 * (multipathd with find_multipaths "yes"). A controller holding a client
 * certificate from another CA is refused by the agent, and so is a client
 * holding another storage node's agent certificate (same CA). Called
 * directly with the controller's certificate, the agent still refuses a
 * volume in a VG it was not given and the delete of a published volume.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VolumeParams } from '../../src/agent/params.js';
import { FailedPrecondition } from '../../src/errors.js';
import { RemoteAgent } from '../../src/server/agent-client.js';
import { loadCsi } from '../../src/server/proto.js';
import { agentClientCredentials, readTlsDir } from '../../src/server/tls.js';
import { makeCerts, type CertDirs } from '../helpers/certs.js';
import {
  call,
  codeOf,
  destroyVg,
  disks,
  inGuest,
  makeVg,
  MiB,
  mountCap,
  sh,
  shStatus,
  startPlugin,
  waitFor,
  type PluginProcess,
  PUBLISH_WITHOUT_CHAP,
} from './lib.js';

const VG = 'splitvg';
/** A VG on the storage node that the agent was not given. */
const OTHER_VG = 'splitother';
const AGENT_ADDR = '127.0.0.1:9809';
const PORTALS = '127.0.0.1:3260,127.0.0.2:3260';
/** The guest's /etc is a throw-away overlay; the virtio disks under the test VGs stay out of multipath. */
const MULTIPATH_CONF =
  'defaults {\n  find_multipaths "yes"\n  user_friendly_names "no"\n}\nblacklist {\n  devnode "^vd[a-z]"\n}\n';

describe.runIf(inGuest)('controller and agent as separate processes over mutual TLS', () => {
  let certs: CertDirs;
  let agent: PluginProcess;
  let controller: PluginProcess;
  let nodeP: PluginProcess;
  let node: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Node']>;
  const root = mkdtempSync('/tmp/kubelet-split-');

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    certs = makeCerts();
    writeFileSync('/etc/multipath.conf', MULTIPATH_CONF);
    execFileSync('multipathd', [], { stdio: 'ignore', timeout: 30_000 }); // daemonizes
    await waitFor(() => shStatus(['multipathd', 'show', 'config']).code === 0, 30_000);
    agent = await startPlugin([
      '--mode',
      'agent',
      '--volume-group',
      VG,
      '--thin-pool',
      'pool',
      '--thin-pool-percent',
      '60',
      '--portals',
      PORTALS,
      '--agent-listen',
      AGENT_ADDR,
      '--agent-tls-dir',
      certs.agent,
    ]);
    controller = await startPlugin([
      '--mode',
      'controller',
      ...PUBLISH_WITHOUT_CHAP,
      '--agents',
      `storage-1=${AGENT_ADDR}`,
      '--agent-tls-dir',
      certs.controller,
    ]);
    nodeP = await startPlugin(['--mode', 'node', '--node-id', 'worker-1']);
    node = new (loadCsi().csi.v1.Node)(`unix://${nodeP.sock}`, credentials.createInsecure());
  });

  afterAll(async () => {
    node?.close();
    for (const p of [nodeP, controller, agent]) if (p) await p.stop();
    shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
    shStatus(['multipathd', 'shutdown']);
    rmSync('/etc/multipath.conf', { force: true });
    destroyVg(VG);
  });

  it('create, publish, stage, write, expand and snapshot pass through controller, agent and node', async () => {
    // the controller has no LVM of its own: every answer came from the agent
    const caps = await call(controller.identity, 'GetPluginCapabilities', {});
    expect(caps.capabilities.some((c) => c.service?.type === 'CONTROLLER_SERVICE')).toBe(true);
    const cap = mountCap();
    const id =
      (
        await call(controller.controller, 'CreateVolume', {
          name: 'split-1',
          capacity_range: { required_bytes: String(64 * MiB) },
          volume_capabilities: [cap],
          parameters: {},
        })
      ).volume?.volume_id ?? '';
    expect(id).toMatch(new RegExp(`/${VG}/`));
    expect(sh(['lvs', '--noheadings', '-o', 'lv_name', VG])).toContain(id.split('/')[2]);
    expect(agent.log()).toContain('agent.CreateVolume');

    const nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    expect(nodeId.startsWith('worker-1:')).toBe(true);
    const ctx = (
      await call(controller.controller, 'ControllerPublishVolume', {
        volume_id: id,
        node_id: nodeId,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    const staging = join(root, 'globalmount');
    const target = join(root, 'pod');
    expect(ctx['portals']).toBe(PORTALS);
    await call(node, 'NodeStageVolume', {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      volume_capability: cap,
      secrets: {},
      volume_context: {},
    });
    // two sessions, one dm-multipath map over both paths, mounted
    const state = JSON.parse(readFileSync(`${staging}.lvm-iscsi.json`, 'utf8')) as {
      multipathMap?: string;
      disks: string[];
    };
    expect(state.disks).toHaveLength(2);
    const map = state.multipathMap ?? '';
    expect(map).not.toBe('');
    expect(sh(['multipath', '-ll', map])).toMatch(/status=active/);
    expect(sh(['findmnt', '-n', '-o', 'SOURCE', staging]).trim()).toBe(`/dev/mapper/${map}`);
    await call(node, 'NodePublishVolume', {
      volume_id: id,
      publish_context: ctx,
      staging_target_path: staging,
      target_path: target,
      volume_capability: cap,
      readonly: false,
      secrets: {},
      volume_context: {},
    });
    writeFileSync(join(target, 'data.txt'), 'written through the split deployment\n');
    sh(['sync']);

    const grown = await call(controller.controller, 'ControllerExpandVolume', {
      volume_id: id,
      capacity_range: { required_bytes: String(128 * MiB) },
      volume_capability: cap,
    });
    expect(Number(grown.capacity_bytes)).toBe(128 * MiB);
    expect(grown.node_expansion_required).toBe(true);
    await call(node, 'NodeExpandVolume', {
      volume_id: id,
      volume_path: target,
      staging_target_path: staging,
      capacity_range: { required_bytes: String(128 * MiB) },
      volume_capability: cap,
    });
    const stats = await call(node, 'NodeGetVolumeStats', {
      volume_id: id,
      volume_path: target,
      staging_target_path: staging,
    });
    const bytes = stats.usage.find((u) => u.unit === 'BYTES');
    expect(Number(bytes?.total)).toBeGreaterThan(100 * MiB);

    const snap = (
      await call(controller.controller, 'CreateSnapshot', {
        source_volume_id: id,
        name: 'split-snap',
        parameters: {},
        secrets: {},
      })
    ).snapshot;
    expect(snap?.ready_to_use).toBe(true);
    expect(snap?.source_volume_id).toBe(id);
    const listed = (await call(controller.controller, 'ListVolumes', {})).entries.find(
      (e) => e.volume?.volume_id === id,
    );
    expect(listed?.status?.published_node_ids).toEqual([nodeId]);
    expect(readFileSync(join(target, 'data.txt'), 'utf8')).toBe('written through the split deployment\n');

    await call(node, 'NodeUnpublishVolume', { volume_id: id, target_path: target });
    await call(node, 'NodeUnstageVolume', { volume_id: id, staging_target_path: staging });
    await call(controller.controller, 'ControllerUnpublishVolume', { volume_id: id, node_id: nodeId });
    await call(controller.controller, 'DeleteSnapshot', { snapshot_id: snap?.snapshot_id ?? '' });
    await call(controller.controller, 'DeleteVolume', { volume_id: id });
    expect(
      sh(['lvs', '--noheadings', '-o', 'lv_name', VG])
        .trim()
        .split(/\s+/)
        .filter((l) => l.startsWith('vol-') || l.startsWith('snap-')),
    ).toEqual([]);
    expect(shStatus(['iscsiadm', '-m', 'session']).out).not.toContain(ctx['targetIqn'] ?? '');
    expect(existsSync(`/dev/mapper/${map}`)).toBe(false);
  });

  it("the agent keeps its own rules when the controller's identity calls it directly: no volume in a VG it does not own, no delete of a published volume", async () => {
    // a VG on this storage node that the agent was not given (--volume-group splitvg only)
    makeVg(OTHER_VG, disks.slice(2, 3));
    const { creds, options } = agentClientCredentials(await readTlsDir(certs.controller));
    const direct = new RemoteAgent({
      nodeName: 'storage-1',
      address: AGENT_ADDR,
      creds,
      channelOptions: options,
      timeoutMs: 60_000,
    });
    const params = (vg: string, lvmType: 'thin' | 'thick'): VolumeParams => ({
      lvmType,
      volumeGroup: vg,
      mirrors: 0,
      stripes: 1,
      stripeSizeKiB: undefined,
      volumeClear: 'none',
      fsType: undefined,
      localAttach: false,
    });
    try {
      await direct.connect();
      const refused = await direct
        .createVolume({
          name: 'direct-other-vg',
          range: { required: 8 * MiB, limit: 0 },
          defaultBytes: 8 * MiB,
          params: params(OTHER_VG, 'thick'),
          source: undefined,
        })
        .catch((e: unknown) => e);
      expect(String(refused)).toMatch(new RegExp(OTHER_VG));
      expect(refused).toBeInstanceOf(Error);
      expect(sh(['lvs', '--noheadings', '-o', 'lv_name', OTHER_VG]).trim()).toBe('');

      const vol = await direct.createVolume({
        name: 'direct-published',
        range: { required: 8 * MiB, limit: 0 },
        defaultBytes: 8 * MiB,
        params: params(VG, 'thin'),
        source: undefined,
      });
      const initiatorIqn = 'iqn.2024-01.test.split:direct';
      await direct.publish({
        vg: vol.vg,
        lv: vol.lv,
        publication: { nodeId: `worker-9:${initiatorIqn}`, readOnly: false, mode: 'SINGLE_NODE_WRITER' },
        initiatorIqn,
        nodeName: 'worker-9',
        chap: undefined,
      });
      const kept = await direct.deleteVolume(vol.vg, vol.lv).catch((e: unknown) => e);
      expect(kept).toBeInstanceOf(FailedPrecondition);
      expect(String(kept)).toMatch(/published/);
      expect(sh(['lvs', '--noheadings', '-o', 'lv_name', VG])).toContain(vol.lv);
      // unpublished, it goes
      await direct.unpublish(vol.vg, vol.lv, `worker-9:${initiatorIqn}`);
      await direct.deleteVolume(vol.vg, vol.lv);
      expect(sh(['lvs', '--noheadings', '-o', 'lv_name', VG])).not.toContain(vol.lv);
    } finally {
      direct.close();
      destroyVg(OTHER_VG);
    }
  });

  it("refuses a client holding another storage node's agent certificate (same CA): PERMISSION_DENIED before any handler", async () => {
    const { creds, options } = agentClientCredentials(await readTlsDir(certs.secondAgent));
    const impostor = new RemoteAgent({
      nodeName: 'storage-1',
      address: AGENT_ADDR,
      creds,
      channelOptions: options,
      timeoutMs: 30_000,
    });
    try {
      expect(String(await impostor.connect().catch((e: unknown) => e))).toMatch(
        /names csi-lvm-iscsi-agent: agents never call each other/,
      );
      expect(String(await impostor.listVolumes().catch((e: unknown) => e))).toMatch(/agents never call each other/);
      await waitFor(
        () => agent.log().includes('agent API call refused'),
        10_000,
        () => agent.log(),
      );
    } finally {
      impostor.close();
    }
  });

  it('refuses a controller whose client certificate another CA signed', async () => {
    const rogue = await startPlugin(
      ['--mode', 'controller', '--agents', `storage-1=${AGENT_ADDR}`, '--agent-tls-dir', certs.rogue],
      { ready: false },
    );
    try {
      await waitFor(
        () => rogue.log().includes('storage agent not reachable'),
        30_000,
        () => rogue.log(),
      );
      const code = await codeOf(
        call(rogue.controller, 'CreateVolume', {
          name: 'rogue-1',
          capacity_range: { required_bytes: String(8 * MiB) },
          volume_capabilities: [mountCap()],
          parameters: {},
        }),
      );
      expect(code).toBe(Code.UNAVAILABLE);
      expect(agent.log()).not.toContain('rogue-1');
    } finally {
      await rogue.stop();
    }
  });
});

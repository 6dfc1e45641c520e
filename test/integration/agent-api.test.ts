/**
 * The agent API (proto/agent.proto) between processes' worth of code on the
 * host: the real grpc-js server and client over TCP on loopback with mutual
 * TLS (certificates made by openssl), a scripted in-memory StorageAgent
 * behind it. Shows: objects survive the wire unchanged, domain errors come
 * back as the same errors, a client certificate from another CA is refused,
 * an agent certificate without the agent name is refused, and Kubernetes
 * discovery finds agent pods through a fake API server.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Code, type Client } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubernetesDiscovery } from '../../src/agent/discovery.js';
import { shortNodeId } from '../../src/agent/ids.js';
import type { CreateVolumeArgs, PublishArgs, StorageAgent, VolumeInfo, SnapshotInfo } from '../../src/agent/types.js';
import type { SizeRange } from '../../src/agent/sizing.js';
import { Busy, InvalidArgument, NotFound, OutOfCapacity, Unavailable } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { RemoteAgent } from '../../src/server/agent-client.js';
import { agentHandlers } from '../../src/server/agent-api.js';
import { startServer, type RunningServer } from '../../src/server/grpc-server.js';
import { KeyLocks } from '../../src/server/locks.js';
import { loadAgent } from '../../src/server/proto.js';
import { agentClientCredentials, agentServerCredentials, controllerOnly, readTlsDir } from '../../src/server/tls.js';
import { makeCerts, type CertDirs } from '../helpers/certs.js';
import { send } from '../helpers/fuzz.js';

const log = createLogger('fatal');

const VOL: VolumeInfo = {
  id: 'abcdefgh/vg1/vol-x',
  name: 'pvc-1',
  vg: 'vg1',
  lv: 'vol-x',
  sizeBytes: 5 * 1024 ** 3 + 4096,
  params: {
    lvmType: 'thick',
    volumeGroup: 'vg1',
    mirrors: 1,
    stripes: 2,
    stripeSizeKiB: 64,
    volumeClear: 'zero',
    fsType: 'xfs',
    localAttach: true,
  },
  source: { kind: 'snapshot', id: 'abcdefgh/vg1/snap-y' },
  createdAt: new Date(1_700_000_000_123),
  state: 'copying',
  active: true,
  partial: false,
  devicePath: '/dev/vg1/vol-x',
  snapshotCount: 2,
  published: [
    { nodeId: 'w1:iqn.2024-01.test:w1', readOnly: true, mode: 'MULTI_NODE_READER_ONLY', chap: true },
    { nodeId: 'w2:iqn.2024-01.test:w2', readOnly: false, mode: 'SINGLE_NODE_WRITER' },
  ],
};
const SNAP: SnapshotInfo = {
  id: 'abcdefgh/vg1/snap-y',
  name: 'snap-1',
  vg: 'vg1',
  lv: 'snap-y',
  sourceVolumeId: VOL.id,
  sizeBytes: 1 << 30,
  createdAt: new Date(1_700_000_000_000),
  readyToUse: true,
  lvmType: 'thin',
};

/** Records calls; answers from fixed objects; throws domain errors on cue. */
class ScriptedAgent implements StorageAgent {
  readonly nodeId = shortNodeId('storage-1');
  readonly nodeName = 'storage-1';
  readonly calls: unknown[] = [];
  volumeGroups() {
    return ['vg1', 'vg2'];
  }
  hasThinPool(vg: string) {
    return vg === 'vg1';
  }
  /** createVolume of the name 'slow' waits until this resolves. */
  release: () => void = () => {};
  private readonly slow = new Promise<void>((r) => (this.release = r));
  async createVolume(a: CreateVolumeArgs) {
    this.calls.push(a);
    if (a.name === 'too-big') throw new OutOfCapacity('volume group vg1 has 10 bytes free');
    if (a.name === 'slow') await this.slow;
    return VOL;
  }
  async findVolumeByName(name: string) {
    return name === VOL.name ? VOL : undefined;
  }
  async getVolume(vg: string, lv: string) {
    if (vg === 'bad') throw new InvalidArgument('parameters.volumeGroup', 'no such volume group');
    return lv === VOL.lv ? VOL : undefined;
  }
  async listVolumes() {
    return [VOL];
  }
  async deleteVolume(_vg: string, lv: string) {
    if (lv === 'gone') throw new NotFound('volume vg1/gone does not exist');
  }
  async expandVolume(vg: string, lv: string, range: SizeRange) {
    this.calls.push({ vg, lv, range });
    return VOL;
  }
  async createSnapshot() {
    return SNAP;
  }
  async findSnapshotByName() {
    return undefined;
  }
  async getSnapshot() {
    return SNAP;
  }
  async listSnapshots() {
    return [SNAP];
  }
  async deleteSnapshot() {}
  async publish(a: PublishArgs) {
    this.calls.push(a);
    return {
      kind: 'iscsi' as const,
      targetIqn: 'iqn.2024-01.org.example:vg1:vol-x',
      portals: ['10.0.0.1:3260', '10.0.0.2:3260'],
      lun: 1,
    };
  }
  async unpublish(vg: string, lv: string, nodeId: string) {
    this.calls.push({ vg, lv, nodeId });
  }
  async poolStatus(vg: string) {
    return {
      vg,
      vgSizeBytes: 100,
      vgFreeBytes: 50,
      extentBytes: 4 << 20,
      pvCount: 2,
      thinPool: {
        name: 'pool',
        sizeBytes: 80,
        dataPercent: 12.5,
        metadataPercent: 3.25,
        provisionedBytes: 900,
        zeroing: true,
        health: 'ok',
      },
    };
  }
  async capacity() {
    return { availableBytes: 2 ** 40, maximumVolumeBytes: 2 ** 39 };
  }
}

describe('agent API over mutual TLS', () => {
  let certs: CertDirs;
  let server: RunningServer;
  let port = 0;
  const agent = new ScriptedAgent();

  const client = async (dir: string, nodeName = 'storage-1', p = port) => {
    const { creds, options } = agentClientCredentials(await readTlsDir(dir));
    return new RemoteAgent({ nodeName, address: `127.0.0.1:${p}`, creds, channelOptions: options, timeoutMs: 10_000 });
  };

  beforeAll(async () => {
    certs = makeCerts();
    const def = loadAgent().csilvmiscsi.agent.v1.Agent.service;
    server = await startServer(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      [{ definition: def, implementation: agentHandlers(agent, { log, locks: new KeyLocks() }) }],
      agentServerCredentials(await readTlsDir(certs.agent)),
      [controllerOnly(log)],
    );
    port = Number(server.address.split(':').pop());
  });

  afterAll(async () => {
    await server?.stop(1000);
  });

  it('carries every field of volumes, snapshots, pools and publications unchanged', async () => {
    const a = await client(certs.controller);
    await a.connect();
    expect(a.volumeGroups()).toEqual(['vg1', 'vg2']);
    expect(a.hasThinPool('vg1')).toBe(true);
    expect(a.hasThinPool('vg2')).toBe(false);
    const create = {
      name: 'pvc-1',
      range: { required: VOL.sizeBytes, limit: 6 * 1024 ** 3 },
      defaultBytes: 1 << 30,
      params: VOL.params,
      source: VOL.source,
    };
    expect(await a.createVolume(create)).toEqual(VOL);
    expect(agent.calls.at(-1)).toEqual(create);
    await a.expandVolume('vg1', 'vol-x', { required: 7 << 30, limit: 8 << 30 });
    expect(agent.calls.at(-1)).toEqual({ vg: 'vg1', lv: 'vol-x', range: { required: 7 << 30, limit: 8 << 30 } });
    await a.unpublish('vg1', 'vol-x', ''); // every node
    expect(agent.calls.at(-1)).toEqual({ vg: 'vg1', lv: 'vol-x', nodeId: '' });
    expect(await a.getVolume('vg1', 'vol-x')).toEqual(VOL);
    expect(await a.getVolume('vg1', 'nope')).toBeUndefined();
    expect(await a.findVolumeByName('pvc-1')).toEqual(VOL);
    expect(await a.listVolumes()).toEqual([VOL]);
    expect(await a.listSnapshots()).toEqual([SNAP]);
    expect(await a.poolStatus('vg1')).toEqual(await agent.poolStatus('vg1'));
    expect(await a.capacity({ vg: 'vg1', lvmType: 'thin', mirrors: 0, stripes: 1 })).toEqual({
      availableBytes: 2 ** 40,
      maximumVolumeBytes: 2 ** 39,
    });
    const chap = { userid: 'u.abc', password: 'p'.repeat(24), mutualUserid: 't.abc', mutualPassword: 'q'.repeat(24) };
    const args: PublishArgs = {
      vg: 'vg1',
      lv: 'vol-x',
      publication: VOL.published[0] as PublishArgs['publication'],
      initiatorIqn: 'iqn.2024-01.test:w1',
      nodeName: 'w1',
      chap,
    };
    expect(await a.publish(args)).toEqual(await agent.publish(args));
    expect(agent.calls.at(-1)).toEqual(args);
    a.close();
  });

  it('the agent locks per name: a second CreateVolume of a name while the first runs is ABORTED (Busy), whoever calls', async () => {
    const a = await client(certs.controller);
    const b = await client(certs.controller);
    const args = {
      name: 'slow',
      range: { required: 1, limit: 0 },
      defaultBytes: 1,
      params: VOL.params,
      source: undefined,
    };
    const first = a.createVolume(args);
    await new Promise((r) => setTimeout(r, 200));
    expect(await b.createVolume(args).catch((e: unknown) => e)).toBeInstanceOf(Busy);
    agent.release();
    expect(await first).toEqual(VOL);
    expect(await b.createVolume(args)).toEqual(VOL); // free again
  });

  it('brings domain errors back as the same errors, naming the agent', async () => {
    const a = await client(certs.controller);
    const nf = await a.deleteVolume('vg1', 'gone').catch((e: unknown) => e);
    expect(nf).toBeInstanceOf(NotFound);
    expect(String((nf as Error).message)).toContain('storage-1');
    const ia = await a.getVolume('bad', 'x').catch((e: unknown) => e);
    expect(ia).toBeInstanceOf(InvalidArgument);
    expect((ia as InvalidArgument).field).toBe('parameters.volumeGroup');
    const oc = await a
      .createVolume({
        name: 'too-big',
        range: { required: 1, limit: 0 },
        defaultBytes: 1,
        params: VOL.params,
        source: undefined,
      })
      .catch((e: unknown) => e);
    expect(oc).toBeInstanceOf(OutOfCapacity);
    a.close();
  });

  it('a Publish without its publication is INVALID_ARGUMENT naming the field, not INTERNAL (found by the VM fuzz test)', async () => {
    const { creds, options } = agentClientCredentials(await readTlsDir(certs.controller));
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    const raw = new Agent(`127.0.0.1:${port}`, creds, options) as unknown as Client;
    const a = await send(raw, 'Publish', {
      vg: 'vg1',
      lv: 'vol-a',
      initiator_iqn: 'iqn.2024-01.test:w1',
      node_name: 'w1',
      chap: null,
    });
    raw.close();
    expect([Code[a.code], a.details]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('publication')]);
  });

  it.each([
    ['params.lvm_type', { lvm_type: 'fat', volume_clear: 'zero' }, null],
    ['params.volume_clear', { lvm_type: 'thin', volume_clear: 'shred' }, null],
    ['source.kind', { lvm_type: 'thin', volume_clear: 'none' }, { kind: 'backup', id: 'abcdefgh/vg1/snap-y' }],
    ['params', null, null],
  ])(
    'a CreateVolume whose %s is not one the agent knows is INVALID_ARGUMENT naming it, not INTERNAL',
    async (field, params, source) => {
      const { creds, options } = agentClientCredentials(await readTlsDir(certs.controller));
      const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
      const raw = new Agent(`127.0.0.1:${port}`, creds, options) as unknown as Client;
      const wire = params && { volume_group: 'vg1', mirrors: 0, stripes: 1, fs_type: '', ...params };
      const a = await send(raw, 'CreateVolume', { name: 'pvc-bad', required_bytes: '1048576', params: wire, source });
      raw.close();
      expect([Code[a.code], a.details]).toEqual(['INVALID_ARGUMENT', expect.stringContaining(`${field}:`)]);
    },
  );

  it('refuses a client certificate from another CA before any call reaches the agent', async () => {
    const before = agent.calls.length;
    const a = await client(certs.rogue);
    const err = await a.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unavailable);
    expect(a.connected).toBe(false);
    expect(agent.calls.length).toBe(before);
    a.close();
  });

  for (const [what, key, reason] of [
    [
      "another storage node's agent certificate (agents never call each other)",
      'secondAgent',
      /names csi-lvm-iscsi-agent: agents never call each other/,
    ],
    [
      'a client certificate of the right CA that does not name the controller',
      'misnamedClient',
      /does not name csi-lvm-iscsi-controller \(it names some-other-name\)/,
    ],
    ['a certificate naming both identities', 'bothNames', /agents never call each other/],
  ] as const) {
    it(`refuses ${what}: PERMISSION_DENIED before any call reaches the agent`, async () => {
      const before = agent.calls.length;
      const a = await client(certs[key]);
      const err = await a.connect().catch((e: unknown) => e);
      expect(String(err)).toMatch(reason);
      expect(a.connected).toBe(false);
      expect(
        await a
          .createVolume({
            name: 'pvc-x',
            range: { required: 1, limit: 0 },
            defaultBytes: 1,
            params: VOL.params,
            source: undefined,
          })
          .catch((e: unknown) => String(e)),
      ).toMatch(reason);
      expect(agent.calls.length).toBe(before);
      a.close();
    });
  }

  it('refuses an agent whose certificate also names the controller (the two identities stay distinct)', async () => {
    const def = loadAgent().csilvmiscsi.agent.v1.Agent.service;
    const other = await startServer(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      [{ definition: def, implementation: agentHandlers(agent, { log, locks: new KeyLocks() }) }],
      agentServerCredentials(await readTlsDir(certs.bothNames)),
      [controllerOnly(log)],
    );
    try {
      const a = await client(certs.controller, 'storage-1', Number(other.address.split(':').pop()));
      expect(await a.connect().catch((e: unknown) => e)).toBeInstanceOf(Unavailable);
      expect(a.connected).toBe(false);
      a.close();
    } finally {
      await other.stop(1000);
    }
  });

  it('refuses an agent whose certificate does not carry the agent name', async () => {
    const def = loadAgent().csilvmiscsi.agent.v1.Agent.service;
    const other = await startServer(
      { kind: 'tcp', host: '127.0.0.1', port: 0 },
      [{ definition: def, implementation: agentHandlers(agent, { log, locks: new KeyLocks() }) }],
      agentServerCredentials(await readTlsDir(certs.misnamedAgent)),
    );
    try {
      const a = await client(certs.controller, 'storage-1', Number(other.address.split(':').pop()));
      expect(await a.connect().catch((e: unknown) => e)).toBeInstanceOf(Unavailable);
      a.close();
    } finally {
      await other.stop(1000);
    }
  });

  it('refuses an agent that is another storage node than the one listed', async () => {
    const a = await client(certs.controller, 'storage-2');
    const err = await a.connect().catch((e: unknown) => e);
    expect(String(err)).toMatch(/is storage node storage-1, not storage-2/);
    a.close();
  });
});

describe('Kubernetes discovery of agent pods', () => {
  let api: Server;
  let seen = '';
  const pod = (node: string, ip: string, phase = 'Running', deleting = false) => ({
    metadata: {
      name: `agent-${node}`,
      namespace: 'csi',
      ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: node, containers: [] },
    status: { phase, podIP: ip },
  });

  beforeAll(async () => {
    api = createServer((req, res) => {
      seen = req.url ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'PodList',
          apiVersion: 'v1',
          metadata: {},
          items: [
            pod('s2', '10.0.0.2'),
            pod('s1', '10.0.0.1'),
            pod('s3', '10.0.0.3', 'Pending'),
            pod('s4', '10.0.0.4', 'Running', true),
          ],
        }),
      );
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  });

  afterAll(() => new Promise<void>((r) => api.close(() => r())));

  it('lists running agent pods by label in the namespace, one endpoint per node', async () => {
    const addr = api.address() as { port: number };
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'kc-')), 'config');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'test',
        clusters: [
          { name: 'test', cluster: { server: `http://127.0.0.1:${addr.port}`, 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'test', user: { token: 'test-token' } }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      }),
    );
    const d = await KubernetesDiscovery.create({
      namespace: 'csi',
      labelSelector: 'app.kubernetes.io/component=agent',
      port: 9809,
      kubeconfig,
    });
    expect(await d.endpoints()).toEqual([
      { node: 's1', host: '10.0.0.1', port: 9809 },
      { node: 's2', host: '10.0.0.2', port: 9809 },
    ]);
    expect(seen).toMatch(/^\/api\/v1\/namespaces\/csi\/pods\?/);
    expect(decodeURIComponent(seen)).toContain('labelSelector=app.kubernetes.io/component=agent');
  });
});

/**
 * A stopped storage agent does not stop the cluster: the real executable in
 * controller mode over two agent API servers (real grpc-js, mutual TLS on
 * loopback, an in-memory agent behind each). With one agent stopped,
 * CreateVolume goes to the other, listings and GetCapacity answer from the
 * agent that answers, a name sent earlier to the stopped one is UNAVAILABLE
 * (it may be there), its volumes are UNAVAILABLE rather than gone, /readyz
 * stays ready while one agent answers and says why when none does, Probe
 * never depends on the agents, and the agent is used again once it is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status as Code } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { agentHandlers } from '../../src/server/agent-api.js';
import { startServer, type RunningServer } from '../../src/server/grpc-server.js';
import { KeyLocks } from '../../src/server/locks.js';
import { loadAgent, loadCsi } from '../../src/server/proto.js';
import { agentServerCredentials, controllerOnly, readTlsDir } from '../../src/server/tls.js';
import { makeCerts, type CertDirs } from '../helpers/certs.js';
import { call, waitFor } from '../helpers/grpc.js';
import type { CreateVolumeArgs, VolumeInfo } from '../../src/agent/types.js';
import { MemoryAgent } from '../helpers/memory-agent.js';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'dist', 'main.js');
const GiB = 2 ** 30;
const log = createLogger('fatal');
const CAPS = [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('the controller executable with one of two storage agents stopped', () => {
  let dir: string;
  let certs: CertDirs;
  let child: ChildProcess;
  let stderr = '';
  let sock: string;
  let metricsPort = 0;
  const a = new MemoryAgent('storage-a', ['vg1'], 20 * GiB);
  const b = new MemoryAgent('storage-b', ['vg1'], 10 * GiB);
  const servers = new Map<MemoryAgent, { port: number; server: RunningServer | undefined }>();
  let controller: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Controller']>;
  let identity: InstanceType<ReturnType<typeof loadCsi>['csi']['v1']['Identity']>;

  const serve = async (agent: MemoryAgent, port = 0) => {
    const def = loadAgent().csilvmiscsi.agent.v1.Agent.service;
    const server = await startServer(
      { kind: 'tcp', host: '127.0.0.1', port },
      [{ definition: def, implementation: agentHandlers(agent, { log, locks: new KeyLocks() }) }],
      agentServerCredentials(await readTlsDir(certs.agent)),
      [controllerOnly(log)],
    );
    servers.set(agent, { port: Number(server.address.split(':').pop()), server });
  };
  const stopAgent = async (agent: MemoryAgent) => {
    const s = servers.get(agent);
    await s?.server?.stop(0);
    if (s) s.server = undefined;
  };
  const create = (name: string) =>
    call(controller, 'CreateVolume', {
      name,
      capacity_range: { required_bytes: String(GiB) },
      volume_capabilities: CAPS,
      parameters: { volumeGroup: 'vg1' },
    } as never);
  const codeOf = (e: unknown) => (e as { code: number }).code;

  beforeAll(async () => {
    expect(existsSync(bin), `${bin} missing: run npm run build`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'csi-avail-'));
    certs = makeCerts(join(dir, 'tls'));
    await serve(a);
    await serve(b);
    sock = join(dir, 'csi.sock');
    metricsPort = await freePort();
    const agents = `storage-a=127.0.0.1:${servers.get(a)?.port},storage-b=127.0.0.1:${servers.get(b)?.port}`;
    child = spawn(
      process.execPath,
      [
        bin,
        '--mode',
        'controller',
        '--endpoint',
        `unix://${sock}`,
        '--node-id',
        'ctl',
        '--agents',
        agents,
        '--agent-tls-dir',
        certs.controller,
        '--metrics-address',
        `127.0.0.1:${metricsPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(
      () => existsSync(sock),
      15_000,
      () => `socket never appeared; stderr:\n${stderr}`,
    );
    const csi = loadCsi().csi.v1;
    controller = new csi.Controller(`unix://${sock}`, credentials.createInsecure());
    identity = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
    await waitFor(
      async () => (await get(metricsPort, '/readyz')).status === 200,
      20_000,
      () => stderr,
    );
  });

  afterAll(async () => {
    controller?.close();
    identity?.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const s of servers.values()) await s.server?.stop(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('both up: a volume goes to the agent with the most room', async () => {
    const v = await create('pvc-on-a');
    expect(v.volume?.volume_id.startsWith(`${a.nodeId}/`)).toBe(true);
    const s = await call(controller, 'CreateSnapshot', {
      name: 'snap-on-a',
      source_volume_id: v.volume?.volume_id ?? '',
      parameters: {},
      secrets: {},
    });
    expect(s.snapshot?.snapshot_id.startsWith(`${a.nodeId}/`)).toBe(true);
  });

  it('ListVolumes in pages: each storage node cuts its own page (one entry longer than asked), and an agent from before paging, which answers all, pages the same', async () => {
    const params = [...a.volumes.values()][0]?.params; // as the controller made them for pvc-on-a
    expect(params).toBeDefined();
    const made: VolumeInfo[] = [];
    for (const [agent, n] of [
      [a, 5],
      [b, 4],
    ] as const)
      for (let i = 0; i < n; i++)
        made.push(
          await agent.createVolume({
            name: `pvc-page-${agent.nodeName}-${i}`,
            range: { required: GiB, limit: 0 },
            defaultBytes: GiB,
            params,
            source: undefined,
          } as CreateVolumeArgs),
        );
    try {
      const want = [...a.volumes.values(), ...b.volumes.values()].map((v) => v.id).sort();
      const walk = async (max: number) => {
        const seen: string[] = [];
        let token = '';
        do {
          const p = await call(controller, 'ListVolumes', { max_entries: max, starting_token: token });
          if (max > 0) expect(p.entries.length).toBeLessThanOrEqual(max);
          seen.push(...p.entries.map((e) => e.volume?.volume_id ?? ''));
          token = p.next_token;
        } while (token);
        return seen;
      };
      a.listAsks.length = 0;
      expect(await walk(2)).toEqual(want); // every volume once, in id order
      expect(a.listAsks[0]).toEqual({ limit: 3, readyOnly: true });
      expect(a.listAsks[1]).toEqual({ after: want[1], limit: 3, readyOnly: true });
      b.pagesLists = false; // B answers all of its volumes, whatever the page
      expect(await walk(3)).toEqual(want);
      expect(await walk(0)).toEqual(want); // 0: one page of all
    } finally {
      b.pagesLists = true;
      for (const v of made) if (!a.volumes.delete(v.lv)) b.volumes.delete(v.lv);
    }
  });

  it('agent A stopped: CreateVolume, CreateSnapshot, ListVolumes, ListSnapshots and GetCapacity answer from B', async () => {
    await stopAgent(a);
    const v = await create('pvc-new');
    expect(v.volume?.volume_id.startsWith(`${b.nodeId}/`)).toBe(true);
    const again = await create('pvc-new'); // idempotent on B while A is down
    expect(again.volume?.volume_id).toBe(v.volume?.volume_id);
    const s = await call(controller, 'CreateSnapshot', {
      name: 'snap-on-b',
      source_volume_id: v.volume?.volume_id ?? '',
      parameters: {},
      secrets: {},
    });
    expect(s.snapshot?.snapshot_id.startsWith(`${b.nodeId}/`)).toBe(true);
    const list = await call(controller, 'ListVolumes', {});
    expect(list.entries.map((e) => e.volume?.volume_id)).toEqual([v.volume?.volume_id]);
    const snaps = await call(controller, 'ListSnapshots', {});
    expect(snaps.entries.map((e) => e.snapshot?.snapshot_id)).toEqual([s.snapshot?.snapshot_id]);
    const cap = await call(controller, 'GetCapacity', {
      volume_capabilities: CAPS,
      parameters: { volumeGroup: 'vg1' },
    } as never);
    expect(cap.available_capacity).toBe(String(10 * GiB));
  });

  it("agent A stopped: a name sent to A before is UNAVAILABLE (it may be there), and so are A's volumes: never NOT_FOUND or a delete that succeeds", async () => {
    const e = await create('pvc-on-a').catch((x: unknown) => x);
    expect(codeOf(e)).toBe(Code.UNAVAILABLE);
    expect(String((e as Error).message)).toMatch(/may already exist on storage node storage-a/);
    const [onA] = [...a.volumes.values()];
    const del = await call(controller, 'DeleteVolume', { volume_id: onA?.id ?? '', secrets: {} }).catch(
      (x: unknown) => x,
    );
    expect(codeOf(del)).toBe(Code.UNAVAILABLE);
    expect(String((del as Error).message)).toMatch(/storage-a/);
    expect(a.volumes.size).toBe(1);
    expect(b.volumes.has(onA?.lv ?? '')).toBe(false); // no second copy of pvc-on-a on B
  });

  it('metrics say which agent is unreachable and what was answered without it; /readyz stays ready while B answers', async () => {
    const m = (await get(metricsPort, '/metrics')).body;
    expect(m).toContain('csi_lvm_iscsi_storage_agent_reachable{node="storage-a"} 0');
    expect(m).toContain('csi_lvm_iscsi_storage_agent_reachable{node="storage-b"} 1');
    expect(m).toMatch(/csi_lvm_iscsi_agent_skipped_total\{call="ListVolumes"\} [1-9]/);
    expect(m).toMatch(/csi_lvm_iscsi_agent_skipped_total\{call="CreateVolume"\} [1-9]/);
    expect((await get(metricsPort, '/readyz')).status).toBe(200);
    expect(stderr).toMatch(/storage agent unreachable/);
  });

  it('both stopped: /readyz 503 "no storage agent is reachable", Probe still ready, CreateVolume and ListVolumes UNAVAILABLE', async () => {
    await stopAgent(b);
    expect(codeOf(await call(controller, 'ListVolumes', {}).catch((x: unknown) => x))).toBe(Code.UNAVAILABLE);
    await waitFor(async () => (await get(metricsPort, '/readyz')).status === 503, 20_000);
    expect((await get(metricsPort, '/readyz')).body).toMatch(
      /^not ready: no storage agent is reachable \(storage-a: .*storage-b: /,
    );
    expect((await call(identity, 'Probe', {})).ready?.value).toBe(true);
    expect(codeOf(await create('pvc-nowhere').catch((x: unknown) => x))).toBe(Code.UNAVAILABLE);
  });

  it('agent A back on its port: reconnected on its backoff, its volume found by name again (no duplicate)', async () => {
    await serve(a, servers.get(a)?.port);
    await waitFor(
      async () => (await get(metricsPort, '/readyz')).status === 200,
      45_000,
      () => stderr.slice(-2000),
    );
    const v = await create('pvc-on-a');
    expect(v.volume?.volume_id).toBe([...a.volumes.values()][0]?.id);
    expect(a.volumes.size).toBe(1);
  });
});

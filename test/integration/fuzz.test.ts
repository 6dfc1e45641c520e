/**
 * Hostile input, on the host: thousands of generated and mutated requests to
 * every RPC of the CSI Identity and Controller services and of the agent API,
 * sent to the real executable (`--mode all` with the agent API on loopback,
 * mutual TLS) through real gRPC clients, plus raw byte mutations of encoded
 * requests. Every program the plugin runs is a stub on its PATH
 * (test/integration/fuzz-stubs.ts) that records its argv and answers like
 * LVM / tgtadm would for one volume group with a thin pool, one volume and
 * one snapshot; nothing on the host changes. Checked:
 *   - the process stays up and every answer is a gRPC status;
 *   - no command ever gets an argument outside the safe alphabet (no space, no
 *     control character, no shell metacharacter, no ".." path segment, no
 *     option-looking argument the plugin did not use itself): what reaches a
 *     command from a request is a validated name or a value the plugin made;
 *   - a rejected request (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
 *     OUT_OF_RANGE, FAILED_PRECONDITION, UNIMPLEMENTED, ABORTED,
 *     RESOURCE_EXHAUSTED, PERMISSION_DENIED) ran no command that changes
 *     anything (lvcreate, lvremove, lvchange, lvextend, lvrename, lvconvert,
 *     vg*, dd, tgtadm other than --op show, mkfs, mount, ...).
 * The node service is not fuzzed here: its handlers create target
 * directories on the machine they run on, which on the host is not a test
 * machine. FUZZ_RUNS (default 40, about 2,700 requests in 3-4 minutes here) sets the requests per RPC; the figures
 * are printed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, status as Code, type Client } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgent, loadCsi } from '../../src/server/proto.js';
import { agentClientCredentials, readTlsDir } from '../../src/server/tls.js';
import { makeCerts } from '../helpers/certs.js';
import {
  agentParams,
  agentSeeds,
  ArgvCheck,
  controllerSeeds,
  Figures,
  hostileString,
  hostileStrings,
  IDENTITY_SEEDS,
  idVariants,
  mutatedBytes,
  mutates,
  rawDefinition,
  readCommandLog,
  readCommandsFrom,
  requestsFor,
  send,
  showRequest,
} from '../helpers/fuzz.js';
import { waitFor } from '../helpers/grpc.js';
import { FUZZ_VG, makeStubs, SEED_SNAPSHOT_ID, SEED_VOLUME_ID } from './fuzz-stubs.js';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'dist', 'main.js');
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40);
const NODE_ID = `w1:iqn.2024-01.test:w1`;

const IDS = {
  vg: FUZZ_VG,
  volumeId: SEED_VOLUME_ID,
  snapshotId: SEED_SNAPSHOT_ID,
  nodeId: NODE_ID,
  initiatorIqn: 'iqn.2024-01.test:w1',
  nodeName: 'w1',
  newBytes: '67108864',
  expandBytes: '134217728',
};
const CONTROLLER_SEEDS = controllerSeeds(IDS);
const AGENT_SEEDS = agentSeeds(IDS);
const STR = hostileString(hostileStrings(idVariants(FUZZ_VG, SEED_VOLUME_ID, SEED_SNAPSHOT_ID)));

/**
 * Answers that refuse a request as given: such a request must have changed nothing. NOT_FOUND,
 * FAILED_PRECONDITION and RESOURCE_EXHAUSTED are left out here because the stubs keep no state: a
 * CreateSnapshot whose lvcreate "succeeded" finds no snapshot afterwards and says NOT_FOUND.
 */
const REJECTED = new Set([
  Code.INVALID_ARGUMENT,
  Code.ALREADY_EXISTS,
  Code.OUT_OF_RANGE,
  Code.UNIMPLEMENTED,
  Code.ABORTED,
  Code.PERMISSION_DENIED,
]);

describe('fuzzing every CSI Identity/Controller and agent API RPC of the real executable (host, stub commands)', () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let logFile: string;
  const clients: Record<string, Client> = {};
  const figures = new Figures();
  const argv = new ArgvCheck();
  const violations: string[] = [];
  /** The request sent last: the one to look at when the plugin exits. */
  let last = '';
  let logOffset = 0;
  let commandCount = 0;

  beforeAll(async () => {
    expect(existsSync(bin), `${bin} missing: run npm run build`).toBe(true);
    dir = mkdtempSync(join(tmpdir(), 'csi-fuzz-'));
    const stubs = makeStubs(join(dir, 'stubs'));
    logFile = stubs.log;
    const certs = makeCerts(join(dir, 'tls'));
    const sock = join(dir, 'csi.sock');
    const agentPort = 20_000 + Math.floor(Math.random() * 20_000);
    child = spawn(
      process.execPath,
      [
        bin,
        '--mode',
        'all',
        // the explicit opt-out of CHAP, so requests without CHAP secrets reach the agent's publish path
        '--allow-publish-without-chap',
        'true',
        '--endpoint',
        `unix://${sock}`,
        '--node-id',
        'storage-1',
        '--volume-group',
        FUZZ_VG,
        '--thin-pool',
        'pool',
        '--target-backend',
        'tgt',
        '--agent-listen',
        `127.0.0.1:${agentPort}`,
        '--agent-tls-dir',
        certs.agent,
        '--initiator-name',
        'iqn.2024-01.test:storage-1',
        '--portals',
        '127.0.0.1:3260',
        '--stats-interval',
        '0',
        '--reconcile-interval',
        '0',
        '--data-dir',
        join(dir, 'data'),
        '--kubelet-dir',
        join(dir, 'kubelet'),
        '--job-wait-seconds',
        '1',
        '--log-level',
        'warn',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, PATH: stubs.path, FUZZ_CMD_LOG: stubs.log, FUZZ_DIR: stubs.dir },
      },
    );
    // the start retries of the node part (no iscsid on the host) say the same thing every time
    child.stderr?.on(
      'data',
      (d: Buffer) =>
        (stderr = (
          stderr +
          d
            .toString()
            .split('\n')
            .filter((l) => !l.includes('iscsid is not running'))
            .join('\n')
        ).slice(-20_000)),
    );
    await waitFor(
      () => existsSync(sock),
      20_000,
      () => `socket never appeared; stderr:\n${stderr}`,
    );
    const csi = loadCsi().csi.v1;
    clients['Identity'] = new csi.Identity(`unix://${sock}`, credentials.createInsecure());
    clients['Controller'] = new csi.Controller(`unix://${sock}`, credentials.createInsecure());
    const { creds, options } = agentClientCredentials(await readTlsDir(certs.controller));
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    clients['Agent'] = new Agent(`127.0.0.1:${agentPort}`, creds, options);
    // the agent is up once the agent API answers
    await waitFor(
      async () => (await send(clients['Agent'] as Client, 'GetInfo', {})).code === Code.OK,
      30_000,
      () => stderr,
    );
    // what the plugin runs with valid input: its own options and values are allowed as they are
    for (const [m, req] of Object.entries(CONTROLLER_SEEDS)) await send(clients['Controller'], m, req);
    for (const [m, req] of Object.entries(AGENT_SEEDS)) await send(clients['Agent'], m, req);
    // and the other valid shapes of a create: no content source, thin and thick
    for (const lvmType of ['thin', 'thick']) {
      const { volume_content_source: _src, ...plain } = CONTROLLER_SEEDS['CreateVolume'] as Record<string, unknown>;
      await send(clients['Controller'], 'CreateVolume', {
        ...plain,
        name: `fuzz-base-${lvmType}`,
        parameters: { volumeGroup: FUZZ_VG, lvmType },
      });
      const { source: _s, ...bare } = AGENT_SEEDS['CreateVolume'] as Record<string, unknown>;
      await send(clients['Agent'], 'CreateVolume', {
        ...bare,
        name: `fuzz-base-a-${lvmType}`,
        params: agentParams(FUZZ_VG, lvmType),
      });
    }
    argv.learn(readCommandLog(logFile));
    logOffset = readCommandsFrom(logFile, 0).offset;
  });

  afterAll(() => {
    for (const c of Object.values(clients)) c.close();
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one request and checks what it made the plugin run. */
  async function one(service: string, method: string, req: unknown): Promise<void> {
    const key = `${service}/${method}`;
    const before = readCommandsFrom(logFile, logOffset).offset;
    last = `${key} ${showRequest(req, 2000)}`;
    const r = await send(clients[service] as Client, method, req);
    const name = figures.count(key, r);
    if (!r.sent) return;
    if (!(r.code in Code)) violations.push(`${key}: answer ${r.code} is not a gRPC status`);
    const news = readCommandsFrom(logFile, before);
    logOffset = news.offset;
    commandCount += news.commands.length;
    violations.push(...argv.check(key, req, news.commands));
    if (r.code !== -1 && REJECTED.has(r.code)) {
      for (const c of news.commands.filter(mutates))
        violations.push(
          `${key} answered ${name} but ran ${c.program} ${c.args.join(' ')} (request ${showRequest(req)})`,
        );
    }
  }

  for (const [service, seeds] of [
    ['Identity', IDENTITY_SEEDS],
    ['Controller', CONTROLLER_SEEDS],
    ['Agent', AGENT_SEEDS],
  ] as const) {
    it(`${service}: ${RUNS} generated and mutated requests per RPC`, async () => {
      for (const [method, seed] of Object.entries(seeds)) {
        for (const req of requestsFor(seed, STR, RUNS, 15 + method.length)) await one(service, method, req);
        expect(
          child.exitCode,
          `the plugin exited (${child.exitCode} ${child.signalCode}) after ${last}; stderr:\n${stderr}`,
        ).toBeNull();
      }
      expect(violations).toEqual([]);
    }, 1_200_000);
  }

  it(`raw bytes: ${RUNS} byte-level mutations of each encoded request reach the server as they are`, async () => {
    const csi = loadCsi().csi.v1;
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    const raw = (
      service: { service: Record<string, { path: string; requestSerialize: (r: unknown) => Buffer }> },
      client: Client,
    ) => {
      const def = rawDefinition(service);
      const Ctor = makeGenericClientConstructor(def, 'raw');
      return {
        client: new Ctor(client.getChannel().getTarget(), credentials.createInsecure()) as unknown as Client,
        encode: (m: string, r: unknown) =>
          (service.service[m] as { requestSerialize: (r: unknown) => Buffer }).requestSerialize(r),
      };
    };
    const ctl = raw(csi.Controller, clients['Controller'] as Client);
    clients['rawController'] = ctl.client;
    for (const [method, seed] of Object.entries(CONTROLLER_SEEDS)) {
      const encoded = ctl.encode(method, seed);
      for (const b of fc.sample(mutatedBytes(encoded), { numRuns: RUNS, seed: 7 }))
        await one('rawController', method, b);
    }
    // the agent API over TLS: the same mutations with the controller's certificate
    const { creds, options } = agentClientCredentials(await readTlsDir(join(dir, 'tls', 'controller')));
    const agentDef = rawDefinition(Agent);
    const RawAgent = makeGenericClientConstructor(agentDef, 'rawAgent');
    clients['rawAgent'] = new RawAgent((clients['Agent'] as Client).getChannel().getTarget(), creds, options);
    for (const [method, seed] of Object.entries(AGENT_SEEDS)) {
      const encoded =
        (Agent as unknown as { service: Record<string, { requestSerialize: (r: unknown) => Buffer }> }).service[
          method
        ]?.requestSerialize(seed) ?? Buffer.alloc(0);
      for (const b of fc.sample(mutatedBytes(encoded), { numRuns: RUNS, seed: 9 })) await one('rawAgent', method, b);
    }
    expect(
      child.exitCode,
      `the plugin exited (${child.exitCode} ${child.signalCode}) after ${last}; stderr:\n${stderr}`,
    ).toBeNull();
    expect(violations).toEqual([]);
  }, 1_200_000);

  it('figures: requests per RPC, crashes, statuses seen', () => {
    const total = figures.total();
    const crashes = child.exitCode === null ? 0 : 1;
    console.log(
      `fuzz figures (FUZZ_RUNS=${RUNS}): ${total} requests answered, crashes ${crashes}, violations ${violations.length}, commands run during the fuzzing ${commandCount}, statuses seen ${figures.statusesSeen().join(' ')}\n${figures.table()}`,
    );
    expect(crashes).toBe(0);
    if (RUNS >= 40) expect(total).toBeGreaterThan(2000);
    // the log is readable: the stubs recorded what ran
    expect(readFileSync(logFile, 'utf8').length).toBeGreaterThan(0);
  });
});

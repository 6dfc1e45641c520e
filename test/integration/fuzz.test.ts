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
import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status as Code,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgent, loadCsi } from '../../src/server/proto.js';
import { agentClientCredentials, readTlsDir } from '../../src/server/tls.js';
import { makeCerts } from '../helpers/certs.js';
import { waitFor } from '../helpers/grpc.js';
import {
  FUZZ_VG,
  makeStubs,
  readCommandLog,
  readCommandsFrom,
  SEED_SNAPSHOT_ID,
  SEED_VOLUME_ID,
  type Command,
} from './fuzz-stubs.js';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'dist', 'main.js');
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 40);
const NODE_ID = `w1:iqn.2024-01.test:w1`;
const CAPS = [{ mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }];

/** Strings a hostile or broken caller might send. */
const HOSTILE = [
  '',
  ' ',
  '..',
  '../../etc/passwd',
  '/',
  '//',
  'a/b',
  'a/b/c/d',
  `${SEED_VOLUME_ID}/..`,
  `x/${FUZZ_VG}/..`,
  '-rf',
  '--help',
  '--config=devices{}',
  '; rm -rf /',
  '$(reboot)',
  '`id`',
  '|cat',
  '&&',
  "'",
  '"',
  '\\',
  '\n',
  '\r\n',
  '\t',
  '\u0000',
  '\u001f',
  '\u202e',
  'ä',
  '💥',
  '%n%s',
  '{}',
  '[]',
  'null',
  'a'.repeat(129),
  'b'.repeat(300),
  'c'.repeat(5000),
  'snapshot',
  'pvmove',
  'x_mlog',
  '_tdata',
  'vol-',
  `${FUZZ_VG}/pool`,
  `${FUZZ_VG}`,
  'pool',
  'iqn.',
  'iqn.2024-01.test:w1',
  'w1:iqn.2024-01.test:w1',
  'w1:',
  ':iqn.x',
  'n'.repeat(300) + ':iqn.2024-01.a:b',
  SEED_VOLUME_ID,
  SEED_SNAPSHOT_ID,
  SEED_VOLUME_ID.replace(FUZZ_VG, 'othervg'),
  SEED_VOLUME_ID + 'x',
  SEED_VOLUME_ID.toUpperCase(),
  'thin',
  'thick',
  'ext4',
  'xfs',
  'btrfs',
  'zero',
  'none',
  '-1',
  '0',
  '1e400',
  'NaN',
  '18446744073709551616',
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE),
  fc.string({ maxLength: 40 }),
  fc.fullUnicodeString({ maxLength: 20 }),
  fc.stringMatching(/^[A-Za-z0-9+_.:/-]{1,60}$/),
);
const int64ish = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1',
    '4096',
    '1073741824',
    '9223372036854775807',
    '-9223372036854775808',
    '18446744073709551615',
  ),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
);

/** Replaces leaves of a seed request: strings by hostile ones, numbers by odd ones, lists and maps grown or emptied, fields dropped. */
function mutate(seed: unknown): fc.Arbitrary<unknown> {
  if (typeof seed === 'string')
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant(seed) },
      { weight: 3, arbitrary: hostileString },
      { weight: 1, arbitrary: int64ish },
    );
  if (typeof seed === 'number')
    return fc.oneof(fc.constant(seed), fc.integer({ min: -1, max: 2 ** 31 }), fc.constantFrom(0, 1, 2 ** 32 - 1));
  if (typeof seed === 'boolean') return fc.boolean();
  if (Array.isArray(seed)) {
    if (seed.length === 0) return fc.array(hostileString, { maxLength: 3 });
    return fc.oneof(fc.constant([]), fc.tuple(...seed.map(mutate)), fc.array(mutate(seed[0]), { maxLength: 4 }));
  }
  if (seed && typeof seed === 'object') {
    const entries = Object.entries(seed as Record<string, unknown>);
    const fields = Object.fromEntries(entries.map(([k, v]) => [k, fc.option(mutate(v), { nil: undefined, freq: 6 })]));
    return fc
      .tuple(fc.record(fields), fc.dictionary(hostileString, hostileString, { maxKeys: 3 }))
      .map(([o, extra]) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
        // maps (parameters, secrets, volume_context) get extra keys; plain messages ignore unknown ones
        return Object.keys(seed).length === 0 ? { ...extra } : out;
      });
  }
  return fc.constant(seed);
}

/** The seed with exactly one leaf replaced by a hostile value or dropped: the rest stays valid, so deeper code is reached. */
function mutateOne(seed: object): fc.Arbitrary<unknown> {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0)
      for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else if (Array.isArray(v) && v.length > 0) v.forEach((x, i) => walk(x, [...path, String(i)]));
    else paths.push(path);
  };
  walk(seed, []);
  if (paths.length === 0) return fc.constant(seed);
  return fc
    .tuple(fc.constantFrom(...paths), fc.option(fc.oneof(hostileString, int64ish), { nil: undefined, freq: 8 }))
    .map(([path, value]) => {
      const copy = JSON.parse(JSON.stringify(seed)) as Record<string, unknown>;
      let at: Record<string, unknown> = copy;
      for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
      const last = path[path.length - 1] as string;
      if (value === undefined) delete at[last];
      else at[last] = value;
      return copy;
    });
}

/** One valid request per RPC: the starting point of the mutations. */
const CONTROLLER_SEEDS: Record<string, object> = {
  CreateVolume: {
    name: 'fuzz-new',
    capacity_range: { required_bytes: '67108864', limit_bytes: '0' },
    volume_capabilities: CAPS,
    parameters: { volumeGroup: FUZZ_VG, lvmType: 'thin' },
    secrets: {},
    volume_content_source: { snapshot: { snapshot_id: SEED_SNAPSHOT_ID } },
    mutable_parameters: {},
  },
  DeleteVolume: { volume_id: SEED_VOLUME_ID, secrets: {} },
  ControllerPublishVolume: {
    volume_id: SEED_VOLUME_ID,
    node_id: NODE_ID,
    volume_capability: CAPS[0],
    readonly: false,
    secrets: { chapUser: 'user1', chapSecret: 'a-secret-of-16-chars' },
    volume_context: { lvmType: 'thin' },
  },
  ControllerUnpublishVolume: { volume_id: SEED_VOLUME_ID, node_id: NODE_ID, secrets: {} },
  ValidateVolumeCapabilities: {
    volume_id: SEED_VOLUME_ID,
    volume_context: {},
    volume_capabilities: CAPS,
    parameters: { lvmType: 'thin' },
    secrets: {},
    mutable_parameters: {},
  },
  ListVolumes: { max_entries: 2, starting_token: '' },
  GetCapacity: { volume_capabilities: CAPS, parameters: { volumeGroup: FUZZ_VG }, accessible_topology: null },
  ControllerGetCapabilities: {},
  CreateSnapshot: { source_volume_id: SEED_VOLUME_ID, name: 'fuzz-snap', secrets: {}, parameters: {} },
  DeleteSnapshot: { snapshot_id: SEED_SNAPSHOT_ID, secrets: {} },
  ListSnapshots: {
    max_entries: 1,
    starting_token: '',
    source_volume_id: SEED_VOLUME_ID,
    snapshot_id: SEED_SNAPSHOT_ID,
    secrets: {},
  },
  GetSnapshot: { snapshot_id: SEED_SNAPSHOT_ID, secrets: {} },
  ControllerExpandVolume: {
    volume_id: SEED_VOLUME_ID,
    capacity_range: { required_bytes: '134217728', limit_bytes: '0' },
    secrets: {},
    volume_capability: CAPS[0],
  },
  ControllerGetVolume: { volume_id: SEED_VOLUME_ID },
  ControllerModifyVolume: { volume_id: SEED_VOLUME_ID, secrets: {}, mutable_parameters: { a: 'b' } },
};
const IDENTITY_SEEDS: Record<string, object> = { GetPluginInfo: {}, GetPluginCapabilities: {}, Probe: {} };
const [, SEED_VG, SEED_LV] = SEED_VOLUME_ID.split('/') as [string, string, string];
const SEED_SNAP_LV = SEED_SNAPSHOT_ID.split('/')[2] as string;
const PARAMS = {
  lvm_type: 'thin',
  volume_group: FUZZ_VG,
  mirrors: 0,
  stripes: 1,
  stripe_size_kib: 0,
  volume_clear: 'zero',
  fs_type: 'ext4',
  local_attach: false,
};
const AGENT_SEEDS: Record<string, object> = {
  GetInfo: {},
  CreateVolume: {
    name: 'fuzz-new',
    params: PARAMS,
    source: { kind: 'snapshot', id: SEED_SNAPSHOT_ID },
    required_bytes: '67108864',
    limit_bytes: '0',
    default_bytes: '1073741824',
  },
  FindVolumeByName: { name: 'fuzz-vol' },
  GetVolume: { vg: SEED_VG, lv: SEED_LV },
  ListVolumes: {},
  DeleteVolume: { vg: SEED_VG, lv: SEED_LV },
  ExpandVolume: { vg: SEED_VG, lv: SEED_LV, required_bytes: '134217728', limit_bytes: '0' },
  CreateSnapshot: { name: 'fuzz-snap2', source_vg: SEED_VG, source_lv: SEED_LV, snapshot_reserve: 0 },
  FindSnapshotByName: { name: 'fuzz-snap' },
  GetSnapshot: { vg: SEED_VG, lv: SEED_SNAP_LV },
  ListSnapshots: {},
  DeleteSnapshot: { vg: SEED_VG, lv: SEED_SNAP_LV },
  Publish: {
    vg: SEED_VG,
    lv: SEED_LV,
    publication: { node_id: NODE_ID, read_only: false, mode: 'SINGLE_NODE_WRITER', chap: true },
    initiator_iqn: 'iqn.2024-01.test:w1',
    node_name: 'w1',
    chap: { userid: 'user1.abcdefghij', password: 'p'.repeat(16), mutual_userid: '', mutual_password: '' },
  },
  Unpublish: { vg: SEED_VG, lv: SEED_LV, node_id: NODE_ID },
  PoolStatus: { vg: FUZZ_VG },
  Capacity: { vg: FUZZ_VG, lvm_type: 'thin', mirrors: 0, stripes: 1 },
};

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
/** Values checked by their own rules (assertChap: no control characters, at most 255 bytes) that tgtadm takes as they are. */
const CHECKED_VALUE_OPTIONS = new Set(['--user', '--password']);
const MUTATING =
  /^(lvcreate|lvremove|lvchange|lvextend|lvrename|lvconvert|vgcreate|vgremove|vgchange|dd|wipefs|mkfs\..*|mount|umount|losetup|resize2fs|xfs_growfs|xfs_admin|multipath|iscsiadm)$/;
const mutates = (c: Command) => MUTATING.test(c.program) || (c.program === 'tgtadm' && !c.args.includes('show'));
/** What an argument may consist of when it is not one the plugin used with valid input. */
const SAFE_ARG = /^[A-Za-z0-9+_.:/=,@%-]*$/;

type Unary = (
  req: unknown,
  md: unknown,
  opts: { deadline: Date },
  cb: (err: ServiceError | null, res?: unknown) => void,
) => void;
function send(
  client: Client,
  method: string,
  req: unknown,
): Promise<{ code: Code | -1; details: string; sent: boolean }> {
  return new Promise((resolve) => {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    try {
      fn.call(client, req, new Metadata(), { deadline: new Date(Date.now() + 15_000) }, (err) => {
        // a request the client could not even encode never left the process
        const sent = !(err && /Request message serialization failure/i.test(err.details ?? ''));
        resolve(
          err ? { code: err.code, details: err.details ?? '', sent } : { code: Code.OK, details: '', sent: true },
        );
      });
    } catch (e) {
      resolve({ code: -1, details: String(e), sent: false });
    }
  });
}

describe('fuzzing every CSI Identity/Controller and agent API RPC of the real executable (host, stub commands)', () => {
  let dir: string;
  let child: ChildProcess;
  let stderr = '';
  let logFile: string;
  const clients: Record<string, Client> = {};
  const figures: Record<string, { sent: number; notEncodable: number; statuses: Record<string, number> }> = {};
  let baselineArgs = new Set<string>();
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
        params: { ...PARAMS, lvm_type: lvmType },
      });
    }
    baselineArgs = new Set(readCommandLog(logFile).flatMap((c) => c.args));
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
    const f = (figures[key] ??= { sent: 0, notEncodable: 0, statuses: {} });
    const before = readCommandsFrom(logFile, logOffset).offset;
    last = `${key} ${JSON.stringify(req, (_k, v: unknown) => (Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)).slice(0, 2000)}`;
    const r = await send(clients[service] as Client, method, req);
    if (!r.sent) {
      f.notEncodable++;
      return;
    }
    f.sent++;
    const name = Code[r.code] ?? `not a gRPC status: ${r.code}`;
    f.statuses[name] = (f.statuses[name] ?? 0) + 1;
    if (!(r.code in Code)) violations.push(`${key}: answer ${r.code} is not a gRPC status`);
    const news = readCommandsFrom(logFile, before);
    logOffset = news.offset;
    commandCount += news.commands.length;
    const ran = news.commands;
    for (const c of ran) {
      for (const [i, a] of c.args.entries()) {
        if (baselineArgs.has(a)) continue;
        if (c.program === 'tgtadm' && CHECKED_VALUE_OPTIONS.has(c.args[i - 1] ?? '')) continue;
        if (!SAFE_ARG.test(a) || a.split('/').includes('..') || a.startsWith('-')) {
          violations.push(
            `${key} -> ${c.program} got argument ${JSON.stringify(a)} (request ${JSON.stringify(req).slice(0, 300)})`,
          );
        }
      }
    }
    if (r.code !== -1 && REJECTED.has(r.code)) {
      for (const c of ran.filter(mutates))
        violations.push(
          `${key} answered ${name} but ran ${c.program} ${c.args.join(' ')} (request ${JSON.stringify(req).slice(0, 300)})`,
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
        const requests = fc.sample(
          fc.oneof(
            { weight: 3, arbitrary: mutateOne(seed) },
            { weight: 3, arbitrary: mutate(seed) },
            { weight: 1, arbitrary: fc.object({ maxDepth: 2, maxKeys: 4 }) },
          ),
          { numRuns: RUNS, seed: 15 + method.length },
        );
        for (const req of requests) await one(service, method, req);
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
      const def = Object.fromEntries(
        Object.entries(service.service).map(([k, m]) => [
          k,
          {
            path: m.path,
            requestStream: false,
            responseStream: false,
            requestSerialize: (b: Buffer) => b,
            requestDeserialize: (b: Buffer) => b,
            responseSerialize: (b: Buffer) => b,
            responseDeserialize: (b: Buffer) => b,
          },
        ]),
      );
      const Ctor = makeGenericClientConstructor(def, 'raw');
      return {
        client: new Ctor(client.getChannel().getTarget(), credentials.createInsecure()) as unknown as Client,
        encode: (m: string, r: unknown) =>
          (service.service[m] as { requestSerialize: (r: unknown) => Buffer }).requestSerialize(r),
      };
    };
    const ctl = raw(csi.Controller, clients['Controller'] as Client);
    clients['rawController'] = ctl.client;
    const bytes = (b: Buffer) =>
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
        fc
          .tuple(fc.nat({ max: Math.max(0, b.length - 1) }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 4 }))
          .map(([at, v, cut]) => {
            const c = Buffer.from(b);
            if (c.length > 0) c[at % c.length] = v;
            return cut ? c.subarray(0, Math.max(0, c.length - cut)) : c;
          }),
      );
    for (const [method, seed] of Object.entries(CONTROLLER_SEEDS)) {
      const encoded = ctl.encode(method, seed);
      for (const b of fc.sample(bytes(encoded), { numRuns: RUNS, seed: 7 })) await one('rawController', method, b);
    }
    // the agent API over TLS: the same mutations with the controller's certificate
    const { creds, options } = agentClientCredentials(await readTlsDir(join(dir, 'tls', 'controller')));
    const agentDef = Object.fromEntries(
      Object.entries((Agent as unknown as { service: Record<string, { path: string }> }).service).map(([k, m]) => [
        k,
        {
          path: m.path,
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      ]),
    );
    const RawAgent = makeGenericClientConstructor(agentDef, 'rawAgent');
    clients['rawAgent'] = new RawAgent((clients['Agent'] as Client).getChannel().getTarget(), creds, options);
    for (const [method, seed] of Object.entries(AGENT_SEEDS)) {
      const encoded =
        (Agent as unknown as { service: Record<string, { requestSerialize: (r: unknown) => Buffer }> }).service[
          method
        ]?.requestSerialize(seed) ?? Buffer.alloc(0);
      for (const b of fc.sample(bytes(encoded), { numRuns: RUNS, seed: 9 })) await one('rawAgent', method, b);
    }
    expect(
      child.exitCode,
      `the plugin exited (${child.exitCode} ${child.signalCode}) after ${last}; stderr:\n${stderr}`,
    ).toBeNull();
    expect(violations).toEqual([]);
  }, 1_200_000);

  it('figures: requests per RPC, crashes, statuses seen', () => {
    let total = 0;
    const lines = Object.entries(figures).map(([k, f]) => {
      total += f.sent;
      return `${k.padEnd(44)} ${String(f.sent).padStart(5)} sent ${String(f.notEncodable).padStart(4)} not encodable  ${Object.entries(
        f.statuses,
      )
        .sort()
        .map(([s, n]) => `${s}:${n}`)
        .join(' ')}`;
    });
    const crashes = child.exitCode === null ? 0 : 1;
    console.log(
      `fuzz figures (FUZZ_RUNS=${RUNS}): ${total} requests answered, crashes ${crashes}, violations ${violations.length}, commands run during the fuzzing ${commandCount}\n${lines.join('\n')}`,
    );
    expect(crashes).toBe(0);
    if (RUNS >= 40) expect(total).toBeGreaterThan(2000);
    // the log is readable: the stubs recorded what ran
    expect(readFileSync(logFile, 'utf8').length).toBeGreaterThan(0);
  });
});

/**
 * Hostile input in the guest: generated and mutated requests to every RPC of
 * the CSI Identity, Controller and Node services and of the agent API
 * (mutual TLS), plus byte-level mutations of each encoded request, sent to the
 * real plugin (dist/main.js, --mode all) on real LVM (a VG on two guest
 * disks with a thin pool), LIO and open-iscsi. The generators and seeds are
 * the host fuzz test's (test/helpers/fuzz.ts); the node service's paths mix
 * valid-looking kubelet paths below a scratch --kubelet-dir with hostile ones:
 * "..", symlinks out of the kubelet directory, /proc, /sys, device nodes,
 * paths outside any kubelet directory; then every hostile path is tried in
 * every path field of the node service, and NodeStageVolume with bad publish
 * contexts at a fresh staging path.
 *
 * Every program the plugin runs goes through a wrapper on its PATH that
 * appends the argv to a log and execs the real program; the log's count per
 * program must equal the plugin's own command metric (so nothing ran around
 * it). Checked:
 *   - the plugin stays up (same pid; Probe answers after every RPC) and every
 *     answer is a gRPC status;
 *   - no argv element came from a request unvalidated (ArgvCheck);
 *   - a rejected request (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
 *     OUT_OF_RANGE, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNIMPLEMENTED,
 *     PERMISSION_DENIED, and INTERNAL from grpc-js for a message it could not
 *     decode, before any handler ran), any answer to a read-only RPC, an unpublish or
 *     unstage of a path the plugin never used and a stage or publish onto
 *     something holding data changed nothing:
 *     per request an in-process snapshot (the VG's metadata from LVM's own
 *     backup file, device-mapper and SCSI disks from sysfs, LIO's configfs,
 *     iSCSI sessions from sysfs and node records from /etc/iscsi, mountinfo,
 *     the scratch tree, the hostile paths outside it, the first MiB of the
 *     two disks outside the VG), and per batch of such requests a costly one
 *     from the commands themselves (lvs names, sizes, tags, activation;
 *     iscsiadm -m session and -m node).
 * FUZZ_VM_RUNS (default 2, CI's) is the requests per RPC and generator, FUZZ_VM_MUTATIONS
 * (default ten times that) the byte-level mutations per RPC that may change
 * state, FUZZ_VM_READ_MUTATIONS (default fifty times FUZZ_VM_RUNS) those per
 * read-only RPC (cheap: no settling, no seeds made again); the figures are
 * printed at the end and written to $VM_OUT/fuzz-figures.txt.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  appendFileSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  readSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, status as Code, type Client } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgent, loadCsi } from '../../src/server/proto.js';
import { agentClientCredentials, readTlsDir } from '../../src/server/tls.js';
import { makeCerts, type CertDirs } from '../helpers/certs.js';
import {
  agentSeeds,
  ArgvCheck,
  controllerSeeds,
  Figures,
  hostileString,
  hostileStrings,
  IDENTITY_SEEDS,
  idVariants,
  LOG_ARGV_SH,
  MOUNT_CAP,
  mutatedBytes,
  PLUGIN_PROGRAMS,
  rawDefinition,
  readCommandLog,
  readCommandsFrom,
  requestsFor,
  send,
  showRequest,
  type SeedIds,
} from '../helpers/fuzz.js';
import {
  call,
  disks,
  inGuest,
  makeVg,
  MiB,
  PUBLISH_WITHOUT_CHAP,
  sh,
  shStatus,
  startPlugin,
  teardownExports,
  type PluginProcess,
} from './lib.js';

const RUNS = Number(process.env['FUZZ_VM_RUNS'] ?? 2);
/** Byte-level mutations of each RPC's seed request (most are refused cheaply; those that decode to a valid request do real work). */
const MUTATIONS = Number(process.env['FUZZ_VM_MUTATIONS'] ?? RUNS * 10);
/** The same for read-only RPCs: each costs a request and a snapshot read from files (tens of ms), so they get more. */
const READ_MUTATIONS = Number(process.env['FUZZ_VM_READ_MUTATIONS'] ?? RUNS * 50);
const VG = 'fuzzvmvg';
const DRIVER = 'lvm-iscsi.csi.example.org';
const AGENT_ADDR = '127.0.0.1:9821';
const METRICS_PORT = 9822;
/** Requests held to "nothing changed" between two costly snapshots. */
const BATCH = 40;
/** Long enough for a stage (login, mkfs, mount) in a loaded guest: a deadline cut short would let the server change state after the answer. */
const DEADLINE_MS = 300_000;

/** Answers that refuse the request as given: nothing may have changed. */
const REJECTED = new Set<number>([
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.ALREADY_EXISTS,
  Code.OUT_OF_RANGE,
  Code.FAILED_PRECONDITION,
  Code.RESOURCE_EXHAUSTED,
  Code.UNIMPLEMENTED,
  Code.PERMISSION_DENIED,
]);
/** RPCs that change nothing whatever they answer. */
const READ_ONLY = new Set([
  'Identity/GetPluginInfo',
  'Identity/GetPluginCapabilities',
  'Identity/Probe',
  'Controller/ValidateVolumeCapabilities',
  'Controller/ListVolumes',
  'Controller/GetCapacity',
  'Controller/ControllerGetCapabilities',
  'Controller/ListSnapshots',
  'Controller/GetSnapshot',
  'Controller/ControllerGetVolume',
  'Node/NodeGetVolumeStats',
  'Node/NodeGetCapabilities',
  'Node/NodeGetInfo',
  'Agent/GetInfo',
  'Agent/FindVolumeByName',
  'Agent/GetVolume',
  'Agent/ListVolumes',
  'Agent/FindSnapshotByName',
  'Agent/GetSnapshot',
  'Agent/ListSnapshots',
  'Agent/PoolStatus',
  'Agent/Capacity',
]);
/** After these the seeds may be gone: made again before the next RPC. */
const DESTRUCTIVE = new Set([
  'DeleteVolume',
  'DeleteSnapshot',
  'ControllerUnpublishVolume',
  'Unpublish',
  'NodeUnstageVolume',
  'NodeUnpublishVolume',
]);

// ------------------------------------------------------------- snapshots

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const tryRead = (p: string) => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return '?';
  }
};
const list = (p: string) => {
  try {
    return readdirSync(p).sort();
  } catch {
    return [];
  }
};

/**
 * Every entry below `root` (not following symlinks): directories, symlinks with their targets, other
 * entries by type; `stat` adds mode and size (an lstat each: slow on configfs), `read` names files whose
 * content (hashed) counts.
 */
function tree(root: string, out: string[], o: { skip?: RegExp; read?: RegExp; stat?: boolean } = {}): void {
  const walk = (p: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(p, { withFileTypes: true });
    } catch {
      out.push(`${p} unreadable`);
      return;
    }
    for (const e of entries) {
      if (o.skip?.test(e.name)) continue;
      const f = join(p, e.name);
      const st = o.stat ? lstatSync(f, { throwIfNoEntry: false }) : undefined;
      const meta = st ? ` ${(st.mode & 0o7777).toString(8)} ${st.isFile() ? st.size : ''}` : '';
      if (e.isSymbolicLink()) out.push(`${f} -> ${readlinkSync(f)}`);
      else if (e.isDirectory()) {
        out.push(`${f}/${meta}`);
        if (depth < 12) walk(f, depth + 1);
      } else if (e.isFile()) out.push(`${f}${meta}${o.read?.test(e.name) ? ` = ${sha(tryRead(f))}` : ''}`);
      else out.push(`${f} ${e.isBlockDevice() ? 'block' : e.isCharacterDevice() ? 'char' : 'other'}`);
    }
  };
  walk(root, 0);
}

/**
 * Something a mount would hide: a directory with entries, a file with data, anything else that exists
 * (device nodes). A mount point is not: a stage or publish there again may be the same mount (idempotent).
 */
function holdsData(path: string): boolean {
  try {
    const real = realpathSync(path);
    const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4]?.replace(/\\040/g, ' ') === real);
    if (mounted) return false;
    const st = statSync(path);
    if (st.isDirectory()) return readdirSync(path).length > 0;
    return !st.isFile() || st.size > 0;
  } catch {
    return false;
  }
}

/** The first MiB of a device, hashed. */
function headOf(device: string): string {
  const fd = openSync(device, 'r');
  try {
    const buf = Buffer.alloc(MiB);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return sha(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** Line differences of two snapshots (at most 20 lines). */
function diff(a: readonly string[], b: readonly string[]): string[] {
  const A = new Set(a);
  const B = new Set(b);
  return [...a.filter((l) => !B.has(l)).map((l) => `- ${l}`), ...b.filter((l) => !A.has(l)).map((l) => `+ ${l}`)]
    .slice(0, 20)
    .map((l) => l.slice(0, 300));
}

describe.runIf(inGuest)('fuzzing every CSI and agent API RPC of the real plugin in the guest', () => {
  const scratch = mkdtempSync('/tmp/fuzz-vm-');
  const kubelet = join(scratch, 'kubelet');
  const csiDir = join(kubelet, 'plugins/kubernetes.io/csi');
  const dataDir = join(scratch, 'data');
  const binDir = mkdtempSync('/tmp/fuzz-vm-bin-');
  const logFile = join(binDir, 'commands.log');
  const staging = join(csiDir, DRIVER, sha('pv-fuzz'), 'globalmount');
  const target = join(kubelet, 'pods/pod-0/volumes/kubernetes.io~csi/pv-fuzz/mount');
  /** Outside the scratch directory: what a hostile path could reach. */
  const outsidePaths = ['/etc/fuzz-made', '/tmp/fuzz-outside', '/etc', '/dev/null', '/proc/self', '/'];
  /** And the stage state files a stage at those paths would write beside them. */
  const outside = [...outsidePaths, ...outsidePaths.map((o) => `${o.replace(/\/$/, '')}.lvm-iscsi.json`)];
  const spareDisks = disks.slice(2, 4);
  const hostilePaths = [
    `${kubelet}/..`,
    `${kubelet}/../outside`,
    `${kubelet}/pods/../../etc`,
    `${scratch}/link-etc`,
    `${scratch}/link-etc/fuzz-made`,
    `${csiDir}/evil`,
    `${csiDir}/evil/fuzz-made`,
    `${kubelet}/pods/pod-1/volumes/kubernetes.io~csi/pv/dev-link`,
    `${kubelet}//pods`,
    `${kubelet}/pods/./x`,
    `${target}/`,
    `${staging}/lost+found`,
    `${target}/../mount`,
    '/proc/self',
    '/proc/1/root',
    '/proc/self/fd/0',
    '/sys/kernel/config',
    '/dev/null',
    '/dev',
    '/etc',
    ...outsidePaths,
    ...spareDisks,
    'relative/path',
    staging,
    target,
  ];

  let certs: CertDirs;
  let p: PluginProcess;
  let pid = 0;
  const clients: Record<string, Client> = {};
  let ids: SeedIds;
  let publishContext: Record<string, string> = {};
  const seeds: Record<string, Record<string, object>> = {};
  const argv = new ArgvCheck();
  const figures = new Figures();
  const violations: string[] = [];
  let logOffset = 0;
  let commandCount = 0;
  let last = '';
  let costly: { base: string[] | undefined; requests: string[] } = { base: undefined, requests: [] };
  let costlySnapshots = 0;
  let cheapMs = 0;
  let cheapCount = 0;

  /** The cheap snapshot: no process started. */
  function snapshot(): string[] {
    const t = performance.now();
    const out: string[] = [];
    // LVM writes this after every metadata change; its comments carry the time and command
    out.push(
      ...tryRead(`/etc/lvm/backup/${VG}`)
        .split('\n')
        .filter((l) => !/^\s*(#|description|creation_host|creation_time|contents)/.test(l))
        .map((l) => `lvm ${l.trim()}`),
    );
    for (const b of list('/sys/block')) {
      if (b.startsWith('loop') || b.startsWith('vd')) continue;
      out.push(`block ${b} ${tryRead(`/sys/block/${b}/size`)} ${tryRead(`/sys/block/${b}/dm/name`)}`);
    }
    const t1 = performance.now();
    tree('/sys/kernel/config/target', out, {
      skip: /^(statistics|fabric_statistics|alua|pr|wwn|param|discovery_auth|action)$/,
      read: /^(enable|authentication|demo_mode_discovery|generate_node_acls|demo_mode_write_protect|write_protect|userid|password|userid_mut|password_mut|udev_path|readonly|cache_dynamic_acls)$/,
    });
    const t2 = performance.now();
    for (const s of list('/sys/class/iscsi_session'))
      out.push(`session ${s} ${tryRead(`/sys/class/iscsi_session/${s}/targetname`)}`);
    tree('/etc/iscsi/nodes', out, { read: /./ });
    tree('/etc/iscsi/send_targets', out, { read: /./ });
    const t3 = performance.now();
    out.push(
      ...readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => `mount ${l}`),
    );
    tree(scratch, out, { stat: true });
    const t4 = performance.now();
    for (const o of outside) {
      try {
        const st = lstatSync(o);
        out.push(`outside ${o} ${st.ino} ${st.mode.toString(8)} ${st.nlink}`);
      } catch {
        out.push(`outside ${o} missing`);
      }
    }
    const t5 = performance.now();
    cheapMs += t5 - t;
    if (cheapCount++ < 3)
      progress(
        `cheap snapshot ${out.length} lines: lvm+sysfs ${Math.round(t1 - t)} ms, configfs ${Math.round(t2 - t1)} ms, iscsi ${Math.round(t3 - t2)} ms, mounts+scratch ${Math.round(t4 - t3)} ms, outside ${Math.round(t5 - t4)} ms`,
      );
    return out;
  }

  /** The costly snapshot: what the commands themselves say. */
  function costlySnapshot(): string[] {
    costlySnapshots++;
    const lvs = sh([
      'lvs',
      '-a',
      '--noheadings',
      '--separator',
      '|',
      '--units',
      'b',
      '--nosuffix',
      '-o',
      'lv_name,lv_size,lv_tags,lv_active',
      VG,
    ]);
    return [
      ...spareDisks.map((d) => `disk ${d} ${headOf(d)}`),
      ...lvs.split('\n').map((l) => `lvs ${l.trim()}`),
      ...shStatus(['iscsiadm', '-m', 'session'])
        .out.split('\n')
        .map((l) => `session ${l}`),
      ...shStatus(['iscsiadm', '-m', 'node'])
        .out.split('\n')
        .map((l) => `node ${l}`),
    ].sort();
  }

  async function jobsRunning(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    return [...text.matchAll(/^csi_lvm_iscsi_jobs_running\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  /** Background jobs (thick copies, wipes) change the VG on their own: none may run while a request is held to "nothing changed". */
  async function settle(): Promise<void> {
    const until = Date.now() + 600_000;
    while ((await jobsRunning()) > 0) {
      if (Date.now() > until) throw new Error('background jobs still running after 10 minutes');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function checkCostly(final: boolean): void {
    if (!costly.base || costly.requests.length === 0) return;
    if (!final && costly.requests.length < BATCH) return;
    const now = costlySnapshot();
    const d = diff(costly.base, now);
    if (d.length > 0)
      violations.push(
        `a batch of ${costly.requests.length} rejected or read-only requests changed LVM or iSCSI state:\n${d.join('\n')}\nrequests:\n${costly.requests.join('\n')}`,
      );
    costly = { base: now, requests: [] };
  }

  function up(): void {
    if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid !== pid)
      throw new Error(
        `the plugin exited (${p.child.exitCode} ${p.child.signalCode}) after ${last}; log tail:\n${p.log().slice(-20_000)}`,
      );
  }

  const started = Date.now();
  /**
   * The cheap snapshot taken after the last request that changed nothing, while nothing else has run
   * since: the next request's "before" (half the snapshots). Forgotten whenever the test itself changes
   * state (the seeds made again) and after a request that may have changed something.
   */
  let lastAfter: string[] | undefined;

  /** One line per RPC and per slow request in $VM_OUT/fuzz-progress.log (the test's own output comes at its end). */
  function progress(line: string): void {
    const out = process.env['VM_OUT'];
    if (out) appendFileSync(join(out, 'fuzz-progress.log'), `${Math.round((Date.now() - started) / 1000)}s ${line}\n`);
  }

  /** Sends one request; checks the answer, what ran, and what changed. */
  async function one(service: string, method: string, req: unknown, raw = false, hold = false): Promise<void> {
    const key = `${raw ? 'raw' : ''}${service}/${method}`;
    const held = hold || READ_ONLY.has(`${service}/${method}`);
    const before = lastAfter ?? snapshot();
    lastAfter = undefined;
    costly.base ??= costlySnapshot();
    last = `${key} ${showRequest(req, 2000)}`;
    const t = Date.now();
    const r = await send(clients[raw ? `raw${service}` : service] as Client, method, req, DEADLINE_MS);
    const name = figures.count(key, r);
    if (Date.now() - t > 10_000) progress(`slow: ${Date.now() - t} ms ${name} ${last.slice(0, 400)}`);
    if (!r.sent) return;
    if (r.code === Code.INTERNAL && !raw) progress(`INTERNAL: ${r.details.slice(0, 300)} <- ${last.slice(0, 300)}`);
    if (!(r.code in Code)) violations.push(`${key}: answer ${r.code} is not a gRPC status`);
    if (r.code === Code.DEADLINE_EXCEEDED) violations.push(`${key}: no answer in ${DEADLINE_MS} ms: ${last}`);
    const news = readCommandsFrom(logFile, logOffset);
    logOffset = news.offset;
    commandCount += news.commands.length;
    violations.push(...argv.check(key, req, news.commands));
    // grpc-js refuses a message it cannot decode before any handler runs: a rejection like the others
    const undecodable = r.code === Code.INTERNAL && r.details.startsWith('Error deserializing request');
    if (held || REJECTED.has(r.code) || undecodable) {
      const after = snapshot();
      const d = diff(before, after);
      lastAfter = after; // nothing runs before the next request: this is its "before" too
      if (d.length > 0)
        violations.push(`${key} answered ${name} but changed:\n${d.join('\n')}\nrequest ${showRequest(req, 1000)}`);
      costly.requests.push(`${key} ${name} ${showRequest(req, 200)}`);
      checkCostly(false);
    } else {
      // OK or an error that may leave work behind (ABORTED: a job runs; INTERNAL): the state moved on
      await settle();
      costly = { base: undefined, requests: [] };
    }
    up();
  }

  type Csi = ReturnType<typeof loadCsi>['csi']['v1'];
  const controllerClient = () => clients['Controller'] as InstanceType<Csi['Controller']>;
  const nodeClient = () => clients['Node'] as InstanceType<Csi['Node']>;

  /** A 16 MiB thin volume with a snapshot, published to this node, staged and published at kubelet-like paths. */
  async function readyVolume(
    name: string,
    snapName: string,
    stagingPath: string,
    targetPath: string,
  ): Promise<{ ids: SeedIds; ctx: Record<string, string> }> {
    const controller = controllerClient();
    const node = nodeClient();
    await settle();
    const volumeId =
      (
        await call(controller, 'CreateVolume', {
          name,
          capacity_range: { required_bytes: String(16 * MiB) },
          volume_capabilities: [MOUNT_CAP as never],
          parameters: { volumeGroup: VG },
        })
      ).volume?.volume_id ?? '';
    const snapshotId =
      (await call(controller, 'CreateSnapshot', { source_volume_id: volumeId, name: snapName, parameters: {} }))
        .snapshot?.snapshot_id ?? '';
    const nodeId = (await call(node, 'NodeGetInfo', {})).node_id;
    const ctx = (
      await call(controller, 'ControllerPublishVolume', {
        volume_id: volumeId,
        node_id: nodeId,
        volume_capability: MOUNT_CAP as never,
        readonly: false,
        secrets: {},
        volume_context: {},
      })
    ).publish_context;
    mkdirSync(stagingPath, { recursive: true });
    const stage = { volume_id: volumeId, publish_context: ctx, volume_capability: MOUNT_CAP as never };
    await call(node, 'NodeStageVolume', {
      ...stage,
      staging_target_path: stagingPath,
      secrets: {},
      volume_context: {},
    });
    await call(node, 'NodePublishVolume', {
      ...stage,
      staging_target_path: stagingPath,
      target_path: targetPath,
      readonly: false,
      secrets: {},
      volume_context: {},
    });
    const [nodeName, iqn] = nodeId.split(/:(.*)/) as [string, string];
    const ids = {
      vg: VG,
      volumeId,
      snapshotId,
      nodeId,
      initiatorIqn: iqn,
      nodeName,
      newBytes: String(16 * MiB),
      expandBytes: String(32 * MiB),
    };
    return { ids, ctx };
  }

  /** The seeds (volume fuzz-vol, snapshot fuzz-snap) made again if a request took them apart. */
  async function ensureSeeds(): Promise<void> {
    lastAfter = undefined;
    const r = await readyVolume('fuzz-vol', 'fuzz-snap', staging, target);
    ids = r.ids;
    publishContext = r.ctx;
    seeds['Identity'] = IDENTITY_SEEDS;
    seeds['Controller'] = controllerSeeds(ids);
    seeds['Node'] = nodeSeeds(ids, staging, target, publishContext);
    seeds['Agent'] = agentSeeds(ids);
    // what the seeding ran is the plugin's own doing with valid input: not charged to the next request
    const news = readCommandsFrom(logFile, logOffset);
    argv.learn(news.commands);
    logOffset = news.offset;
    costly = { base: undefined, requests: [] };
    progress(`seeds ready: ${ids.volumeId} ${ids.snapshotId}`);
  }

  /**
   * What the plugin runs with valid input, learnt as allowed: every read-only seed, and the whole life of
   * a throwaway volume in kubelet's order (its options and values are the plugin's own).
   */
  async function learnBaseline(): Promise<void> {
    const st = join(csiDir, DRIVER, sha('pv-base'), 'globalmount');
    const tg = join(kubelet, 'pods/pod-base/volumes/kubernetes.io~csi/pv-base/mount');
    const b = await readyVolume('fuzz-base', 'fuzz-base-snap', st, tg);
    const ctl = controllerSeeds(b.ids);
    const nod = nodeSeeds(b.ids, st, tg, b.ctx);
    const agt = agentSeeds(b.ids);
    const steps: Array<[string, string, object]> = [
      ...Object.entries(IDENTITY_SEEDS).map(([m, r]): [string, string, object] => ['Identity', m, r]),
      ...(['Controller', 'Node', 'Agent'] as const).flatMap((svc) =>
        Object.entries({ Controller: ctl, Node: nod, Agent: agt }[svc])
          .filter(([m]) => READ_ONLY.has(`${svc}/${m}`))
          .map(([m, r]): [string, string, object] => [svc, m, r]),
      ),
      ['Controller', 'ControllerExpandVolume', ctl['ControllerExpandVolume'] ?? {}],
      ['Node', 'NodeExpandVolume', nod['NodeExpandVolume'] ?? {}],
      ['Node', 'NodeUnpublishVolume', nod['NodeUnpublishVolume'] ?? {}],
      ['Node', 'NodeUnstageVolume', nod['NodeUnstageVolume'] ?? {}],
      ['Controller', 'ControllerUnpublishVolume', ctl['ControllerUnpublishVolume'] ?? {}],
      ['Agent', 'Publish', agt['Publish'] ?? {}],
      ['Agent', 'Unpublish', agt['Unpublish'] ?? {}],
      ['Agent', 'CreateSnapshot', { ...(agt['CreateSnapshot'] ?? {}), name: 'fuzz-base-snap2' }],
      ['Agent', 'CreateVolume', { ...(agt['CreateVolume'] ?? {}), name: 'fuzz-base-a' }],
      ['Controller', 'CreateVolume', { ...(ctl['CreateVolume'] ?? {}), name: 'fuzz-base-c' }],
      [
        'Controller',
        'CreateVolume',
        { ...(ctl['CreateVolume'] ?? {}), name: 'fuzz-base-thick', parameters: { volumeGroup: VG, lvmType: 'thick' } },
      ],
    ];
    for (const [svc, m, r] of steps) {
      const a = await send(clients[svc] as Client, m, r, DEADLINE_MS);
      progress(`baseline ${svc}/${m}: ${Code[a.code]} ${a.details.slice(0, 200)}`);
    }
    // and every volume and snapshot of the baseline removed again through the API
    const all = await call(controllerClient(), 'ListVolumes', {});
    for (const e of all.entries) {
      const id = e.volume?.volume_id ?? '';
      if (id === b.ids.volumeId) continue;
      await send(controllerClient(), 'DeleteVolume', { volume_id: id }, DEADLINE_MS);
    }
    const snaps = await call(controllerClient(), 'ListSnapshots', {});
    for (const e of snaps.entries)
      await send(controllerClient(), 'DeleteSnapshot', { snapshot_id: e.snapshot?.snapshot_id ?? '' }, DEADLINE_MS);
    await send(controllerClient(), 'DeleteVolume', { volume_id: b.ids.volumeId }, DEADLINE_MS);
    await settle();
    progress('baseline learnt');
  }

  function nodeSeeds(
    s: SeedIds,
    staging: string,
    target: string,
    publishContext: Record<string, string>,
  ): Record<string, object> {
    const cap = MOUNT_CAP;
    return {
      NodeGetInfo: {},
      NodeGetCapabilities: {},
      NodeGetVolumeStats: { volume_id: s.volumeId, volume_path: target, staging_target_path: staging },
      NodeExpandVolume: {
        volume_id: s.volumeId,
        volume_path: target,
        capacity_range: { required_bytes: s.expandBytes, limit_bytes: '0' },
        staging_target_path: staging,
        volume_capability: cap,
        secrets: {},
      },
      NodeStageVolume: {
        volume_id: s.volumeId,
        publish_context: publishContext,
        staging_target_path: staging,
        volume_capability: cap,
        secrets: {},
        volume_context: {},
      },
      NodePublishVolume: {
        volume_id: s.volumeId,
        publish_context: publishContext,
        staging_target_path: staging,
        target_path: target,
        volume_capability: cap,
        readonly: false,
        secrets: {},
        volume_context: {},
      },
      NodeUnpublishVolume: { volume_id: s.volumeId, target_path: target },
      NodeUnstageVolume: { volume_id: s.volumeId, staging_target_path: staging },
    };
  }

  /** Reads first, then what makes, then what removes: the seeds last as long as possible. */
  const ORDER = [
    'Get',
    'List',
    'Find',
    'Validate',
    'Probe',
    'Capacity',
    'Pool',
    'Controller',
    'Node',
    'Create',
    'Expand',
    'Modify',
    'Publish',
    'Stage',
    'Unpublish',
    'Unstage',
    'Delete',
  ];
  const rank = (m: string) => {
    const bare = m.replace(/^(Controller|Node)(?=[A-Z])/, '');
    const read = /^(Get|List|Find|Validate|Probe|Capacity|PoolStatus)/.test(bare);
    if (read) return 0;
    const i = ORDER.findIndex((w) => bare.startsWith(w));
    return i < 0 ? 1 : i;
  };
  const ordered = (s: Record<string, object>) => Object.entries(s).sort(([a], [b]) => rank(a) - rank(b));

  beforeAll(async () => {
    makeVg(VG, disks.slice(0, 2));
    certs = makeCerts();
    // the wrappers: log the argv, then exec the real program (only programs installed in the guest)
    writeFileSync(logFile, '');
    const path = (process.env['PATH'] ?? '').split(':').filter(Boolean);
    for (const prog of PLUGIN_PROGRAMS) {
      const real = path
        .map((d) => join(d, prog))
        .find((f) => {
          try {
            accessSync(f, constants.X_OK);
            return true;
          } catch {
            return false;
          }
        });
      if (!real) continue;
      const f = join(binDir, prog);
      writeFileSync(f, `#!/bin/sh\n${LOG_ARGV_SH}\nexec ${real} "$@"\n`);
      chmodSync(f, 0o755);
    }
    // hostile spots in and next to the scratch tree
    mkdirSync(csiDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    mkdirSync(join(kubelet, 'pods/pod-1/volumes/kubernetes.io~csi/pv'), { recursive: true });
    symlinkSync('/etc', join(scratch, 'link-etc'));
    symlinkSync('/etc', join(csiDir, 'evil'));
    symlinkSync(spareDisks[0] ?? '/dev/null', join(kubelet, 'pods/pod-1/volumes/kubernetes.io~csi/pv/dev-link'));
    p = await startPlugin(
      [
        '--mode',
        'all',
        // the seeds are published without CHAP; the fuzzed publishes carry CHAP secrets or not
        ...PUBLISH_WITHOUT_CHAP,
        '--volume-group',
        VG,
        '--thin-pool',
        'pool',
        '--thin-pool-percent',
        '80',
        '--portals',
        '127.0.0.1:3260',
        '--agent-listen',
        AGENT_ADDR,
        '--agent-tls-dir',
        certs.agent,
        '--kubelet-dir',
        kubelet,
        '--data-dir',
        dataDir,
        '--stats-interval',
        '0',
        '--reconcile-interval',
        '0',
        '--metrics-address',
        `127.0.0.1:${METRICS_PORT}`,
        '--default-volume-size',
        '16M',
        '--log-level',
        'info',
      ],
      { env: { PATH: `${binDir}:${process.env['PATH'] ?? ''}`, FUZZ_CMD_LOG: logFile }, startTimeoutMs: 300_000 },
    );
    pid = p.child.pid ?? 0;
    const csi = loadCsi().csi.v1;
    clients['Identity'] = p.identity;
    clients['Controller'] = p.controller;
    clients['Node'] = new csi.Node(`unix://${p.sock}`, credentials.createInsecure());
    const { creds, options } = agentClientCredentials(await readTlsDir(certs.controller));
    const Agent = loadAgent().csilvmiscsi.agent.v1.Agent;
    clients['Agent'] = new Agent(AGENT_ADDR, creds, options);
    clients['rawIdentity'] = new (makeGenericClientConstructor(rawDefinition(csi.Identity), 'rawI'))(
      `unix://${p.sock}`,
      credentials.createInsecure(),
    );
    clients['rawController'] = new (makeGenericClientConstructor(rawDefinition(csi.Controller), 'rawC'))(
      `unix://${p.sock}`,
      credentials.createInsecure(),
    );
    clients['rawNode'] = new (makeGenericClientConstructor(rawDefinition(csi.Node), 'rawN'))(
      `unix://${p.sock}`,
      credentials.createInsecure(),
    );
    clients['rawAgent'] = new (makeGenericClientConstructor(rawDefinition(Agent), 'rawA'))(AGENT_ADDR, creds, options);
    await learnBaseline();
    argv.learn(readCommandLog(logFile));
    await ensureSeeds();
    logOffset = readCommandsFrom(logFile, 0).offset;
  }, 1_200_000);

  afterAll(async () => {
    for (const c of Object.values(clients)) c.close();
    if (p) await p.stop();
    // every mount of an iSCSI disk, wherever a request put it, before the exports and the VG go
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n').reverse()) {
      const f = line.split(' ');
      const src = f[f.indexOf('-') + 2] ?? '';
      if (/^\/dev\/(sd|dm-|mapper\/)/.test(src) && f[4]) shStatus(['umount', '-l', f[4].replace(/\\040/g, ' ')]);
    }
    await teardownExports(VG);
  }, 600_000);

  for (const service of ['Identity', 'Controller', 'Node', 'Agent']) {
    it(`${service}: ${RUNS} of each generator per RPC, then ${MUTATIONS} byte-level mutations (${READ_MUTATIONS} of a read-only RPC)`, async () => {
      const s = seeds[service] ?? {};
      const str = hostileString(
        hostileStrings([...idVariants(VG, ids.volumeId, ids.snapshotId), ...(service === 'Node' ? hostilePaths : [])]),
        service === 'Node'
          ? [
              fc
                .tuple(
                  fc.constantFrom(
                    'pods',
                    `plugins/kubernetes.io/csi/${DRIVER}`,
                    'plugins/kubernetes.io/csi/volumeDevices',
                  ),
                  fc.stringMatching(/^[a-z0-9-]{1,12}$/),
                  fc.constantFrom('mount', 'globalmount', 'dev'),
                )
                .map(([a, b, c]) => join(kubelet, a, b, c)),
            ]
          : [],
      );
      /** The service's definition: it encodes each seed for the byte-level mutations. */
      const def = {
        Identity: loadCsi().csi.v1.Identity,
        Controller: loadCsi().csi.v1.Controller,
        Node: loadCsi().csi.v1.Node,
        Agent: loadAgent().csilvmiscsi.agent.v1.Agent,
      }[service] as unknown as { service: Record<string, { requestSerialize: (r: unknown) => Buffer }> };
      for (const [method, seed] of ordered(s)) {
        // each generator gets RUNS requests: one leaf, every leaf, arbitrary objects (weights 3:3:1)
        for (const req of requestsFor(seed, str, RUNS * 3, 15 + method.length)) await one(service, method, req);
        const encode = def.service[method]?.requestSerialize(seed);
        const numRuns = READ_ONLY.has(`${service}/${method}`) ? READ_MUTATIONS : MUTATIONS;
        for (const b of fc.sample(mutatedBytes(encode ?? Buffer.alloc(0)), { numRuns, seed: 7 }))
          await one(service, method, b, true);
        progress(
          `${service}/${method} done: ${JSON.stringify(figures.rpc[`${service}/${method}`]?.statuses)}, violations so far ${violations.length}`,
        );
        const probe = await send(p.identity, 'Probe', {}, 60_000);
        if (probe.code !== Code.OK) violations.push(`Probe answered ${Code[probe.code]} after ${service}/${method}`);
        if (DESTRUCTIVE.has(method)) {
          checkCostly(true);
          await ensureSeeds();
        }
      }
      checkCostly(true);
      up();
      expect(violations).toEqual([]);
    }, 3_600_000);
  }

  it('hostile paths in every path field of the node service: unpublish and unstage of a path not theirs change nothing whatever they answer', async () => {
    const fields: Array<[string, string]> = [
      ['NodeUnpublishVolume', 'target_path'],
      ['NodeUnstageVolume', 'staging_target_path'],
      ['NodeGetVolumeStats', 'volume_path'],
      ['NodeGetVolumeStats', 'staging_target_path'],
      ['NodeExpandVolume', 'volume_path'],
      ['NodeExpandVolume', 'staging_target_path'],
      ['NodePublishVolume', 'staging_target_path'],
      ['NodePublishVolume', 'target_path'],
      ['NodeStageVolume', 'staging_target_path'],
    ];
    await ensureSeeds();
    for (const [method, field] of fields) {
      for (const path of hostilePaths) {
        if (path === staging || path === target) continue;
        const req = { ...(seeds['Node']?.[method] ?? {}), [field]: path };
        // An unpublish or unstage of a path this plugin never published or staged there must not touch it;
        // a stage or publish onto something that holds data (/etc, /dev, a file) must be refused.
        const hold =
          /Un(publish|stage)/.test(method) ||
          (/^Node(Stage|Publish)Volume$/.test(method) && /target_path$/.test(field) && holdsData(path));
        await one('Node', method, req, false, hold);
      }
      checkCostly(true);
      progress(`hostile paths: ${method}.${field} done, violations so far ${violations.length}`);
      if (DESTRUCTIVE.has(method)) await ensureSeeds();
    }
    // a stage refused for its publish_context leaves no directory behind (kubelet made the parent)
    const contexts = [
      { ...publishContext, lun: '-1' },
      { ...publishContext, targetIqn: 'iqn.bad name' },
      {},
      { ...publishContext, portals: '; rm -rf /' },
    ];
    for (const [i, ctx] of contexts.entries()) {
      const fresh = join(csiDir, DRIVER, `fresh-${i}`);
      const req = { ...(seeds['Node']?.['NodeStageVolume'] ?? {}), publish_context: ctx, staging_target_path: fresh };
      await one('Node', 'NodeStageVolume', req, false, true);
    }
    checkCostly(true);
    up();
    expect(violations).toEqual([]);
  }, 3_600_000);

  it('figures: requests per RPC, crashes, statuses seen; the command log is complete', async () => {
    const crashes = p.child.exitCode === null && p.child.signalCode === null && p.child.pid === pid ? 0 : 1;
    // the wrappers saw every command the plugin's runner counted
    const metrics = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
    const counted = new Map(
      [...metrics.matchAll(/^csi_lvm_iscsi_command_duration_seconds_count\{command="([^"]+)"\} (\d+)/gm)].map((m) => [
        m[1] as string,
        Number(m[2]),
      ]),
    );
    const logged = new Map<string, number>();
    for (const c of readCommandLog(logFile)) logged.set(c.program, (logged.get(c.program) ?? 0) + 1);
    const text = [
      `VM fuzz figures (FUZZ_VM_RUNS=${RUNS}): ${figures.total()} requests answered, crashes ${crashes}, violations ${violations.length}, commands run during the fuzzing ${commandCount} (${[...counted.values()].reduce((a, b) => a + b, 0)} since start), cheap snapshots ${cheapCount} (${Math.round(cheapMs / Math.max(1, cheapCount))} ms each), costly snapshots ${costlySnapshots}`,
      `statuses seen: ${figures.statusesSeen().join(' ')}`,
      `commands by program (plugin metric / wrapper log): ${[...counted].map(([k, n]) => `${k} ${n}/${logged.get(k) ?? 0}`).join(', ')}`,
      figures.table(),
    ].join('\n');
    console.log(text);
    if (process.env['VM_OUT']) writeFileSync(join(process.env['VM_OUT'], 'fuzz-figures.txt'), `${text}\n`);
    expect(crashes).toBe(0);
    for (const [prog, n] of counted) expect(`${prog} ${logged.get(prog) ?? 0}`).toBe(`${prog} ${n}`);
    expect(existsSync(logFile)).toBe(true);
    expect(figures.total()).toBeGreaterThan(0);
  });
});

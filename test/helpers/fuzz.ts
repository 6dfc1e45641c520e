/**
 * What the two fuzz tests share (test/integration/fuzz.test.ts on the host with
 * stub commands, test/vm/fuzz.test.ts in the guest with the real ones): the
 * hostile values and the fast-check generators built on them, one valid seed
 * request per RPC, a unary call that always resolves with a status, the
 * command log every program the plugin runs appends its argv to, the check
 * that no argv element came from a request unvalidated, and the figures.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { Metadata, status as Code, type Client, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';

// ------------------------------------------------------------ hostile values

/** Strings a hostile or broken caller might send; `extra` adds the ids and names of the run at hand. */
export function hostileStrings(extra: readonly string[]): string[] {
  return [
    '',
    ' ',
    '..',
    '../../etc/passwd',
    '/',
    '//',
    'a/b',
    'a/b/c/d',
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
    'pool',
    'iqn.',
    'iqn.2024-01.test:w1',
    'w1:iqn.2024-01.test:w1',
    'w1:',
    ':iqn.x',
    'n'.repeat(300) + ':iqn.2024-01.a:b',
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
    ...extra,
  ];
}

/** The ids of the run's seed volume and snapshot, and variants of them that are almost right. */
export function idVariants(vg: string, volumeId: string, snapshotId: string): string[] {
  return [
    volumeId,
    snapshotId,
    `${volumeId}/..`,
    `x/${vg}/..`,
    `${vg}/pool`,
    vg,
    volumeId.replace(vg, 'othervg'),
    `${volumeId}x`,
    volumeId.toUpperCase(),
  ];
}

export function hostileString(hostile: readonly string[], more: fc.Arbitrary<string>[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...hostile),
    fc.string({ maxLength: 40 }),
    fc.fullUnicodeString({ maxLength: 20 }),
    fc.stringMatching(/^[A-Za-z0-9+_.:/-]{1,60}$/),
    ...more,
  );
}

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
function mutate(seed: unknown, str: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  if (typeof seed === 'string')
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant(seed) },
      { weight: 3, arbitrary: str },
      { weight: 1, arbitrary: int64ish },
    );
  if (typeof seed === 'number')
    return fc.oneof(fc.constant(seed), fc.integer({ min: -1, max: 2 ** 31 }), fc.constantFrom(0, 1, 2 ** 32 - 1));
  if (typeof seed === 'boolean') return fc.boolean();
  if (Array.isArray(seed)) {
    if (seed.length === 0) return fc.array(str, { maxLength: 3 });
    return fc.oneof(
      fc.constant([]),
      fc.tuple(...seed.map((s) => mutate(s, str))),
      fc.array(mutate(seed[0], str), { maxLength: 4 }),
    );
  }
  if (seed && typeof seed === 'object') {
    const entries = Object.entries(seed as Record<string, unknown>);
    const fields = Object.fromEntries(
      entries.map(([k, v]) => [k, fc.option(mutate(v, str), { nil: undefined, freq: 6 })]),
    );
    return fc.tuple(fc.record(fields), fc.dictionary(str, str, { maxKeys: 3 })).map(([o, extra]) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
      // maps (parameters, secrets, volume_context) get extra keys; plain messages ignore unknown ones
      return Object.keys(seed).length === 0 ? { ...extra } : out;
    });
  }
  return fc.constant(seed);
}

/** The seed with exactly one leaf replaced by a hostile value or dropped: the rest stays valid, so deeper code is reached. */
function mutateOne(seed: object, str: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
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
    .tuple(fc.constantFrom(...paths), fc.option(fc.oneof(str, int64ish), { nil: undefined, freq: 8 }))
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

/** `runs` requests for one RPC: one leaf mutated, every leaf mutated, or an arbitrary object. */
export function requestsFor(seed: object, str: fc.Arbitrary<string>, runs: number, rngSeed: number): unknown[] {
  return fc.sample(
    fc.oneof(
      { weight: 3, arbitrary: mutateOne(seed, str) },
      { weight: 3, arbitrary: mutate(seed, str) },
      { weight: 1, arbitrary: fc.object({ maxDepth: 2, maxKeys: 4 }) },
    ),
    { numRuns: runs, seed: rngSeed },
  );
}

/** Byte-level mutations of an encoded request: random bytes, or one byte changed and the tail cut. */
export function mutatedBytes(b: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u)),
    fc
      .tuple(fc.nat({ max: Math.max(0, b.length - 1) }), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 4 }))
      .map(([at, v, cut]) => {
        const c = Buffer.from(b);
        if (c.length > 0) c[at % c.length] = v;
        return cut ? c.subarray(0, Math.max(0, c.length - cut)) : c;
      }),
  );
}

/** A grpc-js service definition whose every method takes and returns raw bytes, for the byte-level mutations. */
export function rawDefinition(service: { service: Record<string, { path: string }> }): ServiceDefinition {
  return Object.fromEntries(
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
}

// ------------------------------------------------------------- seed requests

export interface SeedIds {
  vg: string;
  volumeId: string;
  snapshotId: string;
  /** A CSI node id (`<node>:<initiator IQN>`) the seed volume is published to. */
  nodeId: string;
  initiatorIqn: string;
  nodeName: string;
  /** Size of a new volume in the create seeds (bytes, as a decimal string). */
  newBytes: string;
  /** Size the expand seeds ask for. */
  expandBytes: string;
}

export const MOUNT_CAP = { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };

export const IDENTITY_SEEDS: Record<string, object> = { GetPluginInfo: {}, GetPluginCapabilities: {}, Probe: {} };

/** One valid request per Controller RPC: the starting point of the mutations. */
export function controllerSeeds(s: SeedIds): Record<string, object> {
  return {
    CreateVolume: {
      name: 'fuzz-new',
      capacity_range: { required_bytes: s.newBytes, limit_bytes: '0' },
      volume_capabilities: [MOUNT_CAP],
      parameters: { volumeGroup: s.vg, lvmType: 'thin' },
      secrets: {},
      volume_content_source: { snapshot: { snapshot_id: s.snapshotId } },
      mutable_parameters: {},
    },
    DeleteVolume: { volume_id: s.volumeId, secrets: {} },
    ControllerPublishVolume: {
      volume_id: s.volumeId,
      node_id: s.nodeId,
      volume_capability: MOUNT_CAP,
      readonly: false,
      secrets: { chapUser: 'user1', chapSecret: 'a-secret-of-16-chars' },
      volume_context: { lvmType: 'thin' },
    },
    ControllerUnpublishVolume: { volume_id: s.volumeId, node_id: s.nodeId, secrets: {} },
    ValidateVolumeCapabilities: {
      volume_id: s.volumeId,
      volume_context: {},
      volume_capabilities: [MOUNT_CAP],
      parameters: { lvmType: 'thin' },
      secrets: {},
      mutable_parameters: {},
    },
    ListVolumes: { max_entries: 2, starting_token: '' },
    GetCapacity: { volume_capabilities: [MOUNT_CAP], parameters: { volumeGroup: s.vg }, accessible_topology: null },
    ControllerGetCapabilities: {},
    CreateSnapshot: { source_volume_id: s.volumeId, name: 'fuzz-snap', secrets: {}, parameters: {} },
    DeleteSnapshot: { snapshot_id: s.snapshotId, secrets: {} },
    ListSnapshots: {
      max_entries: 1,
      starting_token: '',
      source_volume_id: s.volumeId,
      snapshot_id: s.snapshotId,
      secrets: {},
    },
    GetSnapshot: { snapshot_id: s.snapshotId, secrets: {} },
    ControllerExpandVolume: {
      volume_id: s.volumeId,
      capacity_range: { required_bytes: s.expandBytes, limit_bytes: '0' },
      secrets: {},
      volume_capability: MOUNT_CAP,
    },
    ControllerGetVolume: { volume_id: s.volumeId },
    ControllerModifyVolume: { volume_id: s.volumeId, secrets: {}, mutable_parameters: { a: 'b' } },
  };
}

export function agentParams(vg: string, lvmType = 'thin'): Record<string, unknown> {
  return {
    lvm_type: lvmType,
    volume_group: vg,
    mirrors: 0,
    stripes: 1,
    stripe_size_kib: 0,
    volume_clear: 'zero',
    fs_type: 'ext4',
    local_attach: false,
  };
}

/** One valid request per agent API RPC. */
export function agentSeeds(s: SeedIds): Record<string, object> {
  const [, vg, lv] = s.volumeId.split('/') as [string, string, string];
  const snapLv = s.snapshotId.split('/')[2] as string;
  return {
    GetInfo: {},
    CreateVolume: {
      name: 'fuzz-new',
      params: agentParams(s.vg),
      source: { kind: 'snapshot', id: s.snapshotId },
      required_bytes: s.newBytes,
      limit_bytes: '0',
      default_bytes: '1073741824',
    },
    FindVolumeByName: { name: 'fuzz-vol' },
    GetVolume: { vg, lv },
    ListVolumes: {},
    DeleteVolume: { vg, lv },
    ExpandVolume: { vg, lv, required_bytes: s.expandBytes, limit_bytes: '0' },
    CreateSnapshot: { name: 'fuzz-snap2', source_vg: vg, source_lv: lv, snapshot_reserve: 0 },
    FindSnapshotByName: { name: 'fuzz-snap' },
    GetSnapshot: { vg, lv: snapLv },
    ListSnapshots: {},
    DeleteSnapshot: { vg, lv: snapLv },
    Publish: {
      vg,
      lv,
      publication: { node_id: s.nodeId, read_only: false, mode: 'SINGLE_NODE_WRITER', chap: true },
      initiator_iqn: s.initiatorIqn,
      node_name: s.nodeName,
      chap: { userid: 'user1.abcdefghij', password: 'p'.repeat(16), mutual_userid: '', mutual_password: '' },
    },
    Unpublish: { vg, lv, node_id: s.nodeId },
    PoolStatus: { vg: s.vg },
    Capacity: { vg: s.vg, lvm_type: 'thin', mirrors: 0, stripes: 1 },
  };
}

// ------------------------------------------------------------------- calling

export interface Answer {
  code: Code | -1;
  details: string;
  /** false: the client could not encode the request (an enum or int64 out of range), nothing left the test. */
  sent: boolean;
}

type Unary = (
  req: unknown,
  md: unknown,
  opts: { deadline: Date },
  cb: (err: ServiceError | null, res?: unknown) => void,
) => void;

/** One unary call that always resolves: OK, the status the server answered, or -1 when the client threw. */
export function send(client: Client, method: string, req: unknown, timeoutMs = 15_000): Promise<Answer> {
  return new Promise((resolve) => {
    const fn = (client as unknown as Record<string, Unary>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    try {
      fn.call(client, req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err) => {
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

/** A request as text for a report: buffers in hex, cut to `max` characters. */
export function showRequest(req: unknown, max = 300): string {
  return (
    JSON.stringify(req, (_k, v: unknown) =>
      Buffer.isBuffer(v) || v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v,
    ) ?? String(req)
  ).slice(0, max);
}

// ---------------------------------------------------------- the command log

/** Every program the plugin may run (by name, through PATH): the host test stubs them, the VM test wraps them. */
export const PLUGIN_PROGRAMS = [
  'lvs',
  'vgs',
  'pvs',
  'lvcreate',
  'lvchange',
  'lvconvert',
  'lvextend',
  'lvremove',
  'lvrename',
  'vgchange',
  'vgcreate',
  'vgremove',
  'lvmconfig',
  'lvm',
  'dd',
  'tgtadm',
  'iscsiadm',
  'blkid',
  'blockdev',
  'dumpe2fs',
  'findmnt',
  'losetup',
  'mount',
  'umount',
  'multipath',
  'multipathd',
  'resize2fs',
  'wipefs',
  'xfs_admin',
  'xfs_growfs',
  'xfs_info',
  'mkfs.ext4',
  'mkfs.xfs',
  'udevadm',
  'sync',
  'dmsetup',
  'nsenter',
  'lsblk',
  'sg_inq',
] as const;

/** Separators of the command log: argv elements by US, commands by RS (neither can be in an argv the plugin accepts). */
const UNIT = '\u001f';
const RECORD = '\u001e';

export interface Command {
  program: string;
  args: string[];
}

/**
 * The sh lines that append "$0's name" and "$@" to $FUZZ_CMD_LOG as one record, in one write: commands
 * the plugin runs at the same time (blkid and wipefs) must not interleave their records.
 */
export const LOG_ARGV_SH = `r="\${0##*/}"; for a in "$@"; do r="$r${UNIT}$a"; done; printf '%s${RECORD}' "$r" >> "$FUZZ_CMD_LOG"`;

function parseRecords(text: string): Command[] {
  return text
    .split(RECORD)
    .filter((r) => r.length > 0)
    .map((r) => {
      const [program, ...args] = r.split(UNIT);
      return { program: program ?? '', args };
    });
}

export function readCommandLog(file: string): Command[] {
  return existsSync(file) ? parseRecords(readFileSync(file, 'utf8')) : [];
}

/** The commands logged since byte `offset` (a record is written whole by one printf), and the new offset. */
export function readCommandsFrom(file: string, offset: number): { commands: Command[]; offset: number } {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { commands: [], offset };
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf(RECORD);
    if (end < 0) return { commands: [], offset };
    const done = text.slice(0, end + 1);
    return { commands: parseRecords(done), offset: offset + Buffer.byteLength(done) };
  } finally {
    closeSync(fd);
  }
}

// -------------------------------------------------------------- the checks

/** Values checked by their own rules (assertChap: no control characters, at most 255 bytes) that tgtadm takes as they are. */
const CHECKED_VALUE_OPTIONS = new Set(['--user', '--password']);
/** What an argument may consist of when it is not one the plugin used with valid input ("~": kubelet's kubernetes.io~csi). */
const SAFE_ARG = /^[A-Za-z0-9+_.:/=,@%~-]*$/;
const MUTATING =
  /^(lvcreate|lvremove|lvchange|lvextend|lvrename|lvconvert|vgcreate|vgremove|vgchange|dd|wipefs|mkfs\..*|mount|umount|losetup|resize2fs|xfs_growfs|xfs_admin|multipath|iscsiadm)$/;

/** A command that changes something (iscsiadm's reads and wipefs -n are counted too: conservative). */
export const mutates = (c: Command) => MUTATING.test(c.program) || (c.program === 'tgtadm' && !c.args.includes('show'));

/**
 * The argv check: an argument is fine when the plugin used it itself with valid input (the
 * baseline), or when it is in the safe alphabet, has no ".." path segment and does not look like
 * an option. What reaches a command from a request must be a validated name or a value the
 * plugin made; anything else is a violation naming the command, the argument and the request.
 */
export class ArgvCheck {
  private baseline = new Set<string>();

  learn(commands: readonly Command[]): void {
    for (const c of commands) for (const a of c.args) this.baseline.add(a);
  }

  check(key: string, req: unknown, commands: readonly Command[]): string[] {
    const out: string[] = [];
    for (const c of commands)
      for (const [i, a] of c.args.entries()) {
        if (this.baseline.has(a)) continue;
        if (c.program === 'tgtadm' && CHECKED_VALUE_OPTIONS.has(c.args[i - 1] ?? '')) continue;
        if (!SAFE_ARG.test(a) || a.split('/').includes('..') || a.startsWith('-'))
          out.push(`${key} -> ${c.program} got argument ${JSON.stringify(a)} (request ${showRequest(req)})`);
      }
    return out;
  }
}

// ----------------------------------------------------------------- figures

export interface RpcFigures {
  sent: number;
  notEncodable: number;
  statuses: Record<string, number>;
}

export class Figures {
  readonly rpc: Record<string, RpcFigures> = {};

  /** Counts one answer; returns its status name ("not a gRPC status: N" for anything else). */
  count(key: string, a: Answer): string {
    const f = (this.rpc[key] ??= { sent: 0, notEncodable: 0, statuses: {} });
    if (!a.sent) {
      f.notEncodable++;
      return 'not sent';
    }
    f.sent++;
    const name = Code[a.code] ?? `not a gRPC status: ${a.code}`;
    f.statuses[name] = (f.statuses[name] ?? 0) + 1;
    return name;
  }

  total(): number {
    return Object.values(this.rpc).reduce((n, f) => n + f.sent, 0);
  }

  /** Every status name seen, over all RPCs. */
  statusesSeen(): string[] {
    return [...new Set(Object.values(this.rpc).flatMap((f) => Object.keys(f.statuses)))].sort();
  }

  table(): string {
    return Object.entries(this.rpc)
      .map(
        ([k, f]) =>
          `${k.padEnd(44)} ${String(f.sent).padStart(5)} sent ${String(f.notEncodable).padStart(4)} not encodable  ${Object.entries(
            f.statuses,
          )
            .sort()
            .map(([s, n]) => `${s}:${n}`)
            .join(' ')}`,
      )
      .join('\n');
  }
}

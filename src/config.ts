/**
 * The only reader of process.env, argv flags and the config file. Produces a
 * frozen, validated Config or a ConfigError listing every bad value.
 *
 * Precedence: flag > environment (CSI_LVM_<FLAG_NAME>) > config file (JSON,
 * keys are the flag names) > default.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { isAbsolute } from 'node:path';
import { parseArgs } from 'node:util';

type Mode = 'controller' | 'agent' | 'node' | 'all';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export type Endpoint = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export interface Config {
  readonly mode: Mode;
  readonly endpoint: Endpoint;
  readonly nodeId: string;
  readonly driverName: string;
  readonly volumeGroups: readonly string[];
  readonly thinPool: string | undefined;
  readonly logLevel: LogLevel;
  readonly metricsAddress: { host: string; port: number } | undefined;
  /** Seconds between refreshes of the agent's capacity/inventory gauges (one vgs + one lvs each); 0 = only after changes. */
  readonly statsIntervalSeconds: number;
  readonly dataDir: string;
  readonly loopVgSizeBytes: number;
  readonly thinPoolPercent: number;
  readonly overSubscriptionRatio: number;
  readonly thinPoolThreshold: number;
  readonly reservedPercent: number;
  readonly defaultVolumeSizeBytes: number;
  readonly jobWaitSeconds: number;
  readonly lvmUdevSync: boolean;
  readonly maxVolumesPerNode: number;
  readonly targetBackend: 'lio' | 'tgt';
  readonly iqnPrefix: string;
  readonly portals: readonly { address: string; port: number }[];
  /** undefined: read /etc/iscsi/initiatorname.iscsi at start. */
  readonly initiatorName: string | undefined;
  /** node: kubelet's root directory; staged volumes' state files are found below <kubeletDir>/plugins/kubernetes.io/csi. */
  readonly kubeletDir: string;
  /** A mounted Secret (files chapUser, chapSecret, ...) the agent re-creates CHAP exports with when no CO re-publishes. */
  readonly chapSecretDir: string | undefined;
  /** Seconds between the agent's export reconciles (after a tgtd restart, a target removed by hand); 0 = at start only. */
  readonly reconcileIntervalSeconds: number;
  /** agent: where the agent API listens (mutual TLS). */
  readonly agentListen: { host: string; port: number } | undefined;
  /** Directory with ca.crt, tls.crt and tls.key for the agent API, on both ends. */
  readonly agentTlsDir: string | undefined;
  /** controller: how agents are found. */
  readonly agentDiscovery: 'static' | 'kubernetes';
  /** controller, static discovery: storage node name -> agent address. */
  readonly agents: readonly { node: string; host: string; port: number }[];
  /** controller, kubernetes discovery: the agents' port, and the namespace and label selector of their pods. */
  readonly agentPort: number;
  readonly namespace: string;
  readonly agentSelector: string;
  /** controller, kubernetes discovery: a kubeconfig file; undefined = in-cluster service account. */
  readonly kubeconfig: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** One documented option. `name` is the flag (--name), the config-file key and, upper-cased, the env suffix. */
interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  help: string;
  default?: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'endpoint', type: 'string', default: 'unix:///csi/csi.sock', help: 'gRPC endpoint: unix:///absolute/path or tcp://host:port' },
  { name: 'node-id', type: 'string', help: "this node's name (Kubernetes node name); required" },
  { name: 'driver-name', type: 'string', default: 'lvm-iscsi.csi.example.org', help: 'CSI driver name reported by GetPluginInfo (a DNS subdomain, at most 63 characters)' },
  { name: 'mode', type: 'string', default: 'all', help: 'controller | agent | node | all (all = every role in one process)' },
  { name: 'volume-group', type: 'string', help: 'volume group(s) this storage node owns, comma separated (agent, all). When none is given in all mode a loop-file volume group is created under --data-dir' },
  { name: 'thin-pool', type: 'string', help: 'name of the thin pool inside each volume group (created when missing); empty = thick only' },
  { name: 'log-level', type: 'string', default: 'info', help: 'fatal | error | warn | info | debug | trace' },
  { name: 'metrics-address', type: 'string', help: 'host:port to serve Prometheus /metrics on; empty = off' },
  { name: 'stats-interval', type: 'string', default: '60', help: 'agent: seconds between reads of its volume groups (one vgs and one lvs each) that renew its in-memory copy and the capacity and inventory metrics (recounted from memory right after every change); 0 = no timer' },
  { name: 'data-dir', type: 'string', default: '/var/lib/csi-lvm-iscsi', help: 'directory for the plugin\'s own files (the loop-file volume group of the embedded default)' },
  { name: 'loop-vg-size', type: 'string', default: '1G', help: 'size of the loop file backing the embedded default volume group (e.g. 512M, 2G)' },
  { name: 'thin-pool-percent', type: 'string', default: '80', help: 'size of a thin pool the agent creates, in percent of its volume group (the rest stays for thick volumes and COW snapshots)' },
  { name: 'over-subscription-ratio', type: 'string', default: '20', help: 'thin volumes may provision up to this many times the thin pool size (like Cinder\'s max_over_subscription_ratio)' },
  { name: 'thin-pool-threshold', type: 'string', default: '90', help: 'no new thin volumes once the pool\'s data or metadata is this many percent full; volumes report an abnormal condition' },
  { name: 'reserved-percent', type: 'string', default: '0', help: 'percent of each volume group kept free for growth (Cinder\'s reserved_percentage)' },
  { name: 'default-volume-size', type: 'string', default: '1G', help: 'size of a volume whose request names no capacity' },
  { name: 'job-wait-seconds', type: 'string', default: '5', help: 'how long a call waits for a background copy or wipe before answering ABORTED (the CO retries)' },
  { name: 'lvm-udev-sync', type: 'string', default: 'true', help: 'true when LVM runs with udev (host or nsenter); false in a container without udev' },
  { name: 'max-volumes-per-node', type: 'string', default: '0', help: 'volumes one node may have published at once (NodeGetInfo and ControllerPublishVolume); 0 = no limit' },
  { name: 'target-backend', type: 'string', default: 'lio', help: 'iSCSI target on storage nodes: lio (kernel, through configfs) or tgt (tgtd, through tgtadm)' },
  { name: 'iqn-prefix', type: 'string', default: 'iqn.2024-01.org.example.csi-lvm-iscsi', help: 'prefix of the target IQNs the agent makes (one target per volume)' },
  { name: 'portals', type: 'string', help: 'iSCSI portals of this storage node, address:port, comma separated (more than one = multipath); default: the first non-loopback IPv4 address, port 3260' },
  { name: 'initiator-name', type: 'string', help: "this node's iSCSI initiator name (node, all); default: InitiatorName from /etc/iscsi/initiatorname.iscsi" },
  { name: 'kubelet-dir', type: 'string', default: '/var/lib/kubelet', help: "node: kubelet's root directory as the plugin sees it; at start, iSCSI sessions to this plugin's targets that no volume staged below <dir>/plugins/kubernetes.io/csi owns are removed" },
  { name: 'chap-secret-dir', type: 'string', help: 'agent: a mounted Secret with chapUser/chapSecret (and mutualUser/mutualSecret), the same keys as the StorageClass secret; lets the agent re-create CHAP exports after a reboot when no CO re-publishes' },
  { name: 'reconcile-interval', type: 'string', default: '60', help: 'agent: seconds between reconciles of the live targets with the published volumes (re-creates exports lost to a tgtd restart); 0 = at start only' },
  { name: 'agent-listen', type: 'string', help: 'agent: host:port of the agent API for remote controllers (mutual TLS, needs --agent-tls-dir)' },
  { name: 'agent-tls-dir', type: 'string', help: 'agent, controller: directory with ca.crt, tls.crt and tls.key (a mounted kubernetes.io/tls Secret plus its CA) for the agent API' },
  { name: 'agent-discovery', type: 'string', default: 'static', help: 'controller: static (--agents) or kubernetes (agent pods found by node name through the Kubernetes API)' },
  { name: 'agents', type: 'string', help: 'controller, static discovery: storage agents as node=host:port, comma separated' },
  { name: 'agent-port', type: 'string', default: '9809', help: 'controller, kubernetes discovery: the port agents listen on' },
  { name: 'namespace', type: 'string', default: 'kube-system', help: 'controller, kubernetes discovery: namespace of the agent pods' },
  { name: 'agent-selector', type: 'string', default: 'app.kubernetes.io/name=csi-lvm-iscsi,app.kubernetes.io/component=agent', help: 'controller, kubernetes discovery: label selector of the agent pods' },
  { name: 'kubeconfig', type: 'string', help: 'controller, kubernetes discovery: a kubeconfig file; default: the pod\'s service account' },
  { name: 'config', type: 'string', help: 'path of a JSON config file whose keys are these option names' },
];

const MODES: readonly Mode[] = ['controller', 'agent', 'node', 'all'];
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
/** LVM VG names: [A-Za-z0-9+_.-], not starting with '-', not "." or "..". */
const VG_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;
/** CSI: driver names follow DNS subdomain rules, at most 63 characters. */
const DRIVER_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/i;

/** The first non-internal IPv4 address of this host, else 127.0.0.1. */
function defaultAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export function envName(option: string): string {
  return `CSI_LVM_${option.toUpperCase().replace(/-/g, '_')}`;
}

export function helpText(): string {
  const lines = [
    'Usage: csi-lvm-iscsi [flags]',
    '       csi-lvm-iscsi --help',
    '',
    'A Kubernetes CSI plugin: thin and thick LVM volumes exported over iSCSI.',
    '',
    'Flags (each can also be set with the environment variable shown, or as a key in --config):',
  ];
  for (const o of OPTIONS) {
    const def = o.default !== undefined ? ` (default ${o.default})` : '';
    lines.push(`  --${o.name.padEnd(24)} ${o.help}${def}`, `  ${''.padEnd(26)} env ${envName(o.name)}`);
  }
  lines.push(`  --${'help'.padEnd(24)} print this text`);
  return lines.join('\n');
}

/** Parses sizes like 1G, 512M, 1073741824 (binary units). */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)([KMGT]i?B?)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').charAt(0).toUpperCase();
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[unit];
  return mult === undefined ? undefined : Number(m[1]) * mult;
}

export function parseEndpoint(text: string): Endpoint | string {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!isAbsolute(path)) return `endpoint: "${text}" must be unix:///absolute/path`;
    return { kind: 'unix', path };
  }
  if (text.startsWith('tcp://')) {
    const hp = parseHostPort(text.slice('tcp://'.length));
    return typeof hp === 'string' ? `endpoint: ${hp}` : { kind: 'tcp', ...hp };
  }
  return `endpoint: "${text}" must start with unix:// or tcp://`;
}

function parseHostPort(text: string): { host: string; port: number } | string {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) return `"${text}" must be host:port`;
  return { host: (m[1] ?? '').replace(/^\[|\]$/g, ''), port };
}

export interface Sources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

export type LoadResult = { help: true } | { help: false; config: Config };

export function loadConfig(sources: Sources = { argv: process.argv.slice(2), env: process.env }): LoadResult {
  const problems: string[] = [];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...sources.argv],
      options: {
        ...Object.fromEntries(OPTIONS.map((o) => [o.name, { type: o.type }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  if (parsed.values.help) return { help: true };

  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const configPath = (flags['config'] as string | undefined) ?? sources.env[envName('config')];
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      const text = (sources.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(configPath);
      const obj: unknown = JSON.parse(text);
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('top level must be an object');
      file = obj as Record<string, unknown>;
      for (const key of Object.keys(file)) {
        if (!OPTIONS.some((o) => o.name === key && key !== 'config')) problems.push(`config file ${configPath}: unknown key "${key}"`);
      }
    } catch (e) {
      throw new ConfigError([`config file ${configPath}: ${(e as Error).message}`]);
    }
  }

  const get = (name: string): string | undefined => {
    const fromFlag = flags[name];
    if (typeof fromFlag === 'string') return fromFlag;
    const fromEnv = sources.env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = file[name];
    if (fromFile === undefined || fromFile === null) return OPTIONS.find((o) => o.name === name)?.default;
    if (Array.isArray(fromFile)) return fromFile.join(',');
    if (typeof fromFile === 'string' || typeof fromFile === 'number' || typeof fromFile === 'boolean') return String(fromFile);
    return JSON.stringify(fromFile);
  };

  const mode = get('mode') as Mode;
  if (!MODES.includes(mode)) problems.push(`mode: "${mode}" must be one of ${MODES.join(', ')}`);

  const endpoint = parseEndpoint(get('endpoint') ?? '');
  if (typeof endpoint === 'string') problems.push(endpoint);

  const nodeId = get('node-id') ?? '';
  if (!nodeId) problems.push(`node-id: required (--node-id or ${envName('node-id')}); use the Kubernetes node name`);
  else if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(nodeId)) problems.push(`node-id: "${nodeId}" must be a Kubernetes node name (lower-case DNS subdomain, at most 253 characters)`);

  const driverName = get('driver-name') ?? '';
  if (!DRIVER_NAME.test(driverName)) problems.push(`driver-name: "${driverName}" must be a DNS subdomain of at most 63 characters`);

  const volumeGroups = (get('volume-group') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const vg of volumeGroups) if (!VG_NAME.test(vg) || vg === '.' || vg === '..') problems.push(`volume-group: "${vg}" is not a valid LVM volume group name`);
  if (new Set(volumeGroups).size !== volumeGroups.length) problems.push('volume-group: listed twice');

  const thinPool = get('thin-pool') || undefined;
  if (thinPool !== undefined && !VG_NAME.test(thinPool)) problems.push(`thin-pool: "${thinPool}" is not a valid LVM logical volume name`);

  const logLevel = get('log-level') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`log-level: "${logLevel}" must be one of ${LOG_LEVELS.join(', ')}`);

  let metricsAddress: Config['metricsAddress'];
  const metricsText = get('metrics-address');
  if (metricsText) {
    const hp = parseHostPort(metricsText);
    if (typeof hp === 'string') problems.push(`metrics-address: ${hp}`);
    else metricsAddress = hp;
  }

  const dataDir = get('data-dir') ?? '';
  if (!isAbsolute(dataDir)) problems.push(`data-dir: "${dataDir}" must be an absolute path`);

  const loopText = get('loop-vg-size') ?? '';
  const loopVgSizeBytes = parseSize(loopText);
  if (loopVgSizeBytes === undefined || loopVgSizeBytes < 64 * 1024 ** 2) problems.push(`loop-vg-size: "${loopText}" must be a size of at least 64M (e.g. 1G)`);

  const num = (name: string, min: number, max: number): number => {
    const text = get(name) ?? '';
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      problems.push(`${name}: "${text}" must be a number from ${min} to ${max}`);
      return min;
    }
    return n;
  };
  const thinPoolPercent = num('thin-pool-percent', 1, 100);
  const overSubscriptionRatio = num('over-subscription-ratio', 1, 1000);
  const thinPoolThreshold = num('thin-pool-threshold', 1, 100);
  const reservedPercent = num('reserved-percent', 0, 99);
  const jobWaitSeconds = num('job-wait-seconds', 0, 600);
  const statsIntervalSeconds = num('stats-interval', 0, 86400);
  const defText = get('default-volume-size') ?? '';
  const defaultVolumeSizeBytes = parseSize(defText) ?? 0;
  if (defaultVolumeSizeBytes < 1024 * 1024) problems.push(`default-volume-size: "${defText}" must be a size of at least 1M`);
  const udevText = get('lvm-udev-sync') ?? '';
  if (udevText !== 'true' && udevText !== 'false') problems.push(`lvm-udev-sync: "${udevText}" must be true or false`);

  const maxVolumesPerNode = num('max-volumes-per-node', 0, 100000);
  const targetBackend = get('target-backend') ?? '';
  if (targetBackend !== 'lio' && targetBackend !== 'tgt') problems.push(`target-backend: "${targetBackend}" must be lio or tgt`);
  const iqnPrefix = get('iqn-prefix') ?? '';
  if (!/^iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*[a-z0-9](:[a-z0-9.:-]+)?$/.test(iqnPrefix) || iqnPrefix.length > 120) {
    problems.push(`iqn-prefix: "${iqnPrefix}" must be an iSCSI qualified name such as iqn.2024-01.com.example.storage (lower case, at most 120 characters)`);
  }
  const portalText = get('portals') || `${defaultAddress()}:3260`;
  const portals: { address: string; port: number }[] = [];
  for (const item of portalText.split(',').map((x) => x.trim()).filter(Boolean)) {
    const hp = parseHostPort(item);
    if (typeof hp === 'string' || hp.port === 0) problems.push(`portals: "${item}" must be address:port`);
    else portals.push({ address: hp.host, port: hp.port });
  }

  const chapSecretDir = get('chap-secret-dir') || undefined;
  if (chapSecretDir !== undefined && !isAbsolute(chapSecretDir)) problems.push(`chap-secret-dir: "${chapSecretDir}" must be an absolute path`);
  const reconcileIntervalSeconds = num('reconcile-interval', 0, 86400);
  let agentListen: Config['agentListen'];
  const listenText = get('agent-listen');
  if (listenText) {
    const hp = parseHostPort(listenText);
    if (typeof hp === 'string') problems.push(`agent-listen: ${hp}`);
    else agentListen = hp;
  }
  const agentTlsDir = get('agent-tls-dir') || undefined;
  if (agentTlsDir !== undefined && !isAbsolute(agentTlsDir)) problems.push(`agent-tls-dir: "${agentTlsDir}" must be an absolute path`);
  if (agentListen && !agentTlsDir) problems.push('agent-tls-dir: required with --agent-listen (the agent API is served with mutual TLS only)');
  const agentDiscovery = get('agent-discovery') ?? '';
  if (agentDiscovery !== 'static' && agentDiscovery !== 'kubernetes') problems.push(`agent-discovery: "${agentDiscovery}" must be static or kubernetes`);
  const agents: { node: string; host: string; port: number }[] = [];
  for (const item of (get('agents') ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = item.indexOf('=');
    const hp = eq > 0 ? parseHostPort(item.slice(eq + 1)) : 'missing';
    if (typeof hp === 'string') problems.push(`agents: "${item}" must be node=host:port`);
    else agents.push({ node: item.slice(0, eq), ...hp });
  }
  const agentPort = num('agent-port', 1, 65535);
  const namespace = get('namespace') ?? '';
  const agentSelector = get('agent-selector') ?? '';
  if (mode === 'agent' && !agentListen) problems.push('agent-listen: required in agent mode (host:port of the agent API)');
  if (mode === 'controller' && !agentTlsDir) problems.push('agent-tls-dir: required in controller mode (agents are called over mutual TLS)');
  if (mode === 'controller' && agentDiscovery === 'static' && agents.length === 0) problems.push('agents: required in controller mode with static discovery (node=host:port,...)');

  const kubeletDir = get('kubelet-dir') ?? '';
  if (!isAbsolute(kubeletDir)) problems.push(`kubelet-dir: "${kubeletDir}" must be an absolute path`);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    help: false,
    config: Object.freeze({
      mode,
      endpoint: Object.freeze(endpoint as Endpoint),
      nodeId,
      driverName,
      volumeGroups: Object.freeze(volumeGroups),
      thinPool,
      logLevel,
      metricsAddress,
      statsIntervalSeconds,
      dataDir,
      loopVgSizeBytes: loopVgSizeBytes as number,
      thinPoolPercent,
      overSubscriptionRatio,
      thinPoolThreshold,
      reservedPercent,
      defaultVolumeSizeBytes,
      jobWaitSeconds,
      lvmUdevSync: udevText === 'true',
      maxVolumesPerNode,
      targetBackend: targetBackend as 'lio' | 'tgt',
      iqnPrefix,
      portals: Object.freeze(portals),
      initiatorName: get('initiator-name') || undefined,
      kubeletDir,
      chapSecretDir,
      reconcileIntervalSeconds,
      agentListen,
      agentTlsDir,
      agentDiscovery: agentDiscovery as 'static' | 'kubernetes',
      agents: Object.freeze(agents),
      agentPort,
      namespace,
      agentSelector,
      kubeconfig: get('kubeconfig') || undefined,
    }),
  };
}

export interface AdoptConfig {
  readonly nodeId: string;
  readonly driverName: string;
  readonly volumeGroup: string;
  readonly lv: string;
  readonly name: string;
  readonly fsType: string | undefined;
  readonly volumeClear: 'none' | 'zero';
  readonly storageClass: string | undefined;
  readonly lvmUdevSync: boolean;
}

export const ADOPT_HELP = [
  'Usage: csi-lvm-iscsi adopt --node-id NODE --volume-group VG --lv LV --name PV_NAME',
  '                           [--fs-type ext4|xfs] [--volume-clear zero|none] [--storage-class NAME] [--driver-name NAME]',
  '',
  "Adopts an existing logical volume (Cinder's manage_existing): renames it to the plugin's name for",
  'PV_NAME, tags it, and prints a PersistentVolume (reclaim policy Retain) to apply with kubectl.',
  'Run it on the storage node that holds the volume group. Without --fs-type the PV is a raw block volume.',
].join('\n');

/** Flags of `csi-lvm-iscsi adopt` (argv after the word "adopt"); env: the same CSI_LVM_* variables for node id, driver name, udev. */
export function loadAdoptConfig(sources: Sources = { argv: process.argv.slice(3), env: process.env }): AdoptConfig | { help: true } {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args: [...sources.argv],
      options: {
        'node-id': { type: 'string' },
        'driver-name': { type: 'string' },
        'volume-group': { type: 'string' },
        lv: { type: 'string' },
        name: { type: 'string' },
        'fs-type': { type: 'string' },
        'volume-clear': { type: 'string' },
        'storage-class': { type: 'string' },
        'lvm-udev-sync': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  if (v['help']) return { help: true };
  const str = (k: string): string => {
    const flag = v[k];
    if (typeof flag === 'string') return flag;
    return sources.env[envName(k)] ?? OPTIONS.find((o) => o.name === k)?.default ?? '';
  };
  const problems: string[] = [];
  for (const k of ['node-id', 'volume-group', 'lv', 'name']) if (!str(k)) problems.push(`${k}: required`);
  if (str('name') && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(str('name'))) problems.push(`name: "${str('name')}" must be a Kubernetes object name`);
  const fs = str('fs-type') || undefined;
  if (fs !== undefined && fs !== 'ext4' && fs !== 'xfs') problems.push(`fs-type: "${fs}" must be ext4 or xfs`);
  const clear = str('volume-clear') || 'zero';
  if (clear !== 'zero' && clear !== 'none') problems.push(`volume-clear: "${clear}" must be zero or none`);
  const udev = str('lvm-udev-sync');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    nodeId: str('node-id'),
    driverName: str('driver-name'),
    volumeGroup: str('volume-group'),
    lv: str('lv'),
    name: str('name'),
    fsType: fs,
    volumeClear: clear as 'zero' | 'none',
    storageClass: str('storage-class') || undefined,
    lvmUdevSync: udev !== 'false',
  });
}

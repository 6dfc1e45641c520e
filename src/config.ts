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
  /** --node-id: the Kubernetes node name (the CSI node id and the agents' short node id derive from it). */
  readonly nodeName: string;
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
  /**
   * agent: where the LVM settings are written for lvm to read (LVM_SYSTEM_DIR):
   * '' a private directory under the temporary directory, 'none' every
   * command carries them as --config instead (src/lvm/system-dir.ts).
   */
  readonly lvmConfigDir: string;
  readonly maxVolumesPerNode: number;
  readonly targetBackend: 'lio' | 'tgt';
  readonly iqnPrefix: string;
  readonly portals: readonly { address: string; port: number }[];
  /** undefined: read /etc/iscsi/initiatorname.iscsi at start. */
  readonly initiatorName: string | undefined;
  /** node: kubelet's root directory; staged volumes' state files are found below <kubeletDir>/plugins/kubernetes.io/csi. */
  readonly kubeletDir: string;
  /** node: refuse staging/target/volume paths that are not below kubelet's own places in kubeletDir (symlinks resolved). */
  readonly restrictPathsToKubeletDir: boolean;
  /** A mounted Secret (files chapUser, chapSecret, ...) the agent re-creates CHAP exports with when no CO re-publishes. */
  readonly chapSecretDir: string | undefined;
  /** node: this node's own CHAP secrets (JSON from `csi-lvm-iscsi chap-node-key`) for per-node CHAP. */
  readonly chapNodeKeyFile: string | undefined;
  /** controller: ControllerPublishVolume may export a volume without CHAP (the operator's explicit opt-out; default refused). */
  readonly allowPublishWithoutChap: boolean;
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

/**
 * `argv` parsed strictly as `--name value` flags (every one a string) and
 * `--help`/`-h`: undefined for help, else the values given. An unknown flag,
 * a flag without its value or a positional word is a ConfigError.
 */
export function parseFlags(
  argv: readonly string[],
  names: readonly string[],
): Readonly<Record<string, string | undefined>> | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new ConfigError([(e as Error).message]);
  }
  if (values['help']) return undefined;
  return values as Record<string, string | undefined>;
}

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

/** Turns an option's text (flag > env > file > default; '' when unset) into its value, pushing a problem for a bad one. */
type Parser<V> = (text: string, name: string, problems: string[]) => V;

/** One documented option. `name` is the flag (--name), the config-file key and, upper-cased, the env suffix. */
interface OptionSpec {
  name: string;
  help: string;
  default?: string;
  /** The Config field it sets (none for --config, read before the others). */
  key?: keyof Config;
  parse?: Parser<unknown>;
}

/** A table row whose parser must return the type of its Config field. */
function option<K extends keyof Config>(o: {
  name: string;
  help: string;
  default?: string;
  key: K;
  parse: Parser<Config[K]>;
}): OptionSpec {
  return o;
}

// ---------------------------------------------------------------- parsers

const text: Parser<string> = (t) => t;
const optionalText: Parser<string | undefined> = (t) => t || undefined;

/** A number from min to max; min when bad. */
const numberIn =
  (min: number, max: number): Parser<number> =>
  (t, name, problems) => {
    const n = Number(t);
    if (t.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      problems.push(`${name}: "${t}" must be a number from ${min} to ${max}`);
      return min;
    }
    return n;
  };

const oneOf =
  <V extends string>(values: readonly V[], say = `must be one of ${values.join(', ')}`): Parser<V> =>
  (t, name, problems) => {
    if (!(values as readonly string[]).includes(t)) problems.push(`${name}: "${t}" ${say}`);
    return t as V;
  };

const absolutePath: Parser<string> = (t, name, problems) => {
  if (!isAbsolute(t)) problems.push(`${name}: "${t}" must be an absolute path`);
  return t;
};

const optionalAbsolutePath: Parser<string | undefined> = (t, name, problems) =>
  t ? absolutePath(t, name, problems) : undefined;

const optionalHostPort: Parser<{ host: string; port: number } | undefined> = (t, name, problems) => {
  if (!t) return undefined;
  const hp = parseHostPort(t);
  if (typeof hp !== 'string') return hp;
  problems.push(`${name}: ${hp}`);
  return undefined;
};

const list = (t: string): string[] =>
  t
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

const endpoint: Parser<Endpoint> = (t, _name, problems) => {
  const e = parseEndpoint(t);
  if (typeof e !== 'string') return Object.freeze(e);
  problems.push(e);
  return { kind: 'unix', path: '' };
};

const nodeName: Parser<string> = (t, name, problems) => {
  if (!t) problems.push(`${name}: required (--${name} or ${envName(name)}); use the Kubernetes node name`);
  else if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(t))
    problems.push(`${name}: "${t}" must be a Kubernetes node name (lower-case DNS subdomain, at most 253 characters)`);
  return t;
};

const driverName: Parser<string> = (t, name, problems) => {
  if (!DRIVER_NAME.test(t)) problems.push(`${name}: "${t}" must be a DNS subdomain of at most 63 characters`);
  return t;
};

const volumeGroups: Parser<readonly string[]> = (t, name, problems) => {
  const vgs = list(t);
  for (const vg of vgs)
    if (!VG_NAME.test(vg) || vg === '.' || vg === '..')
      problems.push(`${name}: "${vg}" is not a valid LVM volume group name`);
  if (new Set(vgs).size !== vgs.length) problems.push(`${name}: listed twice`);
  return Object.freeze(vgs);
};

const thinPoolName: Parser<string | undefined> = (t, name, problems) => {
  if (t && !VG_NAME.test(t)) problems.push(`${name}: "${t}" is not a valid LVM logical volume name`);
  return t || undefined;
};

/** A size (1G, 512M, bytes) of at least min bytes; 0 when bad. */
const sizeOf =
  (min: number, say: string): Parser<number> =>
  (t, name, problems) => {
    const bytes = parseSize(t);
    if (bytes === undefined || bytes < min) problems.push(`${name}: "${t}" must be a size of at least ${say}`);
    return bytes ?? 0;
  };

const trueOrFalse: Parser<boolean> = (t, name, problems) => {
  if (t !== 'true' && t !== 'false') problems.push(`${name}: "${t}" must be true or false`);
  return t === 'true';
};

const iqnPrefix: Parser<string> = (t, name, problems) => {
  if (!/^iqn\.\d{4}-\d{2}\.[a-z0-9][a-z0-9.-]*[a-z0-9](:[a-z0-9.:-]+)?$/.test(t) || t.length > 120) {
    problems.push(
      `${name}: "${t}" must be an iSCSI qualified name such as iqn.2024-01.com.example.storage (lower case, at most 120 characters)`,
    );
  }
  return t;
};

const portals: Parser<Config['portals']> = (t, name, problems) => {
  const out: { address: string; port: number }[] = [];
  for (const item of list(t || `${defaultAddress()}:3260`)) {
    const hp = parseHostPort(item);
    if (typeof hp === 'string' || hp.port === 0) problems.push(`${name}: "${item}" must be address:port`);
    else out.push({ address: hp.host, port: hp.port });
  }
  return Object.freeze(out);
};

const agentList: Parser<Config['agents']> = (t, name, problems) => {
  const out: { node: string; host: string; port: number }[] = [];
  for (const item of list(t)) {
    const eq = item.indexOf('=');
    const hp = eq > 0 ? parseHostPort(item.slice(eq + 1)) : 'missing';
    if (typeof hp === 'string') problems.push(`${name}: "${item}" must be node=host:port`);
    else out.push({ node: item.slice(0, eq), ...hp });
  }
  return Object.freeze(out);
};

// ---------------------------------------------------------------- the table

/** Every option, in the order of --help: flag/file key, help, default, Config field and parser. */
export const OPTIONS: readonly OptionSpec[] = [
  option({
    name: 'endpoint',
    key: 'endpoint',
    parse: endpoint,
    default: 'unix:///csi/csi.sock',
    help: 'gRPC endpoint: unix:///absolute/path or tcp://host:port',
  }),
  option({
    name: 'node-id',
    key: 'nodeName',
    parse: nodeName,
    help: "this node's name (Kubernetes node name); required",
  }),
  option({
    name: 'driver-name',
    key: 'driverName',
    parse: driverName,
    default: 'lvm-iscsi.csi.example.org',
    help: 'CSI driver name reported by GetPluginInfo (a DNS subdomain, at most 63 characters)',
  }),
  option({
    name: 'mode',
    key: 'mode',
    parse: oneOf(MODES),
    default: 'all',
    help: 'controller | agent | node | all (all = every role in one process)',
  }),
  option({
    name: 'volume-group',
    key: 'volumeGroups',
    parse: volumeGroups,
    help: 'volume group(s) this storage node owns, comma separated (agent, all). When none is given in all mode a loop-file volume group is created under --data-dir',
  }),
  option({
    name: 'thin-pool',
    key: 'thinPool',
    parse: thinPoolName,
    help: 'name of the thin pool inside each volume group (created when missing); empty = thick only',
  }),
  option({
    name: 'log-level',
    key: 'logLevel',
    parse: oneOf(LOG_LEVELS),
    default: 'info',
    help: 'fatal | error | warn | info | debug | trace',
  }),
  option({
    name: 'metrics-address',
    key: 'metricsAddress',
    parse: optionalHostPort,
    help: 'host:port to serve Prometheus /metrics on; empty = off',
  }),
  option({
    name: 'stats-interval',
    key: 'statsIntervalSeconds',
    parse: numberIn(0, 86400),
    default: '60',
    help: 'agent: seconds between reads of its volume groups (one vgs and one lvs each) that renew its in-memory copy and the capacity and inventory metrics (recounted from memory right after every change); 0 = no timer',
  }),
  option({
    name: 'data-dir',
    key: 'dataDir',
    parse: absolutePath,
    default: '/var/lib/csi-lvm-iscsi',
    help: "directory for the plugin's own files (the loop-file volume group of the embedded default)",
  }),
  option({
    name: 'loop-vg-size',
    key: 'loopVgSizeBytes',
    parse: sizeOf(64 * 1024 ** 2, '64M (e.g. 1G)'),
    default: '1G',
    help: 'size of the loop file backing the embedded default volume group (e.g. 512M, 2G)',
  }),
  option({
    name: 'thin-pool-percent',
    key: 'thinPoolPercent',
    parse: numberIn(1, 100),
    default: '80',
    help: 'size of a thin pool the agent creates, in percent of its volume group (the rest stays for thick volumes and COW snapshots)',
  }),
  option({
    name: 'over-subscription-ratio',
    key: 'overSubscriptionRatio',
    parse: numberIn(1, 1000),
    default: '20',
    help: "thin volumes may provision up to this many times the thin pool size (like Cinder's max_over_subscription_ratio)",
  }),
  option({
    name: 'thin-pool-threshold',
    key: 'thinPoolThreshold',
    parse: numberIn(1, 100),
    default: '90',
    help: "no new thin volumes once the pool's data or metadata is this many percent full; volumes report an abnormal condition",
  }),
  option({
    name: 'reserved-percent',
    key: 'reservedPercent',
    parse: numberIn(0, 99),
    default: '0',
    help: "percent of each volume group kept free for growth (Cinder's reserved_percentage)",
  }),
  option({
    name: 'default-volume-size',
    key: 'defaultVolumeSizeBytes',
    parse: sizeOf(1024 * 1024, '1M'),
    default: '1G',
    help: 'size of a volume whose request names no capacity',
  }),
  option({
    name: 'job-wait-seconds',
    key: 'jobWaitSeconds',
    parse: numberIn(0, 600),
    default: '5',
    help: 'how long a call waits for a background copy or wipe before answering ABORTED (the CO retries)',
  }),
  option({
    name: 'lvm-udev-sync',
    key: 'lvmUdevSync',
    parse: trueOrFalse,
    default: 'true',
    help: 'true when LVM runs with udev (host or nsenter); false in a container without udev',
  }),
  option({
    name: 'lvm-config-dir',
    key: 'lvmConfigDir',
    parse: (t, name, problems) => (t === '' || t === 'none' ? t : absolutePath(t, name, problems)),
    default: '',
    help: "agent: the directory the plugin's LVM settings are written to and lvm reads them from (LVM_SYSTEM_DIR; the host's lvm.conf merged in); empty: a private directory under the temporary directory; none: pass them as --config on every command (lvm then reloads its configuration twice per command)",
  }),
  option({
    name: 'max-volumes-per-node',
    key: 'maxVolumesPerNode',
    parse: numberIn(0, 100000),
    default: '0',
    help: 'volumes one node may have published at once (NodeGetInfo and ControllerPublishVolume); 0 = no limit',
  }),
  option({
    name: 'target-backend',
    key: 'targetBackend',
    parse: oneOf(['lio', 'tgt'] as const, 'must be lio or tgt'),
    default: 'lio',
    help: 'iSCSI target on storage nodes: lio (kernel, through configfs) or tgt (tgtd, through tgtadm)',
  }),
  option({
    name: 'iqn-prefix',
    key: 'iqnPrefix',
    parse: iqnPrefix,
    default: 'iqn.2024-01.org.example.csi-lvm-iscsi',
    help: 'prefix of the target IQNs the agent makes (one target per volume)',
  }),
  option({
    name: 'portals',
    key: 'portals',
    parse: portals,
    help: 'iSCSI portals of this storage node, address:port, comma separated (more than one = multipath); default: the first non-loopback IPv4 address, port 3260',
  }),
  option({
    name: 'initiator-name',
    key: 'initiatorName',
    parse: optionalText,
    help: "this node's iSCSI initiator name (node, all); default: InitiatorName from /etc/iscsi/initiatorname.iscsi",
  }),
  option({
    name: 'kubelet-dir',
    key: 'kubeletDir',
    parse: absolutePath,
    default: '/var/lib/kubelet',
    help: "node: kubelet's root directory as the plugin sees it; at start, iSCSI sessions to this plugin's targets that no volume staged below <dir>/plugins/kubernetes.io/csi owns are removed",
  }),
  option({
    name: 'restrict-paths-to-kubelet-dir',
    key: 'restrictPathsToKubeletDir',
    parse: trueOrFalse,
    default: 'false',
    help: "node, all: true refuses (INVALID_ARGUMENT naming the field) a staging, target or volume path that, symbolic links and '..' resolved, is not below <kubelet-dir>/plugins/kubernetes.io/csi (staging) or <kubelet-dir>/pods and <kubelet-dir>/plugins/kubernetes.io/csi/volumeDevices/publish (targets), where kubelet puts them; deploy/ and the chart set true",
  }),
  option({
    name: 'chap-secret-dir',
    key: 'chapSecretDir',
    parse: optionalAbsolutePath,
    help: 'agent: a mounted Secret with chapUser/chapSecret (and mutualUser/mutualSecret), the same keys as the StorageClass secret; lets the agent re-create CHAP exports after a reboot when no CO re-publishes',
  }),
  option({
    name: 'chap-node-key-file',
    key: 'chapNodeKeyFile',
    parse: optionalAbsolutePath,
    help: "node, all: this node's own CHAP key file (made by csi-lvm-iscsi chap-node-key from the StorageClass's Secret) for volumes whose Secret says chapMode per-node",
  }),
  option({
    name: 'allow-publish-without-chap',
    key: 'allowPublishWithoutChap',
    parse: trueOrFalse,
    default: 'false',
    help: 'controller, all: true lets ControllerPublishVolume export a volume whose StorageClass names no CHAP secret (the initiator name, which any host can claim, is then the only barrier); false refuses it with FAILED_PRECONDITION',
  }),
  option({
    name: 'reconcile-interval',
    key: 'reconcileIntervalSeconds',
    parse: numberIn(0, 86400),
    default: '60',
    help: 'agent: seconds between reconciles of the live targets with the published volumes (re-creates exports lost to a tgtd restart); 0 = at start only',
  }),
  option({
    name: 'agent-listen',
    key: 'agentListen',
    parse: optionalHostPort,
    help: 'agent: host:port of the agent API for remote controllers (mutual TLS, needs --agent-tls-dir)',
  }),
  option({
    name: 'agent-tls-dir',
    key: 'agentTlsDir',
    parse: optionalAbsolutePath,
    help: 'agent, controller: directory with ca.crt, tls.crt and tls.key (a mounted kubernetes.io/tls Secret plus its CA) for the agent API',
  }),
  option({
    name: 'agent-discovery',
    key: 'agentDiscovery',
    parse: oneOf(['static', 'kubernetes'] as const, 'must be static or kubernetes'),
    default: 'static',
    help: 'controller: static (--agents) or kubernetes (agent pods found by node name through the Kubernetes API)',
  }),
  option({
    name: 'agents',
    key: 'agents',
    parse: agentList,
    help: 'controller, static discovery: storage agents as node=host:port, comma separated',
  }),
  option({
    name: 'agent-port',
    key: 'agentPort',
    parse: numberIn(1, 65535),
    default: '9809',
    help: 'controller, kubernetes discovery: the port agents listen on',
  }),
  option({
    name: 'namespace',
    key: 'namespace',
    parse: text,
    default: 'kube-system',
    help: 'controller, kubernetes discovery: namespace of the agent pods',
  }),
  option({
    name: 'agent-selector',
    key: 'agentSelector',
    parse: text,
    default: 'app.kubernetes.io/name=csi-lvm-iscsi,app.kubernetes.io/component=agent',
    help: 'controller, kubernetes discovery: label selector of the agent pods',
  }),
  option({
    name: 'kubeconfig',
    key: 'kubeconfig',
    parse: optionalText,
    help: "controller, kubernetes discovery: a kubeconfig file; default: the pod's service account",
  }),
  { name: 'config', help: 'path of a JSON config file whose keys are these option names' },
];

export interface Sources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  readFile?: (path: string) => string;
}

export type LoadResult = { help: true } | { help: false; config: Config };

export function loadConfig(sources: Sources = { argv: process.argv.slice(2), env: process.env }): LoadResult {
  const problems: string[] = [];
  const flags = parseFlags(
    sources.argv,
    OPTIONS.map((o) => o.name),
  );
  if (!flags) return { help: true };
  const configPath = flags['config'] ?? sources.env[envName('config')];
  let file: Record<string, unknown> = {};
  if (configPath) {
    try {
      const text = (sources.readFile ?? ((p: string) => readFileSync(p, 'utf8')))(configPath);
      const obj: unknown = JSON.parse(text);
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('top level must be an object');
      file = obj as Record<string, unknown>;
      for (const key of Object.keys(file)) {
        if (!OPTIONS.some((o) => o.name === key && key !== 'config'))
          problems.push(`config file ${configPath}: unknown key "${key}"`);
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
    if (typeof fromFile === 'string' || typeof fromFile === 'number' || typeof fromFile === 'boolean')
      return String(fromFile);
    return JSON.stringify(fromFile);
  };

  // every option through its row of the table, then the checks that span options
  const values: Partial<Record<keyof Config, unknown>> = {};
  for (const o of OPTIONS) if (o.key && o.parse) values[o.key] = o.parse(get(o.name) ?? '', o.name, problems);
  const config = values as Config; // OPTIONS has a row for every Config field (config.test.ts checks it)
  if (config.agentListen && !config.agentTlsDir)
    problems.push('agent-tls-dir: required with --agent-listen (the agent API is served with mutual TLS only)');
  if (config.mode === 'agent' && !config.agentListen)
    problems.push('agent-listen: required in agent mode (host:port of the agent API)');
  if (config.mode === 'controller' && !config.agentTlsDir)
    problems.push('agent-tls-dir: required in controller mode (agents are called over mutual TLS)');
  if (config.mode === 'controller' && config.agentDiscovery === 'static' && config.agents.length === 0)
    problems.push('agents: required in controller mode with static discovery (node=host:port,...)');

  if (problems.length > 0) throw new ConfigError(problems);
  return { help: false, config: Object.freeze(config) };
}

export interface AdoptConfig {
  /** --node-id: the Kubernetes node name. */
  readonly nodeName: string;
  readonly driverName: string;
  readonly volumeGroup: string;
  readonly lv: string;
  readonly name: string;
  readonly fsType: string | undefined;
  readonly volumeClear: 'none' | 'zero';
  readonly storageClass: string | undefined;
  /** The CHAP Secret the PV names for ControllerPublishVolume (CHAP is required by default) and for NodeStageVolume. */
  readonly controllerPublishSecret: { namespace: string; name: string } | undefined;
  readonly nodeStageSecret: { namespace: string; name: string } | undefined;
  readonly lvmUdevSync: boolean;
}

export const ADOPT_HELP = [
  'Usage: csi-lvm-iscsi adopt --node-id NODE --volume-group VG --lv LV --name PV_NAME',
  '                           [--fs-type ext4|xfs] [--volume-clear zero|none] [--storage-class NAME] [--driver-name NAME]',
  '                           [--controller-publish-secret NAMESPACE/NAME] [--node-stage-secret NAMESPACE/NAME]',
  '',
  "Adopts an existing logical volume (Cinder's manage_existing): renames it to the plugin's name for",
  'PV_NAME, tags it, and prints a PersistentVolume (reclaim policy Retain) to apply with kubectl.',
  'Run it on the storage node that holds the volume group. Without --fs-type the PV is a raw block volume.',
  'CHAP is required by default: name the CHAP Secret with --controller-publish-secret (and --node-stage-secret',
  'unless the Secret says chapMode: per-node), as the StorageClasses do.',
].join('\n');

/** Flags of `csi-lvm-iscsi adopt` (argv after the word "adopt"); env: the same CSI_LVM_* variables for node id, driver name, udev. */
export function loadAdoptConfig(
  sources: Sources = { argv: process.argv.slice(3), env: process.env },
): AdoptConfig | { help: true } {
  const v = parseFlags(sources.argv, [
    'node-id',
    'driver-name',
    'volume-group',
    'lv',
    'name',
    'fs-type',
    'volume-clear',
    'storage-class',
    'controller-publish-secret',
    'node-stage-secret',
    'lvm-udev-sync',
  ]);
  if (!v) return { help: true };
  const str = (k: string): string => {
    const flag = v[k];
    if (typeof flag === 'string') return flag;
    return sources.env[envName(k)] ?? OPTIONS.find((o) => o.name === k)?.default ?? '';
  };
  const problems: string[] = [];
  for (const k of ['node-id', 'volume-group', 'lv', 'name']) if (!str(k)) problems.push(`${k}: required`);
  if (str('name') && !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(str('name')))
    problems.push(`name: "${str('name')}" must be a Kubernetes object name`);
  const fs = str('fs-type') || undefined;
  if (fs !== undefined && fs !== 'ext4' && fs !== 'xfs') problems.push(`fs-type: "${fs}" must be ext4 or xfs`);
  const clear = str('volume-clear') || 'zero';
  if (clear !== 'zero' && clear !== 'none') problems.push(`volume-clear: "${clear}" must be zero or none`);
  const udev = str('lvm-udev-sync');
  const secretRef = (k: string): { namespace: string; name: string } | undefined => {
    const t = str(k);
    if (!t) return undefined;
    const m = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)\/([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)$/.exec(t);
    if (!m) problems.push(`${k}: "${t}" must be NAMESPACE/NAME of a Secret`);
    return m ? { namespace: m[1] as string, name: m[3] as string } : undefined;
  };
  const controllerPublishSecret = secretRef('controller-publish-secret');
  const nodeStageSecret = secretRef('node-stage-secret');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    nodeName: str('node-id'),
    driverName: str('driver-name'),
    volumeGroup: str('volume-group'),
    lv: str('lv'),
    name: str('name'),
    fsType: fs,
    volumeClear: clear as 'zero' | 'none',
    storageClass: str('storage-class') || undefined,
    controllerPublishSecret,
    nodeStageSecret,
    lvmUdevSync: udev !== 'false',
  });
}

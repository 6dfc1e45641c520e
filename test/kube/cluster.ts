/**
 * A one-node Kubernetes cluster inside the qemu guest, wired from deploy/ (test/kube/manifest.ts):
 * etcd, kube-apiserver (secure port on 127.0.0.1, self-signed certificates, RBAC + Node
 * authorisation, a service-account key pair), kube-controller-manager, kube-scheduler,
 * snapshot-controller with the snapshot CRDs, containerd + kubelet as the node, the plugin in
 * `all` mode on the node's plugin socket, and the sidecars of deploy/controller.yaml and
 * deploy/node.yaml as processes (out of cluster), each controller sidecar with a kubeconfig that
 * carries its ServiceAccount's token (so deploy/'s RBAC is what it gets). Cluster.split() then
 * replaces the all-mode plugin with deploy/'s controller, agent and node processes (mutual TLS
 * between controller and agent) on the same cluster.
 *
 * Logs of every process: $VM_OUT/kube/NAME.log (on the host while the guest runs).
 */
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { makeCerts } from '../helpers/certs.js';
import {
  clusterObjects,
  hostPathOf,
  loadKustomization,
  pluginCommand,
  podTemplate,
  sidecar,
  type Obj,
  type SidecarCommand,
} from './manifest.js';

export const NODE = 'kube-node';
const NODE_IP = '10.99.0.1';
const NS = 'csi-lvm-iscsi';
export const DRIVER = 'lvm-iscsi.csi.example.org';
export const VG = 'kubevg';
/** chapUser of the CHAP Secret the StorageClasses of deploy/ name (each volume's user name starts with it, src/agent/chap.ts). */
export const CHAP_USER = 'kube-test-initiator';
const repo = join(import.meta.dirname, '..', '..');
const WORK = '/run/kube';
const PKI = join(WORK, 'pki');
const BIN = join(WORK, 'bin');
const LOGS = join(process.env['VM_OUT'] ?? '/tmp', 'kube');
const ADMIN_KUBECONFIG = join(WORK, 'admin.kubeconfig');
const CONTAINERD_SOCK = '/run/containerd/containerd.sock';
const BINARIES = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kubectl',
  'csi-provisioner',
  'csi-attacher',
  'csi-snapshotter',
  'csi-resizer',
  'snapshot-controller',
  'csi-node-driver-registrar',
  'livenessprobe',
];

export const log = (msg: string) => process.stdout.write(`[kube ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export function run(argv: string[], input?: string, env?: Record<string, string>): string {
  const [cmd, ...args] = argv as [string, ...string[]];
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      input,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', ...env },
      maxBuffer: 64 << 20,
      // synchronous: a command that hangs would block every timer of the test file
      timeout: 300_000,
      killSignal: 'SIGKILL',
    });
  } catch (e) {
    const err = e as { status?: number; code?: string; stderr?: string; stdout?: string };
    throw new Error(
      `${argv.join(' ')} ${err.code === 'ETIMEDOUT' ? 'killed after 300 s' : `exited ${err.status}`}: ${(err.stderr ?? '').trim() || (err.stdout ?? '').trim()}`,
    );
  }
}

/** Errors of an API server too busy to answer in time (the guest is emulated on a loaded host): retried. */
const TRANSIENT =
  /Client\.Timeout exceeded|TLS handshake timeout|connection refused|etcdserver: request timed out|the server was unable to return a response|context deadline exceeded|i\/o timeout|http2: client connection lost/;

function kubectl(args: string[], input?: string): string {
  for (let attempt = 1; ; attempt++) {
    try {
      return run([join(BIN, 'kubectl'), '--kubeconfig', ADMIN_KUBECONFIG, '--request-timeout=120s', ...args], input);
    } catch (e) {
      if (attempt >= 6 || !TRANSIENT.test(String(e))) throw e;
      log(`kubectl ${args.slice(0, 3).join(' ')}: ${String(e).slice(-160)}; again (${attempt})`);
    }
  }
}
/** run() without blocking the event loop (scenarios run concurrently). */
function runAsync(argv: string[], input?: string): Promise<string> {
  const [cmd, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const c = execFile(
      cmd,
      args,
      { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        reject(new Error(`${argv.join(' ')} exited ${err.code ?? err.signal}: ${stderr.trim() || stdout.trim()}`));
      },
    );
    c.stdin?.end(input ?? '');
  });
}
/** kubectl() without blocking the event loop. */
export async function kubectlAsync(args: string[], input?: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runAsync(
        [join(BIN, 'kubectl'), '--kubeconfig', ADMIN_KUBECONFIG, '--request-timeout=120s', ...args],
        input,
      );
    } catch (e) {
      if (attempt >= 6 || !TRANSIENT.test(String(e))) throw e;
      log(`kubectl ${args.slice(0, 3).join(' ')}: ${String(e).slice(-160)}; again (${attempt})`);
    }
  }
}
export const applyAsync = (objs: object[]) =>
  kubectlAsync(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

/** The admin's token (set by startCluster) for the API client below. */
let adminToken = '';
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
/**
 * GET on kube-apiserver from this process (JSON parsed, text otherwise): the polling loops use it
 * instead of a kubectl process each time (a Go process start costs about a second of the
 * emulated guest's CPU, which the control plane needs). Server errors (5xx, timeouts) retried.
 */
export async function api<T = any>(path: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise<T>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: 6443,
            path,
            method: 'GET',
            ca: readFileSync(join(PKI, 'ca.crt')),
            headers: { Authorization: `Bearer ${adminToken}`, Accept: 'application/json' },
            timeout: 120_000,
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => {
              const code = res.statusCode ?? 0;
              if (code < 200 || code >= 300)
                return reject(new ApiError(code, `GET ${path}: ${code} ${body.slice(0, 300)}`));
              try {
                resolve((res.headers['content-type'] ?? '').includes('json') ? JSON.parse(body) : body);
              } catch (e) {
                reject(e instanceof Error ? e : new Error(String(e)));
              }
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 120 s`)));
        req.on('error', reject);
        req.end();
      });
    } catch (e) {
      if (attempt >= 6 || (e instanceof ApiError && e.status < 500)) throw e;
      log(`${String(e).slice(0, 200)}; again (${attempt})`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}
/** API paths of the kinds the tier reads: [group-version prefix, plural, namespaced]. */
const KINDS = {
  pvc: ['/api/v1', 'persistentvolumeclaims', true],
  pv: ['/api/v1', 'persistentvolumes', false],
  pod: ['/api/v1', 'pods', true],
  node: ['/api/v1', 'nodes', false],
  serviceaccount: ['/api/v1', 'serviceaccounts', true],
  csinode: ['/apis/storage.k8s.io/v1', 'csinodes', false],
  volumeattachment: ['/apis/storage.k8s.io/v1', 'volumeattachments', false],
  csistoragecapacity: ['/apis/storage.k8s.io/v1', 'csistoragecapacities', true],
  lease: ['/apis/coordination.k8s.io/v1', 'leases', true],
  volumesnapshot: ['/apis/snapshot.storage.k8s.io/v1', 'volumesnapshots', true],
  volumesnapshotcontent: ['/apis/snapshot.storage.k8s.io/v1', 'volumesnapshotcontents', false],
} as const;
/** One object (name given) or the list of a kind, in namespace `ns` for namespaced kinds. */
export function get<T = any>(kind: keyof typeof KINDS, name?: string, ns = 'default'): Promise<T> {
  const [prefix, plural, namespaced] = KINDS[kind];
  return api<T>(`${prefix}${namespaced ? `/namespaces/${ns}` : ''}/${plural}${name ? `/${name}` : ''}`);
}
const apply = (objs: object[]) =>
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

export async function until<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 300_000,
  intervalMs = 1000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Where the binaries are: $KUBE_TEST_BIN, else ../shared/k8s next to the repository. Missing = a loud failure. */
function binarySource(): string {
  const dir = process.env['KUBE_TEST_BIN'] || join(repo, '..', 'shared', 'k8s');
  const missing = BINARIES.filter((b) => !existsSync(join(dir, 'bin', `${b}.xz`)) && !existsSync(join(dir, 'bin', b)));
  if (missing.length > 0)
    throw new Error(
      `Kubernetes tier: binaries missing in ${dir}/bin: ${missing.join(', ')} (set KUBE_TEST_BIN to a directory with bin/ (NAME or NAME.xz), crds/ and images/, see test/kube/README.md)`,
    );
  for (const d of ['crds', 'images'])
    if (!existsSync(join(dir, d))) throw new Error(`Kubernetes tier: ${dir}/${d} is missing`);
  return dir;
}

interface Proc {
  name: string;
  child: ChildProcess;
  restarts: number;
  stopped: boolean;
}
const procs: Proc[] = [];

/** Starts a long-running process with its log in LOGS; `restart` respawns it when it exits (as kubelet would a container). */
function start(name: string, argv: string[], opts: { restart?: boolean; env?: Record<string, string> } = {}): Proc {
  const p: Proc = { name, child: undefined as unknown as ChildProcess, restarts: 0, stopped: false };
  const spawnIt = () => {
    const fd = openSync(join(LOGS, `${name}.log`), 'a');
    const [cmd, ...args] = argv as [string, ...string[]];
    p.child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...opts.env } });
    closeSync(fd);
    p.child.on('exit', (code, sig) => {
      if (p.stopped) return;
      log(`${name} exited (${code ?? sig})${opts.restart ? ', restarting in 2 s' : ''}`);
      if (opts.restart) {
        p.restarts++;
        setTimeout(() => !p.stopped && spawnIt(), 2000);
      }
    });
  };
  spawnIt();
  procs.push(p);
  return p;
}

/** The last CPU seconds read of every process the tier started, by pid: one that exited or was restarted still counts. */
const cpuSeen = new Map<number, { name: string; seconds: number }>();
const USER_HZ = 100;

/** Reads p's CPU seconds now (kept in cpuSeen): at each report, and right before the tier stops it. */
function noteCpu(p: Proc): void {
  const pid = p.child.pid;
  if (pid === undefined) return; // never started
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 (utime stime cutime cstime) are 12-15 after the state field
    const seconds = [11, 12, 13, 14].reduce((sum, i) => sum + Number(v[i]), 0) / USER_HZ;
    cpuSeen.set(pid, { name: p.name, seconds });
  } catch {
    // gone already: its last reading stays
  }
}

/**
 * CPU seconds so far of each process the tier started (its own utime+stime and that of its waited-for
 * children: the plugin's lvm, iscsiadm and mkfs runs count under the plugin), and of the whole guest,
 * from /proc. A process that exited (the all-mode plugin before the split case, a restarted sidecar's
 * earlier run) counts with its last reading (each report, and right before the tier stops it). The
 * guest's two vCPUs are emulated on the host's cores: this says where its time goes.
 */
export function cpuReport(): string {
  for (const p of procs) noteCpu(p);
  const byName = new Map<string, number>();
  for (const { name, seconds } of cpuSeen.values()) byName.set(name, (byName.get(name) ?? 0) + seconds);
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const busy = (cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0)) / USER_HZ;
  const shown = [...byName].sort((a, b) => b[1] - a[1]).filter(([, s]) => s >= 1);
  const listed = shown.reduce((a, [, s]) => a + s, 0);
  return `guest CPU busy ${Math.round(busy)} s; ${shown.map(([n, s]) => `${n} ${Math.round(s)}`).join(', ')}; everything else ${Math.round(busy - listed)} (containers, shims, the test itself, the kernel)`;
}

function kubeconfig(file: string, user: string, token: string): void {
  const cfg = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'kube', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': join(PKI, 'ca.crt') } },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'kube', context: { cluster: 'kube', user } }],
    'current-context': 'kube',
  };
  writeFileSync(file, JSON.stringify(cfg, null, 1), { mode: 0o600 });
}

function pki(): void {
  mkdirSync(PKI, { recursive: true });
  const o = (args: string[]) => run(['openssl', ...args]);
  o([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=kube-test-ca',
    '-keyout',
    join(PKI, 'ca.key'),
    '-out',
    join(PKI, 'ca.crt'),
  ]);
  o([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    '/CN=kube-apiserver',
    '-keyout',
    join(PKI, 'apiserver.key'),
    '-out',
    join(PKI, 'apiserver.csr'),
  ]);
  writeFileSync(
    join(PKI, 'apiserver.cnf'),
    `subjectAltName=IP:127.0.0.1,IP:${NODE_IP},IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc\n`,
  );
  o([
    'x509',
    '-req',
    '-in',
    join(PKI, 'apiserver.csr'),
    '-CA',
    join(PKI, 'ca.crt'),
    '-CAkey',
    join(PKI, 'ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    join(PKI, 'apiserver.cnf'),
    '-out',
    join(PKI, 'apiserver.crt'),
  ]);
  // ECDSA throughout: RSA key generation takes seconds under emulation
  o(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(PKI, 'sa.key')]);
  o(['pkey', '-in', join(PKI, 'sa.key'), '-pubout', '-out', join(PKI, 'sa.pub')]);
}

/** The node's own network: a dummy interface with an address (kubelet refuses a loopback node IP), cgroup2, tmpfs state dirs. */
function nodeHost(): void {
  run(['modprobe', '-a', 'dummy', 'bridge', 'veth', 'overlay']);
  run(['ip', 'link', 'add', 'kube0', 'type', 'dummy']);
  run(['ip', 'addr', 'add', `${NODE_IP}/24`, 'dev', 'kube0']);
  run(['ip', 'link', 'set', 'kube0', 'up']);
  if (!run(['stat', '-f', '-c', '%T', '/sys/fs/cgroup']).includes('cgroup2'))
    run(['mount', '-t', 'cgroup2', 'none', '/sys/fs/cgroup']);
  const ctrls = run(['cat', '/sys/fs/cgroup/cgroup.controllers']).trim().split(/\s+/).filter(Boolean);
  writeFileSync('/sys/fs/cgroup/cgroup.subtree_control', ctrls.map((c) => `+${c}`).join(' '));
  // kubelet's and containerd's state on an ext4 disk of its own (the third virtio disk): on tmpfs
  // cadvisor finds no file system for them and kubelet's /stats/summary answers 500
  const stateDisk = (process.env['VM_DISKS'] ?? '').split(' ').filter(Boolean)[2];
  if (!stateDisk)
    throw new Error('Kubernetes tier: needs a third virtio disk for the node state (test/kube/run.sh gives --disks 3)');
  run(['mkfs.ext4', '-q', '-F', stateDisk]);
  mkdirSync('/var/lib/kube-node', { recursive: true });
  run(['mount', stateDisk, '/var/lib/kube-node']);
  for (const d of ['containerd', 'kubelet']) {
    mkdirSync(`/var/lib/kube-node/${d}`, { recursive: true });
    mkdirSync(`/var/lib/${d}`, { recursive: true });
    run(['mount', '--bind', `/var/lib/kube-node/${d}`, `/var/lib/${d}`]);
  }
  mkdirSync('/var/lib/etcd-kube', { recursive: true });
  run(['mount', '-t', 'tmpfs', '-o', 'size=1g', 'tmpfs', '/var/lib/etcd-kube']);
  run(['mount', '--make-rshared', '/var/lib/kubelet']);
}

/**
 * The tier's own timing flags for the controller sidecars, each added only where deploy/ does not
 * set it (manifest.ts): retries back off to at most 20 s (default 5 min: a call that failed a few
 * times while the guest stalled waited minutes for its next try), and leader election that
 * tolerates an API server slow to answer (lease 30 s, renew deadline 25 s, retry 5 s instead of
 * 15/10/2: a renewal missed makes the sidecar exit and wait for the lease again).
 */
const TIER_SIDECAR_FLAGS = [
  '--retry-interval-max=20s',
  '--leader-election-lease-duration=30s',
  '--leader-election-renew-deadline=25s',
  '--leader-election-retry-period=5s',
];

export interface Cluster {
  objs: Obj[];
  sidecars: SidecarCommand[];
  pluginArgs: string[];
  plugin: Proc;
  /**
   * The plugin as deploy/ runs it in a cluster: the `all`-mode process and the controller
   * sidecars stop; the agent (deploy/agent.yaml), the node plugin (deploy/node.yaml, on the same
   * socket kubelet knows) and the controller (deploy/controller.yaml, a socket of its own, its
   * sidecars restarted on it) start with their manifests' args, the agent API over mutual TLS.
   * `image` runs the agent's stand-in Pod. Returns the commands used.
   */
  split(image: string): Promise<SidecarCommand[]>;
  stop(): Promise<void>;
}

/** Stops one process started by start() (no restart) and waits for it to exit. */
async function stopProc(p: Proc): Promise<void> {
  p.stopped = true;
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  noteCpu(p);
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

export async function startCluster(): Promise<Cluster> {
  const src = binarySource();
  mkdirSync(LOGS, { recursive: true });
  mkdirSync(BIN, { recursive: true });
  const t0 = Date.now();
  const objs = loadKustomization();
  // plain binaries (test/kube/run.sh unpacks them on the host, where xz is ~50x faster) are used
  // where they are; .xz ones are unpacked into the guest's tmpfs
  await Promise.all(
    BINARIES.map(
      (b) =>
        new Promise<void>((resolve, reject) => {
          const plain = join(src, 'bin', b);
          if (existsSync(plain)) {
            symlinkSync(plain, join(BIN, b));
            return resolve();
          }
          const out = openSync(join(BIN, b), 'w', 0o755);
          const c = spawn('xz', ['-dc', join(src, 'bin', `${b}.xz`)], { stdio: ['ignore', out, 'inherit'] });
          c.on(
            'exit',
            (code) => (closeSync(out), code === 0 ? resolve() : reject(new Error(`xz -dc ${b}.xz exited ${code}`))),
          );
        }),
    ),
  );
  log(`binaries from ${src} (${Math.round((Date.now() - t0) / 1000)} s)`);
  nodeHost();
  pki();

  // static tokens for the control plane and the node (users and groups as kubeadm's certificates name them)
  const tok = (who: string) => `${who}-${Math.random().toString(36).slice(2)}`;
  const t = { admin: tok('admin'), kcm: tok('kcm'), sched: tok('sched'), kubelet: tok('kubelet') };
  writeFileSync(
    join(PKI, 'tokens.csv'),
    [
      `${t.admin},kube-admin,uid-admin,"system:masters"`,
      `${t.kcm},system:kube-controller-manager,uid-kcm`,
      `${t.sched},system:kube-scheduler,uid-sched`,
      `${t.kubelet},system:node:${NODE},uid-node,"system:nodes"`,
    ].join('\n') + '\n',
  );
  kubeconfig(ADMIN_KUBECONFIG, 'kube-admin', t.admin);
  adminToken = t.admin;
  kubeconfig(join(WORK, 'kcm.kubeconfig'), 'system:kube-controller-manager', t.kcm);
  kubeconfig(join(WORK, 'scheduler.kubeconfig'), 'system:kube-scheduler', t.sched);
  kubeconfig(join(WORK, 'kubelet.kubeconfig'), `system:node:${NODE}`, t.kubelet);

  start('etcd', [
    'etcd',
    '--data-dir',
    '/var/lib/etcd-kube',
    '--listen-client-urls',
    'http://127.0.0.1:2379',
    '--advertise-client-urls',
    'http://127.0.0.1:2379',
    '--listen-peer-urls',
    'http://127.0.0.1:2380',
  ]);
  start('kube-apiserver', [
    join(BIN, 'kube-apiserver'),
    '--etcd-servers=http://127.0.0.1:2379',
    '--bind-address=127.0.0.1',
    `--advertise-address=${NODE_IP}`,
    '--secure-port=6443',
    `--tls-cert-file=${join(PKI, 'apiserver.crt')}`,
    `--tls-private-key-file=${join(PKI, 'apiserver.key')}`,
    `--client-ca-file=${join(PKI, 'ca.crt')}`,
    `--token-auth-file=${join(PKI, 'tokens.csv')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(PKI, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(PKI, 'sa.key')}`,
    '--allow-privileged=true',
    '--kubelet-preferred-address-types=InternalIP',
    '--v=1',
  ]);
  // while kube-apiserver starts (a minute or more in the guest): the node's containerd (CRI) with
  // the local images, the VG and the plugin (nothing of them needs the API); kubelet after deploy/
  mkdirSync('/etc/cni/net.d', { recursive: true });
  writeFileSync(
    '/etc/cni/net.d/10-kube.conflist',
    JSON.stringify({
      cniVersion: '0.4.0',
      name: 'kube',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/24' }]] },
        },
      ],
    }),
  );
  mkdirSync(join(WORK, 'containerd'), { recursive: true });
  writeFileSync(
    join(WORK, 'containerd', 'config.toml'),
    `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "${CONTAINERD_SOCK}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`,
  );
  start('containerd', ['containerd', '--config', join(WORK, 'containerd', 'config.toml')]);
  await until('containerd socket', () => existsSync(CONTAINERD_SOCK), 60_000, 500);
  for (const img of ['pause.tar', 'busybox.tar'])
    await until(
      `ctr import ${img}`,
      () =>
        run(['ctr', '--address', CONTAINERD_SOCK, '-n', 'k8s.io', 'images', 'import', join(src, 'images', img)]) !==
        undefined,
      60_000,
      2000,
    );

  // the storage: a VG on the first two disks; the plugin in all mode on the node plugin's socket
  const disks = (process.env['VM_DISKS'] ?? '').split(' ').filter(Boolean).slice(0, 2);
  for (const d of disks) run(['wipefs', '-a', '-q', d]);
  run(['vgcreate', '-q', VG, ...disks]);
  const pluginDir = hostPathOf(objs, 'csi-lvm-iscsi-node', 'plugin-dir');
  const registry = hostPathOf(objs, 'csi-lvm-iscsi-node', 'registration-dir');
  mkdirSync(pluginDir, { recursive: true });
  mkdirSync(registry, { recursive: true }); // before kubelet starts: it watches the directory it finds
  const sock = join(pluginDir, 'csi.sock');
  const pluginArgs = [
    '--mode=all',
    `--endpoint=unix://${sock}`,
    `--node-id=${NODE}`,
    `--volume-group=${VG}`,
    '--thin-pool=thinpool',
    '--target-backend=lio',
    `--portals=${NODE_IP}:3260`,
    '--kubelet-dir=/var/lib/kubelet',
    '--metrics-address=127.0.0.1:9812',
    '--job-wait-seconds=30',
    '--log-level=info',
  ];
  const plugin = start('plugin', [process.execPath, join(repo, 'dist', 'main.js'), ...pluginArgs]);

  await until('kube-apiserver /readyz', () => kubectl(['get', '--raw', '/readyz']).includes('ok'), 300_000, 2000);
  log(`kube-apiserver ready (${Math.round((Date.now() - t0) / 1000)} s)`);
  start('kube-controller-manager', [
    join(BIN, 'kube-controller-manager'),
    `--kubeconfig=${join(WORK, 'kcm.kubeconfig')}`,
    `--service-account-private-key-file=${join(PKI, 'sa.key')}`,
    `--root-ca-file=${join(PKI, 'ca.crt')}`,
    // each controller as its own ServiceAccount (system:controller:*), as kubeadm runs it: the
    // node-lifecycle controller needs its role to remove the not-ready taint
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    // the tier's own pace (a cluster has no reason to wait as long for a one-node test): the PV
    // binder's resync (default 15 s) and the attach-detach reconciler's sync of attached volumes
    // (default 1 min)
    '--pvclaimbinder-sync-period=5s',
    '--attach-detach-reconcile-sync-period=10s',
    // the controllers of workloads, quota and garbage collection are off: no scenario uses them,
    // and their informers (the garbage collector and quota watch every resource) cost the
    // emulated guest's CPU; the volume, node, service-account and namespace controllers run
    '--controllers=*,-garbage-collector-controller,-resourcequota-controller,-horizontal-pod-autoscaler-controller,-cronjob-controller,-job-controller,-ttl-after-finished-controller,-statefulset-controller,-daemonset-controller,-deployment-controller,-replicaset-controller,-replicationcontroller-controller,-disruption-controller,-endpoints-controller,-endpointslice-controller,-endpointslice-mirroring-controller,-storage-version-migrator-controller,-validatingadmissionpolicy-status-controller,-service-lb-controller,-node-route-controller,-cloud-node-lifecycle-controller',
    '--bind-address=127.0.0.1',
    '--v=1',
  ]);
  start('kube-scheduler', [
    join(BIN, 'kube-scheduler'),
    `--kubeconfig=${join(WORK, 'scheduler.kubeconfig')}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    '--v=1',
  ]);

  // the snapshot CRDs and snapshot-controller (cluster add-ons, not part of deploy/)
  kubectl(['apply', '-k', join(src, 'crds')]);
  kubectl([
    'wait',
    '--for=condition=established',
    '--timeout=120s',
    'crd/volumesnapshotclasses.snapshot.storage.k8s.io',
    'crd/volumesnapshots.snapshot.storage.k8s.io',
    'crd/volumesnapshotcontents.snapshot.storage.k8s.io',
  ]);
  start(
    'snapshot-controller',
    [join(BIN, 'snapshot-controller'), `--kubeconfig=${ADMIN_KUBECONFIG}`, '--leader-election=false', '--v=2'],
    { restart: true },
  );

  // deploy/: everything but the workloads, plus the CHAP Secret its StorageClasses name
  const chapSecret = `kube-test-${Math.random().toString(36).slice(2)}-secret`;
  apply(clusterObjects(objs));
  apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'csi-lvm-iscsi-chap', namespace: NS },
      type: 'Opaque',
      stringData: { chapUser: CHAP_USER, chapSecret },
    },
  ]);
  log(
    `deploy/ applied: ${clusterObjects(objs)
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .join(', ')}`,
  );

  writeFileSync(
    join(WORK, 'kubelet.yaml'),
    JSON.stringify({
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      failSwapOn: false,
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
      authorization: { mode: 'AlwaysAllow' },
      evictionHard: {
        'memory.available': '1Mi',
        'nodefs.available': '1%',
        'imagefs.available': '1%',
        'nodefs.inodesFree': '1%',
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      resolvConf: '',
      volumeStatsAggPeriod: '10s',
      // the tier's own pace: Pods resynced every 10 s (default 1 min: a Pod whose volume mount
      // timed out waits that long for its next try), the node status (volumesInUse, which the
      // attach-detach controller waits for before it detaches and kubelet before it mounts) every
      // 4 s (default 10 s)
      syncFrequency: '10s',
      nodeStatusUpdateFrequency: '4s',
      containerRuntimeEndpoint: `unix://${CONTAINERD_SOCK}`,
      // localStorageCapacityIsolation stays at its default (true): with containerd (CRI stats)
      // kubelet's cadvisor collects file system usage only when it is on
      // (pkg/kubelet/cadvisor/cadvisor_linux.go adds DiskUsageMetrics for legacy stats or local
      // storage isolation), and without it the root container carries no file systems, so
      // stats/summary answers 500 "cannot find filesystem info for device" for kubelet's root dir
    }),
  );
  start('kubelet', [
    join(BIN, 'kubelet'),
    `--config=${join(WORK, 'kubelet.yaml')}`,
    `--kubeconfig=${join(WORK, 'kubelet.kubeconfig')}`,
    '--root-dir=/var/lib/kubelet',
    `--hostname-override=${NODE}`,
    `--node-ip=${NODE_IP}`,
    '--v=1',
  ]);

  // a ServiceAccount token per workload of deploy/ that calls the API, in a kubeconfig of its own
  const sa = (name: string) => {
    const file = join(WORK, `sa-${name}.kubeconfig`);
    kubeconfig(
      file,
      `system:serviceaccount:${NS}:${name}`,
      kubectl(['-n', NS, 'create', 'token', name, '--duration=24h']).trim(),
    );
    return file;
  };
  const ctl = 'csi-lvm-iscsi-controller';
  const ctlSa = (
    objs.find((o) => o.kind === 'Deployment' && o.metadata.name === ctl)?.['spec'] as {
      template: { spec: { serviceAccountName: string } };
    }
  ).template.spec.serviceAccountName;
  const ctlKubeconfig = sa(ctlSa);
  const opts = { nodeName: NODE, emptyDirs: { 'socket-dir': pluginDir } };
  const sidecars = [
    ...['csi-provisioner', 'csi-attacher', 'csi-snapshotter', 'csi-resizer'].map((c) =>
      sidecar(objs, ctl, c, {
        ...opts,
        kubeconfig: ctlKubeconfig,
        extraFlags: [...TIER_SIDECAR_FLAGS, ...(c === 'csi-provisioner' ? ['--capacity-poll-interval=10s'] : [])],
      }),
    ),
    sidecar(objs, ctl, 'liveness-probe', opts),
    sidecar(objs, 'csi-lvm-iscsi-node', 'node-driver-registrar', opts),
    sidecar(objs, 'csi-lvm-iscsi-node', 'liveness-probe', opts),
  ];
  log('flags from deploy/ (manifest args -> process args):');
  for (const s of sidecars)
    log(
      `  ${s.workload}/${s.container} as ServiceAccount ${s.namespace}/${s.serviceAccount}${s.args.some((a) => a.startsWith('--kubeconfig')) ? '' : ' (no API token)'}: ${s.args.filter((a) => !s.extraArgs.includes(a)).join(' ')}${s.extraArgs.length ? ` + the tier's own: ${s.extraArgs.join(' ')}` : ''}${
        Object.keys(s.env).length
          ? ` env ${Object.entries(s.env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}`
          : ''
      }`,
    );
  log(`  plugin (the tier's own, all mode): ${pluginArgs.join(' ')}`);

  await until('plugin socket', () => existsSync(sock) || plugin.child.exitCode !== null, 300_000, 1000);
  if (plugin.child.exitCode !== null) throw new Error(`plugin exited ${plugin.child.exitCode}, see ${LOGS}/plugin.log`);
  log(`plugin serving (${Math.round((Date.now() - t0) / 1000)} s)`);
  // one at a time, restarted when they exit (their start-up deadlines are short under emulation)
  const startSidecars = async (list: SidecarCommand[], suffix = '') => {
    const started: Proc[] = [];
    for (const s of list) {
      const name = s.workload === ctl ? s.container : `node-${s.container}`;
      // the binary is the image's name (registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0)
      const bin =
        s.image
          .replace(/:[^/:]*$/, '')
          .split('/')
          .pop() ?? '';
      if (!BINARIES.includes(bin)) throw new Error(`${s.workload}/${s.container}: no binary for image ${s.image}`);
      started.push(start(`${name}${suffix}`, [join(BIN, bin), ...s.args], { restart: true, env: s.env }));
      await new Promise((r) => setTimeout(r, 3000));
    }
    return started;
  };
  const sidecarProcs = await startSidecars(sidecars);
  await until(
    `node ${NODE} Ready`,
    async () =>
      (await get('node', NODE)).status?.conditions?.some(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      ),
    300_000,
    2000,
  );
  await until(
    'no taints on the node',
    async () => !((await get('node', NODE)).spec?.taints?.length > 0),
    300_000,
    2000,
  );
  await until(
    `CSINode ${NODE} lists ${DRIVER}`,
    async () => (await get('csinode', NODE)).spec?.drivers?.some((d: { name: string }) => d.name === DRIVER),
    300_000,
    2000,
  );
  await until(
    'ServiceAccount default/default',
    async () => (await get('serviceaccount', 'default')).metadata?.name,
    120_000,
    2000,
  );
  log(`cluster ready (${Math.round((Date.now() - t0) / 1000)} s)`);

  const controllerSidecars = (emptyDirs: Record<string, string>) => [
    ...['csi-provisioner', 'csi-attacher', 'csi-snapshotter', 'csi-resizer'].map((c) =>
      sidecar(objs, ctl, c, {
        nodeName: NODE,
        emptyDirs,
        kubeconfig: ctlKubeconfig,
        extraFlags: [...TIER_SIDECAR_FLAGS, ...(c === 'csi-provisioner' ? ['--capacity-poll-interval=10s'] : [])],
      }),
    ),
    sidecar(objs, ctl, 'liveness-probe', { nodeName: NODE, emptyDirs }),
  ];

  async function split(image: string): Promise<SidecarCommand[]> {
    const t1 = Date.now();
    // the all-mode plugin and the controller's sidecars go; the node's sidecars stay (kubelet keeps
    // the registration and dials the node plugin's socket path for each call)
    const ctlProcs = sidecarProcs.filter((p) => !p.name.startsWith('node-'));
    await Promise.all([plugin, ...ctlProcs].map(stopProc));
    log(`all-mode plugin and controller sidecars stopped (${Math.round((Date.now() - t1) / 1000)} s)`);

    // the Secrets deploy/README.md asks for, as the directories their volumes would be: the agent
    // API's two TLS Secrets (one CA, the agent's and the controller's identities) and the CHAP Secret
    const certs = makeCerts(join(WORK, 'agent-tls'));
    const chapDir = join(WORK, 'chap-secret');
    mkdirSync(chapDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(chapDir, 'chapUser'), CHAP_USER, { mode: 0o400 });
    writeFileSync(join(chapDir, 'chapSecret'), chapSecret, { mode: 0o400 });
    const agentRun = join(WORK, 'agent-run');
    const ctlSocketDir = join(WORK, 'controller-csi');
    for (const d of [agentRun, ctlSocketDir]) mkdirSync(d, { recursive: true });

    // the agent DaemonSet's Pod: the controller finds agents as Running Pods with the template's
    // labels (its --agent-discovery=kubernetes) on nodes with the template's nodeSelector, dialled at
    // the Pod's IP (hostNetwork: the node's). The agent itself runs as a process (no image of the
    // plugin here), so the Pod is a stand-in with the template's metadata and scheduling and a
    // container that sleeps.
    const agentWorkload = 'csi-lvm-iscsi-agent';
    const tpl = podTemplate(objs, agentWorkload);
    const nodeSelector = (tpl.spec['nodeSelector'] as Record<string, string> | undefined) ?? {};
    kubectl(['label', 'node', NODE, '--overwrite', ...Object.entries(nodeSelector).map(([k, v]) => `${k}=${v}`)]);
    apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${agentWorkload}-standin`, namespace: NS, labels: tpl.metadata.labels },
        spec: {
          serviceAccountName: tpl.spec.serviceAccountName,
          automountServiceAccountToken: false,
          hostNetwork: tpl.spec['hostNetwork'],
          nodeSelector,
          tolerations: tpl.spec['tolerations'],
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: tpl.spec.containers[0]!.name,
              image,
              imagePullPolicy: 'Never',
              command: ['sh', '-c', 'exec sleep 36000'],
            },
          ],
        },
      },
    ]);

    const site = { nodeName: NODE, hostIP: NODE_IP };
    const agent = pluginCommand(objs, agentWorkload, 'csi-lvm-iscsi', {
      ...site,
      emptyDirs: { 'run-dir': agentRun },
      secretDirs: { 'agent-tls': certs.agent, chap: chapDir },
      siteFlags: [`--volume-group=${VG}`],
    });
    const node = pluginCommand(objs, 'csi-lvm-iscsi-node', 'csi-lvm-iscsi', site);
    const controller = pluginCommand(objs, ctl, 'csi-lvm-iscsi', {
      ...site,
      emptyDirs: { 'socket-dir': ctlSocketDir },
      secretDirs: { 'agent-tls': certs.controller },
      kubeconfig: ctlKubeconfig,
    });
    const ctlSidecars = controllerSidecars({ 'socket-dir': ctlSocketDir });
    const cmds = [agent, node, controller, ...ctlSidecars];
    log('split mode, flags from deploy/ (manifest args -> process args):');
    for (const x of cmds)
      log(
        `  ${x.workload}/${x.container}: ${x.args.filter((a) => !x.extraArgs.includes(a)).join(' ')}${x.extraArgs.length ? ` + the tier's own: ${x.extraArgs.join(' ')}` : ''}`,
      );
    const main = join(repo, 'dist', 'main.js');
    // the three start at once (each Node process start costs the emulated guest tens of seconds);
    // the controller asks the API for the agents at its first call, not at start
    const procOf = (name: string, x: SidecarCommand) =>
      start(name, [process.execPath, main, ...x.args], { restart: true, env: x.env });
    const agentProc = procOf('split-agent', agent);
    const nodeProc = procOf('split-node', node);
    const ctlProc = procOf('split-controller', controller);
    const sockOf = (x: SidecarCommand) => x.args.find((a) => a.startsWith('--endpoint=unix://'))!.slice(18);
    await Promise.all([
      ...(
        [
          [agent, agentProc],
          [node, nodeProc],
          [controller, ctlProc],
        ] as const
      ).map(([x, p]) => until(`${x.workload} socket`, () => existsSync(sockOf(x)) || p.restarts > 3, 300_000, 1000)),
      until(
        `the agent's stand-in Pod Running with an IP`,
        async () => {
          const p = await get('pod', `${agentWorkload}-standin`, NS);
          return p.status?.phase === 'Running' && p.status?.podIP;
        },
        300_000,
        2000,
      ),
    ]);
    for (const p of [agentProc, nodeProc, ctlProc])
      if (p.restarts > 3) throw new Error(`${p.name} keeps exiting, see ${LOGS}/${p.name}.log`);
    await startSidecars(ctlSidecars, '-split');
    log(`split mode serving (${Math.round((Date.now() - t1) / 1000)} s)`);
    return cmds;
  }

  return {
    objs,
    sidecars,
    pluginArgs,
    plugin,
    split,
    async stop() {
      for (const p of [...procs].reverse()) {
        p.stopped = true;
        if (p.child.exitCode === null) p.child.kill('SIGTERM');
      }
      await new Promise((r) => setTimeout(r, 2000));
    },
  };
}

/** LIO iSCSI targets in configfs (IQNs). */
export const lioTargets = (): string[] =>
  existsSync('/sys/kernel/config/target/iscsi')
    ? readdirSync('/sys/kernel/config/target/iscsi').filter((n) => n.startsWith('iqn.'))
    : [];
/** LIO iblock backstores (core/iblock_N/NAME). */
export const lioBackstores = (): string[] =>
  existsSync('/sys/kernel/config/target/core')
    ? readdirSync('/sys/kernel/config/target/core')
        .filter((d) => d.startsWith('iblock_'))
        .flatMap((d) =>
          readdirSync(join('/sys/kernel/config/target/core', d)).filter((n) => !['hba_info', 'hba_mode'].includes(n)),
        )
    : [];
/** iSCSI sessions of this node's initiator: target IQNs. */
export function iscsiSessions(): string[] {
  try {
    return run(['iscsiadm', '-m', 'session'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[3] ?? '');
  } catch (e) {
    if (/No active sessions/.test(String(e))) return [];
    throw e;
  }
}
/** LVs of the test VG, without the thin pool and its hidden parts. */
export function lvs(): { name: string; size: number; attr: string; pool: string; origin: string; tags: string }[] {
  const out = JSON.parse(
    run([
      'lvs',
      '--reportformat',
      'json',
      '--units',
      'b',
      '--nosuffix',
      '-o',
      'lv_name,lv_size,lv_attr,pool_lv,origin,lv_tags',
      VG,
    ]),
  ) as { report: { lv: Record<string, string>[] }[] };
  return (out.report[0]?.lv ?? [])
    .filter((l) => l['lv_name'] !== 'thinpool' && !l['lv_name']!.startsWith('['))
    .map((l) => ({
      name: l['lv_name']!,
      size: Number(l['lv_size']),
      attr: l['lv_attr']!,
      pool: l['pool_lv']!,
      origin: l['origin']!,
      tags: l['lv_tags']!,
    }));
}
/** Mount points below kubelet's directory. */
export const kubeletMounts = (): string[] =>
  run(['findmnt', '-rn', '-o', 'TARGET'])
    .split('\n')
    .filter((m) => m.startsWith('/var/lib/kubelet/') && !m.includes('kubernetes.io~projected'));
/** Mount points below kubelet's directory with their options (ro/rw first). */
export const kubeletMountOptions = (): { target: string; options: string }[] =>
  run(['findmnt', '-rn', '-o', 'TARGET,OPTIONS'])
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([t]) => t?.startsWith('/var/lib/kubelet/') && !t.includes('kubernetes.io~projected'))
    .map(([target, options]) => ({ target: target!, options: options ?? '' }));
/** The user names of a LIO target's ACLs (auth/userid of each initiator's ACL; '' = no CHAP). */
export function lioAclUsers(iqn: string): string[] {
  const tpgs = join('/sys/kernel/config/target/iscsi', iqn);
  return readdirSync(tpgs)
    .filter((t) => t.startsWith('tpgt_'))
    .flatMap((t) => {
      const acls = join(tpgs, t, 'acls');
      return existsSync(acls)
        ? readdirSync(acls).map((a) => readFileSync(join(acls, a, 'auth', 'userid'), 'utf8').trim())
        : [];
    });
}
/** open-iscsi's node record of a target (iscsiadm -m node -T IQN): key = value lines. */
export function iscsiNodeRecord(iqn: string): Record<string, string> {
  const rec: Record<string, string> = {};
  for (const l of run(['iscsiadm', '-m', 'node', '-T', iqn]).split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(l);
    if (m) rec[m[1]!] = m[2]!;
  }
  return rec;
}

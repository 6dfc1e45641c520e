/**
 * deploy/: every manifest validated against the Kubernetes API schemas (k8s-validate.ts), and
 * the manifests checked against the program they run: flags accepted by src/config.ts, the
 * driver name, StorageClass parameters parsed by src/agent/params.ts, CHAP keys of
 * src/agent/chap.ts, and the wiring between objects (RBAC, Secrets, volumes, ports).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { chapFromSecrets, CHAP_KEYS } from '../../../src/agent/chap.js';
import { parseSnapshotParams, parseVolumeParams } from '../../../src/agent/params.js';
import { loadConfig, OPTIONS } from '../../../src/config.js';
import { AGENT_TLS_NAME, CONTROLLER_TLS_NAME } from '../../../src/server/tls.js';
import {
  loadObjects,
  parseYamlDocs,
  ROOT,
  typeCheckObjects,
  validateSnapshotObjects,
  validateWithModels,
  type K8sObject,
  type Labelled,
} from './k8s-validate.js';

const NAMESPACE = 'csi-lvm-iscsi';
const STORAGE_NODE_LABEL = 'lvm-iscsi.csi.example.org/storage-node';
const DRIVER_NAME = OPTIONS.find((o) => o.name === 'driver-name')?.default ?? '';

function yamlFiles(dir: string): string[] {
  return readdirSync(resolve(ROOT, dir))
    .flatMap((n) => {
      const rel = join(dir, n);
      if (statSync(resolve(ROOT, rel)).isDirectory()) return yamlFiles(rel);
      return /\.ya?ml$/.test(n) ? [rel] : [];
    })
    .sort();
}

const ALL_FILES = yamlFiles('deploy').filter((f) => f !== join('deploy', 'kustomization.yaml'));
const kustomization = parseYamlDocs(
  readFileSync(resolve(ROOT, 'deploy/kustomization.yaml'), 'utf8'),
  'kustomization',
)[0] as Record<string, unknown>;
const RESOURCES = (kustomization['resources'] as string[]).map((r) => join('deploy', r));

const all: Labelled[] = ALL_FILES.flatMap((f) => loadObjects(f));
/** What `kubectl apply -k deploy/` installs. */
const installed: K8sObject[] = RESOURCES.flatMap((f) => loadObjects(f)).map((l) => l.obj);

type Container = {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: Array<{ containerPort: number; name?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; mountPropagation?: string }>;
  securityContext?: { privileged?: boolean };
};
type Volume = {
  name: string;
  hostPath?: { path: string; type?: string };
  secret?: { secretName: string };
  emptyDir?: object;
};
type PodSpec = {
  containers: Container[];
  volumes?: Volume[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostNetwork?: boolean;
  nodeSelector?: Record<string, string>;
};

function find(kind: string, name: string): K8sObject {
  const o = installed.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!o) throw new Error(`${kind} ${name} not in deploy/`);
  return o;
}
function podOf(kind: string, name: string): { spec: PodSpec; labels: Record<string, string> } {
  const o = find(kind, name) as unknown as {
    spec: { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
  };
  return { spec: o.spec.template.spec, labels: o.spec.template.metadata.labels };
}
function plugin(spec: PodSpec): Container {
  const c = spec.containers.find((x) => x.name === 'csi-lvm-iscsi');
  if (!c) throw new Error('no csi-lvm-iscsi container');
  return c;
}
function flag(c: Container, name: string): string | undefined {
  const a = (c.args ?? []).find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}
const WORKLOADS = [
  { kind: 'Deployment', name: 'csi-lvm-iscsi-controller', mode: 'controller' },
  { kind: 'DaemonSet', name: 'csi-lvm-iscsi-agent', mode: 'agent' },
  { kind: 'DaemonSet', name: 'csi-lvm-iscsi-node', mode: 'node' },
] as const;

describe('deploy/ against the Kubernetes API schemas', () => {
  // Broken on purpose; checked in the same TypeScript program as the real objects (one compile).
  const controller = all.find((l) => l.obj.kind === 'Deployment')?.obj;
  const snapClass = all.find((l) => l.obj.kind === 'VolumeSnapshotClass')?.obj;
  const snapshot = all.find((l) => l.obj.kind === 'VolumeSnapshot')?.obj;
  const mutate = (o: K8sObject | undefined, f: (c: any) => void): K8sObject => {
    const c = structuredClone(o) as any;
    f(c);
    return c as K8sObject;
  };
  const negatives: Labelled[] = [
    {
      label: 'typo imagePullPolicyy',
      obj: mutate(controller, (c) => (c.spec.template.spec.containers[0].imagePullPolicyy = 'IfNotPresent')),
    },
    {
      label: 'typo in a volume mount',
      obj: mutate(controller, (c) => (c.spec.template.spec.containers[0].volumeMounts[0].mountpath = '/x')),
    },
    { label: 'typo deletionPolicyy', obj: mutate(snapClass, (c) => (c.deletionPolicyy = 'Delete')) },
    { label: 'typo metadata.lables on a CRD object', obj: mutate(snapshot, (c) => (c.metadata.lables = { a: 'b' })) },
  ];
  let typed: Map<string, string[]>;
  beforeAll(() => {
    typed = typeCheckObjects([...all, ...negatives]);
  });

  it('reads every YAML file under deploy/ and finds the expected kinds', () => {
    expect(ALL_FILES.length).toBeGreaterThanOrEqual(10);
    const kinds = new Set(all.map((l) => l.obj.kind));
    for (const k of [
      'Namespace',
      'CSIDriver',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'Deployment',
      'DaemonSet',
      'StorageClass',
      'VolumeSnapshotClass',
      'Secret',
      'PersistentVolumeClaim',
      'Pod',
      'VolumeSnapshot',
    ]) {
      expect(kinds, k).toContain(k);
    }
  });

  it('every object passes the API schema validators (required fields, types, enums)', async () => {
    expect(await validateWithModels(all)).toEqual([]);
  });

  it('no object has a field the API does not know (TypeScript excess-property check of the API types)', () => {
    const problems = all.flatMap((l) => (typed.get(l.label) ?? []).map((m) => `${l.label}: ${m}`));
    expect([...(typed.get('typescript') ?? []), ...problems]).toEqual([]);
  });

  it('snapshot objects pass the snapshot.storage.k8s.io CRD schemas', () => {
    expect(all.filter((l) => l.obj.apiVersion.startsWith('snapshot.storage.k8s.io')).length).toBeGreaterThanOrEqual(2);
    expect(validateSnapshotObjects(all)).toEqual([]);
  });

  it('rejects misspelled fields at any depth, and bad enum values', async () => {
    expect(typed.get('typo imagePullPolicyy')?.join('\n')).toMatch(
      /imagePullPolicyy.*does not exist in type 'IContainer'/,
    );
    expect(typed.get('typo in a volume mount')?.join('\n')).toMatch(/mountpath/);
    expect(typed.get('typo metadata.lables on a CRD object')?.join('\n')).toMatch(/lables/);
    expect(validateSnapshotObjects(negatives).join('\n')).toMatch(
      /typo deletionPolicyy.*additionalProperty.*deletionPolicyy/,
    );
    const badEnum = mutate(controller, (c) => (c.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes'));
    expect((await validateWithModels([{ label: 'bad enum', obj: badEnum }])).join('\n')).toMatch(
      /imagePullPolicy must be equal to one of the allowed values/,
    );
    const noSource = mutate(snapshot, (c) => (c.spec.source = {}));
    expect(validateSnapshotObjects([{ label: 'no source', obj: noSource }]).join('\n')).toMatch(/no source.*oneOf/);
    const unknownKind = { apiVersion: 'v1', kind: 'Podd', metadata: { name: 'x' } } as K8sObject;
    expect((await validateWithModels([{ label: 'unknown kind', obj: unknownKind }])).join('\n')).toMatch(
      /not a Kubernetes 1\.27 built-in kind/,
    );
  });
});

describe('deploy/kustomization.yaml', () => {
  it('lists every manifest of the driver, and no example', () => {
    expect(Object.keys(kustomization).sort()).toEqual(['apiVersion', 'kind', 'resources']);
    expect(kustomization['kind']).toBe('Kustomization');
    const topLevel = ALL_FILES.filter((f) => !f.includes(join('deploy', 'examples')) && !f.endsWith('.example.yaml'));
    expect([...RESOURCES].sort()).toEqual(topLevel);
  });

  it('installs each object once, namespaced ones in the driver namespace', () => {
    const keys = installed.map((o) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
    expect(new Set(keys).size).toBe(keys.length);
    const clusterScoped = new Set([
      'Namespace',
      'CSIDriver',
      'ClusterRole',
      'ClusterRoleBinding',
      'StorageClass',
      'VolumeSnapshotClass',
    ]);
    for (const o of installed) {
      expect(o.metadata?.namespace, `${o.kind} ${o.metadata?.name}`).toBe(
        clusterScoped.has(o.kind) ? undefined : NAMESPACE,
      );
      expect(o.metadata?.labels?.['app.kubernetes.io/name'], `${o.kind} ${o.metadata?.name}`).toBe('csi-lvm-iscsi');
    }
    expect(find('Namespace', NAMESPACE)).toBeDefined();
  });
});

describe('deploy/ and the program it runs', () => {
  it('names the driver as src/config.ts does, everywhere', () => {
    expect(DRIVER_NAME).toBe('lvm-iscsi.csi.example.org');
    const drv = find('CSIDriver', DRIVER_NAME) as unknown as { spec: Record<string, unknown> };
    expect(drv.spec).toEqual({
      attachRequired: true,
      podInfoOnMount: false,
      fsGroupPolicy: 'File',
      storageCapacity: true,
      volumeLifecycleModes: ['Persistent'],
    });
    for (const sc of installed.filter((o) => o.kind === 'StorageClass')) expect(sc['provisioner']).toBe(DRIVER_NAME);
    for (const o of all.filter((l) => l.obj.kind === 'VolumeSnapshotClass')) expect(o.obj['driver']).toBe(DRIVER_NAME);
    const node = podOf('DaemonSet', 'csi-lvm-iscsi-node').spec;
    const registrar = node.containers.find((c) => c.name === 'node-driver-registrar');
    const pluginDir = node.volumes?.find((v) => v.name === 'plugin-dir')?.hostPath?.path;
    expect(pluginDir).toBe(`/var/lib/kubelet/plugins/${DRIVER_NAME}`);
    expect(registrar?.args).toContain(`--kubelet-registration-path=${pluginDir}/csi.sock`);
    for (const w of WORKLOADS)
      expect(flag(plugin(podOf(w.kind, w.name).spec), 'driver-name') ?? DRIVER_NAME).toBe(DRIVER_NAME);
  });

  it.each(WORKLOADS)(
    '$name: the plugin accepts its arguments (src/config.ts) in $mode mode',
    ({ kind, name, mode }) => {
      const c = plugin(podOf(kind, name).spec);
      const envNames = new Set((c.env ?? []).map((e) => e.name));
      const sample: Record<string, string> = { NODE_NAME: 'worker-1', POD_NAMESPACE: NAMESPACE, NODE_IP: '10.0.0.7' };
      const argv = (c.args ?? []).map((a) =>
        a.replace(/\$\(([A-Z_]+)\)/g, (_, v: string) => {
          expect(envNames, `${name}: $(${v}) has no env entry`).toContain(v);
          return sample[v] ?? 'x';
        }),
      );
      const r = loadConfig({ argv, env: {}, readFile: () => '{}' });
      if (r.help) throw new Error('help');
      expect(r.config.mode).toBe(mode);
      expect(r.config.nodeName).toBe('worker-1');
    },
  );

  it('controller: kubernetes discovery of agents over mutual TLS, in its own namespace', () => {
    const c = plugin(podOf('Deployment', 'csi-lvm-iscsi-controller').spec);
    expect(flag(c, 'agent-discovery')).toBe('kubernetes');
    expect(flag(c, 'namespace')).toBe('$(POD_NAMESPACE)');
    const ns = c.env?.find((e) => e.name === 'POD_NAMESPACE');
    expect(ns?.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    const agent = plugin(podOf('DaemonSet', 'csi-lvm-iscsi-agent').spec);
    expect(flag(c, 'agent-port')).toBe(flag(agent, 'agent-listen')?.split(':')[1]);
  });

  it('controller and agent each mount their own TLS Secret where --agent-tls-dir points', () => {
    const secrets: Record<string, string> = {
      controller: 'csi-lvm-iscsi-controller-tls',
      agent: 'csi-lvm-iscsi-agent-tls',
    };
    for (const w of WORKLOADS.filter((x) => x.mode !== 'node')) {
      const { spec } = podOf(w.kind, w.name);
      const c = plugin(spec);
      const dir = flag(c, 'agent-tls-dir');
      expect(dir).toBe('/etc/csi-lvm-iscsi/tls');
      const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
      expect(mount?.readOnly).toBe(true);
      expect(spec.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName, w.name).toBe(secrets[w.mode]);
    }
    // The README's certificate recipe names the DNS SANs each side checks.
    const readme = readFileSync(resolve(ROOT, 'deploy/README.md'), 'utf8');
    expect(readme).toContain(`dnsNames: [${AGENT_TLS_NAME}]`);
    expect(readme).toContain(`dnsNames: [${CONTROLLER_TLS_NAME}]`);
  });

  it('agent pods carry the labels the controller selects them by, and run on labelled storage nodes', () => {
    const selector = OPTIONS.find((o) => o.name === 'agent-selector')?.default ?? '';
    const { spec, labels } = podOf('DaemonSet', 'csi-lvm-iscsi-agent');
    for (const term of selector.split(',')) {
      const [k, v] = term.split('=');
      expect(labels[k ?? ''], term).toBe(v);
    }
    expect(spec.nodeSelector).toEqual({ [STORAGE_NODE_LABEL]: 'true' });
    expect(readFileSync(resolve(ROOT, 'deploy/README.md'), 'utf8')).toContain(STORAGE_NODE_LABEL);
  });

  it('agent: privileged, host network, the host paths LVM and LIO need, LVM without udev', () => {
    const { spec } = podOf('DaemonSet', 'csi-lvm-iscsi-agent');
    const c = plugin(spec);
    expect(spec.hostNetwork).toBe(true);
    expect(c.securityContext?.privileged).toBe(true);
    expect(flag(c, 'lvm-udev-sync')).toBe('false');
    expect(flag(c, 'mode')).toBe('agent');
    const hostMounts = mountsToHost(spec, c);
    for (const p of ['/dev', '/sys', '/sys/kernel/config', '/run/lvm', '/run/lock/lvm', '/etc/lvm'])
      expect(hostMounts.get(p), p).toEqual({ readOnly: false, at: p });
    expect(hostMounts.get('/lib/modules')).toEqual({ readOnly: true, at: '/lib/modules' });
    const probe = (c as unknown as { readinessProbe: { httpGet: { path: string; port: string } } }).readinessProbe
      .httpGet;
    expect(probe.path).toBe('/readyz');
    expect(flag(c, 'metrics-address')?.split(':')[1]).toBe(
      String(c.ports?.find((p) => p.name === probe.port)?.containerPort),
    );
  });

  it('node: privileged, host network (iscsid), kubelet dir with Bidirectional propagation, the host iSCSI state', () => {
    const { spec } = podOf('DaemonSet', 'csi-lvm-iscsi-node');
    const c = plugin(spec);
    expect(spec.hostNetwork).toBe(true);
    expect(c.securityContext?.privileged).toBe(true);
    expect(c.volumeMounts?.find((m) => m.mountPath === '/var/lib/kubelet')?.mountPropagation).toBe('Bidirectional');
    // node paths only where kubelet puts them, below the kubelet directory it mounts
    expect(flag(c, 'kubelet-dir')).toBe('/var/lib/kubelet');
    expect(flag(c, 'restrict-paths-to-kubelet-dir')).toBe('true');
    // this node's per-node CHAP key: a root-only file the operator installs on the host, mounted read-only
    expect(flag(c, 'chap-node-key-file')).toBe('/etc/csi-lvm-iscsi/chap-node-key.json');
    expect(c.volumeMounts?.find((m) => m.name === 'chap-node-key')).toEqual({
      name: 'chap-node-key',
      mountPath: '/etc/csi-lvm-iscsi',
      readOnly: true,
    });
    expect(spec.volumes?.find((v) => v.name === 'chap-node-key')?.hostPath).toEqual({
      path: '/etc/csi-lvm-iscsi',
      type: 'DirectoryOrCreate',
    });
    const hostMounts = mountsToHost(spec, c);
    for (const p of [
      '/var/lib/kubelet',
      '/dev',
      '/sys',
      '/etc/iscsi',
      '/var/lib/iscsi',
      '/run/lock/iscsi',
      '/etc/multipath',
      '/etc/multipath.conf',
      '/run/udev',
      '/lib/modules',
    ]) {
      expect(hostMounts.get(p)?.at, p).toBe(p);
    }
    expect(spec.containers.map((x) => x.name).sort()).toEqual([
      'csi-lvm-iscsi',
      'liveness-probe',
      'node-driver-registrar',
    ]);
  });

  it('node-driver-registrar waits longer than its 1 s default for the plugin (a busy node misses 1 s at start)', () => {
    const reg = podOf('DaemonSet', 'csi-lvm-iscsi-node').spec.containers.find(
      (x) => x.name === 'node-driver-registrar',
    );
    const timeout = flag(reg as Container, 'timeout');
    expect(timeout, 'node-driver-registrar --timeout').toMatch(/^\d+s$/);
    expect(Number(timeout?.slice(0, -1))).toBeGreaterThanOrEqual(10);
  });

  it('the resizer may read VolumeAttributesClasses, as external-resizer v1.13.1 needs once that feature is on', () => {
    const role = find('ClusterRole', 'csi-lvm-iscsi-resizer') as unknown as {
      rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
    };
    const rule = role.rules.find(
      (r) => r.apiGroups.includes('storage.k8s.io') && r.resources.includes('volumeattributesclasses'),
    );
    expect(rule?.verbs.sort()).toEqual(['get', 'list', 'watch']);
  });

  it('controller: one replica, replaced with Recreate so two controllers never act at once', () => {
    const d = find('Deployment', 'csi-lvm-iscsi-controller') as unknown as {
      spec: { replicas: number; strategy?: { type?: string } };
    };
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy?.type).toBe('Recreate');
  });

  it('controller: the sidecars, with leader election, and no privileges', () => {
    const { spec } = podOf('Deployment', 'csi-lvm-iscsi-controller');
    const names = spec.containers.map((c) => c.name);
    expect(names).toEqual([
      'csi-lvm-iscsi',
      'csi-provisioner',
      'csi-attacher',
      'csi-snapshotter',
      'csi-resizer',
      'csi-external-health-monitor-controller',
      'liveness-probe',
    ]);
    for (const c of spec.containers.filter((x) => x.name !== 'csi-lvm-iscsi' && x.name !== 'liveness-probe'))
      expect(c.args, c.name).toContain('--leader-election');
    expect(spec.containers.find((c) => c.name === 'csi-provisioner')?.args).toContain('--extra-create-metadata');
    expect(spec.hostNetwork).toBeUndefined();
    for (const c of spec.containers) expect(c.securityContext?.privileged, c.name).toBeUndefined();
  });

  it('pins every image: sidecars to released tags, the plugin to the package version', () => {
    const version = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const w of WORKLOADS) {
      for (const c of podOf(w.kind, w.name).spec.containers) {
        if (c.name === 'csi-lvm-iscsi') expect(c.image).toBe(`csi-lvm-iscsi:${version}`);
        else expect(c.image, c.name).toMatch(/^registry\.k8s\.io\/sig-storage\/[a-z-]+:v\d+\.\d+\.\d+$/);
      }
    }
  });

  it('wires volumes: every mount has its volume, every volume is mounted; host-network ports do not collide', () => {
    const hostPorts: number[] = [];
    for (const w of WORKLOADS) {
      const { spec } = podOf(w.kind, w.name);
      const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
      const used = new Set(spec.containers.flatMap((c) => (c.volumeMounts ?? []).map((m) => m.name)));
      expect(
        [...used].filter((n) => !volumes.has(n)),
        w.name,
      ).toEqual([]);
      expect(
        [...volumes].filter((n) => !used.has(n)),
        w.name,
      ).toEqual([]);
      // Every port a container listens on (by flag) is declared, so the check below sees it.
      const declared = new Set(spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)));
      for (const c of spec.containers) {
        for (const a of c.args ?? []) {
          const m = /^--(?:health-port=|metrics-address=[^:]*:|agent-listen=[^:]*:)(\d+)$/.exec(a);
          if (m) expect(declared, `${w.name} ${c.name} ${a}`).toContain(Number(m[1]));
        }
      }
      if (spec.hostNetwork) hostPorts.push(...declared);
    }
    // Agent and node pods can share a node: their host ports must differ.
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('RBAC: every binding names an existing role and ServiceAccount; pods without API use mount no token', () => {
    const roles = new Set(
      installed
        .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
        .map((o) => `${o.kind}/${o.metadata?.name}`),
    );
    const accounts = new Set(installed.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata?.name));
    for (const b of installed.filter((o) => o.kind.endsWith('Binding'))) {
      const ref = b['roleRef'] as { kind: string; name: string };
      expect(roles, `${b.metadata?.name}`).toContain(`${ref.kind}/${ref.name}`);
      for (const s of b['subjects'] as Array<{ kind: string; name: string; namespace: string }>) {
        expect(s.kind).toBe('ServiceAccount');
        expect(accounts).toContain(s.name);
        expect(s.namespace).toBe(NAMESPACE);
      }
    }
    for (const w of WORKLOADS) {
      const { spec } = podOf(w.kind, w.name);
      expect(accounts).toContain(spec.serviceAccountName);
      if (w.mode !== 'controller') expect(spec.automountServiceAccountToken, w.name).toBe(false);
    }
    const bound = new Set(
      installed
        .filter((o) => o.kind.endsWith('Binding'))
        .flatMap((b) => (b['subjects'] as Array<{ name: string }>).map((s) => s.name)),
    );
    expect([...bound]).toEqual(['csi-lvm-iscsi-controller']);
  });

  it('RBAC: the plugin itself has no cluster-wide role; it may get/list pods and use Leases in its namespace, and read only the CHAP Secret', () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
    // agent discovery lists pods in the namespace only (src/agent/discovery.ts)
    expect(
      installed.filter((o) => o.kind === 'ClusterRole' && o.metadata?.name === 'csi-lvm-iscsi-controller'),
    ).toEqual([]);
    const role = find('Role', 'csi-lvm-iscsi-controller')['rules'] as Rule[];
    expect(role.find((r) => r.resources.includes('pods'))?.verbs).toEqual(['get', 'list']);
    expect(role.find((r) => r.resources.includes('leases'))?.apiGroups).toEqual(['coordination.k8s.io']);
    const secrets = role.find((r) => r.resources.includes('secrets'));
    expect(secrets).toEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['csi-lvm-iscsi-chap'],
      verbs: ['get'],
    });
    const clusterRules = installed.filter((o) => o.kind === 'ClusterRole').flatMap((o) => o['rules'] as Rule[]);
    expect(clusterRules.filter((r) => r.resources.includes('secrets'))).toEqual([]);
    expect(clusterRules.filter((r) => r.verbs.includes('*') || r.resources.includes('*'))).toEqual([]);
  });

  it('StorageClasses: parameters src/agent/params.ts accepts, CHAP Secret on both sides, expansion allowed', () => {
    const classes = installed.filter((o) => o.kind === 'StorageClass');
    expect(classes.map((o) => o.metadata?.name)).toEqual([
      'csi-lvm-iscsi-thin',
      'csi-lvm-iscsi-thick',
      'csi-lvm-iscsi-mirrored',
      'csi-lvm-iscsi-local',
    ]);
    const agentVgs = flag(plugin(podOf('DaemonSet', 'csi-lvm-iscsi-agent').spec), 'volume-group')?.split(',') ?? [];
    const parsed = classes.map((sc) => {
      const params = sc['parameters'] as Record<string, string>;
      expect(sc['allowVolumeExpansion']).toBe(true);
      for (const side of ['controller-publish', 'node-stage']) {
        expect(params[`csi.storage.k8s.io/${side}-secret-name`]).toBe('csi-lvm-iscsi-chap');
        expect(params[`csi.storage.k8s.io/${side}-secret-namespace`]).toBe(NAMESPACE);
      }
      const own = Object.fromEntries(Object.entries(params).filter(([k]) => !k.startsWith('csi.storage.k8s.io/')));
      return parseVolumeParams(own, { volumeGroups: agentVgs, thinPoolConfigured: () => true });
    });
    expect(parsed.map((p) => [p.lvmType, p.mirrors, p.localAttach])).toEqual([
      ['thin', 0, false],
      ['thick', 0, false],
      ['thick', 1, false],
      ['thin', 0, true],
    ]);
    // A misspelled parameter is refused by the same parser.
    expect(() =>
      parseVolumeParams({ lvmTyp: 'thin' }, { volumeGroups: agentVgs, thinPoolConfigured: () => true }),
    ).toThrow(/lvmTyp/);
    for (const vsc of installed.filter((o) => o.kind === 'VolumeSnapshotClass'))
      parseSnapshotParams(vsc['parameters'] as Record<string, string>);
  });

  it('the example CHAP Secret has the keys src/agent/chap.ts reads, placeholders, and is not installed', () => {
    const [secret] = loadObjects('deploy/chap-secret.example.yaml');
    const data = secret?.obj['stringData'] as Record<string, string>;
    expect(secret?.obj.metadata?.name).toBe('csi-lvm-iscsi-chap');
    expect(Object.keys(data).every((k) => (Object.values(CHAP_KEYS) as string[]).includes(k))).toBe(true);
    expect(Object.values(data).every((v) => v.startsWith('REPLACE-ME'))).toBe(true);
    expect(chapFromSecrets(data, 'vol-1', 'secrets')?.userid).toMatch(/^REPLACE-ME-initiator\./);
    expect(installed.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('examples: a PVC, a pod, a snapshot, a restore and an expansion of the same claim, on classes deploy/ makes', () => {
    const ex = ALL_FILES.filter((f) => f.includes(join('deploy', 'examples'))).flatMap((f) => loadObjects(f));
    const byFile = (f: string) => ex.filter((l) => l.label.startsWith(`deploy/examples/${f}`)).map((l) => l.obj as any);
    const [pvc] = byFile('pvc.yaml');
    const [expand] = byFile('expand-pvc.yaml');
    const [snap] = byFile('snapshot.yaml');
    const [restore] = byFile('restore-pvc.yaml');
    const [pod] = byFile('pod.yaml');
    expect(expand.metadata.name).toBe(pvc.metadata.name);
    expect(parseInt(expand.spec.resources.requests.storage)).toBeGreaterThan(
      parseInt(pvc.spec.resources.requests.storage),
    );
    expect(snap.spec.source.persistentVolumeClaimName).toBe(pvc.metadata.name);
    expect(restore.spec.dataSource).toEqual({
      apiGroup: 'snapshot.storage.k8s.io',
      kind: 'VolumeSnapshot',
      name: snap.metadata.name,
    });
    expect(pod.spec.volumes[0].persistentVolumeClaim.claimName).toBe(pvc.metadata.name);
    const classes = new Set(installed.filter((o) => o.kind === 'StorageClass').map((o) => o.metadata?.name));
    for (const c of [pvc, expand, restore]) expect(classes).toContain(c.spec.storageClassName);
    expect(installed.map((o) => o.metadata?.name)).toContain(snap.spec.volumeSnapshotClassName);
    const readme = readFileSync(resolve(ROOT, 'deploy/examples/README.md'), 'utf8');
    for (const f of ['pvc.yaml', 'pod.yaml', 'snapshot.yaml', 'restore-pvc.yaml', 'expand-pvc.yaml'])
      expect(readme).toContain(`deploy/examples/${f}`);
  });
});

/** host path -> where the container sees it and whether read-only. */
function mountsToHost(spec: PodSpec, c: Container): Map<string, { readOnly: boolean; at: string }> {
  const out = new Map<string, { readOnly: boolean; at: string }>();
  for (const m of c.volumeMounts ?? []) {
    const hp = spec.volumes?.find((v) => v.name === m.name)?.hostPath?.path;
    if (hp) out.set(hp, { readOnly: m.readOnly === true, at: m.mountPath });
  }
  return out;
}

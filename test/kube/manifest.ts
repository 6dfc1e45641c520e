/**
 * deploy/ read the way the Kubernetes tier runs it: the objects of deploy/kustomization.yaml,
 * the sidecars' args from the controller Deployment and the node DaemonSet, translated for a
 * process outside a pod, and the RBAC those objects grant to a ServiceAccount.
 *
 * Nothing here copies a flag: every arg comes from the manifests. The translation is only what a
 * pod would have given the container: `$(VAR)` from the container's env (fieldRef spec.nodeName,
 * metadata.namespace), a path under a volumeMount mapped to the volume's host directory (hostPath)
 * or to a directory the caller chooses (emptyDir), `--kubeconfig` in place of the in-cluster
 * token, `--leader-election-namespace` = the pod's namespace (what a sidecar reads from its
 * mounted service-account namespace file in a pod), `--capacity-ownerref-level=-1` (no owner: the
 * owner is found by walking up from the Pod named in POD_NAME, and a process has no Pod; the
 * external-provisioner README allows deployments outside the cluster only without an owner), and
 * the container's env for the process (value, fieldRef spec.nodeName, metadata.namespace,
 * metadata.name).
 *
 * Anything the tier relies on and cannot find (a workload, a container, its --csi-address, a
 * mount for a path) throws: a renamed container or a dropped flag fails the tier loudly.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../..');

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Mount {
  name: string;
  mountPath: string;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  volumeMounts?: Mount[];
}
interface Volume {
  name: string;
  hostPath?: { path: string };
  emptyDir?: object;
  secret?: object;
}
export interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
  volumes?: Volume[];
}
export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Every document of a YAML stream (YAML 1.1, as sigs.k8s.io/yaml reads it); comment-only documents skipped. */
export function parseDocs(text: string, where: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true, strict: true })) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const o = doc.toJS() as Obj | null;
    if (o === null) continue;
    if (typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string')
      throw new Error(`${where}: an object without kind or metadata.name`);
    out.push(o);
  }
  return out;
}

/** The objects `kubectl apply -k DIR` makes (resources listed in kustomization.yaml, in order). */
export function loadKustomization(dir = join(ROOT, 'deploy')): Obj[] {
  const kust = parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as
    { resources?: string[] } | undefined;
  if (!kust?.resources?.length) throw new Error(`${dir}/kustomization.yaml lists no resources`);
  return kust.resources.flatMap((r) => parseDocs(readFileSync(join(dir, r), 'utf8'), r));
}

export function find(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`deploy/: no ${kind} ${name}`);
  return o;
}

function podSpec(w: Obj): PodSpec {
  const spec = (w['spec'] as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
  if (!spec?.containers) throw new Error(`${w.kind} ${w.metadata.name}: no pod template`);
  return spec;
}

export interface SidecarCommand {
  workload: string;
  container: string;
  image: string;
  serviceAccount: string;
  namespace: string;
  /** args as in the manifest */
  manifestArgs: string[];
  /** args for a process on the node (translated, see the file comment), then the caller's extraFlags */
  args: string[];
  /** the caller's extraFlags that were added (those the manifest does not set itself) */
  extraArgs: string[];
  /** the container's env for the process */
  env: Record<string, string>;
}

export interface TranslateOptions {
  nodeName: string;
  /** What a fieldRef status.hostIP gives (the node's address; the agent's portal) */
  hostIP?: string;
  /** secret volume name -> host directory holding the Secret's keys as files */
  secretDirs?: Record<string, string>;
  /**
   * Values the manifest asks the operator to replace with the site's own (deploy/agent.yaml:
   * "Replace with this site's volume groups"): each replaces the value of a flag the manifest
   * sets, and throws when it sets no such flag.
   */
  siteFlags?: string[];
  /** emptyDir volume name -> host directory */
  emptyDirs?: Record<string, string>;
  /** kubeconfig file with the ServiceAccount's token; omitted for containers that call no API */
  kubeconfig?: string;
  /** the Pod name a fieldRef metadata.name gives (default WORKLOAD-0) */
  podName?: string;
  /**
   * Flags of the caller's own (timing of a test cluster): each is added only when the manifest
   * does not set that flag, so deploy/'s args always win.
   */
  extraFlags?: string[];
}

/**
 * The args of `container` in the Deployment/DaemonSet `workload`, for a process outside the pod.
 * Throws when the workload or the container is missing, when it has no --csi-address, or when a
 * path arg lies under no volumeMount that maps to a host directory.
 */
export function sidecar(objs: Obj[], workload: string, container: string, opts: TranslateOptions): SidecarCommand {
  const cmd = containerCommand(objs, workload, container, opts);
  if (!cmd.manifestArgs.some((a) => a.startsWith('--csi-address=')))
    throw new Error(`${workload}/${container}: no --csi-address=... in its args`);
  return cmd;
}

/**
 * The args of the plugin's own container (csi-lvm-iscsi) in `workload`, for a process outside
 * the pod: as sidecar() translates them, `--endpoint=unix://PATH` mapped like any path. Throws
 * when the container has no --mode or --endpoint.
 */
export function pluginCommand(
  objs: Obj[],
  workload: string,
  container: string,
  opts: TranslateOptions,
): SidecarCommand {
  const cmd = containerCommand(objs, workload, container, opts);
  for (const f of ['--mode=', '--endpoint=unix://'])
    if (!cmd.manifestArgs.some((a) => a.startsWith(f)))
      throw new Error(`${workload}/${container}: no ${f}... in its args`);
  return cmd;
}

/** The pod template of a Deployment/DaemonSet of deploy/ (metadata and spec as written). */
export function podTemplate(
  objs: Obj[],
  workload: string,
): { metadata: { labels?: Record<string, string> }; spec: PodSpec & Record<string, unknown> } {
  const w = objs.find((o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === workload);
  if (!w) throw new Error(`deploy/: no Deployment or DaemonSet ${workload}`);
  podSpec(w);
  return (
    w['spec'] as {
      template: { metadata: { labels?: Record<string, string> }; spec: PodSpec & Record<string, unknown> };
    }
  ).template;
}

function containerCommand(objs: Obj[], workload: string, container: string, opts: TranslateOptions): SidecarCommand {
  const w = objs.find((o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === workload);
  if (!w) throw new Error(`deploy/: no Deployment or DaemonSet ${workload}`);
  const spec = podSpec(w);
  const c = spec.containers.find((x) => x.name === container);
  if (!c)
    throw new Error(`${workload}: no container ${container} (has ${spec.containers.map((x) => x.name).join(', ')})`);
  const namespace = w.metadata.namespace ?? 'default';
  const manifestArgs = c.args ?? [];
  const env = (name: string): string => {
    const e = (c.env ?? []).find((x) => x.name === name);
    const field = e?.valueFrom?.fieldRef?.fieldPath;
    if (e?.value !== undefined) return e.value;
    if (field === 'spec.nodeName') return opts.nodeName;
    if (field === 'metadata.namespace') return namespace;
    if (field === 'metadata.name') return opts.podName ?? `${workload}-0`;
    if (field === 'status.hostIP' && opts.hostIP) return opts.hostIP;
    throw new Error(`${workload}/${container}: $(${name}) has no value the tier can give`);
  };
  const hostDir = (m: Mount): string => {
    const v = (spec.volumes ?? []).find((x) => x.name === m.name);
    if (v?.hostPath) return v.hostPath.path;
    if (v?.emptyDir && opts.emptyDirs?.[v.name]) return opts.emptyDirs[v.name] as string;
    if (v?.secret && opts.secretDirs?.[v.name]) return opts.secretDirs[v.name] as string;
    throw new Error(`${workload}/${container}: volume ${m.name} (mounted at ${m.mountPath}) has no host directory`);
  };
  const mapPath = (value: string): string => {
    if (!value.startsWith('/')) return value;
    const m = [...(c.volumeMounts ?? [])]
      .sort((a, b) => b.mountPath.length - a.mountPath.length)
      .find((x) => value === x.mountPath || value.startsWith(`${x.mountPath}/`));
    if (!m) return value; // a host path already (e.g. --kubelet-registration-path names kubelet's view)
    return hostDir(m) + value.slice(m.mountPath.length);
  };
  const args = manifestArgs.map((a) => {
    const expanded = a.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (_, n: string) => env(n));
    const eq = expanded.indexOf('=');
    if (!expanded.startsWith('--') || eq < 0) return expanded;
    const flag = expanded.slice(0, eq);
    const value = expanded.slice(eq + 1);
    if (flag === '--kubelet-registration-path') return expanded;
    if (value.startsWith('unix://')) return `${flag}=unix://${mapPath(value.slice('unix://'.length))}`;
    return `${flag}=${mapPath(value)}`;
  });
  for (const f of opts.siteFlags ?? []) {
    const i = args.findIndex((a) => a.replace(/=.*$/, '') === f.replace(/=.*$/, ''));
    if (i < 0) throw new Error(`${workload}/${container}: sets no ${f.replace(/=.*$/, '')} for the site's value`);
    args[i] = f;
  }
  // the registrar's fixed in-pod directory for kubelet's plugin registry
  if (container === 'node-driver-registrar') {
    const reg = (c.volumeMounts ?? []).find((m) => m.mountPath === '/registration');
    if (!reg) throw new Error(`${workload}/${container}: no volumeMount at /registration (kubelet's plugins_registry)`);
    args.push(`--plugin-registration-path=${hostDir(reg)}`);
  }
  if (opts.kubeconfig) args.push(`--kubeconfig=${opts.kubeconfig}`);
  if (manifestArgs.includes('--leader-election')) args.push(`--leader-election-namespace=${namespace}`);
  const owner = args.findIndex((a) => a.startsWith('--capacity-ownerref-level='));
  if (owner >= 0) args[owner] = '--capacity-ownerref-level=-1';
  const flagName = (a: string) => a.replace(/=.*$/, '');
  const extraArgs = (opts.extraFlags ?? []).filter((f) => !args.some((a) => flagName(a) === flagName(f)));
  return {
    workload,
    container,
    image: c.image,
    serviceAccount: spec.serviceAccountName ?? 'default',
    namespace,
    manifestArgs,
    args: [...args, ...extraArgs],
    extraArgs,
    env: Object.fromEntries((c.env ?? []).map((e) => [e.name, env(e.name)])),
  };
}

/** The host directory of a DaemonSet/Deployment volume (hostPath). */
export function hostPathOf(objs: Obj[], workload: string, volume: string): string {
  const w = objs.find((o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === workload);
  if (!w) throw new Error(`deploy/: no workload ${workload}`);
  const v = (podSpec(w).volumes ?? []).find((x) => x.name === volume);
  if (!v?.hostPath) throw new Error(`${workload}: no hostPath volume ${volume}`);
  return v.hostPath.path;
}

export interface Access {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/** The rules deploy/ grants the ServiceAccount `ns/sa` (ClusterRoles through ClusterRoleBindings, Roles through RoleBindings in their namespace). */
function rulesFor(objs: Obj[], ns: string, sa: string): { rule: Rule; namespace?: string; from: string }[] {
  const out: { rule: Rule; namespace?: string; from: string }[] = [];
  for (const b of objs.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const subjects = (b['subjects'] as { kind: string; name: string; namespace?: string }[] | undefined) ?? [];
    if (
      !subjects.some(
        (s) => s.kind === 'ServiceAccount' && s.name === sa && (s.namespace ?? b.metadata.namespace) === ns,
      )
    )
      continue;
    const ref = b['roleRef'] as { kind: string; name: string };
    const role = objs.find(
      (o) =>
        o.kind === ref.kind &&
        o.metadata.name === ref.name &&
        (ref.kind === 'ClusterRole' || o.metadata.namespace === b.metadata.namespace),
    );
    if (!role) continue;
    for (const rule of (role['rules'] as Rule[] | undefined) ?? [])
      out.push({
        rule,
        ...(b.kind === 'RoleBinding' ? { namespace: b.metadata.namespace } : {}),
        from: `${role.kind}/${role.metadata.name}`,
      });
  }
  return out;
}

export function allows(objs: Obj[], ns: string, sa: string, a: Access): boolean {
  return rulesFor(objs, ns, sa).some(({ rule, namespace }) => {
    if (namespace !== undefined && namespace !== a.namespace) return false;
    const has = (list: string[] | undefined, v: string) => (list ?? []).includes(v) || (list ?? []).includes('*');
    if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.group) || !has(rule.resources, a.resource)) return false;
    return !rule.resourceNames?.length || (a.name !== undefined && rule.resourceNames.includes(a.name));
  });
}

/**
 * Calls each sidecar makes in the flows the tier runs, as their upstream rbac.yaml grants them
 * (external-provisioner v5.2.0, -attacher v4.8.0, -snapshotter v8.2.0, -resizer v1.13.1).
 * The tier itself proves them with the real binaries; this table lets a unit test name a missing
 * rule without a cluster.
 */
function neededAccess(ns: string): Record<string, Access[]> {
  const lease = (verb: string): Access => ({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: ns });
  return {
    'csi-provisioner': [
      ...['get', 'list', 'watch', 'create', 'delete'].map((verb) => ({
        verb,
        group: '',
        resource: 'persistentvolumes',
      })),
      ...['get', 'list', 'watch', 'update'].map((verb) => ({ verb, group: '', resource: 'persistentvolumeclaims' })),
      { verb: 'list', group: 'storage.k8s.io', resource: 'storageclasses' },
      { verb: 'create', group: '', resource: 'events' },
      { verb: 'get', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshots' },
      { verb: 'get', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents' },
      { verb: 'list', group: 'storage.k8s.io', resource: 'csinodes' },
      { verb: 'list', group: '', resource: 'nodes' },
      { verb: 'list', group: 'storage.k8s.io', resource: 'volumeattachments' },
      // --enable-capacity: its objects in its namespace, the owner found from its Pod via the ReplicaSet
      ...['get', 'list', 'watch', 'create', 'update', 'delete'].map((verb) => ({
        verb,
        group: 'storage.k8s.io',
        resource: 'csistoragecapacities',
        namespace: ns,
      })),
      { verb: 'get', group: '', resource: 'pods', namespace: ns },
      { verb: 'get', group: 'apps', resource: 'replicasets', namespace: ns },
      lease('get'),
      lease('create'),
      lease('update'),
    ],
    'csi-attacher': [
      { verb: 'patch', group: '', resource: 'persistentvolumes' },
      { verb: 'list', group: 'storage.k8s.io', resource: 'csinodes' },
      { verb: 'patch', group: 'storage.k8s.io', resource: 'volumeattachments' },
      { verb: 'patch', group: 'storage.k8s.io', resource: 'volumeattachments/status' },
      { verb: 'get', group: '', resource: 'secrets', namespace: ns, name: 'csi-lvm-iscsi-chap' },
      lease('get'),
      lease('create'),
      lease('update'),
    ],
    'csi-snapshotter': [
      { verb: 'list', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotclasses' },
      ...['create', 'get', 'list', 'watch', 'update', 'delete', 'patch'].map((verb) => ({
        verb,
        group: 'snapshot.storage.k8s.io',
        resource: 'volumesnapshotcontents',
      })),
      { verb: 'update', group: 'snapshot.storage.k8s.io', resource: 'volumesnapshotcontents/status' },
      { verb: 'create', group: '', resource: 'events' },
      lease('get'),
      lease('create'),
      lease('update'),
    ],
    'csi-resizer': [
      { verb: 'patch', group: '', resource: 'persistentvolumes' },
      { verb: 'watch', group: '', resource: 'persistentvolumeclaims' },
      { verb: 'patch', group: '', resource: 'persistentvolumeclaims/status' },
      { verb: 'list', group: '', resource: 'pods' },
      { verb: 'list', group: 'storage.k8s.io', resource: 'volumeattributesclasses' },
      { verb: 'create', group: '', resource: 'events' },
      lease('get'),
      lease('create'),
      lease('update'),
    ],
  };
}

/** Every access in neededAccess that deploy/ does not grant, as "sidecar: verb group/resource". */
export function missingAccess(objs: Obj[], workload: string): string[] {
  const w = find(objs, 'Deployment', workload);
  const sa = podSpec(w).serviceAccountName ?? 'default';
  const ns = w.metadata.namespace ?? 'default';
  const out: string[] = [];
  for (const [side, list] of Object.entries(neededAccess(ns))) {
    for (const a of list)
      if (!allows(objs, ns, sa, a))
        out.push(
          `${side}: ${a.verb} ${a.group || 'core'}/${a.resource}${a.namespace ? ` in ${a.namespace}` : ''}${a.name ? ` (${a.name})` : ''}`,
        );
  }
  return out;
}

/** Objects to create in the cluster: everything but the workloads (their containers run as processes). */
export const clusterObjects = (objs: Obj[]): Obj[] =>
  objs.filter((o) => o.kind !== 'Deployment' && o.kind !== 'DaemonSet');

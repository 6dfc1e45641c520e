/**
 * The Kubernetes tier's reading of deploy/ (test/kube/manifest.ts): the sidecar args it runs,
 * translated for processes on the node, and the RBAC it relies on. Deliberate mismatches (a
 * dropped flag, a renamed container, a missing RBAC rule) must fail loudly.
 */
import { describe, expect, it } from 'vitest';
import {
  allows,
  clusterObjects,
  find,
  loadKustomization,
  missingAccess,
  pluginCommand,
  podTemplate,
  sidecar,
  type Obj,
  type Rule,
} from '../../kube/manifest.js';

const objs = loadKustomization();
const SOCK_DIR = '/var/lib/kubelet/plugins/lvm-iscsi.csi.example.org';
const opts = { nodeName: 'kube-node', emptyDirs: { 'socket-dir': SOCK_DIR }, kubeconfig: '/k/sa.kubeconfig' };

describe('deploy/ as the Kubernetes tier reads it', () => {
  it('controller sidecars: manifest args, socket mapped to the host, kubeconfig and lease namespace added', () => {
    const p = sidecar(objs, 'csi-lvm-iscsi-controller', 'csi-provisioner', opts);
    expect(p.serviceAccount).toBe('csi-lvm-iscsi-controller');
    expect(p.args).toContain(`--csi-address=${SOCK_DIR}/csi.sock`);
    expect(p.args).toContain('--extra-create-metadata');
    expect(p.args).toContain('--leader-election');
    expect(p.args).toContain('--leader-election-namespace=csi-lvm-iscsi');
    expect(p.args).toContain('--kubeconfig=/k/sa.kubeconfig');
    // every manifest arg is there, in order, only the path and the capacity owner rewritten
    expect(
      p.args
        .slice(0, p.manifestArgs.length)
        .map((a) => a.replace(SOCK_DIR, '/csi').replace('--capacity-ownerref-level=-1', '--capacity-ownerref-level=2')),
    ).toEqual(p.manifestArgs);
  });

  it('csi-provisioner publishes capacity: its env for the process, no owner outside a pod', () => {
    const p = sidecar(objs, 'csi-lvm-iscsi-controller', 'csi-provisioner', opts);
    expect(p.manifestArgs).toContain('--enable-capacity');
    expect(p.manifestArgs).toContain('--capacity-ownerref-level=2');
    // the owner is found by walking up from the Pod in POD_NAME; a process has none
    expect(p.args).toContain('--capacity-ownerref-level=-1');
    expect(p.args).not.toContain('--capacity-ownerref-level=2');
    expect(p.env).toEqual({ NAMESPACE: 'csi-lvm-iscsi', POD_NAME: 'csi-lvm-iscsi-controller-0' });
  });

  it("the caller's extra flags are added only where the manifest does not set them", () => {
    const p = sidecar(objs, 'csi-lvm-iscsi-controller', 'csi-attacher', {
      ...opts,
      extraFlags: ['--timeout=5s', '--retry-interval-max=20s'],
    });
    expect(p.extraArgs).toEqual(['--retry-interval-max=20s']);
    expect(p.args).toContain('--timeout=60s');
    expect(p.args).not.toContain('--timeout=5s');
    expect(p.args.at(-1)).toBe('--retry-interval-max=20s');
  });

  it('node-driver-registrar: host socket, kubelet registration path kept, registry dir from the hostPath volume', () => {
    const r = sidecar(objs, 'csi-lvm-iscsi-node', 'node-driver-registrar', { nodeName: 'kube-node' });
    expect(r.args).toContain(`--csi-address=${SOCK_DIR}/csi.sock`);
    expect(r.args).toContain(`--kubelet-registration-path=${SOCK_DIR}/csi.sock`);
    expect(r.args).toContain('--plugin-registration-path=/var/lib/kubelet/plugins_registry');
    expect(r.args).toContain('--timeout=30s');
    expect(r.args.some((a) => a.startsWith('--kubeconfig'))).toBe(false);
  });

  it('split mode: the agent, node and controller containers of deploy/ as processes', () => {
    const agent = pluginCommand(objs, 'csi-lvm-iscsi-agent', 'csi-lvm-iscsi', {
      nodeName: 'kube-node',
      hostIP: '10.99.0.1',
      emptyDirs: { 'run-dir': '/run/kube/agent-run' },
      secretDirs: { 'agent-tls': '/run/kube/tls/agent', chap: '/run/kube/chap' },
      siteFlags: ['--volume-group=kubevg'],
    });
    expect(agent.args).toContain('--mode=agent');
    expect(agent.args).toContain('--endpoint=unix:///run/kube/agent-run/agent.sock');
    expect(agent.args).toContain('--node-id=kube-node');
    expect(agent.args).toContain('--portals=10.99.0.1:3260');
    expect(agent.args).toContain('--agent-tls-dir=/run/kube/tls/agent');
    expect(agent.args).toContain('--chap-secret-dir=/run/kube/chap');
    // the site's VG replaces deploy/'s placeholder in place; every other arg is the manifest's
    expect(agent.args).toContain('--volume-group=kubevg');
    expect(agent.args.length).toBe(agent.manifestArgs.length);
    const node = pluginCommand(objs, 'csi-lvm-iscsi-node', 'csi-lvm-iscsi', { nodeName: 'kube-node' });
    expect(node.args).toContain(`--endpoint=unix://${SOCK_DIR}/csi.sock`);
    expect(node.args).toContain('--mode=node');
    const ctl = pluginCommand(objs, 'csi-lvm-iscsi-controller', 'csi-lvm-iscsi', {
      nodeName: 'kube-node',
      emptyDirs: { 'socket-dir': '/run/kube/controller-csi' },
      secretDirs: { 'agent-tls': '/run/kube/tls/controller' },
      kubeconfig: '/k/sa.kubeconfig',
    });
    expect(ctl.args).toEqual(
      expect.arrayContaining([
        '--mode=controller',
        '--endpoint=unix:///run/kube/controller-csi/csi.sock',
        '--agent-discovery=kubernetes',
        '--agent-tls-dir=/run/kube/tls/controller',
        '--namespace=csi-lvm-iscsi',
        '--kubeconfig=/k/sa.kubeconfig',
      ]),
    );
    // what the controller's discovery selects is what the agent's pod template carries
    const sel = 'app.kubernetes.io/name=csi-lvm-iscsi,app.kubernetes.io/component=agent';
    const labels = podTemplate(objs, 'csi-lvm-iscsi-agent').metadata.labels ?? {};
    for (const kv of sel.split(',')) expect(`${kv.split('=')[0]}=${labels[kv.split('=')[0]!]}`).toBe(kv);
  });

  it('deploy/ grants the controller ServiceAccount every call the sidecars make', () => {
    expect(missingAccess(objs, 'csi-lvm-iscsi-controller')).toEqual([]);
  });

  it('only the CHAP Secret is readable, and only in the namespace', () => {
    const a = { verb: 'get', group: '', resource: 'secrets', namespace: 'csi-lvm-iscsi' };
    expect(allows(objs, 'csi-lvm-iscsi', 'csi-lvm-iscsi-controller', { ...a, name: 'csi-lvm-iscsi-chap' })).toBe(true);
    expect(allows(objs, 'csi-lvm-iscsi', 'csi-lvm-iscsi-controller', { ...a, name: 'other' })).toBe(false);
    expect(
      allows(objs, 'csi-lvm-iscsi', 'csi-lvm-iscsi-controller', {
        ...a,
        namespace: 'default',
        name: 'csi-lvm-iscsi-chap',
      }),
    ).toBe(false);
  });

  it('the objects applied are the non-workload ones', () => {
    const kinds = new Set(clusterObjects(objs).map((o) => o.kind));
    expect(kinds.has('Deployment') || kinds.has('DaemonSet')).toBe(false);
    for (const k of [
      'Namespace',
      'CSIDriver',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'StorageClass',
      'VolumeSnapshotClass',
    ])
      expect(kinds.has(k), k).toBe(true);
  });
});

describe('deliberate mismatches fail loudly', () => {
  const copy = () => structuredClone(objs);
  const containers = (o: Obj) =>
    (o['spec'] as { template: { spec: { containers: { name: string; args: string[] }[] } } }).template.spec.containers;

  it('a ClusterRole missing a rule is named', () => {
    const bad = copy();
    const role = find(bad, 'ClusterRole', 'csi-lvm-iscsi-attacher');
    role['rules'] = (role['rules'] as Rule[]).filter((r) => !r.resources?.includes('volumeattachments/status'));
    expect(missingAccess(bad, 'csi-lvm-iscsi-controller')).toEqual([
      'csi-attacher: patch storage.k8s.io/volumeattachments/status',
    ]);
  });

  it('the resizer without volumeattributesclasses is named', () => {
    const bad = copy();
    const role = find(bad, 'ClusterRole', 'csi-lvm-iscsi-resizer');
    role['rules'] = (role['rules'] as Rule[]).filter((r) => !r.resources?.includes('volumeattributesclasses'));
    expect(missingAccess(bad, 'csi-lvm-iscsi-controller')).toEqual([
      'csi-resizer: list storage.k8s.io/volumeattributesclasses',
    ]);
  });

  it('a sidecar without --csi-address throws', () => {
    const bad = copy();
    const c = containers(find(bad, 'Deployment', 'csi-lvm-iscsi-controller')).find((x) => x.name === 'csi-attacher')!;
    c.args = c.args.filter((a) => !a.startsWith('--csi-address'));
    expect(() => sidecar(bad, 'csi-lvm-iscsi-controller', 'csi-attacher', opts)).toThrow(
      /csi-attacher: no --csi-address/,
    );
  });

  it('a renamed container throws, naming the ones there are', () => {
    const bad = copy();
    containers(find(bad, 'DaemonSet', 'csi-lvm-iscsi-node')).find((x) => x.name === 'node-driver-registrar')!.name =
      'registrar';
    expect(() => sidecar(bad, 'csi-lvm-iscsi-node', 'node-driver-registrar', { nodeName: 'n' })).toThrow(
      /no container node-driver-registrar \(has .*registrar/,
    );
  });

  it("a site value for a flag the manifest does not set throws, and so does a Secret's volume without a directory", () => {
    const site = { nodeName: 'n', emptyDirs: { 'run-dir': '/r' }, secretDirs: { 'agent-tls': '/t', chap: '/c' } };
    expect(() =>
      pluginCommand(objs, 'csi-lvm-iscsi-agent', 'csi-lvm-iscsi', {
        ...site,
        hostIP: '1.2.3.4',
        siteFlags: ['--vg=x'],
      }),
    ).toThrow(/sets no --vg/);
    expect(() =>
      pluginCommand(objs, 'csi-lvm-iscsi-agent', 'csi-lvm-iscsi', { ...site, hostIP: '1.2.3.4', secretDirs: {} }),
    ).toThrow(/volume agent-tls .* has no host directory/);
    expect(() => pluginCommand(objs, 'csi-lvm-iscsi-agent', 'csi-lvm-iscsi', site)).toThrow(/\$\(NODE_IP\)/);
  });

  it('an emptyDir socket directory the tier was not told about throws', () => {
    expect(() => sidecar(objs, 'csi-lvm-iscsi-controller', 'csi-provisioner', { nodeName: 'n' })).toThrow(
      /volume socket-dir .* has no host directory/,
    );
  });
});

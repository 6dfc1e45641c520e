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
    // every manifest arg is there, in order, only the path rewritten
    expect(p.args.slice(0, p.manifestArgs.length).map((a) => a.replace(SOCK_DIR, '/csi'))).toEqual(p.manifestArgs);
  });

  it('node-driver-registrar: host socket, kubelet registration path kept, registry dir from the hostPath volume', () => {
    const r = sidecar(objs, 'csi-lvm-iscsi-node', 'node-driver-registrar', { nodeName: 'kube-node' });
    expect(r.args).toContain(`--csi-address=${SOCK_DIR}/csi.sock`);
    expect(r.args).toContain(`--kubelet-registration-path=${SOCK_DIR}/csi.sock`);
    expect(r.args).toContain('--plugin-registration-path=/var/lib/kubelet/plugins_registry');
    expect(r.args).toContain('--timeout=30s');
    expect(r.args.some((a) => a.startsWith('--kubeconfig'))).toBe(false);
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

  it('an emptyDir socket directory the tier was not told about throws', () => {
    expect(() => sidecar(objs, 'csi-lvm-iscsi-controller', 'csi-provisioner', { nodeName: 'n' })).toThrow(
      /volume socket-dir .* has no host directory/,
    );
  });
});

/**
 * The Kubernetes tier: a real control plane, the real CSI sidecars and a real kubelet drive the
 * plugin as deploy/ wires them (test/kube/cluster.ts), with real Pods. Each scenario asserts the
 * Kubernetes objects and the storage underneath (LVs, LIO targets in configfs, iSCSI sessions,
 * mounts). The scenarios run in order on one cluster and share its objects; the examples of
 * deploy/examples are applied with two changes: 64Mi instead of 1Gi/2Gi, and the local busybox
 * image with imagePullPolicy Never.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apply,
  CHAP_USER,
  type Cluster,
  DRIVER,
  VG,
  iscsiNodeRecord,
  iscsiSessions,
  kubeletMountOptions,
  lioAclUsers,
  kget,
  kubectl,
  kubeletMounts,
  lioBackstores,
  lioTargets,
  log,
  lvs,
  NODE,
  run,
  startCluster,
  until,
} from './cluster.js';
import { parseDocs, ROOT } from './manifest.js';

const inGuest = process.env['VM_GUEST'] === '1';
const IMAGE = 'bars.test/busybox:1';
const SIZE = '64Mi';
const MiB = 1024 * 1024;
const example = (file: string) => parseDocs(readFileSync(join(ROOT, 'deploy/examples', file), 'utf8'), file)[0]!;
const withSize = (o: any, size: string) => ((o.spec.resources.requests.storage = size), o);

const pvc = (name: string, extra: object = {}, size = SIZE) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name, namespace: 'default' },
  spec: {
    accessModes: ['ReadWriteOnce'],
    storageClassName: 'csi-lvm-iscsi-thin',
    resources: { requests: { storage: size } },
    ...extra,
  },
});
/** A busybox Pod running `script` on the claim at /data (or /dev/xvda for a block claim), then sleeping. */
const pod = (name: string, claim: string, script: string, block = false, readOnly = false) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: {
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'c',
        image: IMAGE,
        imagePullPolicy: 'Never',
        command: ['sh', '-c', `${script} && echo DONE && exec sleep 3600`],
        ...(block
          ? { volumeDevices: [{ name: 'v', devicePath: '/dev/xvda' }] }
          : { volumeMounts: [{ name: 'v', mountPath: '/data' }] }),
      },
    ],
    volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim, ...(readOnly ? { readOnly: true } : {}) } }],
  },
});

const pvName = (claim: string): string => kget(['-n', 'default', 'pvc', claim]).spec.volumeName;
const volumeHandle = (claim: string): string => kget(['pv', pvName(claim)]).spec.csi.volumeHandle;
const logs = (p: string) => kubectl(['-n', 'default', 'logs', p]);
const exec = (p: string, argv: string[]) => kubectl(['-n', 'default', 'exec', p, '--', ...argv]);
const bound = (claim: string) =>
  until(`PVC ${claim} Bound`, () => kget(['-n', 'default', 'pvc', claim]).status?.phase === 'Bound', 600_000, 2000);
/** The staging mount of a claim: kubelet names it after a hash of the volume handle, so found as the globalmount with its Pod mount's device. */
const globalMount = (claim: string) => {
  const all = run(['findmnt', '-rn', '-o', 'TARGET,SOURCE'])
    .split('\n')
    .map((l) => l.split(' '));
  const podSource = all.find(([t]) => t?.endsWith(`/volumes/kubernetes.io~csi/${pvName(claim)}/mount`))?.[1];
  return podSource
    ? all.find(
        ([t, src]) => t?.startsWith('/var/lib/kubelet/plugins/') && t.endsWith('/globalmount') && src === podSource,
      )?.[0]
    : undefined;
};
const podMount = (claim: string) =>
  kubeletMounts().filter((m) => m.endsWith(`/volumes/kubernetes.io~csi/${pvName(claim)}/mount`));
const df = (p: string) => Number(exec(p, ['df', '-k', '/data']).trim().split('\n')[1]!.trim().split(/\s+/)[1]);
const running = (p: string) => until(`Pod ${p} ran its script`, () => logs(p).includes('DONE'), 600_000, 3000);
const attachments = (): any[] => kget(['volumeattachments']).items;
/** The LV behind a volume handle (the plugin names the LV after the handle's last part; found by its name in the handle). */
const lvOf = (handle: string) => lvs().find((l) => handle.includes(l.name));
/** The LIO target of a volume: <iqn-prefix>:<vg>:<lv> (src/iscsi-target/iqn.ts). */
const targetOf = (handle: string) => {
  const lv = lvOf(handle);
  return lv ? lioTargets().find((t) => t.endsWith(`:${VG}:${lv.name}`)) : undefined;
};
/** What is underneath when a scenario fails: LVs (with their attributes), /dev/VG, targets, sessions, kubelet's mounts. */
function storageState(): string {
  const tryRun = (argv: string[]) => {
    try {
      return run(argv).trim();
    } catch (e) {
      return String(e);
    }
  };
  return [
    `lvs: ${tryRun(['lvs', '--noheadings', '-a', '-o', 'lv_name,lv_attr,lv_size', VG]).replace(/\s+/g, ' ')}`,
    `/dev/${VG}: ${tryRun(['ls', `/dev/${VG}`]).replace(/\s+/g, ' ')}`,
    `LIO targets: ${lioTargets().join(' ')}`,
    `sessions: ${tryRun(['iscsiadm', '-m', 'session']).replace(/\n/g, '; ')}`,
    `kubelet mounts: ${kubeletMounts().join(' ')}`,
  ].join('\n  ');
}
const timed = (name: string, fn: () => Promise<void>, timeout = 900_000) =>
  it(
    name,
    async () => {
      const t = Date.now();
      try {
        await fn();
      } catch (e) {
        log(
          `scenario "${name}" FAILED after ${Math.round((Date.now() - t) / 1000)} s; storage now:\n  ${storageState()}`,
        );
        throw e;
      }
      log(`scenario "${name}": ${Math.round((Date.now() - t) / 1000)} s`);
    },
    timeout,
  );

describe.runIf(inGuest)(
  'Kubernetes tier: deploy/ driven by a real control plane, sidecars and kubelet',
  { timeout: 1_800_000 },
  () => {
    let c: Cluster;
    let sum = '';

    beforeAll(async () => {
      c = await startCluster();
    }, 1_500_000);

    afterAll(async () => {
      await c?.stop();
    });

    timed(
      "the sidecars run with deploy/'s args as their ServiceAccount; the plugin is registered by kubelet",
      async () => {
        const csinode = kget(['csinode', NODE]);
        expect(csinode.spec.drivers.map((d: { name: string }) => d.name)).toContain(DRIVER);
        // the plugin's node id: <node name>:<initiator IQN> (src/agent/node-id.ts)
        expect(csinode.spec.drivers.find((d: { name: string }) => d.name === DRIVER).nodeID).toBe(
          `${NODE}:${run(['sed', '-n', 's/^InitiatorName=//p', '/etc/iscsi/initiatorname.iscsi']).trim()}`,
        );
        // each controller sidecar took its leader-election Lease in the driver's namespace as the ServiceAccount
        const leases = kget(['-n', 'csi-lvm-iscsi', 'leases']).items.map((l: any) => l.metadata.name);
        await until(
          "the four sidecars' Leases",
          () => kget(['-n', 'csi-lvm-iscsi', 'leases']).items.length >= 4,
          300_000,
          2000,
        );
        log(
          `leases: ${
            kget(['-n', 'csi-lvm-iscsi', 'leases'])
              .items.map((l: any) => `${l.metadata.name}=${l.spec.holderIdentity}`)
              .join(', ') || leases
          }`,
        );
        // the ServiceAccount token carries deploy/'s RBAC and nothing else
        const can = (args: string[]) =>
          kubectl([
            'auth',
            'can-i',
            '--as',
            'system:serviceaccount:csi-lvm-iscsi:csi-lvm-iscsi-controller',
            ...args,
          ]).trim();
        expect(can(['patch', 'volumeattachments', '--subresource=status'])).toBe('yes');
        expect(() => can(['get', 'secrets', '-n', 'default'])).toThrow(/no/);
      },
    );

    timed('thin StorageClass from deploy/: PVC Bound, thin LV made', async () => {
      apply([withSize(example('pvc.yaml'), SIZE)]);
      await bound('demo-data');
      const pv = kget(['pv', pvName('demo-data')]);
      expect(pv.spec.csi.driver).toBe(DRIVER);
      expect(pv.spec.storageClassName).toBe('csi-lvm-iscsi-thin');
      const lv = lvOf(pv.spec.csi.volumeHandle);
      expect(lv, `LV of ${pv.spec.csi.volumeHandle} in ${JSON.stringify(lvs())}`).toBeDefined();
      expect(lv!.pool).toBe('thinpool');
      expect(lv!.size).toBe(64 * MiB);
    });

    timed(
      'a Pod on the PVC writes data: VolumeAttachment by the attach-detach controller, LIO target, iSCSI session, mounts',
      async () => {
        apply([
          pod(
            'demo-writer',
            'demo-data',
            'dd if=/dev/urandom of=/data/f bs=1M count=4 2>/dev/null && sync && sha256sum /data/f',
          ),
        ]);
        await running('demo-writer');
        sum = logs('demo-writer').match(/^([0-9a-f]{64})\s/m)![1]!;
        const handle = volumeHandle('demo-data');
        const va = attachments().find((a) => a.spec.source.persistentVolumeName === pvName('demo-data'));
        expect(va.spec.attacher).toBe(DRIVER);
        expect(va.spec.nodeName).toBe(NODE);
        expect(va.status.attached).toBe(true);
        expect(targetOf(handle), `target of ${handle} in ${lioTargets().join(' ')}`).toBeDefined();
        expect(iscsiSessions()).toContain(targetOf(handle));
        const mounts = kubeletMounts();
        expect(mounts.some((m) => m.includes('/globalmount'))).toBe(true);
        expect(mounts.some((m) => m.includes(`/volumes/kubernetes.io~csi/${pvName('demo-data')}/mount`))).toBe(true);
      },
    );

    timed('CHAP from the StorageClass secrets: the session logs in with CHAP, the LIO ACL requires it', async () => {
      const target = targetOf(volumeHandle('demo-data'))!;
      expect(iscsiSessions()).toContain(target);
      const rec = iscsiNodeRecord(target);
      expect(rec['node.session.auth.authmethod']).toBe('CHAP');
      // a per-volume user name derived from the Secret's chapUser; the password is never shown
      expect(rec['node.session.auth.username']).toMatch(new RegExp(`^${CHAP_USER}`));
      expect(rec['node.session.auth.password']).toMatch(/^\*+$/);
      const users = lioAclUsers(target);
      expect(users.length).toBe(1);
      expect(users[0]).toBe(rec['node.session.auth.username']);
    });

    timed('kubelet volume stats for the PVC appear in stats/summary', async () => {
      const stats = await until(
        'stats/summary volume of demo-data',
        () => {
          const s = JSON.parse(kubectl(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/stats/summary`]));
          for (const p of s.pods ?? [])
            for (const v of p.volume ?? []) if (v.pvcRef?.name === 'demo-data' && v.capacityBytes > 0) return v;
          return undefined;
        },
        300_000,
        5000,
      );
      // a 64 MiB ext4 file system with the 4 MiB file written above
      expect(stats.capacityBytes).toBeGreaterThan(40 * MiB);
      expect(stats.capacityBytes).toBeLessThanOrEqual(64 * MiB);
      expect(stats.usedBytes).toBeGreaterThanOrEqual(4 * MiB);
      expect(stats.usedBytes).toBeLessThan(stats.capacityBytes);
      expect(stats.availableBytes).toBeLessThan(stats.capacityBytes);
      expect(stats.inodes).toBeGreaterThan(0);
      expect(stats.inodesUsed).toBeGreaterThan(0);
    });

    timed('VolumeSnapshot from deploy/examples -> readyToUse with restoreSize; a snapshot LV', async () => {
      const before = lvs().length;
      apply([example('snapshot.yaml')]);
      const vs = await until('VolumeSnapshot readyToUse', () => {
        const s = kget(['-n', 'default', 'volumesnapshot', 'demo-data-snap']);
        return s.status?.readyToUse === true ? s : undefined;
      });
      expect(vs.status.restoreSize).toBe('64Mi');
      const vsc = kget(['volumesnapshotcontent', vs.status.boundVolumeSnapshotContentName]);
      expect(vsc.spec.driver).toBe(DRIVER);
      expect(vsc.status.snapshotHandle).toBeTruthy();
      expect(lvs().length).toBe(before + 1);
    });

    timed('a PVC from the snapshot and a clone of the PVC are each read by a Pod with the same checksum', async () => {
      apply([
        withSize(example('restore-pvc.yaml'), SIZE),
        pvc('demo-clone', { dataSource: { kind: 'PersistentVolumeClaim', name: 'demo-data' } }),
      ]);
      await bound('demo-data-restored');
      await bound('demo-clone');
      apply([
        pod('reader-restored', 'demo-data-restored', 'sha256sum /data/f'),
        pod('reader-clone', 'demo-clone', 'sha256sum /data/f'),
      ]);
      await running('reader-restored');
      await running('reader-clone');
      expect(logs('reader-restored')).toContain(sum);
      expect(logs('reader-clone')).toContain(sum);
      for (const claim of ['demo-data-restored', 'demo-clone']) expect(lvOf(volumeHandle(claim))).toBeDefined();
      expect(iscsiSessions().length).toBe(3);
    });

    timed('online resize: df in the running Pod grows, the LV grows', async () => {
      const before = df('demo-writer');
      kubectl([
        '-n',
        'default',
        'patch',
        'pvc',
        'demo-data',
        '-p',
        JSON.stringify({ spec: { resources: { requests: { storage: '96Mi' } } } }),
      ]);
      await until(
        'PVC demo-data capacity 96Mi',
        () => kget(['-n', 'default', 'pvc', 'demo-data']).status?.capacity?.storage === '96Mi',
      );
      await until('df grows in the Pod', () => df('demo-writer') > before + 20 * 1024, 300_000, 3000);
      expect(lvOf(volumeHandle('demo-data'))!.size).toBe(96 * MiB);
      expect(exec('demo-writer', ['sha256sum', '/data/f'])).toContain(sum);
    });

    timed('raw block PVC: a Pod writes and reads the device', async () => {
      apply([pvc('demo-block', { volumeMode: 'Block' })]);
      await bound('demo-block');
      apply([
        pod(
          'block-user',
          'demo-block',
          'dd if=/dev/urandom of=/tmp/p bs=1M count=2 2>/dev/null && dd if=/tmp/p of=/dev/xvda bs=1M conv=fsync 2>/dev/null && sha256sum /tmp/p && dd if=/dev/xvda bs=1M count=2 2>/dev/null | sha256sum',
          true,
        ),
      ]);
      await running('block-user');
      const sums = [...logs('block-user').matchAll(/^([0-9a-f]{64})\s/gm)].map((m) => m[1]);
      expect(sums.length).toBe(2);
      expect(sums[0]).toBe(sums[1]);
      expect(kubeletMounts().some((m) => m.includes('volumeDevices'))).toBe(true);
    });

    let thickSum = '';
    timed('thick StorageClass from deploy/: PVC Bound, a linear LV of its size, a Pod writes', async () => {
      apply([pvc('demo-thick', { storageClassName: 'csi-lvm-iscsi-thick' })]);
      await bound('demo-thick');
      const lv = lvOf(volumeHandle('demo-thick'));
      expect(lv, `LV of ${volumeHandle('demo-thick')} in ${JSON.stringify(lvs())}`).toBeDefined();
      expect(lv!.pool).toBe('');
      expect(lv!.attr[0]).toBe('-'); // a plain (linear) LV, not thin ('V')
      expect(lv!.size).toBe(64 * MiB);
      apply([
        pod(
          'thick-a',
          'demo-thick',
          'dd if=/dev/urandom of=/data/f bs=1M count=2 2>/dev/null && sync && sha256sum /data/f',
        ),
      ]);
      await running('thick-a');
      thickSum = logs('thick-a').match(/^([0-9a-f]{64})\s/m)![1]!;
      expect(iscsiSessions()).toContain(targetOf(volumeHandle('demo-thick')));
      expect(podMount('demo-thick').length).toBe(1);
    });

    timed(
      'a Pod replaced on the same node while the volume stays staged: same session and staging mount, data intact',
      async () => {
        const target = targetOf(volumeHandle('demo-thick'))!;
        const staged = globalMount('demo-thick');
        expect(staged, `staging mount of demo-thick in ${kubeletMounts().join(', ')}`).toBeDefined();
        // the successor starts while the first Pod still runs (ReadWriteOnce allows Pods on one node)
        apply([pod('thick-b', 'demo-thick', 'sha256sum /data/f && echo more >/data/g && sync')]);
        await running('thick-b');
        expect(podMount('demo-thick').length).toBe(2);
        kubectl(['-n', 'default', 'delete', 'pod', 'thick-a', '--wait=true', '--timeout=300s']);
        await until('one Pod mount of demo-thick left', () => podMount('demo-thick').length === 1, 120_000, 2000);
        expect(logs('thick-b')).toContain(thickSum);
        expect(globalMount('demo-thick')).toBe(staged);
        expect(iscsiSessions()).toContain(target);
        expect(attachments().filter((a) => a.spec.source.persistentVolumeName === pvName('demo-thick')).length).toBe(1);
        expect(exec('thick-b', ['sha256sum', '/data/f'])).toContain(thickSum);
        expect(exec('thick-b', ['cat', '/data/g']).trim()).toBe('more');
      },
    );

    timed(
      'offline resize: expanded while no Pod uses it (LV grows, FileSystemResizePending), a new Pod sees the new size',
      async () => {
        const before = df('thick-b');
        const target = targetOf(volumeHandle('demo-thick'))!;
        kubectl(['-n', 'default', 'delete', 'pod', 'thick-b', '--wait=true', '--timeout=300s']);
        await until(
          'demo-thick detached',
          () => !attachments().some((a) => a.spec.source.persistentVolumeName === pvName('demo-thick')),
          300_000,
          2000,
        );
        await until('its session gone', () => !iscsiSessions().includes(target), 120_000, 2000);
        expect(lioTargets()).not.toContain(target);
        kubectl([
          '-n',
          'default',
          'patch',
          'pvc',
          'demo-thick',
          '-p',
          JSON.stringify({ spec: { resources: { requests: { storage: '96Mi' } } } }),
        ]);
        await until(
          'LV of demo-thick 96 MiB',
          () => lvOf(volumeHandle('demo-thick'))?.size === 96 * MiB,
          300_000,
          2000,
        );
        const claim = await until(
          'PVC demo-thick FileSystemResizePending',
          () => {
            const c = kget(['-n', 'default', 'pvc', 'demo-thick']);
            return c.status?.conditions?.some((x: { type: string }) => x.type === 'FileSystemResizePending')
              ? c
              : undefined;
          },
          300_000,
          2000,
        );
        expect(claim.status.capacity.storage).toBe('64Mi'); // the file system is not grown yet
        expect(kget(['pv', pvName('demo-thick')]).spec.capacity.storage).toBe('96Mi');
        apply([pod('thick-c', 'demo-thick', 'sha256sum /data/f && df -k /data')]);
        await running('thick-c');
        expect(logs('thick-c')).toContain(thickSum);
        expect(df('thick-c')).toBeGreaterThan(before + 20 * 1024);
        await until(
          'PVC demo-thick capacity 96Mi',
          () => kget(['-n', 'default', 'pvc', 'demo-thick']).status?.capacity?.storage === '96Mi',
          120_000,
          2000,
        );
      },
    );

    timed(
      'ReadOnlyMany PVC from the snapshot mounted read-only by two Pods: same checksum, writes fail with EROFS',
      async () => {
        apply([
          pvc('demo-rox', {
            accessModes: ['ReadOnlyMany'],
            dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'demo-data-snap' },
          }),
        ]);
        await bound('demo-rox');
        const script = 'sha256sum /data/f && if touch /data/w 2>/tmp/e; then echo WROTE; else cat /tmp/e; fi';
        apply([pod('rox-1', 'demo-rox', script, false, true), pod('rox-2', 'demo-rox', script, false, true)]);
        await running('rox-1');
        await running('rox-2');
        for (const p of ['rox-1', 'rox-2']) {
          expect(logs(p)).toContain(sum);
          expect(logs(p)).not.toContain('WROTE');
          expect(logs(p)).toMatch(/Read-only file system/);
        }
        const mounts = kubeletMountOptions().filter((m) => m.target.includes(pvName('demo-rox')));
        expect(mounts.filter((m) => m.target.endsWith('/mount')).length).toBe(2);
        for (const m of mounts) expect(m.options.split(',')[0], `${m.target} ${m.options}`).toBe('ro');
        expect(iscsiSessions()).toContain(targetOf(volumeHandle('demo-rox')));
      },
    );

    timed(
      'Pods deleted: VolumeAttachments detached, LIO targets and iSCSI sessions gone, nothing mounted',
      async () => {
        const target = targetOf(volumeHandle('demo-data'));
        expect(target).toBeDefined();
        kubectl(['-n', 'default', 'delete', 'pod', '--all', '--wait=true', '--timeout=300s']);
        await until('no VolumeAttachment', () => attachments().length === 0, 400_000, 3000);
        await until('no iSCSI session', () => iscsiSessions().length === 0, 120_000, 2000);
        expect(lioTargets()).not.toContain(target);
        expect(lioTargets()).toEqual([]);
        expect(
          kubeletMounts().filter((m) => m.includes('kubernetes.io~csi') || m.includes('/plugins/kubernetes.io/csi/')),
        ).toEqual([]);
      },
    );

    timed('delete everything: no PV, no VolumeSnapshotContent, no LV, no target, no backstore', async () => {
      kubectl(['-n', 'default', 'delete', 'volumesnapshot', 'demo-data-snap', '--wait=false']);
      kubectl(['-n', 'default', 'delete', 'pvc', '--all', '--wait=false']);
      await until('no PV', () => kget(['pv']).items.length === 0, 400_000, 3000);
      await until('no VolumeSnapshotContent', () => kget(['volumesnapshotcontents']).items.length === 0, 300_000, 3000);
      await until('no LV but the pool', () => lvs().length === 0, 120_000, 2000);
      expect(lioTargets()).toEqual([]);
      expect(lioBackstores()).toEqual([]);
      expect(iscsiSessions()).toEqual([]);
      expect(run(['lvs', '--noheadings', '-o', 'lv_name', 'kubevg']).trim().split(/\s+/)).toEqual(['thinpool']);
    });
  },
);

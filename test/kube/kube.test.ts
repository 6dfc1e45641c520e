/**
 * The Kubernetes tier: a real control plane, the real CSI sidecars and a real kubelet drive the
 * plugin as deploy/ wires them (test/kube/cluster.ts), with real Pods. Each scenario asserts the
 * Kubernetes objects and the storage underneath (LVs, LIO targets in configfs, iSCSI sessions,
 * mounts). The scenarios share one cluster and run concurrently where they do not depend on each
 * other: each names the scenarios it needs (`after`), waits for them to pass and is reported as
 * failed when one of them failed. Most of a scenario's time is waiting for controllers, so the
 * independent chains (the thin volume's, the raw block volume's, the thick volume's, capacity)
 * overlap. The examples of deploy/examples are applied with two changes: 64Mi instead of
 * 1Gi/2Gi, and the local busybox image with imagePullPolicy Never.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  applyAsync as apply,
  CHAP_USER,
  type Cluster,
  cpuReport,
  DRIVER,
  get,
  VG,
  iscsiNodeRecord,
  iscsiSessions,
  kubectlAsync as kubectl,
  kubeletMountOptions,
  lioAclUsers,
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
const NS = 'csi-lvm-iscsi';
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
    // no Pod network (no CNI plugin runs per Pod): what the tier tests is the volume
    hostNetwork: true,
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

const claimOf = (claim: string) => get('pvc', claim);
const pvName = async (claim: string): Promise<string> => (await claimOf(claim)).spec.volumeName;
const volumeHandle = async (claim: string): Promise<string> =>
  (await get('pv', await pvName(claim))).spec.csi.volumeHandle;
const logs = (p: string) => api<string>(`/api/v1/namespaces/default/pods/${p}/log`);
const exec = (p: string, argv: string[]) => kubectl(['-n', 'default', 'exec', p, '--', ...argv]);
const bound = (claim: string) =>
  until(`PVC ${claim} Bound`, async () => (await claimOf(claim)).status?.phase === 'Bound', 600_000, 2000);
/** The staging mount of a claim: kubelet names it after a hash of the volume handle, so found as the globalmount with its Pod mount's device. */
const globalMount = async (claim: string) => {
  const pv = await pvName(claim);
  const all = run(['findmnt', '-rn', '-o', 'TARGET,SOURCE'])
    .split('\n')
    .map((l) => l.split(' '));
  const podSource = all.find(([t]) => t?.endsWith(`/volumes/kubernetes.io~csi/${pv}/mount`))?.[1];
  return podSource
    ? all.find(
        ([t, src]) => t?.startsWith('/var/lib/kubelet/plugins/') && t.endsWith('/globalmount') && src === podSource,
      )?.[0]
    : undefined;
};
const podMount = async (claim: string) => {
  const pv = await pvName(claim);
  return kubeletMounts().filter((m) => m.endsWith(`/volumes/kubernetes.io~csi/${pv}/mount`));
};
const df = async (p: string) =>
  Number((await exec(p, ['df', '-k', '/data'])).trim().split('\n')[1]!.trim().split(/\s+/)[1]);
const running = (p: string) =>
  until(`Pod ${p} ran its script`, async () => (await logs(p)).includes('DONE'), 600_000, 3000);
const attachments = async (): Promise<any[]> => (await get('volumeattachment')).items;
const attachmentsOf = async (claim: string) => {
  const pv = await pvName(claim);
  return (await attachments()).filter((a) => a.spec.source.persistentVolumeName === pv);
};
/** The LV behind a volume or snapshot handle (the plugin names the LV after the handle's last part; found by its name in the handle). */
const lvOf = (handle: string) => lvs().find((l) => handle.includes(l.name));
/** The LIO target of a volume: <iqn-prefix>:<vg>:<lv> (src/iscsi-target/iqn.ts). */
const targetOf = (handle: string) => {
  const lv = lvOf(handle);
  return lv ? lioTargets().find((t) => t.endsWith(`:${VG}:${lv.name}`)) : undefined;
};
const patchSize = (claim: string, size: string) =>
  kubectl([
    '-n',
    'default',
    'patch',
    'pvc',
    claim,
    '-p',
    JSON.stringify({ spec: { resources: { requests: { storage: size } } } }),
  ]);
/** A resource.Quantity as the API serialises one (plain, or with a binary / decimal suffix) in bytes. */
function quantity(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`cannot read the quantity "${q}"`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(m[1]) * (m[2] ? unit[m[2] as keyof typeof unit] : 1);
}
/** What the plugin's GetCapacity answers for a thin class, from lvs now: thin pool size x 20 (the default --over-subscription-ratio) less the virtual sizes in the pool. */
function thinCapacityFromLvs(): number {
  const all = JSON.parse(
    run(['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size,pool_lv', VG]),
  ) as { report: { lv: Record<string, string>[] }[] };
  const lv = all.report[0]?.lv ?? [];
  const pool = Number(lv.find((l) => l['lv_name'] === 'thinpool')?.['lv_size']);
  const provisioned = lv.filter((l) => l['pool_lv'] === 'thinpool').reduce((s, l) => s + Number(l['lv_size']), 0);
  return Math.floor((pool * 20 - provisioned) / (4 * MiB)) * 4 * MiB;
}
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

/** Each scenario's outcome, for the scenarios that wait for it. */
const outcomes = new Map<string, Promise<void>>();
const started = new Set<string>();
let ready = 0;
const since = () => `${Math.round((Date.now() - ready) / 1000)} s after the cluster was ready`;
/**
 * A scenario that runs concurrently with the others once the scenarios in `after` have passed
 * (failed or filtered out: it fails saying so) and, for those in `settled`, once they finished
 * either way. Its time is its own, from the moment it could start.
 */
function scenario(
  id: string,
  name: string,
  deps: { after?: string[]; settled?: string[] },
  fn: () => Promise<void>,
): void {
  let settle!: (e?: unknown) => void;
  const outcome = new Promise<void>(
    (resolve, reject) =>
      (settle = (e) =>
        e === undefined ? resolve() : reject(e instanceof Error ? e : new Error('the scenario failed'))),
  );
  outcome.catch(() => undefined);
  outcomes.set(id, outcome);
  it.concurrent(
    name,
    async () => {
      started.add(id);
      try {
        // every concurrent scenario starts at once: one not started by now was filtered out (-t)
        await new Promise((r) => setTimeout(r, 1000));
        for (const d of [...(deps.after ?? []), ...(deps.settled ?? [])])
          if (!started.has(d)) throw new Error(`it needs scenario "${d}", which is not running (filtered out?)`);
        for (const d of deps.after ?? [])
          await outcomes.get(d)!.catch(() => {
            throw new Error(`it needs scenario "${d}", which failed`);
          });
        for (const d of deps.settled ?? []) await outcomes.get(d)!.catch(() => undefined);
      } catch (e) {
        settle(e);
        throw e;
      }
      const t = Date.now();
      log(`scenario "${name}" starts (${since()})`);
      try {
        await fn();
      } catch (e) {
        log(
          `scenario "${name}" FAILED after ${Math.round((Date.now() - t) / 1000)} s (${since()}); storage now:\n  ${storageState()}`,
        );
        settle(e ?? new Error('failed'));
        throw e;
      }
      log(`scenario "${name}": ${Math.round((Date.now() - t) / 1000)} s (done ${since()})`);
      settle();
    },
    3_000_000,
  );
}

describe.runIf(inGuest)('Kubernetes tier: deploy/ driven by a real control plane, sidecars and kubelet', () => {
  let c: Cluster;
  let sum = '';
  let thickSum = '';
  let cpuTimer: ReturnType<typeof setInterval> | undefined;

  beforeAll(async () => {
    c = await startCluster();
    ready = Date.now();
    log(`CPU at ready: ${cpuReport()}`);
    cpuTimer = setInterval(() => log(`CPU (${since()}): ${cpuReport()}`), 300_000);
  }, 1_500_000);

  afterAll(async () => {
    clearInterval(cpuTimer);
    log(`CPU at the end: ${cpuReport()}`);
    await c?.stop();
  });

  scenario(
    'sidecars',
    "the sidecars run with deploy/'s args as their ServiceAccount; the plugin is registered by kubelet",
    {},
    async () => {
      const csinode = await get('csinode', NODE);
      expect(csinode.spec.drivers.map((d: { name: string }) => d.name)).toContain(DRIVER);
      // the plugin's node id: <node name>:<initiator IQN> (src/agent/node-id.ts)
      expect(csinode.spec.drivers.find((d: { name: string }) => d.name === DRIVER).nodeID).toBe(
        `${NODE}:${run(['sed', '-n', 's/^InitiatorName=//p', '/etc/iscsi/initiatorname.iscsi']).trim()}`,
      );
      // each controller sidecar took its leader-election Lease in the driver's namespace as the ServiceAccount
      const leases = await until(
        "the four sidecars' Leases",
        async () => {
          const l = (await get('lease', undefined, NS)).items;
          return l.length >= 4 ? l : undefined;
        },
        300_000,
        2000,
      );
      log(`leases: ${leases.map((l: any) => `${l.metadata.name}=${l.spec.holderIdentity}`).join(', ')}`);
      // the ServiceAccount token carries deploy/'s RBAC and nothing else
      const can = (args: string[]) =>
        kubectl(['auth', 'can-i', '--as', `system:serviceaccount:${NS}:csi-lvm-iscsi-controller`, ...args]).then(
          (o) => o.trim(),
          (e: unknown) => String(e),
        );
      expect(await can(['patch', 'volumeattachments', '--subresource=status'])).toBe('yes');
      expect(await can(['create', 'csistoragecapacities', '-n', NS])).toBe('yes');
      expect(await can(['get', 'secrets', '-n', 'default'])).toMatch(/\bno\b/);
    },
  );

  scenario(
    'capacity',
    'CSIStorageCapacity for the StorageClass that waits for its first consumer: the plugin topology segment, one lasting object, the pool reckoning, shrinks as a volume is made',
    { after: ['sidecars'] },
    async () => {
      // The provisioner may delete and make its objects again at any time (a restarted sidecar starts
      // over), so no read is taken as lasting: each one polls until the whole list says what is asserted,
      // and the assertions are on the values polled for, never on one object seen earlier.
      const describeCaps = (l: any[]) =>
        JSON.stringify(l.map((x) => ({ class: x.storageClassName, capacity: x.capacity, max: x.maximumVolumeSize })));
      /** The one CSIStorageCapacity of the namespace once it is the one for csi-lvm-iscsi-local and `ok` holds for it. */
      const onlyLocal = (what: string, ok: (x: any) => boolean) =>
        until(
          what,
          async () => {
            const l = (await get('csistoragecapacity', undefined, NS)).items as any[];
            // the Immediate classes get none (no --capacity-for-immediate-binding in deploy/): exactly one object
            if (l.length === 1 && l[0].storageClassName === 'csi-lvm-iscsi-local' && ok(l[0])) return l[0];
            throw new Error(`CSIStorageCapacity objects now: ${describeCaps(l)}`);
          },
          300_000,
          3000,
        );
      const first = await onlyLocal(
        'exactly one CSIStorageCapacity, for csi-lvm-iscsi-local, with a capacity',
        (x) => typeof x.capacity === 'string' && typeof x.maximumVolumeSize === 'string',
      );
      expect(first.metadata.labels['csi.storage.k8s.io/drivername']).toBe(DRIVER);
      expect(first.metadata.labels['csi.storage.k8s.io/managed-by']).toBe('external-provisioner');
      // the plugin's one topology segment (src/csi/topology.ts): every node where kubelet registered the driver
      const segment = { [`topology.${DRIVER}/attachable`]: 'true' };
      expect(first.nodeTopology?.matchLabels).toEqual(segment);
      expect(first.nodeTopology.matchExpressions ?? []).toEqual([]);
      const node = await get('node', 'kube-node');
      expect(node.metadata.labels).toMatchObject(segment);
      const csiNode = await get('csinode', 'kube-node');
      expect(csiNode.spec.drivers.find((d: any) => d.name === DRIVER)?.topologyKeys).toEqual(Object.keys(segment));
      // The object lasts: with no segment (an empty selector) the provisioner failed to recognise its own
      // object, deleted it and made another at each 10 s poll, so the scheduler mostly saw none (the kube
      // run of d7ce215 never saw one in 300 s). Three polls later it is still the same object.
      await new Promise((r) => setTimeout(r, 35_000));
      const later = (await get('csistoragecapacity', undefined, NS)).items as any[];
      expect(later.map((x) => x.metadata.uid)).toEqual([first.metadata.uid]);
      const before = quantity(first.capacity);
      log(
        `CSIStorageCapacity ${first.metadata.name}: capacity ${first.capacity}, maximum ${first.maximumVolumeSize}, same object 35 s later`,
      );
      expect(before).toBeGreaterThan(64 * MiB);
      expect(quantity(first.maximumVolumeSize)).toBeGreaterThan(0);

      // a thin volume of 64 MiB takes 64 MiB of the pool's over-subscribed room (other scenarios
      // only add volumes meanwhile: the room never grows before the clean-up)
      await apply([pvc('cap-probe')]);
      await bound('cap-probe');
      expect(lvOf(await volumeHandle('cap-probe'))?.size).toBe(64 * MiB);
      const shrunk = await onlyLocal(
        'the published capacity = the pool reckoning from lvs, 64 MiB less at least',
        (x) => {
          const published = quantity(x.capacity);
          return published <= before - 64 * MiB && published === thinCapacityFromLvs();
        },
      );
      const after = quantity(shrunk.capacity);
      log(`capacity ${before} -> ${after} bytes`);
    },
  );

  scenario('thin', 'thin StorageClass from deploy/: PVC Bound, thin LV made', { after: ['sidecars'] }, async () => {
    await apply([withSize(example('pvc.yaml'), SIZE)]);
    await bound('demo-data');
    const pv = await get('pv', await pvName('demo-data'));
    expect(pv.spec.csi.driver).toBe(DRIVER);
    expect(pv.spec.storageClassName).toBe('csi-lvm-iscsi-thin');
    const lv = lvOf(pv.spec.csi.volumeHandle);
    expect(lv, `LV of ${pv.spec.csi.volumeHandle} in ${JSON.stringify(lvs())}`).toBeDefined();
    expect(lv!.pool).toBe('thinpool');
    expect(lv!.size).toBe(64 * MiB);
  });

  scenario(
    'writer',
    'a Pod on the PVC writes data: VolumeAttachment by the attach-detach controller, LIO target, iSCSI session, mounts',
    { after: ['thin'] },
    async () => {
      await apply([
        pod(
          'demo-writer',
          'demo-data',
          'dd if=/dev/urandom of=/data/f bs=1M count=4 2>/dev/null && sync && sha256sum /data/f',
        ),
      ]);
      await running('demo-writer');
      sum = (await logs('demo-writer')).match(/^([0-9a-f]{64})\s/m)![1]!;
      const handle = await volumeHandle('demo-data');
      const [va, ...others] = await attachmentsOf('demo-data');
      expect(others).toEqual([]);
      expect(va.spec.attacher).toBe(DRIVER);
      expect(va.spec.nodeName).toBe(NODE);
      expect(va.status.attached).toBe(true);
      expect(targetOf(handle), `target of ${handle} in ${lioTargets().join(' ')}`).toBeDefined();
      expect(iscsiSessions()).toContain(targetOf(handle));
      expect(kubeletMounts().some((m) => m.includes('/globalmount'))).toBe(true);
      expect((await podMount('demo-data')).length).toBe(1);
    },
  );

  scenario(
    'chap',
    'CHAP from the StorageClass secrets: the session logs in with CHAP, the LIO ACL requires it',
    { after: ['writer'] },
    async () => {
      const target = targetOf(await volumeHandle('demo-data'))!;
      expect(iscsiSessions()).toContain(target);
      const rec = iscsiNodeRecord(target);
      expect(rec['node.session.auth.authmethod']).toBe('CHAP');
      // a per-volume user name derived from the Secret's chapUser; the password is never shown
      expect(rec['node.session.auth.username']).toMatch(new RegExp(`^${CHAP_USER}`));
      expect(rec['node.session.auth.password']).toMatch(/^\*+$/);
      const users = lioAclUsers(target);
      expect(users.length).toBe(1);
      expect(users[0]).toBe(rec['node.session.auth.username']);
    },
  );

  scenario('stats', 'kubelet volume stats for the PVC appear in stats/summary', { after: ['writer'] }, async () => {
    // kubelet serves volume stats from a cache it refreshes every volumeStatsAggPeriod (10 s here): the first
    // figures it shows may predate the writer's data (seen in CI: 14,336 bytes used), so wait for the data to show
    const stats = await until(
      'stats/summary volume of demo-data, with the 4 MiB written',
      async () => {
        const s = await api(`/api/v1/nodes/${NODE}/proxy/stats/summary`);
        for (const p of s.pods ?? [])
          for (const v of p.volume ?? [])
            if (v.pvcRef?.name === 'demo-data' && v.capacityBytes > 0 && v.usedBytes >= 4 * MiB) return v;
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

  scenario(
    'snapshot',
    'VolumeSnapshot from deploy/examples -> readyToUse with restoreSize; a snapshot LV',
    { after: ['writer'] },
    async () => {
      await apply([example('snapshot.yaml')]);
      const vs = await until('VolumeSnapshot readyToUse', async () => {
        const s = await get('volumesnapshot', 'demo-data-snap');
        return s.status?.readyToUse === true ? s : undefined;
      });
      expect(vs.status.restoreSize).toBe('64Mi');
      const vsc = await get('volumesnapshotcontent', vs.status.boundVolumeSnapshotContentName);
      expect(vsc.spec.driver).toBe(DRIVER);
      expect(vsc.status.snapshotHandle).toBeTruthy();
      const lv = lvOf(vsc.status.snapshotHandle);
      expect(lv, `LV of ${vsc.status.snapshotHandle} in ${JSON.stringify(lvs())}`).toBeDefined();
      expect(lv!.origin).toBe(lvOf(await volumeHandle('demo-data'))!.name);
    },
  );

  scenario(
    'restore-clone',
    'a PVC from the snapshot and a clone of the PVC are each read by a Pod with the same checksum',
    { after: ['snapshot'] },
    async () => {
      await apply([
        withSize(example('restore-pvc.yaml'), SIZE),
        pvc('demo-clone', { dataSource: { kind: 'PersistentVolumeClaim', name: 'demo-data' } }),
      ]);
      await bound('demo-data-restored');
      await bound('demo-clone');
      await apply([
        pod('reader-restored', 'demo-data-restored', 'sha256sum /data/f'),
        pod('reader-clone', 'demo-clone', 'sha256sum /data/f'),
      ]);
      await running('reader-restored');
      await running('reader-clone');
      expect(await logs('reader-restored')).toContain(sum);
      expect(await logs('reader-clone')).toContain(sum);
      for (const claim of ['demo-data-restored', 'demo-clone']) {
        const handle = await volumeHandle(claim);
        expect(lvOf(handle)).toBeDefined();
        expect(iscsiSessions()).toContain(targetOf(handle));
      }
    },
  );

  // after the clone: a clone asks for the source's size, 64Mi
  scenario(
    'online-resize',
    'online resize: df in the running Pod grows, the LV grows',
    { after: ['restore-clone'] },
    () => resizesOnline('demo-data', 'demo-writer', sum),
  );

  scenario(
    'rox',
    'ReadOnlyMany PVC from the snapshot mounted read-only by two Pods: same checksum, writes fail with EROFS',
    { after: ['snapshot'] },
    async () => {
      await apply([
        pvc('demo-rox', {
          accessModes: ['ReadOnlyMany'],
          dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'demo-data-snap' },
        }),
      ]);
      await bound('demo-rox');
      const script = 'sha256sum /data/f && if touch /data/w 2>/tmp/e; then echo WROTE; else cat /tmp/e; fi';
      await apply([pod('rox-1', 'demo-rox', script, false, true), pod('rox-2', 'demo-rox', script, false, true)]);
      await running('rox-1');
      await running('rox-2');
      for (const p of ['rox-1', 'rox-2']) {
        const out = await logs(p);
        expect(out).toContain(sum);
        expect(out).not.toContain('WROTE');
        expect(out).toMatch(/Read-only file system/);
      }
      const pv = await pvName('demo-rox');
      const mounts = kubeletMountOptions().filter((m) => m.target.includes(pv));
      expect(mounts.filter((m) => m.target.endsWith('/mount')).length).toBe(2);
      for (const m of mounts) expect(m.options.split(',')[0], `${m.target} ${m.options}`).toBe('ro');
      expect(iscsiSessions()).toContain(targetOf(await volumeHandle('demo-rox')));
    },
  );

  scenario('block', 'raw block PVC: a Pod writes and reads the device', { after: ['sidecars'] }, async () => {
    await apply([pvc('demo-block', { volumeMode: 'Block' })]);
    await bound('demo-block');
    await apply([
      pod(
        'block-user',
        'demo-block',
        'dd if=/dev/urandom of=/tmp/p bs=1M count=2 2>/dev/null && dd if=/tmp/p of=/dev/xvda bs=1M conv=fsync 2>/dev/null && sha256sum /tmp/p && dd if=/dev/xvda bs=1M count=2 2>/dev/null | sha256sum',
        true,
      ),
    ]);
    await running('block-user');
    const sums = [...(await logs('block-user')).matchAll(/^([0-9a-f]{64})\s/gm)].map((m) => m[1]);
    expect(sums.length).toBe(2);
    expect(sums[0]).toBe(sums[1]);
    const pv = await pvName('demo-block');
    expect(kubeletMounts().some((m) => m.includes('volumeDevices') && m.includes(pv))).toBe(true);
    // kubelet asks NodeGetVolumeStats of a block volume at its own map of the device for the Pod
    // (plugins/kubernetes.io/csi/volumeDevices/<pv>/dev/<pod uid>) and lists the answer in
    // stats/summary: the device's size, nothing used or available, no inodes
    const stats = await until(
      'stats/summary volume of demo-block',
      async () => {
        const s = await api(`/api/v1/nodes/${NODE}/proxy/stats/summary`);
        for (const p of s.pods ?? [])
          for (const v of p.volume ?? []) if (v.pvcRef?.name === 'demo-block' && v.capacityBytes > 0) return v;
        return undefined;
      },
      300_000,
      5000,
    );
    expect(stats.capacityBytes).toBe(64 * MiB);
    expect(stats.usedBytes ?? 0).toBe(0);
    expect(stats.inodes ?? 0).toBe(0);
  });

  scenario(
    'thick',
    'thick StorageClass from deploy/: PVC Bound, a linear LV of its size, a Pod writes',
    { after: ['sidecars'] },
    async () => {
      await apply([pvc('demo-thick', { storageClassName: 'csi-lvm-iscsi-thick' })]);
      await bound('demo-thick');
      const handle = await volumeHandle('demo-thick');
      const lv = lvOf(handle);
      expect(lv, `LV of ${handle} in ${JSON.stringify(lvs())}`).toBeDefined();
      expect(lv!.pool).toBe('');
      expect(lv!.attr[0]).toBe('-'); // a plain (linear) LV, not thin ('V')
      expect(lv!.size).toBe(64 * MiB);
      await apply([
        pod(
          'thick-a',
          'demo-thick',
          'dd if=/dev/urandom of=/data/f bs=1M count=2 2>/dev/null && sync && sha256sum /data/f',
        ),
      ]);
      await running('thick-a');
      thickSum = (await logs('thick-a')).match(/^([0-9a-f]{64})\s/m)![1]!;
      expect(iscsiSessions()).toContain(targetOf(handle));
      expect((await podMount('demo-thick')).length).toBe(1);
    },
  );

  scenario(
    'replaced',
    'a Pod replaced on the same node while the volume stays staged: same session and staging mount, data intact',
    { after: ['thick'] },
    async () => {
      const target = targetOf(await volumeHandle('demo-thick'))!;
      const staged = await globalMount('demo-thick');
      expect(staged, `staging mount of demo-thick in ${kubeletMounts().join(', ')}`).toBeDefined();
      // the successor starts while the first Pod still runs (ReadWriteOnce allows Pods on one node)
      await apply([pod('thick-b', 'demo-thick', 'sha256sum /data/f && echo more >/data/g && sync')]);
      await running('thick-b');
      expect((await podMount('demo-thick')).length).toBe(2);
      await kubectl(['-n', 'default', 'delete', 'pod', 'thick-a', '--wait=true', '--timeout=300s']);
      await until(
        'one Pod mount of demo-thick left',
        async () => (await podMount('demo-thick')).length === 1,
        120_000,
        2000,
      );
      expect(await logs('thick-b')).toContain(thickSum);
      expect(await globalMount('demo-thick')).toBe(staged);
      expect(iscsiSessions()).toContain(target);
      expect((await attachmentsOf('demo-thick')).length).toBe(1);
      expect(await exec('thick-b', ['sha256sum', '/data/f'])).toContain(thickSum);
      expect((await exec('thick-b', ['cat', '/data/g'])).trim()).toBe('more');
    },
  );

  scenario(
    'offline-resize',
    'offline resize: expanded while no Pod uses it (LV grows, FileSystemResizePending), a new Pod sees the new size',
    { after: ['replaced'] },
    async () => {
      const before = await df('thick-b');
      const handle = await volumeHandle('demo-thick');
      const target = targetOf(handle)!;
      await kubectl(['-n', 'default', 'delete', 'pod', 'thick-b', '--wait=true', '--timeout=300s']);
      // kubelet's unstage, then the attach-detach controller's ControllerUnpublishVolume: on a loaded CI host
      // (another guest beside this one) the two took 100 s and 203 s once, past a 300 s wait; as long as a bind
      await until('demo-thick detached', async () => (await attachmentsOf('demo-thick')).length === 0, 600_000, 2000);
      await until('its session gone', () => !iscsiSessions().includes(target), 120_000, 2000);
      expect(lioTargets()).not.toContain(target);
      await patchSize('demo-thick', '96Mi');
      await until('LV of demo-thick 96 MiB', () => lvOf(handle)?.size === 96 * MiB, 300_000, 2000);
      const claim = await until(
        'PVC demo-thick FileSystemResizePending',
        async () => {
          const x = await claimOf('demo-thick');
          return x.status?.conditions?.some((y: { type: string }) => y.type === 'FileSystemResizePending')
            ? x
            : undefined;
        },
        300_000,
        2000,
      );
      expect(claim.status.capacity.storage).toBe('64Mi'); // the file system is not grown yet
      await until(
        'PV of demo-thick 96Mi',
        async () => (await get('pv', await pvName('demo-thick'))).spec.capacity.storage === '96Mi',
        120_000,
        2000,
      );
      await apply([pod('thick-c', 'demo-thick', 'sha256sum /data/f && df -k /data')]);
      await running('thick-c');
      expect(await logs('thick-c')).toContain(thickSum);
      expect(await df('thick-c')).toBeGreaterThan(before + 20 * 1024);
      await until(
        'PVC demo-thick capacity 96Mi',
        async () => (await claimOf('demo-thick')).status?.capacity?.storage === '96Mi',
        120_000,
        2000,
      );
    },
  );

  /** Online resize of a claim a running Pod uses: its capacity, df in the Pod and the LV grow; the data stays. */
  const resizesOnline = async (claim: string, podName: string, checksum: string) => {
    const before = await df(podName);
    await patchSize(claim, '96Mi');
    await until(`PVC ${claim} capacity 96Mi`, async () => (await claimOf(claim)).status?.capacity?.storage === '96Mi');
    await until('df grows in the Pod', async () => (await df(podName)) > before + 20 * 1024, 300_000, 3000);
    expect(lvOf(await volumeHandle(claim))!.size).toBe(96 * MiB);
    expect(await exec(podName, ['sha256sum', '/data/f'])).toContain(checksum);
  };

  /** Every Pod deleted: no VolumeAttachment, iSCSI session, LIO target or kubelet CSI mount is left. */
  const podsDeleted = async () => {
    await kubectl(['-n', 'default', 'delete', 'pod', '--all', '--wait=true', '--timeout=300s']);
    await until('no VolumeAttachment', async () => (await attachments()).length === 0, 400_000, 3000);
    await until('no iSCSI session', () => iscsiSessions().length === 0, 120_000, 2000);
    expect(lioTargets()).toEqual([]);
    expect(
      kubeletMounts().filter((m) => m.includes('kubernetes.io~csi') || m.includes('/plugins/kubernetes.io/csi/')),
    ).toEqual([]);
  };

  /** Every VolumeSnapshot and PVC deleted: no PV, VolumeSnapshotContent, LV but the pool, target, backstore or session. */
  const claimsDeleted = async () => {
    await kubectl(['-n', 'default', 'delete', 'volumesnapshot', '--all', '--wait=false']);
    await kubectl(['-n', 'default', 'delete', 'pvc', '--all', '--wait=false']);
    await until('no PV', async () => (await get('pv')).items.length === 0, 400_000, 3000);
    await until(
      'no VolumeSnapshotContent',
      async () => (await get('volumesnapshotcontent')).items.length === 0,
      300_000,
      3000,
    );
    await until('no LV but the pool', () => lvs().length === 0, 120_000, 2000);
    expect(lioTargets()).toEqual([]);
    expect(lioBackstores()).toEqual([]);
    expect(iscsiSessions()).toEqual([]);
    expect(run(['lvs', '--noheadings', '-o', 'lv_name', VG]).trim().split(/\s+/)).toEqual(['thinpool']);
  };

  scenario(
    'pods-deleted',
    'Pods deleted: VolumeAttachments detached, LIO targets and iSCSI sessions gone, nothing mounted',
    {
      settled: ['capacity', 'chap', 'stats', 'online-resize', 'rox', 'block', 'offline-resize'],
    },
    podsDeleted,
  );

  scenario(
    'delete-all',
    'delete everything: no PV, no VolumeSnapshotContent, no LV, no target, no backstore',
    { after: ['pods-deleted'] },
    claimsDeleted,
  );
  // ---- the same cluster, the plugin split as deploy/ runs it: controller + agent + node processes,
  // the agent API over mutual TLS. The core scenarios again, after everything above is cleaned up.
  let splitSum = '';
  scenario(
    'split',
    'split mode: the controller, agent and node processes of deploy/ (mutual TLS between controller and agent) replace the all-mode plugin',
    { settled: ['delete-all'] },
    async () => {
      const cmds = await c.split(IMAGE);
      const mode = (w: string) =>
        cmds
          .find((x) => x.workload === w && x.container === 'csi-lvm-iscsi')
          ?.args.find((a) => a.startsWith('--mode='));
      expect([mode('csi-lvm-iscsi-controller'), mode('csi-lvm-iscsi-agent'), mode('csi-lvm-iscsi-node')]).toEqual([
        '--mode=controller',
        '--mode=agent',
        '--mode=node',
      ]);
      // kubelet still has the driver (the node plugin serves the socket it registered)
      expect((await get('csinode', NODE)).spec.drivers.map((d: { name: string }) => d.name)).toContain(DRIVER);
    },
  );

  scenario(
    'split-thin',
    'split mode: PVC Bound, a thin LV made by the agent the controller found',
    { after: ['split'] },
    async () => {
      await apply([pvc('split-data')]);
      await bound('split-data');
      const lv = lvOf(await volumeHandle('split-data'));
      expect(lv, `LV of split-data in ${JSON.stringify(lvs())}`).toBeDefined();
      expect(lv!.pool).toBe('thinpool');
      expect(lv!.size).toBe(64 * MiB);
    },
  );

  scenario(
    'split-writer',
    'split mode: a Pod writes data: attached, LIO target, iSCSI session with CHAP, mounts',
    { after: ['split-thin'] },
    async () => {
      await apply([
        pod(
          'split-writer',
          'split-data',
          'dd if=/dev/urandom of=/data/f bs=1M count=4 2>/dev/null && sync && sha256sum /data/f',
        ),
      ]);
      await running('split-writer');
      splitSum = (await logs('split-writer')).match(/^([0-9a-f]{64})\s/m)![1]!;
      const target = targetOf(await volumeHandle('split-data'));
      expect(target).toBeDefined();
      expect(iscsiSessions()).toContain(target);
      expect(iscsiNodeRecord(target!)['node.session.auth.authmethod']).toBe('CHAP');
      const [va, ...others] = await attachmentsOf('split-data');
      expect(others).toEqual([]);
      expect(va.status.attached).toBe(true);
      expect((await podMount('split-data')).length).toBe(1);
      // read back by checksum in the running Pod
      expect(await exec('split-writer', ['sha256sum', '/data/f'])).toContain(splitSum);
    },
  );

  scenario(
    'split-snapshot',
    'split mode: VolumeSnapshot readyToUse with restoreSize, a snapshot LV',
    { after: ['split-writer'] },
    async () => {
      const snap = example('snapshot.yaml');
      snap.metadata.name = 'split-snap';
      (snap['spec'] as any).source.persistentVolumeClaimName = 'split-data';
      await apply([snap]);
      const vs = await until('VolumeSnapshot split-snap readyToUse', async () => {
        const x = await get('volumesnapshot', 'split-snap');
        return x.status?.readyToUse === true ? x : undefined;
      });
      expect(vs.status.restoreSize).toBe('64Mi');
      const vsc = await get('volumesnapshotcontent', vs.status.boundVolumeSnapshotContentName);
      expect(lvOf(vsc.status.snapshotHandle)?.origin).toBe(lvOf(await volumeHandle('split-data'))!.name);
    },
  );

  scenario(
    'split-restore',
    'split mode: a PVC from the snapshot is read by a Pod with the same checksum',
    { after: ['split-snapshot'] },
    async () => {
      const restored = withSize(example('restore-pvc.yaml'), SIZE);
      restored.metadata.name = 'split-restored';
      restored.spec.dataSource.name = 'split-snap';
      await apply([restored]);
      await bound('split-restored');
      await apply([pod('split-reader', 'split-restored', 'sha256sum /data/f')]);
      await running('split-reader');
      expect(await logs('split-reader')).toContain(splitSum);
    },
  );

  scenario(
    'split-resize',
    'split mode: online resize: df in the running Pod grows, the LV grows, data intact',
    { after: ['split-snapshot'] },
    () => resizesOnline('split-data', 'split-writer', splitSum),
  );

  scenario(
    'split-delete',
    'split mode: Pods, snapshots and PVCs deleted: nothing attached, mounted, exported or left in the VG',
    { settled: ['split-restore', 'split-resize'] },
    async () => {
      await podsDeleted();
      await claimsDeleted();
    },
  );
});

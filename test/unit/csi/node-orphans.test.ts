import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupOrphans, planOrphans, StageGate, stagedTargets } from '../../../src/csi/node-orphans.js';
import { Busy } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { MountTable } from '../../../src/host/mountinfo.js';
import { mountinfo } from '../host/mount-table.js';
import { Iscsiadm } from '../../../src/iscsi-initiator/iscsiadm.js';
import { Mutex } from '../../../src/mutex.js';
import { FLUSH_ATTEMPTS } from '../../../src/iscsi-initiator/multipath.js';
import { parseSessionTree } from '../../../src/iscsi-initiator/session-parser.js';
import { createLogger } from '../../../src/log.js';
import { fakeIscsiSysfs } from '../iscsi-initiator/fake-sysfs.js';

const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const DRIVER = 'lvm-iscsi.csi.example.org';
const iqn = (lv: string) => `${PREFIX}:vg0:${lv}`;
const P1 = '10.0.0.5:3260';
const P2 = '10.0.1.5:3260';
const FOREIGN = 'iqn.2001-05.com.other:backup-disk';

interface S {
  iqn: string;
  portal: string;
  sid: number;
  disks: string[];
  state?: string;
}

/** `iscsiadm -m session -P 3` as open-iscsi 2.1.8 prints it (the parts the parser reads). */
function tree(sessions: S[]): string {
  let out = 'iSCSI Transport Class version 2.0-870\nversion 2.1.8\n';
  for (const s of sessions) {
    out += `Target: ${s.iqn} (non-flash)\n\tCurrent Portal: ${s.portal},1\n\tPersistent Portal: ${s.portal},1\n`;
    out += '\t\t**********\n\t\tInterface:\n\t\t**********\n\t\tIface Name: default\n';
    out += `\t\tSID: ${s.sid}\n\t\tiSCSI Connection State: LOGGED IN\n\t\tiSCSI Session State: ${s.state ?? 'LOGGED_IN'}\n`;
    out += `\t\tHost Number: ${s.sid}\tState: running\n`;
    s.disks.forEach(
      (d, i) =>
        (out += `\t\tscsi${s.sid} Channel 00 Id 0 Lun: ${i}\n\t\t\tAttached scsi disk ${d}\t\tState: running\n`),
    );
  }
  return out;
}

function files(root: string, entries: Record<string, string | null>): void {
  for (const [p, content] of Object.entries(entries)) {
    const full = join(root, p);
    if (content === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
    }
  }
}

const state = (targetIqn: string | undefined, extra: object = {}) =>
  JSON.stringify({
    volumeId: 'n/vg0/x',
    attach: targetIqn ? 'iscsi' : 'local',
    ...(targetIqn ? { targetIqn } : {}),
    portals: [P1],
    lun: 0,
    device: '/dev/sda',
    disks: ['sda'],
    block: false,
    targets: [],
    ...extra,
  });

function kubelet(entries: Record<string, string | null> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'kubelet-'));
  mkdirSync(join(root, 'plugins/kubernetes.io/csi'), { recursive: true });
  files(join(root, 'plugins/kubernetes.io/csi'), entries);
  return root;
}

function logger() {
  const lines: string[] = [];
  return { lines, log: createLogger('debug', { write: (s: string) => void lines.push(s) }) };
}

describe('StageGate', () => {
  it('registers running stage calls and refuses new ones while closed', () => {
    const gate = new StageGate();
    const a = gate.enter(iqn('a'));
    const b1 = gate.enter(iqn('b'));
    const b2 = gate.enter(iqn('b'));
    gate.enter()(); // unstage: nothing to register
    a();
    b1();
    expect(gate.close('cleaning up')).toEqual(new Set([iqn('b')]));
    expect(() => gate.enter(iqn('c'))).toThrow(Busy);
    expect(() => gate.enter()).toThrow(/cleaning up; retry/);
    b2();
    b2(); // twice is harmless
    gate.open();
    expect(gate.close('again')).toEqual(new Set());
  });
});

describe('stagedTargets', () => {
  it('finds state files in the kubelet layouts (1.24+, pre-1.24, raw block) and never below the third level', async () => {
    const root = kubelet({
      [`${DRIVER}/0a1b/globalmount.lvm-iscsi.json`]: state(iqn('new-layout')),
      [`${DRIVER}/0a1b/globalmount`]: null,
      [`${DRIVER}/0a1b/vol_data.json`]: '{"driverName":"x"}',
      'pv/pvc-old/globalmount.lvm-iscsi.json': state(iqn('old-layout')),
      'pv/pvc-local/globalmount.lvm-iscsi.json': state(undefined),
      'volumeDevices/staging/pvc-blk.lvm-iscsi.json': state(iqn('block'), { block: true }),
      'volumeDevices/staging/pvc-blk': null,
      [`${DRIVER}/0a1b/globalmount/tenant/deep.lvm-iscsi.json`]: state(iqn('inside-a-file-system')),
      'pv/pvc-crash/globalmount.lvm-iscsi.json.tmp': state(iqn('interrupted')),
      'pv/pvc-torn/globalmount.lvm-iscsi.json.tmp': '{"volumeId": "n/vg0/',
    });
    const found = await stagedTargets(join(root, 'plugins/kubernetes.io/csi'));
    expect([...found.owned].sort()).toEqual([iqn('block'), iqn('interrupted'), iqn('new-layout'), iqn('old-layout')]);
    expect(found.files).toHaveLength(6);
  });

  it('throws on a state file it cannot parse (it might own any session)', async () => {
    const root = kubelet({ [`${DRIVER}/ff/globalmount.lvm-iscsi.json`]: 'not json' });
    await expect(stagedTargets(join(root, 'plugins/kubernetes.io/csi'))).rejects.toThrow(
      /cannot read the stage state .*globalmount.lvm-iscsi.json/,
    );
    const root2 = kubelet({ [`${DRIVER}/ff/globalmount.lvm-iscsi.json`]: '{"volumeId":"x","attach":"iscsi"}' });
    await expect(stagedTargets(join(root2, 'plugins/kubernetes.io/csi'))).rejects.toThrow(/names no target/);
  });
});

describe('planOrphans', () => {
  const sessions = parseSessionTree(
    tree([
      { iqn: iqn('owned'), portal: P1, sid: 1, disks: ['sda'] },
      { iqn: iqn('orphan'), portal: P1, sid: 2, disks: ['sdb'] },
      { iqn: iqn('orphan'), portal: P2, sid: 3, disks: ['sdc'] },
      { iqn: `${PREFIX}2:vg0:lookalike`, portal: P1, sid: 4, disks: ['sdd'] },
      { iqn: FOREIGN, portal: P1, sid: 5, disks: ['sde'] },
      { iqn: iqn('staging-now'), portal: P1, sid: 6, disks: ['sdf'] },
    ]),
  );
  const records = [
    { iqn: iqn('orphan'), portal: P1 },
    { iqn: iqn('orphan'), portal: '10.0.2.5:3260' },
    { iqn: iqn('record-only'), portal: P1 },
    { iqn: iqn('owned'), portal: P2 },
    { iqn: FOREIGN, portal: P2 },
  ];

  it('takes only unowned, idle targets under "<prefix>:", grouped per target with every portal', () => {
    const plan = planOrphans({
      iqnPrefix: PREFIX,
      sessions,
      records,
      owned: new Set([iqn('owned')]),
      running: new Set([iqn('staging-now')]),
    });
    expect(plan.candidates.map((c) => [c.iqn, c.portals, c.sessions.map((s) => s.sid)])).toEqual([
      [iqn('orphan'), [P1, P2, '10.0.2.5:3260'], [2, 3]],
    ]);
    expect(plan.staleRecords).toEqual([{ iqn: iqn('record-only'), portal: P1 }]);
  });
});

describe('cleanupOrphans', () => {
  const noMounts = new MountTable(async () => '');
  const node = (target: string, portal: string, ...rest: string[]) => [
    'iscsiadm',
    '-m',
    'node',
    '-T',
    target,
    '-p',
    portal,
    ...rest,
  ];

  function sysfs(): string {
    const root = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
    const one = (sid: number, lv: string, name: string, state?: string) => ({
      sid,
      iqn: iqn(lv),
      ...(state ? { state } : {}),
      disks: [{ name, lun: 0 }],
    });
    fakeIscsiSysfs(root, [
      one(2, 'orphan', 'sdb'),
      one(3, 'mounted', 'sdc'),
      one(4, 'held', 'sdd'),
      one(5, 'raw-bound', 'sde'),
      one(7, 'multipath', 'sdg'),
      one(8, 'multipath', 'sdh'),
      one(9, 'claimed', 'sdi'),
      one(11, 'dead', 'sdk', 'FAILED'),
    ]);
    files(root, {
      'block/sdb/dev': '8:16\n',
      'block/sdb/holders': null,
      'block/sdb/device/delete': '',
      'block/sdc/dev': '8:32\n', // mounted
      'block/sdc/device/delete': '',
      'block/sdd/dev': '8:48\n',
      'block/sdd/holders/dm-9': null, // LVM on the raw disk
      'block/dm-9/dm/uuid': 'LVM-abcdef\n',
      'block/dm-9/dm/name': 'tenantvg-data\n',
      'block/sde/dev': '8:64\n',
      'block/sde/sde1/partition': '1\n', // a partition bind-mounted as a raw device
      'block/sde/sde1/dev': '8:65\n',
      'block/sdg/dev': '8:96\n',
      'block/sdg/holders/dm-3': null,
      'block/sdg/device/delete': '',
      'block/sdh/dev': '8:112\n',
      'block/sdh/holders/dm-3': null,
      'block/sdh/device/delete': '',
      'block/dm-3/dev': '254:3\n',
      'block/dm-3/holders': null,
      'block/dm-3/dm/uuid': 'mpath-36001405aaaa\n',
      'block/dm-3/dm/name': 'mpatha\n',
      'block/dm-3/slaves/sdg': null,
      'block/dm-3/slaves/sdh': null,
      'block/sdi/dev': '8:128\n',
      'block/sdk/dev': '8:160\n',
      'block/sdk/device/delete': '',
    });
    return root;
  }

  const mounts = new MountTable(async () =>
    mountinfo(
      { target: '/', source: '/dev/vda1', majMin: '254:1' },
      { target: '/mnt/by-hand', source: '/dev/sdc', majMin: '8:32' },
      {
        target: '/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-x/pod',
        source: 'udev',
        fstype: 'devtmpfs',
        majMin: '0:5',
        fsroot: '/sde1',
      },
    ),
  );

  it('removes unowned, unused sessions of our targets (multipath map first) and stale records; keeps everything else', async () => {
    const root = kubelet({ [`${DRIVER}/11/globalmount.lvm-iscsi.json`]: state(iqn('owned')) });
    const sys = sysfs();
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { mutex: new Mutex() });
    const gate = new StageGate();
    const leave = gate.enter(iqn('staging-now'));
    const sessions = tree([
      { iqn: iqn('owned'), portal: P1, sid: 1, disks: ['sda'] },
      { iqn: iqn('orphan'), portal: P1, sid: 2, disks: ['sdb'] },
      { iqn: iqn('mounted'), portal: P1, sid: 3, disks: ['sdc'] },
      { iqn: iqn('held'), portal: P1, sid: 4, disks: ['sdd'] },
      { iqn: iqn('raw-bound'), portal: P1, sid: 5, disks: ['sde'] },
      { iqn: FOREIGN, portal: P1, sid: 6, disks: ['sdf'] },
      { iqn: iqn('multipath'), portal: P1, sid: 7, disks: ['sdg'] },
      { iqn: iqn('multipath'), portal: P2, sid: 8, disks: ['sdh'] },
      { iqn: iqn('claimed'), portal: P1, sid: 9, disks: ['sdi'] },
      { iqn: iqn('staging-now'), portal: P1, sid: 10, disks: ['sdj'] },
      { iqn: iqn('dead'), portal: P1, sid: 11, disks: ['sdk'], state: 'FAILED' },
    ]);
    const records = [
      `${P1},1 ${iqn('orphan')}`,
      `${P2},-1 ${iqn('orphan')}`,
      `${P1},1 ${iqn('only-a-record')}`,
      `${P1},1 ${FOREIGN}`,
      `${P1},1 ${iqn('owned')}`,
    ].join('\n');
    runner
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], { stdout: sessions })
      .expect(['iscsiadm', '-m', 'node'], { stdout: `${records}\n` })
      // orphan: one disk, a second portal known only from its record
      .expect(['blockdev', '--flushbufs', '/dev/sdb'])
      .expect(node(iqn('orphan'), P1, '--logout'))
      .expect(node(iqn('orphan'), P1, '-o', 'delete'))
      .expect(node(iqn('orphan'), P2, '--logout'), { exitCode: 21 })
      .expect(node(iqn('orphan'), P2, '-o', 'delete'))
      // multipath: map flushed before its paths go, both portals
      .expect(['multipath', '-f', 'mpatha'])
      .expect(['blockdev', '--flushbufs', '/dev/sdg'])
      .expect(['blockdev', '--flushbufs', '/dev/sdh'])
      .expect(node(iqn('multipath'), P1, '--logout'))
      .expect(node(iqn('multipath'), P1, '-o', 'delete'))
      .expect(node(iqn('multipath'), P2, '--logout'))
      .expect(node(iqn('multipath'), P2, '-o', 'delete'))
      // a session that is not logged in: not probed, taken apart
      .expect(['blockdev', '--flushbufs', '/dev/sdk'])
      .expect(node(iqn('dead'), P1, '--logout'))
      .expect(node(iqn('dead'), P1, '-o', 'delete'))
      .expect(node(iqn('only-a-record'), P1, '-o', 'delete'));
    const probed: string[] = [];
    const { log, lines } = logger();
    const report = await cleanupOrphans({
      kubeletDir: root,
      iqnPrefix: PREFIX,
      runner,
      iscsi,
      log,
      mounts,
      gate,
      sysfsRoot: sys,
      devDir: '/devtest',
      probe: async (p) => {
        probed.push(p);
        return p === '/devtest/sdi' ? 'busy' : 'free';
      },
    });
    runner.assertDone();
    leave();

    expect(report.skipped).toBeUndefined();
    expect(report.removed).toEqual([
      { iqn: iqn('orphan'), portals: [P1, P2], disks: ['sdb'] },
      { iqn: iqn('multipath'), portals: [P1, P2], disks: ['sdg', 'sdh'], multipathMap: 'mpatha' },
      { iqn: iqn('dead'), portals: [P1], disks: ['sdk'] },
    ]);
    expect(report.kept).toEqual([
      { iqn: iqn('mounted'), reasons: ['sdc is mounted at /mnt/by-hand'] },
      { iqn: iqn('held'), reasons: ['sdd is held by dm-9 (tenantvg-data)'] },
      {
        iqn: iqn('raw-bound'),
        reasons: ['sde1 is mounted at /var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-x/pod'],
      },
      { iqn: iqn('claimed'), reasons: [expect.stringMatching(/^sdi is claimed by the kernel/)] },
    ]);
    expect(report.recordsDeleted).toEqual([{ iqn: iqn('only-a-record'), portal: P1 }]);
    expect(report.failed).toEqual([]);
    expect(probed).toEqual(['/devtest/sdb', '/devtest/dm-3', '/devtest/sdi']); // the map, not its paths
    for (const d of ['sdb', 'sdg', 'sdh', 'sdk'])
      expect(readFileSync(join(sys, 'block', d, 'device/delete'), 'utf8')).toBe('1');
    expect(readFileSync(join(sys, 'block/sdc/device/delete'), 'utf8')).toBe('');
    expect(
      lines.filter((l) => l.includes('"level":"warn"')).map((l) => (JSON.parse(l) as { iqn: string }).iqn),
    ).toEqual([iqn('mounted'), iqn('held'), iqn('raw-bound'), iqn('claimed')]);
    expect(lines.join('')).toContain('start-up clean-up of orphaned iSCSI sessions done');
    // the gate is open again
    expect(() => gate.enter(iqn('x'))()).not.toThrow();
  });

  it('leaves a session alone when its multipath map cannot be flushed, and carries on with the next', async () => {
    const root = kubelet({});
    const sys = sysfs();
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { mutex: new Mutex() });
    runner
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], {
        stdout: tree([
          { iqn: iqn('multipath'), portal: P1, sid: 7, disks: ['sdg'] },
          { iqn: iqn('multipath'), portal: P2, sid: 8, disks: ['sdh'] },
          { iqn: iqn('orphan'), portal: P1, sid: 2, disks: ['sdb'] },
        ]),
      })
      .expect(['iscsiadm', '-m', 'node'], { exitCode: 21 });
    for (let i = 0; i < FLUSH_ATTEMPTS; i++)
      runner.expect(['multipath', '-f', 'mpatha'], { exitCode: 1, stderr: 'mpatha: map in use\n' });
    runner
      .expect(['blockdev', '--flushbufs', '/dev/sdb'])
      .expect(node(iqn('orphan'), P1, '--logout'))
      .expect(node(iqn('orphan'), P1, '-o', 'delete'));
    const { log } = logger();
    const report = await cleanupOrphans({
      kubeletDir: root,
      iqnPrefix: PREFIX,
      runner,
      iscsi,
      log,
      sysfsRoot: sys,
      mounts: noMounts,
      probe: async () => 'free',
    });
    runner.assertDone();
    expect(report.failed).toEqual([{ iqn: iqn('multipath'), error: expect.stringMatching(/map in use/) }]);
    expect(report.removed.map((r) => r.iqn)).toEqual([iqn('orphan')]);
    expect(readFileSync(join(sys, 'block/sdg/device/delete'), 'utf8')).toBe(''); // its paths stay
  }, 10_000);

  it('takes the disks of an orphan from sysfs, not from names listed elsewhere: a name now owned by another target is never deleted', async () => {
    const root = kubelet({ [`${DRIVER}/11/globalmount.lvm-iscsi.json`]: state(iqn('owned')) });
    const sys = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
    fakeIscsiSysfs(sys, [
      { sid: 1, iqn: iqn('owned'), disks: [{ name: 'sdb', lun: 0, dev: '8:16' }] },
      { sid: 2, iqn: iqn('orphan'), disks: [{ name: 'sdm', lun: 0, dev: '8:192' }] },
    ]);
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { mutex: new Mutex() });
    runner
      // a listing whose names are out of date: it says the orphan's disk is sdb
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], {
        stdout: tree([
          { iqn: iqn('owned'), portal: P1, sid: 1, disks: ['sda'] },
          { iqn: iqn('orphan'), portal: P1, sid: 2, disks: ['sdb'] },
        ]),
      })
      .expect(['iscsiadm', '-m', 'node'], { exitCode: 21 })
      .expect(['blockdev', '--flushbufs', '/dev/sdm'])
      .expect(node(iqn('orphan'), P1, '--logout'))
      .expect(node(iqn('orphan'), P1, '-o', 'delete'));
    const { log } = logger();
    const report = await cleanupOrphans({
      kubeletDir: root,
      iqnPrefix: PREFIX,
      runner,
      iscsi,
      log,
      sysfsRoot: sys,
      mounts: noMounts,
      probe: async () => 'free',
    });
    runner.assertDone();
    expect(report.removed).toEqual([{ iqn: iqn('orphan'), portals: [P1], disks: ['sdm'] }]);
    expect(readFileSync(join(sys, 'block/sdm/device/delete'), 'utf8')).toBe('1');
    expect(readFileSync(join(sys, 'block/sdb/device/delete'), 'utf8')).toBe('');
  });

  it('keeps an orphan whose multipath map also holds a disk of another target', async () => {
    const root = kubelet({});
    const sys = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
    fakeIscsiSysfs(sys, [
      { sid: 2, iqn: iqn('orphan'), disks: [{ name: 'sdm', lun: 0, dev: '8:192' }] },
      { sid: 3, iqn: iqn('other'), disks: [{ name: 'sdn', lun: 0, dev: '8:208' }] },
    ]);
    files(sys, {
      'block/sdm/holders/dm-5': null,
      'block/dm-5/dm/uuid': 'mpath-3600\n',
      'block/dm-5/dm/name': 'mpathx\n',
      'block/dm-5/holders': null,
      'block/dm-5/slaves/sdm': null,
      'block/dm-5/slaves/sdn': null,
    });
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { mutex: new Mutex() });
    runner
      .expect(['iscsiadm', '-m', 'session', '-P', '3'], {
        stdout: tree([{ iqn: iqn('orphan'), portal: P1, sid: 2, disks: ['sdm'] }]),
      })
      .expect(['iscsiadm', '-m', 'node'], { exitCode: 21 });
    const { log } = logger();
    const report = await cleanupOrphans({
      kubeletDir: root,
      iqnPrefix: PREFIX,
      runner,
      iscsi,
      log,
      sysfsRoot: sys,
      mounts: noMounts,
      probe: async () => 'free',
    });
    runner.assertDone();
    expect(report.kept).toEqual([
      { iqn: iqn('orphan'), reasons: ['multipath map mpathx also holds sdn, which are not disks of this target'] },
    ]);
    expect(readFileSync(join(sys, 'block/sdm/device/delete'), 'utf8')).toBe('');
  });

  it('touches nothing when the kubelet directory has no CSI staging directory or a state file is unreadable', async () => {
    const runner = new FakeRunner();
    const iscsi = new Iscsiadm(runner, undefined, { mutex: new Mutex() });
    const { log, lines } = logger();
    const missing = await cleanupOrphans({ kubeletDir: '/nonexistent/kubelet', iqnPrefix: PREFIX, runner, iscsi, log });
    expect(missing.skipped).toMatch(
      /\/nonexistent\/kubelet\/plugins\/kubernetes.io\/csi does not exist.*--kubelet-dir/,
    );
    const gate = new StageGate();
    const broken = await cleanupOrphans({
      kubeletDir: kubelet({ 'pv/pvc-1/globalmount.lvm-iscsi.json': '{' }),
      iqnPrefix: PREFIX,
      runner,
      iscsi,
      log,
      gate,
    });
    expect(broken.skipped).toMatch(/cannot read the stage state .*pvc-1.*; it might own any session/);
    runner.assertDone(); // not one command
    expect(() => gate.enter()).not.toThrow();
    expect(lines.filter((l) => l.includes('"level":"warn"'))).toHaveLength(2);
  });
});

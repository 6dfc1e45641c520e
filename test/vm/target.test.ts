/**
 * The iSCSI target code on the real kernel: LIO through configfs on
 * 127.0.0.1:3260 and tgtd on 127.0.0.1:3261, each checked with the real
 * open-iscsi initiator of the guest (iqn.2024-01.test.vm:guest, iface
 * "default") and a second identity (iface "other", iqn.2024-01.test.vm:other).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessRunner } from '../../src/exec/process-runner.js';
import { FailedPrecondition } from '../../src/errors.js';
import { targetIqn, unitSerial } from '../../src/iscsi-target/iqn.js';
import { LioTarget } from '../../src/iscsi-target/lio.js';
import { TgtTarget } from '../../src/iscsi-target/tgt.js';
import type { ChapCredentials, Target, TargetSpec } from '../../src/iscsi-target/types.js';
import { checksum, destroyVg, disks, inGuest, makeVg, MiB, rawLv, sh, shStatus, waitFor, writePattern } from './lib.js';

const VG = 'tgtvg';
const GUEST = 'iqn.2024-01.test.vm:guest';
const OTHER = 'iqn.2024-01.test.vm:other';
const CONFIGFS = '/sys/kernel/config/target';
const LOGIN_AUTH_FAILED = 24; // iscsiadm: ISCSI_ERR_LOGIN_AUTH_FAILED

const portal = (port: number) => `127.0.0.1:${port}`;
const byPath = (port: number, iqn: string, lun: number) =>
  `/dev/disk/by-path/ip-127.0.0.1:${port}-iscsi-${iqn}-lun-${lun}`;

function iscsiadm(...args: string[]): { code: number; out: string } {
  return shStatus(['iscsiadm', ...args]);
}

function discover(port: number, iface: string): string {
  return sh(['iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal(port), '-I', iface]);
}

/** A node record without discovery (tgt's SendTargets hides targets from initiators outside the ACL). */
function record(iqn: string, port: number, iface: string): void {
  iscsiadm('-m', 'node', '-o', 'new', '-T', iqn, '-p', portal(port), '-I', iface);
}

function nodeSet(iqn: string, port: number, iface: string, settings: Record<string, string>): void {
  for (const [name, value] of Object.entries(settings)) {
    sh(['iscsiadm', '-m', 'node', '-T', iqn, '-p', portal(port), '-I', iface, '-o', 'update', '-n', name, '-v', value]);
  }
}

function setChap(
  iqn: string,
  port: number,
  iface: string,
  chap: { user: string; password: string; userIn?: string; passwordIn?: string } | undefined,
): void {
  if (!chap) return nodeSet(iqn, port, iface, { 'node.session.auth.authmethod': 'None' });
  nodeSet(iqn, port, iface, {
    'node.session.auth.authmethod': 'CHAP',
    'node.session.auth.username': chap.user,
    'node.session.auth.password': chap.password,
    'node.session.auth.username_in': chap.userIn ?? '',
    'node.session.auth.password_in': chap.passwordIn ?? '',
  });
}

/** Logs in; the session gives up 5 s after losing its connection (default 120 s), so a denied initiator's I/O fails fast. */
function login(iqn: string, port: number, iface = 'default'): number {
  nodeSet(iqn, port, iface, { 'node.session.timeo.replacement_timeout': '5' });
  return iscsiadm('-m', 'node', '-T', iqn, '-p', portal(port), '-I', iface, '--login').code;
}

/** Logs out every session to the target and deletes its node records (all ifaces). OK when there are none. */
function forget(iqn: string, port: number): void {
  const out = iscsiadm('-m', 'node', '-T', iqn, '-p', portal(port), '--logout');
  if (out.code !== 0 && out.code !== 21) throw new Error(`logout failed: ${out.out}`);
  iscsiadm('-m', 'node', '-T', iqn, '-p', portal(port), '-o', 'delete');
}

/** "LOGGED_IN", "FAILED", "FREE"... of the session to `iqn`, or "none". */
function sessionState(iqn: string): string {
  const out = iscsiadm('-m', 'session', '-P', '1').out;
  const block = out.split(/^Target: /m).find((b) => b.startsWith(`${iqn} `));
  return block ? (/iSCSI Session State: (\S+)/.exec(block)?.[1] ?? 'unknown') : 'none';
}

async function diskOf(port: number, iqn: string, lun: number): Promise<string> {
  const link = byPath(port, iqn, lun);
  await waitFor(
    () => existsSync(link),
    30_000,
    () => `no ${link}; by-path: ${readdirSync('/dev/disk/by-path').join(' ')}`,
  );
  sh(['udevadm', 'settle']);
  return sh(['readlink', '-f', link]).trim();
}

function udevProps(dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of sh(['udevadm', 'info', '--query=property', `--name=${dev}`]).split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

const size = (dev: string) => Number(sh(['blockdev', '--getsize64', dev]).trim());

/** A read that bypasses the cache; false when the device refuses it (within 60 s). */
function canRead(dev: string): boolean {
  return (
    shStatus(['timeout', '60', 'dd', `if=${dev}`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct']).code === 0
  );
}

function configfsEntries(pattern: RegExp): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${d.name}`;
      if (pattern.test(d.name)) out.push(p);
      if (
        d.isDirectory() &&
        !d.isSymbolicLink() &&
        !['statistics', 'fabric_statistics', 'alua', 'param', 'attrib', 'auth', 'wwn', 'pr', 'action'].includes(d.name)
      )
        walk(p, depth + 1);
    }
  };
  walk(CONFIGFS, 0);
  return out;
}

const lvSpec = (lv: string, port: number): TargetSpec => ({
  iqn: targetIqn(VG, lv),
  volumeKey: `${VG}/${lv}`,
  devicePath: `/dev/${VG}/${lv}`,
  serial: unitSerial(VG, lv),
  portals: [{ address: '127.0.0.1', port }],
});

const CHAP: ChapCredentials = {
  userid: 'csi-user-1',
  password: 'Init1ator-secret',
  mutualUserid: 'csi-target-1',
  mutualPassword: 'Targ3t-secret-xy',
};

describe.runIf(inGuest)('iSCSI target on the real kernel', () => {
  beforeAll(() => {
    makeVg(VG, [disks[3] as string]);
    sh(['lvcreate', '-q', '-y', '-L', '32m', '-n', 'lv1', VG]);
    sh(['lvcreate', '-q', '-y', '-L', '32m', '-n', 'lv2', VG]);
    iscsiadm('-m', 'iface', '-I', 'other', '-o', 'delete');
    sh(['iscsiadm', '-m', 'iface', '-I', 'other', '-o', 'new']);
    sh(['iscsiadm', '-m', 'iface', '-I', 'other', '-o', 'update', '-n', 'iface.initiatorname', '-v', OTHER]);
    expect(readFileSync('/etc/iscsi/initiatorname.iscsi', 'utf8')).toContain(GUEST);
  });

  afterAll(async () => {
    iscsiadm('-m', 'node', '--logoutall=all');
    iscsiadm('-m', 'node', '-o', 'delete');
    iscsiadm('-m', 'iface', '-I', 'other', '-o', 'delete');
    const lio = new LioTarget();
    for (const t of await lio.listTargets().catch(() => []))
      if (t.iqn.includes(`:${VG}:`)) await lio.removeTarget(t.iqn).catch(() => undefined);
    destroyVg(VG);
  });

  describe('LIO (configfs) on 127.0.0.1:3260', () => {
    const lio: Target = new LioTarget();
    const spec = lvSpec('lv1', 3260);
    const iqn = spec.iqn;
    let dev = '';
    let wwn = '';

    it('exports the LV: discovery, login as the allowed IQN, LV size, unit serial and WWID, discards, data', async () => {
      expect(await lio.hasTarget(iqn)).toBe(false);
      await lio.ensureTarget(spec);
      await lio.ensureTarget(spec); // idempotent on the real kernel too
      expect(await lio.hasTarget(iqn)).toBe(true);
      await lio.allowInitiator(iqn, GUEST);
      expect(discover(3260, 'default')).toContain(`127.0.0.1:3260,1 ${iqn}`);
      expect(login(iqn, 3260)).toBe(0);
      dev = await diskOf(3260, iqn, 0);
      expect(size(dev)).toBe(32 * MiB);
      const props = udevProps(dev);
      expect(props['ID_SCSI_SERIAL']).toBe(spec.serial);
      wwn = props['ID_WWN_WITH_EXTENSION'] ?? '';
      expect(wwn).toBe(`0x6001405${spec.serial.slice(0, 25)}`);
      expect(existsSync(`/dev/disk/by-id/wwn-${wwn}`)).toBe(true);
      // emulate_tpu=1: the initiator sees a device that takes discards
      expect(
        Number(readFileSync(`/sys/block/${dev.replace('/dev/', '')}/queue/discard_max_bytes`, 'utf8')),
      ).toBeGreaterThan(0);
      // data written through iSCSI is on the LV
      writePattern(dev, MiB, 'lio');
      expect(checksum(`/dev/${VG}/lv1`, MiB)).toBe(checksum(dev, MiB));

      const [state] = (await lio.listTargets()).filter((t) => t.iqn === iqn);
      expect(state).toMatchObject({
        iqn,
        devicePath: spec.devicePath,
        serial: spec.serial,
        lun: 0,
        portals: [{ address: '127.0.0.1', port: 3260 }],
        authRequired: false,
        enabled: true,
        sizeBytes: 32 * MiB,
        initiators: [{ iqn: GUEST, chapUserid: undefined, mutualChapUserid: undefined, sessions: 1 }],
      });
      console.log(`LIO: ${dev} ID_SERIAL=${props['ID_SERIAL']} ID_WWN_WITH_EXTENSION=${wwn}`);
    });

    it('discovery lists the target to the allowed initiator only (demo_mode_discovery=0)', () => {
      expect(discover(3260, 'default')).toContain(iqn);
      const other = iscsiadm('-m', 'discovery', '-t', 'sendtargets', '-p', portal(3260), '-I', 'other');
      console.log(`LIO discovery as ${OTHER}: exit ${other.code}: ${other.out.trim()}`);
      expect(other.out).not.toContain(iqn);
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3260), '-I', 'other', '-o', 'delete');
    });

    it('refuses an initiator that is not allowed', () => {
      record(iqn, 3260, 'other');
      expect(login(iqn, 3260, 'other')).toBe(LOGIN_AUTH_FAILED);
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3260), '-I', 'other', '-o', 'delete');
    });

    it('holds the LV open while exported: lvremove refuses', () => {
      const r = shStatus(['lvremove', '-y', `${VG}/lv1`]);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/in use/);
    });

    it('resize: after lvextend, refreshSize and a rescan the disk has the new size', async () => {
      sh(['lvextend', '-q', '-L', '48m', `${VG}/lv1`]);
      await lio.refreshSize(iqn);
      sh(['iscsiadm', '-m', 'session', '--rescan']);
      await waitFor(
        () => size(dev) === 48 * MiB,
        20_000,
        () => `size ${size(dev)}`,
      );
      expect((await lio.listTargets()).find((t) => t.iqn === iqn)?.sizeBytes).toBe(48 * MiB);
    });

    it('denyInitiator ends the live session at once', async () => {
      expect(sessionState(iqn)).toBe('LOGGED_IN');
      const t0 = Date.now();
      await lio.denyInitiator(iqn, GUEST);
      const tookMs = Date.now() - t0;
      expect(existsSync(`${CONFIGFS}/iscsi/${iqn}/tpgt_1/acls/${GUEST}`)).toBe(false);
      expect((await lio.listTargets()).find((t) => t.iqn === iqn)?.initiators).toEqual([]);
      await waitFor(
        () => sessionState(iqn) !== 'LOGGED_IN',
        10_000,
        () => sessionState(iqn),
      );
      expect(canRead(dev)).toBe(false);
      console.log(`LIO deny took ${tookMs} ms; initiator session state now ${sessionState(iqn)}`);
      await lio.denyInitiator(iqn, GUEST); // already gone: OK
      forget(iqn, 3260);
    });

    it('CHAP: no CHAP refused, wrong password refused, right one works, mutual CHAP works', async () => {
      await lio.allowInitiator(iqn, GUEST, CHAP);
      await lio.allowInitiator(iqn, GUEST, CHAP); // same credentials: no change
      expect((await lio.listTargets()).find((t) => t.iqn === iqn)).toMatchObject({
        authRequired: true,
        initiators: [{ iqn: GUEST, chapUserid: CHAP.userid, mutualChapUserid: CHAP.mutualUserid, sessions: 0 }],
      });
      expect(discover(3260, 'default')).toContain(iqn); // discovery needs no CHAP
      setChap(iqn, 3260, 'default', undefined);
      expect(login(iqn, 3260)).toBe(LOGIN_AUTH_FAILED);
      setChap(iqn, 3260, 'default', { user: CHAP.userid, password: 'Wrong-password-1' });
      expect(login(iqn, 3260)).toBe(LOGIN_AUTH_FAILED);
      setChap(iqn, 3260, 'default', { user: CHAP.userid, password: CHAP.password });
      expect(login(iqn, 3260)).toBe(0);
      forget(iqn, 3260);
      record(iqn, 3260, 'default');
      setChap(iqn, 3260, 'default', {
        user: CHAP.userid,
        password: CHAP.password,
        userIn: CHAP.mutualUserid as string,
        passwordIn: CHAP.mutualPassword as string,
      });
      expect(login(iqn, 3260)).toBe(0);
      expect(sessionState(iqn)).toBe('LOGGED_IN');
      // changed credentials: the live session stays, the next login needs the new ones
      await lio.allowInitiator(iqn, GUEST, { ...CHAP, password: 'Changed-secret-22' });
      expect(sessionState(iqn)).toBe('LOGGED_IN');
    });

    it('removeTarget ends sessions, leaves no configfs entries and frees the LV; a re-export has the same WWID', async () => {
      await lio.removeTarget(iqn);
      await lio.removeTarget(iqn); // gone: OK
      expect(await lio.hasTarget(iqn)).toBe(false);
      expect(configfsEntries(new RegExp(`${VG}|lv1`))).toEqual([]);
      expect(existsSync(`${CONFIGFS}/iscsi/${iqn}`)).toBe(false);
      expect(sh(['dmsetup', 'info', '--noheadings', '-c', '-o', 'open', `${VG}-lv1`]).trim()).toBe('0');
      await waitFor(
        () => sessionState(iqn) !== 'LOGGED_IN',
        10_000,
        () => sessionState(iqn),
      );
      forget(iqn, 3260);

      await lio.ensureTarget(spec);
      await lio.allowInitiator(iqn, GUEST);
      record(iqn, 3260, 'default');
      expect(login(iqn, 3260)).toBe(0);
      const again = await diskOf(3260, iqn, 0);
      expect(udevProps(again)['ID_WWN_WITH_EXTENSION']).toBe(wwn);
      expect(size(again)).toBe(48 * MiB);
      forget(iqn, 3260);
      await lio.removeTarget(iqn);
      expect(configfsEntries(new RegExp(`${VG}|lv1`))).toEqual([]);
    });
    it('discards from the initiator reach the thin pool (emulate_tpu and emulate_tpws)', async () => {
      sh(['lvcreate', '-q', '-y', '-L', '96m', '-T', `${VG}/pool`]);
      sh(['lvcreate', '-q', '-y', '-V', '32m', '-T', `${VG}/pool`, '-n', 'thin1']);
      sh(['dd', 'if=/dev/urandom', `of=/dev/${VG}/thin1`, 'bs=1M', 'count=32', 'oflag=direct', 'status=none']);
      const used = () => Number(rawLv(VG, 'thin1')?.data_percent);
      expect(used()).toBeGreaterThan(90);
      const s = lvSpec('thin1', 3260);
      await lio.ensureTarget(s);
      await lio.allowInitiator(s.iqn, GUEST);
      record(s.iqn, 3260, 'default');
      expect(login(s.iqn, 3260)).toBe(0);
      const d = await diskOf(3260, s.iqn, 0);
      const r = shStatus(['blkdiscard', d]);
      expect(r.code, r.out).toBe(0);
      await waitFor(
        () => used() < 5,
        20_000,
        () => `thin1 data ${used()}%`,
      );
      console.log(`LIO discard: thin1 data ${used()}% after blkdiscard on ${d}`);
      forget(s.iqn, 3260);
      await lio.removeTarget(s.iqn);
    });
  });

  describe('tgt (tgtd) on 127.0.0.1:3261', () => {
    let tgtd: ChildProcess | undefined;
    let tgtdLog = '';
    const tgt: Target = new TgtTarget({ runner: new ProcessRunner() });
    const spec = lvSpec('lv2', 3261);
    const iqn = spec.iqn;
    let dev = '';

    beforeAll(async () => {
      tgtd = spawn('tgtd', ['-f', '--iscsi', 'portal=127.0.0.1:3261'], { stdio: ['ignore', 'pipe', 'pipe'] });
      tgtd.stdout?.on('data', (d: Buffer) => (tgtdLog += d.toString()));
      tgtd.stderr?.on('data', (d: Buffer) => (tgtdLog += d.toString()));
      await waitFor(
        () => shStatus(['tgtadm', '--lld', 'iscsi', '--mode', 'target', '--op', 'show']).code === 0,
        30_000,
        () => tgtdLog,
      );
    });

    afterAll(async () => {
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3261), '--logout');
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3261), '-o', 'delete');
      await tgt.removeTarget(iqn).catch(() => undefined);
      shStatus(['tgtadm', '--op', 'delete', '--mode', 'system']);
      if (tgtd && tgtd.exitCode === null) {
        await Promise.race([new Promise((r) => tgtd?.once('exit', r)), new Promise((r) => setTimeout(r, 3000))]);
        if (tgtd.exitCode === null) tgtd.kill('SIGKILL');
      }
    });

    it('exports the LV on LUN 1: discovery, login as the allowed IQN, LV size, serial, data', async () => {
      await tgt.ensureTarget(spec);
      await tgt.ensureTarget(spec);
      await tgt.allowInitiator(iqn, GUEST);
      expect(discover(3261, 'default')).toContain(`127.0.0.1:3261,1 ${iqn}`);
      expect(login(iqn, 3261)).toBe(0);
      dev = await diskOf(3261, iqn, 1);
      expect(size(dev)).toBe(32 * MiB);
      const props = udevProps(dev);
      expect(props['ID_SCSI_SERIAL']).toBe(spec.serial);
      // tgt's NAA designator is scsi_id read as hex with NAA type 6 in the top nibble
      expect(props['ID_WWN_WITH_EXTENSION']).toBe(`0x6${spec.serial.slice(1)}`);
      writePattern(dev, MiB, 'tgt');
      expect(checksum(`/dev/${VG}/lv2`, MiB)).toBe(checksum(dev, MiB));
      const state = (await tgt.listTargets()).find((t) => t.iqn === iqn);
      expect(state).toMatchObject({
        devicePath: spec.devicePath,
        serial: spec.serial,
        lun: 1,
        authRequired: false,
        enabled: true,
      });
      expect(state?.initiators).toEqual([
        { iqn: GUEST, chapUserid: undefined, mutualChapUserid: undefined, sessions: 1 },
      ]);
      expect(state?.portals).toContainEqual({ address: '127.0.0.1', port: 3261 });
      console.log(
        `tgt: ${dev} ID_SERIAL=${props['ID_SERIAL']} ID_WWN_WITH_EXTENSION=${props['ID_WWN_WITH_EXTENSION'] ?? '-'}`,
      );
    });

    it('discovery lists the target to the allowed initiator only (tgt binds targets to initiator names)', () => {
      expect(discover(3261, 'default')).toContain(iqn);
      const other = iscsiadm('-m', 'discovery', '-t', 'sendtargets', '-p', portal(3261), '-I', 'other');
      console.log(`tgt discovery as ${OTHER}: exit ${other.code}: ${other.out.trim()}`);
      expect(other.out).not.toContain(iqn);
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3261), '-I', 'other', '-o', 'delete');
    });

    it('refuses an initiator that is not allowed', () => {
      record(iqn, 3261, 'other');
      expect(login(iqn, 3261, 'other')).not.toBe(0);
      iscsiadm('-m', 'node', '-T', iqn, '-p', portal(3261), '-I', 'other', '-o', 'delete');
    });

    it('refreshSize is refused while logged in; after logout the LUN takes the new size', async () => {
      sh(['lvextend', '-q', '-L', '48m', `${VG}/lv2`]);
      await expect(tgt.refreshSize(iqn)).rejects.toBeInstanceOf(FailedPrecondition);
      forget(iqn, 3261);
      await waitFor(
        async () => (await tgt.listTargets()).find((t) => t.iqn === iqn)?.initiators[0]?.sessions === 0,
        10_000,
      );
      await tgt.refreshSize(iqn);
      record(iqn, 3261, 'default');
      expect(login(iqn, 3261)).toBe(0);
      dev = await diskOf(3261, iqn, 1);
      expect(size(dev)).toBe(48 * MiB);
      expect(udevProps(dev)['ID_SCSI_SERIAL']).toBe(spec.serial);
    });

    it('denyInitiator ends the live session at once', async () => {
      expect(sessionState(iqn)).toBe('LOGGED_IN');
      const t0 = Date.now();
      await tgt.denyInitiator(iqn, GUEST);
      const tookMs = Date.now() - t0;
      const state = (await tgt.listTargets()).find((t) => t.iqn === iqn);
      expect(state?.initiators).toEqual([]);
      await waitFor(
        () => sessionState(iqn) !== 'LOGGED_IN',
        10_000,
        () => sessionState(iqn),
      );
      expect(canRead(dev)).toBe(false);
      console.log(`tgt deny took ${tookMs} ms; initiator session state now ${sessionState(iqn)}`);
      await tgt.denyInitiator(iqn, GUEST);
      forget(iqn, 3261);
    });

    it('CHAP: no CHAP refused, wrong password refused, right one works, mutual CHAP works', async () => {
      await tgt.allowInitiator(iqn, GUEST, CHAP);
      await tgt.allowInitiator(iqn, GUEST, CHAP);
      expect((await tgt.listTargets()).find((t) => t.iqn === iqn)).toMatchObject({ authRequired: true });
      record(iqn, 3261, 'default');
      setChap(iqn, 3261, 'default', undefined);
      expect(login(iqn, 3261)).toBe(LOGIN_AUTH_FAILED);
      setChap(iqn, 3261, 'default', { user: CHAP.userid, password: 'Wrong-password-1' });
      expect(login(iqn, 3261)).toBe(LOGIN_AUTH_FAILED);
      setChap(iqn, 3261, 'default', { user: CHAP.userid, password: CHAP.password });
      expect(login(iqn, 3261)).toBe(0);
      forget(iqn, 3261);
      record(iqn, 3261, 'default');
      setChap(iqn, 3261, 'default', {
        user: CHAP.userid,
        password: CHAP.password,
        userIn: CHAP.mutualUserid as string,
        passwordIn: CHAP.mutualPassword as string,
      });
      expect(login(iqn, 3261)).toBe(0);
      // a changed password: re-created account; the live session stays, the old password no longer logs in
      await tgt.allowInitiator(iqn, GUEST, { ...CHAP, password: 'Changed-secret-22' });
      expect(sessionState(iqn)).toBe('LOGGED_IN');
      forget(iqn, 3261);
      record(iqn, 3261, 'default');
      setChap(iqn, 3261, 'default', { user: CHAP.userid, password: CHAP.password });
      expect(login(iqn, 3261)).toBe(LOGIN_AUTH_FAILED);
      setChap(iqn, 3261, 'default', { user: CHAP.userid, password: 'Changed-secret-22' });
      expect(login(iqn, 3261)).toBe(0);
    });

    it('removeTarget ends sessions and leaves tgtd without the target or its accounts', async () => {
      expect(await tgt.hasTarget(iqn)).toBe(true);
      await tgt.removeTarget(iqn);
      await tgt.removeTarget(iqn);
      expect(await tgt.hasTarget(iqn)).toBe(false);
      expect((await tgt.listTargets()).find((t) => t.iqn === iqn)).toBeUndefined();
      expect(sh(['tgtadm', '--lld', 'iscsi', '--mode', 'account', '--op', 'show'])).not.toMatch(/csi-/);
      await waitFor(
        () => sessionState(iqn) !== 'LOGGED_IN',
        10_000,
        () => sessionState(iqn),
      );
      forget(iqn, 3261);
      expect(sh(['dmsetup', 'info', '--noheadings', '-c', '-o', 'open', `${VG}-lv2`]).trim()).toBe('0');
    });
  });
});

/**
 * A storage-node reboot, in two guest boots on the same virtio disks
 * (test/run-all.sh runs phase 1, then phase 2 with phase 1's state file):
 *   1. volumes are created, published, written over iSCSI; checksums and the
 *      disk's WWID are recorded; the plugin is killed, the guest powers off.
 *   2. after the boot the plugin starts with an agent-level CHAP secret
 *      (--chap-secret-dir): the CHAP volume is exported again before any
 *      re-publish (no CO needed) and logs in with its per-volume credentials;
 *      then the attacher's re-publish arrives, and every volume is exported
 *      again with the same WWID and its data.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { derivePassword, volumeUser } from '../../src/agent/chap.js';
import { call, checksum, disks, inGuest, makeVg, MiB, mountCap, sh, shStatus, startPlugin, waitFor, writePattern } from '../vm/lib.js';

const VG = 'rebootvg';
const PORTAL = '127.0.0.1:3260';
const NODE_A = 'node-a:iqn.2024-01.test.vm:guest';
const phase = process.env['REBOOT_PHASE'];
const stateFile = process.env['REBOOT_STATE'] ?? '';
const flags = ['--mode', 'all', '--volume-group', VG, '--thin-pool', 'pool', '--thin-pool-percent', '50', '--portals', PORTAL];
const SECRETS = { chapUser: 'tenant-rb', chapSecret: 'reboot-chap-key-0123456789' };

interface Saved {
  id: string;
  iqn: string;
  sum: string;
  wwid: string;
  chap: boolean;
}

function loginAndWait(iqn: string, chap?: { user: string; pass: string }): string {
  shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-o', 'new']);
  const set = (n: string, v: string) => sh(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '-o', 'update', '-n', n, '-v', v]);
  if (chap) {
    set('node.session.auth.authmethod', 'CHAP');
    set('node.session.auth.username', chap.user);
    set('node.session.auth.password', chap.pass);
  }
  const r = shStatus(['iscsiadm', '-m', 'node', '-T', iqn, '-p', PORTAL, '--login']);
  if (r.code !== 0 && r.code !== 15) throw new Error(`login to ${iqn} failed (${r.code}): ${r.out}`); // 15: already logged in
  return `/dev/disk/by-path/ip-${PORTAL}-iscsi-${iqn}-lun-0`;
}

function credsOf(id: string) {
  return { user: volumeUser(SECRETS.chapUser, id), pass: derivePassword(SECRETS.chapSecret, id, 'initiator') };
}

function wwid(dev: string): string {
  return sh(['udevadm', 'info', '--query=property', `--name=${dev}`]).split('\n').find((l) => l.startsWith('ID_SERIAL='))?.slice(10) ?? '';
}

describe.runIf(inGuest && phase === '1')('storage-node reboot, phase 1: before', () => {
  it('creates, publishes and writes thin and thick volumes, then the plugin dies', async () => {
    makeVg(VG, disks.slice(0, 2));
    const p = await startPlugin(flags);
    const saved: Saved[] = [];
    for (const [name, params, chap] of [['rb-thin', {}, false], ['rb-thick', { lvmType: 'thick' }, false], ['rb-chap', {}, true]] as const) {
      const id = (await call(p.controller, 'CreateVolume', { name, capacity_range: { required_bytes: String(32 * MiB) }, volume_capabilities: [mountCap()], parameters: params })).volume?.volume_id ?? '';
      const ctx = (await call(p.controller, 'ControllerPublishVolume', { volume_id: id, node_id: NODE_A, volume_capability: mountCap(), readonly: false, secrets: chap ? SECRETS : {}, volume_context: {} })).publish_context;
      const iqn = ctx['targetIqn'] ?? '';
      const dev = loginAndWait(iqn, chap ? credsOf(id) : undefined);
      await waitFor(() => existsSync(dev), 30_000);
      writePattern(dev, 16 * MiB, name);
      saved.push({ id, iqn, sum: checksum(dev, 16 * MiB), wwid: wwid(dev), chap });
    }
    expect(saved.every((s) => s.wwid.length > 0)).toBe(true);
    writeFileSync(join(process.env['VM_OUT'] ?? '/tmp', 'reboot-state.json'), JSON.stringify(saved));
    p.child.kill('SIGKILL');
  });
});

describe.runIf(inGuest && phase === '2')('storage-node reboot, phase 2: after', () => {
  it('exports every published volume again after the re-publish, with the same WWID and data', async () => {
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as Saved[];
    expect(saved).toHaveLength(3);
    const secretDir = mkdtempSync('/tmp/chap-secret-');
    for (const [k, v] of Object.entries(SECRETS)) writeFileSync(join(secretDir, k), v);
    const p = await startPlugin([...flags, '--chap-secret-dir', secretDir]);
    try {
      // no CO yet: the agent-level secret brought the CHAP export back, CHAP still required
      const withChap = saved.find((s) => s.chap) as Saved;
      const lio = `/sys/kernel/config/target/iscsi/${withChap.iqn}/tpgt_1`;
      expect(existsSync(lio)).toBe(true);
      expect(readFileSync(`${lio}/attrib/authentication`, 'utf8').trim()).toBe('1');
      const early = loginAndWait(withChap.iqn, credsOf(withChap.id));
      await waitFor(() => existsSync(early), 30_000);
      expect(checksum(early, 16 * MiB)).toBe(withChap.sum);
      for (const s of saved) {
        const ctx = (await call(p.controller, 'ControllerPublishVolume', { volume_id: s.id, node_id: NODE_A, volume_capability: mountCap(), readonly: false, secrets: s.chap ? SECRETS : {}, volume_context: {} })).publish_context;
        expect(ctx['targetIqn']).toBe(s.iqn);
        const dev = loginAndWait(s.iqn, s.chap ? credsOf(s.id) : undefined);
        await waitFor(() => existsSync(dev), 30_000);
        expect(wwid(dev)).toBe(s.wwid);
        expect(checksum(dev, 16 * MiB)).toBe(s.sum);
      }
      const listed = (await call(p.controller, 'ListVolumes', {})).entries;
      expect(listed.map((e) => e.status?.published_node_ids)).toEqual([[NODE_A], [NODE_A], [NODE_A]]);
    } finally {
      shStatus(['iscsiadm', '-m', 'node', '--logoutall=all']);
      await p.stop();
    }
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommandFailed } from '../../../src/errors.js';
import { parseAccountShow, parsePortalShow, parseTargetShow } from '../../../src/iscsi-target/tgtadm-parse.js';
import { classifyTgtadm } from '../../../src/iscsi-target/tgtadm.js';

// Captured from tgtd 1.0.85 (Debian 12) with three targets, two of them with
// live sessions (libiscsi's iscsi-perf as initiator), CHAP accounts and ACLs.
const fixture = (n: string) => readFileSync(join(import.meta.dirname, 'fixtures', n), 'utf8');

describe('parseTargetShow', () => {
  const targets = parseTargetShow(fixture('tgtadm-show-multi.txt'));

  it('finds every target with its tid and IQN', () => {
    expect(targets.map((t) => [t.tid, t.iqn])).toEqual([
      [1, 'iqn.2024-01.org.example:vg.lv1'],
      [3, 'iqn.2024-01.org.example.csi-lvm-iscsi:csivg:vol-two'],
      [7, 'iqn.2024-01.org.example.csi-lvm-iscsi:csivg:vol-nolun'],
    ]);
    expect(targets.every((t) => t.driver === 'iscsi' && t.state === 'ready')).toBe(true);
  });

  it('reads sessions (I_T nexus = sid) with their initiator and connections', () => {
    expect(targets[0]?.nexus).toEqual([
      { id: 12, initiator: 'iqn.2024-01.test:a', alias: undefined, connections: [{ cid: 0, address: '127.0.0.1' }] },
    ]);
    expect(targets[1]?.nexus.map((n) => [n.id, n.initiator])).toEqual([
      [10, 'iqn.2024-01.test:a'],
      [11, 'iqn.2024-01.test:b'],
    ]);
    expect(targets[2]?.nexus).toEqual([]);
  });

  it('reads LUNs: controller LUN 0 and the disk on LUN 1', () => {
    const [l0, l1] = targets[0]?.luns ?? [];
    expect(l0).toMatchObject({ lun: 0, type: 'controller', backingStorePath: undefined, backingStoreType: 'null' });
    expect(l1).toEqual({
      lun: 1,
      type: 'disk',
      scsiId: '0123456789abcdef0123456789abcdef',
      scsiSn: '0123456789abcdef0123456789abcdef',
      sizeMb: 84,
      blockSize: 512,
      online: true,
      readOnly: true,
      thinProvisioning: true,
      backingStoreType: 'rdwr',
      backingStorePath: '/tmp/tgtexp/lun.img',
    });
    expect(targets[2]?.luns.map((l) => l.lun)).toEqual([0]);
  });

  it('reads accounts (incoming and outgoing) and ACLs', () => {
    expect(targets[0]).toMatchObject({
      incomingAccounts: ['alice'],
      outgoingAccount: 'tgtmut',
      acls: ['iqn.2024-01.test:a'],
    });
    expect(targets[1]).toMatchObject({
      incomingAccounts: [],
      outgoingAccount: undefined,
      acls: ['iqn.2024-01.test:a', 'iqn.2024-01.test:b'],
    });
    expect(targets[2]?.acls).toEqual(['ALL']);
  });

  it('reads nothing from an empty daemon', () => {
    expect(parseTargetShow('')).toEqual([]);
  });

  it('tolerates the NOP lines some targets print', () => {
    const text =
      'Target 2: iqn.2024-01.x:y\n    System information:\n        Driver: iscsi\n        State: ready\n        Nop interval: 5\n        Nop count: 5\n    I_T nexus information:\n    LUN information:\n    Account information:\n    ACL information:\n';
    expect(parseTargetShow(text)).toMatchObject([
      { tid: 2, iqn: 'iqn.2024-01.x:y', state: 'ready', luns: [], acls: [] },
    ]);
  });
});

describe('parsePortalShow / parseAccountShow', () => {
  it('reads portals, IPv6 included', () => {
    expect(parsePortalShow(fixture('tgtadm-portal-show.txt'))).toEqual([{ address: '127.0.0.1', port: 3263, tpgt: 1 }]);
    expect(parsePortalShow('Portal: [::1]:3260,1\nPortal: 0.0.0.0:3260,1\n')).toEqual([
      { address: '::1', port: 3260, tpgt: 1 },
      { address: '0.0.0.0', port: 3260, tpgt: 1 },
    ]);
  });

  it('reads the account list', () => {
    expect(parseAccountShow(fixture('tgtadm-account-show.txt'))).toEqual(['alice', 'tgtmut']);
    expect(parseAccountShow('')).toEqual([]);
  });
});

describe('classifyTgtadm', () => {
  const fail = (exitCode: number, stderr: string) => new CommandFailed({ argv: ['tgtadm'], exitCode, stderr });
  it.each([
    [22, "tgtadm: can't find the target", 'no-target'],
    [22, "tgtadm: can't find the logical unit", 'no-lun'],
    [22, "tgtadm: can't find the session", 'no-session'],
    [22, 'tgtadm: this target already exists', 'target-exists'],
    [22, 'tgtadm: this logical unit number already exists', 'lun-exists'],
    [22, 'tgtadm: this access control rule already exists', 'acl-exists'],
    [22, 'tgtadm: this access control rule does not exist', 'acl-missing'],
    [22, 'tgtadm: this account already exists', 'account-exists'],
    [22, "tgtadm: can't find the account", 'account-missing'],
    [22, 'tgtadm: this target already has an outgoing account', 'outgoing-exists'],
    [22, 'tgtadm: this target is still active', 'target-active'],
    [22, 'tgtadm: this logical unit is still active', 'busy'],
    [107, 'tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not connected', 'no-daemon'],
    [107, '', 'no-daemon'],
    [22, 'tgtadm: invalid request', 'other'],
  ])('exit %i %s -> %s', (code, stderr, kind) => {
    expect(classifyTgtadm(fail(code, stderr))).toBe(kind);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNodeRecords, parseSessionTree } from '../../../src/iscsi-initiator/session-parser.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('parseSessionTree (iscsiadm -m session -P 3)', () => {
  const sessions = parseSessionTree(fixture('iscsiadm-session-P3-multi.txt'));

  it('finds every session with its target, portal and iface', () => {
    expect(sessions.map((s) => [s.sid, s.iqn, s.portal, s.iface])).toEqual([
      [3, 'iqn.2024-01.io.example:vol-aaaa', '10.0.0.5:3260', 'default'],
      [4, 'iqn.2024-01.io.example:vol-aaaa', '10.0.1.5:3260', 'default'],
      [7, 'iqn.2024-01.io.example:vol-bbbb', '[fd00::5]:3260', 'default'],
      [8, 'iqn.2024-01.io.example:vol-bbbb', '[fd00::5]:3260', 'second'],
      [9, 'iqn.2024-01.io.example:vol-cccc', '10.0.0.5:3260', 'default'],
    ]);
  });

  it('reads states, host numbers and disks by LUN (sorted), CHAP lines ignored', () => {
    const [a, b] = sessions;
    expect(a).toMatchObject({
      state: 'LOGGED_IN',
      connectionState: 'LOGGED IN',
      hostNumber: 4,
      initiatorName: 'iqn.1993-08.org.debian:01:node1',
      devices: [
        { lun: 0, device: 'sdc', state: 'running' },
        { lun: 1, device: 'sdd', state: 'running' },
      ],
    });
    expect(b).toMatchObject({
      state: 'FAILED',
      connectionState: 'TRANSPORT WAIT',
      devices: [{ lun: 0, device: 'sde', state: 'blocked' }],
    });
  });

  it('keeps the target and portal for a second session printed without portal lines', () => {
    expect(sessions[3]).toMatchObject({
      sid: 8,
      initiatorName: 'iqn.2024-01.io.example:second',
      devices: [{ lun: 0, device: 'sdg' }],
    });
  });

  it('uses the persistent portal (the node record) and keeps the current one after a redirect', () => {
    expect(sessions[4]).toMatchObject({
      portal: '10.0.0.5:3260',
      currentPortal: '10.0.0.6:3260',
      devices: [],
      hostNumber: 10,
    });
  });

  it('real output captured on the VM tier (open-iscsi 2.1.8, LIO on 127.0.0.1)', () => {
    expect(parseSessionTree(fixture('iscsiadm-session-P3-vm.txt'))).toEqual([
      {
        sid: 1,
        iqn: 'iqn.2024-01.test.vm:nodelayers',
        portal: '127.0.0.1:3260',
        currentPortal: '127.0.0.1:3260',
        iface: 'default',
        initiatorName: 'iqn.2024-01.test.vm:guest',
        state: 'LOGGED_IN',
        connectionState: 'LOGGED IN',
        hostNumber: 0,
        devices: [{ lun: 0, device: 'sda', state: 'running' }],
      },
    ]);
  });

  it('answers [] for empty output and ignores unknown lines', () => {
    expect(parseSessionTree('')).toEqual([]);
    expect(parseSessionTree('iscsiadm: No active sessions.\n')).toEqual([]);
  });
});

describe('parseNodeRecords (iscsiadm -m node)', () => {
  it('reads target and canonical portal, once per target and portal (several ifaces print a line each)', () => {
    const text = [
      '127.0.0.1:3260,1 iqn.2024-01.org.example.csi-lvm-iscsi:vg:vol-a',
      '127.0.0.1:3260,1 iqn.2024-01.org.example.csi-lvm-iscsi:vg:vol-a',
      '10.0.0.5:3260,-1 iqn.2024-01.org.example.csi-lvm-iscsi:vg:vol-b',
      '[FD00::5]:3260,1 iqn.2001-05.com.other:disk',
      'iscsiadm: No records found',
      '',
    ].join('\n');
    expect(parseNodeRecords(text)).toEqual([
      { iqn: 'iqn.2024-01.org.example.csi-lvm-iscsi:vg:vol-a', portal: '127.0.0.1:3260' },
      { iqn: 'iqn.2024-01.org.example.csi-lvm-iscsi:vg:vol-b', portal: '10.0.0.5:3260' },
      { iqn: 'iqn.2001-05.com.other:disk', portal: '[fd00::5]:3260' },
    ]);
  });
});

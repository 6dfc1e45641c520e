import { describe, expect, it } from 'vitest';
import { chapFingerprint, chapFromSecrets, nodeSecrets } from '../../../src/agent/chap.js';
import { decodePublished, encodePublished } from '../../../src/agent/records.js';
import { Exports } from '../../../src/agent/exports.js';
import type { VolumeInfo } from '../../../src/agent/types.js';
import { createLogger } from '../../../src/log.js';
import type { Lvm } from '../../../src/lvm/lvm.js';
import { MemoryTarget } from '../../doubles/memory-target.js';
import { targetIqn } from '../../../src/iscsi-target/iqn.js';

const PREFIX = 'iqn.2024-01.org.example.csi-lvm-iscsi';
const INIT = 'iqn.2024-01.test:node-a';
const SECRETS = { chapUser: 'tenant', chapSecret: 'agent-level-secret-0123456789' };
const log = createLogger('fatal');

function volume(lv: string, chap: boolean, mode = 'SINGLE_NODE_WRITER'): VolumeInfo {
  return {
    id: `n1/vg/${lv}`,
    name: lv,
    vg: 'vg',
    lv,
    sizeBytes: 1 << 20,
    params: { localAttach: false } as VolumeInfo['params'],
    source: undefined,
    createdAt: new Date(0),
    state: 'ready',
    active: true,
    partial: false,
    devicePath: `/dev/vg/${lv}`,
    snapshotCount: 0,
    published: [{ nodeId: `node-a:${INIT}`, readOnly: false, mode, ...(chap ? { chap: true } : {}) }],
  };
}

function exportsWith(target: MemoryTarget, secrets?: Record<string, string>) {
  // reconcile reads no LVM: the volumes are handed to it
  return new Exports({} as Lvm, target, log, {
    nodeId: 'n1',
    nodeName: 'storage-1',
    iqnPrefix: PREFIX,
    portals: [{ address: '127.0.0.1', port: 3260 }],
    ...(secrets ? { agentSecrets: async () => secrets } : {}),
  });
}

describe('Exports.reconcile', () => {
  it('re-creates a lost export; a CHAP one only with the agent-level secret, with the per-volume credentials', async () => {
    const plain = volume('vol-plain', false);
    const chap = volume('vol-chap', true);
    const without = new MemoryTarget();
    await exportsWith(without).reconcile(async () => [plain, chap]);
    expect([...without.targets.keys()]).toEqual([targetIqn('vg', 'vol-plain', PREFIX)]);

    const withSecret = new MemoryTarget();
    await exportsWith(withSecret, SECRETS).reconcile(async () => [plain, chap]);
    const t = withSecret.targets.get(targetIqn('vg', 'vol-chap', PREFIX));
    expect(t?.initiators.get(INIT)?.chap).toEqual(chapFromSecrets(SECRETS, chap.id, 'x'));
    expect(withSecret.targets.get(targetIqn('vg', 'vol-plain', PREFIX))?.initiators.get(INIT)?.chap).toBeUndefined();
  });

  it('removes targets under the prefix that no published volume owns, leaves foreign and matching ones alone', async () => {
    const target = new MemoryTarget();
    const spec = (iqn: string) => ({
      iqn,
      volumeKey: 'vg/x',
      devicePath: '/dev/vg/x',
      serial: '0'.repeat(32),
      portals: [{ address: '127.0.0.1', port: 3260 }],
    });
    const mine = targetIqn('vg', 'vol-plain', PREFIX);
    const orphan = targetIqn('vg', 'vol-gone', PREFIX);
    await target.ensureTarget(spec(mine));
    await target.allowInitiator(mine, INIT);
    await target.ensureTarget(spec(orphan));
    await target.ensureTarget(spec('iqn.2003-01.org.other:disk1'));
    target.calls.length = 0;
    await exportsWith(target).reconcile(async () => [volume('vol-plain', false)]);
    expect([...target.targets.keys()].sort()).toEqual(['iqn.2003-01.org.other:disk1', mine].sort());
    expect(target.calls.filter((c) => c.startsWith('allowInitiator') || c.startsWith('ensureTarget'))).toEqual([]);
  });

  it('re-creates a reader-only volume read-only even when its record (written before the rule) says readOnly false', async () => {
    const target = new MemoryTarget();
    await exportsWith(target).reconcile(async () => [
      volume('vol-rox', false, 'MULTI_NODE_READER_ONLY'),
      volume('vol-sro', false, 'SINGLE_NODE_READER_ONLY'),
      volume('vol-rw', false),
    ]);
    expect(target.targets.get(targetIqn('vg', 'vol-rox', PREFIX))?.spec.readOnly).toBe(true);
    expect(target.targets.get(targetIqn('vg', 'vol-sro', PREFIX))?.spec.readOnly).toBe(true);
    expect(target.targets.get(targetIqn('vg', 'vol-rw', PREFIX))?.spec.readOnly).toBe(false);
  });

  it('asks the target to remove orphans under its own prefix', async () => {
    const target = new MemoryTarget();
    let asked: string | undefined;
    target.removeOrphans = async (prefix: string) => {
      asked = prefix;
      return [];
    };
    await exportsWith(target).reconcile(async () => []);
    expect(asked).toBe(PREFIX);
  });
});

describe('Exports.publish refuses before anything changes', () => {
  // the LVM is never reached: every refusal comes first (a read would throw on this empty Lvm)
  const args = (
    o: Partial<{ nodeId: string; iqn: string; node: string; chap: { userid: string; password: string } }> = {},
  ) => ({
    vg: 'vg',
    lv: 'vol-a',
    publication: { nodeId: o.nodeId ?? `node-a:${INIT}`, readOnly: false, mode: 'SINGLE_NODE_WRITER' },
    initiatorIqn: o.iqn ?? INIT,
    nodeName: o.node ?? 'node-a',
    chap: o.chap,
  });
  it.each([
    ['a publication node id that is not ours', args({ nodeId: 'node-a' }), /publication.node_id/],
    ['an initiator other than the node id names', args({ iqn: 'iqn.2024-01.test:node-b' }), /initiator_iqn/],
    ['a node name other than the node id names', args({ node: 'node-b' }), /initiator_iqn and node_name/],
    [
      'CHAP credentials the target cannot take',
      args({ chap: { userid: '', password: 'short' } }),
      /chap|CHAP|password|userid/,
    ],
  ])(
    '%s: INVALID_ARGUMENT, no target made (found by the host fuzz test: tgtadm made a target for a bad IQN)',
    async (_what, a, message) => {
      const target = new MemoryTarget();
      await expect(exportsWith(target).publish(a as never)).rejects.toThrow(message);
      expect(target.targets.size).toBe(0);
      expect(target.calls).toEqual([]);
    },
  );
});

describe('Exports.reconcile with CHAP publications of several Secrets', () => {
  const OTHER = { chapUser: 'tenant-b', chapSecret: 'another-classes-secret-9876543210' };
  const withId = (lv: string, secrets: Record<string, string> | undefined) => {
    const v = volume(lv, true);
    const chap = secrets ? chapFromSecrets(secrets, v.id, 'x') : undefined;
    v.published = v.published.map((p) => ({ ...p, ...(chap ? { chapId: chapFingerprint(chap) } : {}) }));
    return v;
  };

  it('re-creates a publication made with the agent-level Secret; refuses, with a warning, one made with another; a record without a fingerprint uses the agent-level Secret as before', async () => {
    const lines: string[] = [];
    const target = new MemoryTarget();
    const ex = new Exports({} as Lvm, target, createLogger('info', { write: (s: string) => void lines.push(s) }), {
      nodeId: 'n1',
      nodeName: 'storage-1',
      iqnPrefix: PREFIX,
      portals: [{ address: '127.0.0.1', port: 3260 }],
      agentSecrets: async () => SECRETS,
    });
    const same = withId('vol-same', SECRETS);
    const other = withId('vol-other', OTHER);
    const legacy = withId('vol-legacy', undefined);
    await ex.reconcile(async () => [same, other, legacy]);
    expect([...target.targets.keys()].sort()).toEqual(
      [targetIqn('vg', 'vol-legacy', PREFIX), targetIqn('vg', 'vol-same', PREFIX)].sort(),
    );
    expect(target.targets.get(targetIqn('vg', 'vol-same', PREFIX))?.initiators.get(INIT)?.chap).toEqual(
      chapFromSecrets(SECRETS, same.id, 'x'),
    );
    expect(lines.join('\n')).toMatch(/not re-creating a CHAP publication made with another Secret/);
    for (const s of [SECRETS.chapSecret, OTHER.chapSecret]) expect(lines.join('\n')).not.toContain(s);
  });

  it('the fingerprint goes into the published tag and comes back; credentials never do', () => {
    const chap = chapFromSecrets(OTHER, 'n1/vg/vol-x', 'x');
    if (!chap) throw new Error('no chap');
    const text =
      encodePublished([
        {
          nodeId: `node-a:${INIT}`,
          readOnly: false,
          mode: 'SINGLE_NODE_WRITER',
          chap: true,
          chapId: chapFingerprint(chap),
        },
      ]) ?? '';
    expect(decodePublished(text)[0]?.chapId).toBe(chapFingerprint(chap));
    expect(text).not.toContain(chap.password);
    expect(chapFingerprint(chap)).not.toBe(chapFingerprint({ ...chap, password: `${chap.password}x` }));
  });
});

describe('per-node CHAP on the agent', () => {
  it("reconcile re-creates a per-node publication with that node's credentials from the agent-level (master) Secret", async () => {
    const v = volume('vol-pernode', true);
    const perNode = chapFromSecrets(nodeSecrets(SECRETS, 'node-a', 'x'), v.id, 'x');
    if (!perNode) throw new Error('no chap');
    v.published = v.published.map((p) => ({ ...p, chapId: chapFingerprint(perNode) }));
    const target = new MemoryTarget();
    await exportsWith(target, SECRETS).reconcile(async () => [v]);
    const got = target.targets.get(targetIqn('vg', 'vol-pernode', PREFIX))?.initiators.get(INIT)?.chap;
    expect(got).toEqual(perNode);
    expect(got).not.toEqual(chapFromSecrets(SECRETS, v.id, 'x'));
  });

  it('tgt: a second node with other credentials is FAILED_PRECONDITION before anything changes (accounts are per target)', async () => {
    const v = volume('vol-a', true, 'MULTI_NODE_READER_ONLY');
    const a = chapFromSecrets(nodeSecrets(SECRETS, 'node-a', 'x'), v.id, 'x');
    const b = chapFromSecrets(nodeSecrets(SECRETS, 'node-b', 'x'), v.id, 'x');
    if (!a || !b) throw new Error('no chap');
    v.published = v.published.map((p) => ({ ...p, readOnly: true, chapId: chapFingerprint(a) }));
    const target = new MemoryTarget('tgt');
    const lvm = { listLvs: async () => [{ name: 'vol-a', tags: [] }] } as unknown as Lvm;
    const ex = new Exports(lvm, target, log, {
      nodeId: 'n1',
      nodeName: 'storage-1',
      iqnPrefix: PREFIX,
      portals: [{ address: '127.0.0.1', port: 3260 }],
    });
    // the volume record is what toVolume makes of the LV: hand it over directly
    (ex as unknown as { volume: () => Promise<unknown> }).volume = async () => ({ v, tags: [], lv: {} });
    const B = 'iqn.2024-01.test:node-b';
    await expect(
      ex.publish({
        vg: 'vg',
        lv: 'vol-a',
        publication: { nodeId: `node-b:${B}`, readOnly: true, mode: 'MULTI_NODE_READER_ONLY' },
        initiatorIqn: B,
        nodeName: 'node-b',
        chap: b,
      }),
    ).rejects.toThrow(/one CHAP credential set per target/);
    expect(target.calls).toEqual([]);
  });
});

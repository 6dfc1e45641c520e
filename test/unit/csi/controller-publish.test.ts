import { describe, expect, it } from 'vitest';
import type { PublishArgs, StorageAgent, VolumeInfo } from '../../../src/agent/types.js';
import { checkPublication } from '../../../src/agent/access.js';
import { publish } from '../../../src/csi/controller-publish.js';
import { chapFromSecrets, nodeSecrets } from '../../../src/agent/chap.js';
import { AlreadyExists, FailedPrecondition } from '../../../src/errors.js';
import type { ControllerPublishVolumeRequest__Output } from '../../../src/gen/csi/v1/ControllerPublishVolumeRequest.js';

const A = 'node-a:iqn.2024-01.test:a';
const B = 'node-b:iqn.2024-01.test:b';

/**
 * One agent with one volume; publish records the publication like the real agent. The access-mode tests
 * publish without CHAP, so they opt out (--allow-publish-without-chap) explicitly.
 */
function setup(published: VolumeInfo['published'] = [], allowPublishWithoutChap = true) {
  const v = {
    id: 'n1/vg/vol-x',
    name: 'x',
    vg: 'vg',
    lv: 'vol-x',
    state: 'ready',
    published: [...published],
    params: { localAttach: false },
  } as unknown as VolumeInfo;
  const calls: PublishArgs[] = [];
  const agent = {
    getVolume: async () => v,
    listVolumes: async () => [v],
    publish: async (a: PublishArgs) => {
      checkPublication(v, a.publication); // the rules the real agent applies (agent/access.ts)
      calls.push(a);
      if (!v.published.some((p) => p.nodeId === a.publication.nodeId)) v.published.push(a.publication);
      return { kind: 'iscsi', targetIqn: 'iqn.2024-01.x:vg:vol-x', portals: ['127.0.0.1:3260'], lun: 0 };
    },
  } as unknown as StorageAgent;
  const o = {
    agents: {
      all: () => [agent],
      byNodeId: (id: string) => (id === 'n1' ? agent : undefined),
      unavailable: () => undefined,
    },
    maxVolumesPerNode: 0,
    allowPublishWithoutChap,
  };
  const req = (node_id: string, mode: string, readonly = false, secrets: Record<string, string> = {}) =>
    ({
      volume_id: v.id,
      node_id,
      readonly,
      secrets,
      volume_context: {},
      volume_capability: { mount: { fs_type: 'ext4', mount_flags: [] }, access_mode: { mode } },
    }) as unknown as ControllerPublishVolumeRequest__Output;
  return { o, req, calls, v };
}

describe('ControllerPublishVolume: reader-only access modes', () => {
  it('MULTI_NODE_READER_ONLY and SINGLE_NODE_READER_ONLY publish read-only with readonly=false; the record says so', async () => {
    for (const mode of ['MULTI_NODE_READER_ONLY', 'SINGLE_NODE_READER_ONLY']) {
      const { o, req, calls, v } = setup();
      await publish(o, req(A, mode, false));
      expect(calls[0]?.publication).toEqual({ nodeId: A, readOnly: true, mode });
      // the same call again (flag still false) is idempotent, and so is readonly=true
      await publish(o, req(A, mode, false));
      await publish(o, req(A, mode, true));
      expect(v.published).toEqual([{ nodeId: A, readOnly: true, mode }]);
    }
  });

  it('a writer mode stays read-write unless readonly is set', async () => {
    const { o, req, calls } = setup();
    await publish(o, req(A, 'MULTI_NODE_MULTI_WRITER'));
    await publish(o, req(B, 'MULTI_NODE_MULTI_WRITER'));
    expect(calls.map((c) => c.publication.readOnly)).toEqual([false, false]);
  });

  it('a record from before the rule (readOnly false, reader-only mode) counts as read-only', async () => {
    const { o, req } = setup([{ nodeId: A, readOnly: false, mode: 'MULTI_NODE_READER_ONLY' }]);
    await publish(o, req(A, 'MULTI_NODE_READER_ONLY'));
    await publish(o, req(B, 'MULTI_NODE_READER_ONLY'));
  });

  it('never read-write on one node and read-only on another: FAILED_PRECONDITION naming the node', async () => {
    const { o, req } = setup();
    await publish(o, req(A, 'MULTI_NODE_MULTI_WRITER'));
    await expect(publish(o, req(B, 'MULTI_NODE_READER_ONLY'))).rejects.toThrow(FailedPrecondition);
    await expect(publish(o, req(B, 'MULTI_NODE_MULTI_WRITER', true))).rejects.toThrow(
      new RegExp(`read-write to node ${A}`),
    );
    const ro = setup();
    await publish(ro.o, ro.req(A, 'MULTI_NODE_READER_ONLY'));
    await expect(publish(ro.o, ro.req(B, 'MULTI_NODE_MULTI_WRITER'))).rejects.toThrow(/read-only to node/);
  });

  it('SINGLE_NODE_WRITER on A then a reader-only mode on B is refused by the single-node rule; on A by ALREADY_EXISTS', async () => {
    const { o, req } = setup();
    await publish(o, req(A, 'SINGLE_NODE_WRITER'));
    await expect(publish(o, req(B, 'SINGLE_NODE_READER_ONLY'))).rejects.toThrow(/published to node node-a/);
    await expect(publish(o, req(B, 'MULTI_NODE_READER_ONLY'))).rejects.toThrow(FailedPrecondition);
    await expect(publish(o, req(A, 'SINGLE_NODE_READER_ONLY'))).rejects.toThrow(AlreadyExists);
  });
});

describe('ControllerPublishVolume: CHAP is required by default', () => {
  const secrets = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key' };

  it('without CHAP secrets: FAILED_PRECONDITION naming the Secret keys and the opt-out; the agent is not called', async () => {
    const { o, req, calls } = setup([], false);
    const err = await publish(o, req(A, 'SINGLE_NODE_WRITER')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FailedPrecondition);
    expect(String(err)).toMatch(/chapUser and chapSecret/);
    expect(String(err)).toMatch(/controller-publish-secret-name/);
    expect(String(err)).toMatch(/--allow-publish-without-chap true/);
    expect(calls).toEqual([]);
  });

  it('with CHAP secrets: published with per-volume credentials', async () => {
    const { o, req, calls } = setup([], false);
    await publish(o, req(A, 'SINGLE_NODE_WRITER', false, secrets));
    expect(calls[0]?.chap?.userid).toMatch(/^tenant\./);
  });

  it('with --allow-publish-without-chap true: published without CHAP', async () => {
    const { o, req, calls } = setup([], true);
    await publish(o, req(A, 'SINGLE_NODE_WRITER'));
    expect(calls[0]?.chap).toBeUndefined();
  });

  it('a half-configured Secret is INVALID_ARGUMENT naming the key, opt-out or not', async () => {
    const { o, req } = setup([], true);
    await expect(publish(o, req(A, 'SINGLE_NODE_WRITER', false, { chapUser: 'tenant' }))).rejects.toThrow(
      /secrets\.chapSecret/,
    );
  });
});

describe('ControllerPublishVolume: per-node CHAP (chapMode per-node in the Secret)', () => {
  const master = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key', chapMode: 'per-node' };

  it("the target gets the node's per-node credentials; publish_context says per-node and holds no secret", async () => {
    const { o, req, calls, v } = setup([], false);
    const r = await publish(o, req(A, 'MULTI_NODE_READER_ONLY', false, master));
    await publish(o, req(B, 'MULTI_NODE_READER_ONLY', false, master));
    expect(calls[0]?.chap).toEqual(chapFromSecrets(nodeSecrets(master, 'node-a', 'x'), v.id, 'x'));
    expect(calls[1]?.chap).toEqual(chapFromSecrets(nodeSecrets(master, 'node-b', 'x'), v.id, 'x'));
    expect(calls[0]?.chap?.password).not.toBe(calls[1]?.chap?.password);
    expect(r.publish_context['chapMode']).toBe('per-node');
    const text = JSON.stringify(r.publish_context);
    for (const c of calls) expect(text).not.toContain(c.chap?.password);
    expect(text).not.toContain(master.chapSecret);
  });

  it('shared (no chapMode): the shared credentials, publish_context says shared', async () => {
    const { o, req, calls, v } = setup([], false);
    const shared = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key' };
    const r = await publish(o, req(A, 'SINGLE_NODE_WRITER', false, shared));
    expect(calls[0]?.chap).toEqual(chapFromSecrets(shared, v.id, 'x'));
    expect(r.publish_context['chapMode']).toBe('shared');
  });

  it('without CHAP (opted out): no chapMode in publish_context', async () => {
    const { o, req } = setup([], true);
    const r = await publish(o, req(A, 'SINGLE_NODE_WRITER'));
    expect(r.publish_context['chapMode']).toBeUndefined();
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chapFromSecrets, nodeKeyFile, nodeSecrets } from '../../../src/agent/chap.js';
import { stageChap } from '../../../src/csi/node-chap.js';
import { FailedPrecondition, InvalidArgument } from '../../../src/errors.js';

const master = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key', chapMode: 'per-node' };
const vol = 'n1/vg/vol-a';
const ctx = (chapMode?: string) => ({ attach: 'iscsi', targetIqn: 'iqn.x:y', ...(chapMode ? { chapMode } : {}) });

function keyFile(node: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'node-chap-')), 'key.json');
  writeFileSync(file, nodeKeyFile(master, node));
  return file;
}

describe('NodeStageVolume: where the CHAP credentials come from', () => {
  it("per-node: from this node's key file, the same credentials the controller gave the target for this node", async () => {
    const got = await stageChap(
      { nodeName: 'node-a', chapNodeKeyFile: keyFile('node-a') },
      { volume_id: vol, publish_context: ctx('per-node'), secrets: {} },
    );
    expect(got).toEqual(chapFromSecrets(nodeSecrets(master, 'node-a', 'x'), vol, 'x'));
  });

  it("per-node: node B's key derives other credentials than node A's for the same volume", async () => {
    const b = await stageChap(
      { nodeName: 'node-b', chapNodeKeyFile: keyFile('node-b') },
      { volume_id: vol, publish_context: ctx('per-node'), secrets: {} },
    );
    expect(b?.password).not.toBe(chapFromSecrets(nodeSecrets(master, 'node-a', 'x'), vol, 'x')?.password);
  });

  it('per-node without --chap-node-key-file, or with the key of another node: FAILED_PRECONDITION saying what to install', async () => {
    const r = { volume_id: vol, publish_context: ctx('per-node'), secrets: {} };
    await expect(stageChap({ nodeName: 'node-a', chapNodeKeyFile: undefined }, r)).rejects.toThrow(
      /no --chap-node-key-file.*chap-node-key/,
    );
    await expect(stageChap({ nodeName: 'node-a', chapNodeKeyFile: keyFile('node-b') }, r)).rejects.toThrow(
      FailedPrecondition,
    );
  });

  it('shared: from the node-stage secret; none given is FAILED_PRECONDITION naming the StorageClass key', async () => {
    const shared = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key' };
    const o = { nodeName: 'node-a', chapNodeKeyFile: undefined };
    expect(await stageChap(o, { volume_id: vol, publish_context: ctx('shared'), secrets: shared })).toEqual(
      chapFromSecrets(shared, vol, 'x'),
    );
    await expect(stageChap(o, { volume_id: vol, publish_context: ctx('shared'), secrets: {} })).rejects.toThrow(
      /node-stage-secret-name/,
    );
  });

  it('no chapMode (no CHAP, or published by an older version): the node-stage secret if any; another mode is INVALID_ARGUMENT', async () => {
    const o = { nodeName: 'node-a', chapNodeKeyFile: undefined };
    expect(await stageChap(o, { volume_id: vol, publish_context: ctx(), secrets: {} })).toBeUndefined();
    await expect(stageChap(o, { volume_id: vol, publish_context: ctx('none'), secrets: {} })).rejects.toThrow(
      InvalidArgument,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chapFromSecrets,
  chapMode,
  derivePassword,
  nodeKeyFile,
  nodeSecrets,
  readNodeKeyFile,
  volumeUser,
} from '../../../src/agent/chap.js';
import { FailedPrecondition, InvalidArgument } from '../../../src/errors.js';

const key = 'a-long-enough-secret-key';

describe('CHAP from secrets', () => {
  it('derives a distinct, stable password per volume', () => {
    const a = derivePassword(key, 'n/vg/vol-a', 'initiator');
    expect(a).toBe(derivePassword(key, 'n/vg/vol-a', 'initiator'));
    expect(a).not.toBe(derivePassword(key, 'n/vg/vol-b', 'initiator'));
    expect(a).not.toBe(derivePassword(key, 'n/vg/vol-a', 'target'));
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a).not.toContain(key);
  });

  it('no CHAP keys means no CHAP', () => {
    expect(chapFromSecrets({}, 'v', 'secrets')).toBeUndefined();
  });

  it('one-way and mutual', () => {
    expect(chapFromSecrets({ chapUser: 'u', chapSecret: key }, 'v', 'secrets')).toEqual({
      userid: volumeUser('u', 'v'),
      password: derivePassword(key, 'v', 'initiator'),
    });
    const m = chapFromSecrets(
      { chapUser: 'u', chapSecret: key, mutualUser: 't', mutualSecret: `${key}-2` },
      'v',
      'secrets',
    );
    expect(m?.mutualUserid).toBe(volumeUser('t', 'v'));
    expect(m?.mutualPassword).toBe(derivePassword(`${key}-2`, 'v', 'target'));
  });

  it('user names are per volume (tgt accounts are daemon-wide), stable, and within the 255 characters initiators accept', () => {
    const a = volumeUser('tenant1', 'n/vg/vol-a');
    expect(a).toMatch(/^tenant1\.[a-z2-7]{10}$/);
    expect(volumeUser('tenant1', 'n/vg/vol-a')).toBe(a);
    expect(volumeUser('tenant1', 'n/vg/vol-b')).not.toBe(a);
    const long = chapFromSecrets({ chapUser: 'u'.repeat(200), chapSecret: key }, 'v', 'secrets');
    expect(long?.userid.length).toBeLessThanOrEqual(255);
    expect(() => chapFromSecrets({ chapUser: 'u'.repeat(201), chapSecret: key }, 'v', 'secrets')).toThrow(/chapUser/);
  });

  it('a half configuration names the missing key and never echoes a secret', () => {
    try {
      chapFromSecrets({ chapSecret: key }, 'v', 'secrets');
      throw new Error('expected');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidArgument);
      expect((e as InvalidArgument).field).toBe('secrets.chapUser');
      expect(String(e)).not.toContain(key);
    }
    expect(() => chapFromSecrets({ chapUser: 'u', chapSecret: 'short' }, 'v', 'secrets')).toThrow(/chapSecret/);
    expect(() => chapFromSecrets({ chapUser: 'u', chapSecret: key, mutualUser: 't' }, 'v', 'secrets')).toThrow(
      /mutualSecret/,
    );
  });
});

describe('per-node CHAP: derivation', () => {
  const master = { chapUser: 'tenant', chapSecret: key, mutualUser: 'target', mutualSecret: 'another-long-secret-key' };
  const vol = 'n1/vg/vol-a';

  it('each node gets its own secrets: stable, distinct per node, never the master key', () => {
    const a = nodeSecrets(master, 'node-a', 'secrets');
    expect(a).toEqual(nodeSecrets(master, 'node-a', 'secrets'));
    const b = nodeSecrets(master, 'node-b', 'secrets');
    expect(Object.keys(a).sort()).toEqual(['chapSecret', 'chapUser', 'mutualSecret', 'mutualUser']);
    for (const k of Object.keys(a)) expect(a[k]).not.toBe(b[k]);
    expect(a['chapUser']).toMatch(/^tenant\.[a-z2-7]{10}$/);
    expect(JSON.stringify(a)).not.toContain(key);
    expect(JSON.stringify(a)).not.toContain(master.mutualSecret);
  });

  it("a volume's per-node credentials differ from the shared ones and between nodes; only that node's secrets give them", () => {
    const shared = chapFromSecrets(master, vol, 's');
    const a = chapFromSecrets(nodeSecrets(master, 'node-a', 's'), vol, 's');
    const b = chapFromSecrets(nodeSecrets(master, 'node-b', 's'), vol, 's');
    expect(a?.password).not.toBe(shared?.password);
    expect(a?.password).not.toBe(b?.password);
    expect(a?.userid).not.toBe(b?.userid);
    expect(a?.mutualPassword).not.toBe(b?.mutualPassword);
    // node B's secrets taken as a master do not give A's either
    expect(chapFromSecrets(nodeSecrets(nodeSecrets(master, 'node-b', 's'), 'node-a', 's'), vol, 's')).not.toEqual(a);
  });

  it('chapMode: shared by default, per-node when asked, anything else INVALID_ARGUMENT naming the key', () => {
    expect(chapMode({}, 'secrets')).toBe('shared');
    expect(chapMode({ chapMode: 'shared' }, 'secrets')).toBe('shared');
    expect(chapMode({ chapMode: 'per-node' }, 'secrets')).toBe('per-node');
    expect(() => chapMode({ chapMode: 'pernode' }, 'secrets')).toThrow(/secrets\.chapMode/);
  });

  it('a master without CHAP keys, or with a user too long to tag, is INVALID_ARGUMENT', () => {
    expect(() => nodeSecrets({ chapMode: 'per-node' }, 'node-a', 'secrets')).toThrow(InvalidArgument);
    expect(() => nodeSecrets({ chapUser: 'u'.repeat(195), chapSecret: key }, 'node-a', 'secrets')).toThrow(
      /secrets\.chapUser: is at most 189/,
    );
  });

  it('the node key file round-trips; another node name or a missing file is FAILED_PRECONDITION naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chap-key-'));
    const file = join(dir, 'key.json');
    writeFileSync(file, nodeKeyFile(master, 'node-a'));
    expect(await readNodeKeyFile(file, 'node-a')).toEqual(nodeSecrets(master, 'node-a', 'x'));
    await expect(readNodeKeyFile(file, 'node-b')).rejects.toThrow(FailedPrecondition);
    await expect(readNodeKeyFile(join(dir, 'none.json'), 'node-a')).rejects.toThrow(/none\.json.*ENOENT/);
    writeFileSync(file, 'not json');
    const err = await readNodeKeyFile(file, 'node-a').catch((e: unknown) => String(e));
    expect(err).toMatch(/is not JSON/);
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { nodeSecrets } from '../../src/agent/chap.js';
import { parseChapNodeKeyArgs, runChapNodeKey, secretFromJson } from '../../src/chap-node-key-command.js';
import { ConfigError } from '../../src/config.js';

const master = { chapUser: 'tenant', chapSecret: 'a-long-enough-secret-key' };

function capture(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { out, text: () => text };
}

describe('csi-lvm-iscsi chap-node-key', () => {
  it('argv: --node-id is required and a node name; --secret-dir absolute; unknown flags refused', () => {
    expect(parseChapNodeKeyArgs(['--node-id', 'worker-1'])).toEqual({ nodeName: 'worker-1', secretDir: undefined });
    expect(parseChapNodeKeyArgs(['--node-id', 'w', '--secret-dir', '/s'])).toEqual({ nodeName: 'w', secretDir: '/s' });
    expect(parseChapNodeKeyArgs(['--help'])).toEqual({ help: true });
    expect(() => parseChapNodeKeyArgs([])).toThrow(/node-id: required/);
    expect(() => parseChapNodeKeyArgs(['--node-id', 'Bad_Name'])).toThrow(ConfigError);
    expect(() => parseChapNodeKeyArgs(['--node-id', 'w', '--secret-dir', 'rel'])).toThrow(/absolute/);
    expect(() => parseChapNodeKeyArgs(['--node-id', 'w', '--chap-secret', 'x'])).toThrow(ConfigError);
  });

  it("reads a Secret object (base64 data or stringData) on stdin and prints the node's key file only", async () => {
    const secret = JSON.stringify({
      kind: 'Secret',
      data: { chapUser: Buffer.from('tenant').toString('base64') },
      stringData: { chapSecret: master.chapSecret },
    });
    expect(secretFromJson(secret)).toEqual(master);
    const c = capture();
    await runChapNodeKey({ nodeName: 'worker-1', secretDir: undefined }, async () => secret, c.out);
    expect(JSON.parse(c.text())).toEqual({ node: 'worker-1', ...nodeSecrets(master, 'worker-1', 'x') });
    expect(c.text()).not.toContain(master.chapSecret);
  });

  it('reads a mounted Secret directory with --secret-dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chap-secret-'));
    writeFileSync(join(dir, 'chapUser'), 'tenant\n');
    writeFileSync(join(dir, 'chapSecret'), master.chapSecret);
    const c = capture();
    await runChapNodeKey({ nodeName: 'w', secretDir: dir }, async () => '', c.out);
    expect(JSON.parse(c.text())).toEqual({ node: 'w', ...nodeSecrets(master, 'w', 'x') });
  });

  it('stdin that is not JSON is a ConfigError; a Secret without CHAP keys is INVALID_ARGUMENT', async () => {
    const c = capture();
    await expect(runChapNodeKey({ nodeName: 'w', secretDir: undefined }, async () => 'x', c.out)).rejects.toThrow(
      ConfigError,
    );
    await expect(runChapNodeKey({ nodeName: 'w', secretDir: undefined }, async () => '{}', c.out)).rejects.toThrow(
      /chapUser/,
    );
  });
});

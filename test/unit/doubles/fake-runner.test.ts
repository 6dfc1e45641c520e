import { describe, expect, it } from 'vitest';
import { CommandFailed } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';

describe('FakeRunner', () => {
  it('answers scripted commands in order', async () => {
    const r = new FakeRunner()
      .expect(['lvs', '-a'], { stdout: 'x' })
      .expect(['vgs'], { exitCode: 5, stderr: 'not found' });
    await expect(r.run(['lvs', '-a'])).resolves.toMatchObject({ stdout: 'x', exitCode: 0 });
    await expect(r.run(['vgs'])).rejects.toBeInstanceOf(CommandFailed);
    r.assertDone();
  });

  it('treats okExitCodes as success', async () => {
    const r = new FakeRunner().expect(['iscsiadm', '-m', 'session'], { exitCode: 21 });
    await expect(r.run(['iscsiadm', '-m', 'session'], { okExitCodes: [21] })).resolves.toMatchObject({ exitCode: 21 });
    r.assertDone();
  });

  it('rejects an unexpected argv, and assertDone fails even if the caller swallowed it', async () => {
    const r = new FakeRunner().expect(['lvs', 'vg0']);
    await r.run(['lvs', 'vg1']).catch(() => undefined);
    expect(() => r.assertDone()).toThrow(/unexpected argv/);
  });

  it('rejects a command beyond the script', async () => {
    const r = new FakeRunner();
    await expect(r.run(['rm', '-rf', '/'])).rejects.toThrow(/no more expectations/);
    expect(() => r.assertDone()).toThrow();
  });

  it('fails assertDone when an expected command never ran', () => {
    const r = new FakeRunner().expect(['lvs']);
    expect(() => r.assertDone()).toThrow(/never ran/);
  });
});

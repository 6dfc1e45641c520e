import { mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Unavailable } from '../../../src/errors.js';
import { nextPollMs, resolveDevice, waitForDevice } from '../../../src/iscsi-initiator/device.js';

/** Some block device of this machine, if any (for the "found" path). */
function anyBlockDevice(): string | undefined {
  try {
    for (const n of readdirSync('/dev')) {
      const p = join('/dev', n);
      try {
        if (statSync(p).isBlockDevice()) return p;
      } catch {
        /* skip */
      }
    }
  } catch {
    /* no /dev */
  }
  return undefined;
}

describe('waitForDevice', () => {
  const dir = mkdtempSync(join(tmpdir(), 'csi-dev-'));

  it('times out with a clear message naming the path', async () => {
    const path = join(dir, 'ip-10.0.0.5:3260-iscsi-iqn.2024-01.x:v-lun-0');
    const start = Date.now();
    const err = await waitForDevice(path, 150, undefined, { pollMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Unavailable);
    expect((err as Error).message).toContain(`device ${path} did not appear within 0.2 s`);
    expect(Date.now() - start).toBeLessThan(2000);
  });

  it('a regular file is not a device: keeps waiting', async () => {
    const f = join(dir, 'file');
    writeFileSync(f, '');
    expect(await resolveDevice(f)).toBeUndefined();
    await expect(waitForDevice(f, 50, undefined, { pollMs: 10 })).rejects.toBeInstanceOf(Unavailable);
  });

  it('is cancelled by the signal', async () => {
    const ac = new AbortController();
    const p = waitForDevice(join(dir, 'never'), 60_000, ac.signal, { pollMs: 10 });
    setTimeout(() => ac.abort(), 30);
    await expect(p).rejects.toThrow(/abort/i);
  });

  const dev = anyBlockDevice();
  it.runIf(dev !== undefined)('resolves a by-path style symlink that appears later to its device', async () => {
    const link = join(dir, 'late-link');
    setTimeout(() => symlinkSync(dev as string, link), 50);
    const r = await waitForDevice(link, 5_000, undefined, { pollMs: 10 });
    expect(r.path).toBe(link);
    expect(statSync(r.devicePath).isBlockDevice()).toBe(true);
    expect(r.devicePath.endsWith(`/${r.name}`)).toBe(true);
  });
});

describe('nextPollMs', () => {
  it('polls every 20 ms for the first 2 s, then doubles up to the cap', () => {
    expect(nextPollMs(0, 0, 200)).toBe(20);
    expect(nextPollMs(1_990, 20, 200)).toBe(20);
    expect(nextPollMs(2_000, 20, 200)).toBe(40);
    expect(nextPollMs(2_040, 40, 200)).toBe(80);
    expect(nextPollMs(2_200, 160, 200)).toBe(200);
    expect(nextPollMs(9_000, 200, 200)).toBe(200);
  });

  it('never waits longer than the cap, even a small one', () => {
    expect(nextPollMs(0, 0, 10)).toBe(10);
    expect(nextPollMs(5_000, 10, 10)).toBe(10);
  });
});

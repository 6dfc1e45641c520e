import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../../src/errors.js';
import { FakeRunner } from '../../doubles/fake-runner.js';
import { deleteScsiDevice, flushBuffers } from '../../../src/iscsi-initiator/scsi.js';

describe('SCSI clean-up', () => {
  it('deleteScsiDevice writes 1 to block/<name>/device/delete; a missing device is OK', async () => {
    const root = mkdtempSync(join(tmpdir(), 'csi-sysfs-'));
    mkdirSync(join(root, 'block/sdc/device'), { recursive: true });
    writeFileSync(join(root, 'block/sdc/device/delete'), '');
    expect(await deleteScsiDevice('sdc', root)).toBe(true);
    expect(readFileSync(join(root, 'block/sdc/device/delete'), 'utf8')).toBe('1');
    expect(await deleteScsiDevice('sdq', root)).toBe(false);
  });

  it('refuses names that are not kernel device names', async () => {
    await expect(deleteScsiDevice('../../etc', '/nonexistent')).rejects.toBeInstanceOf(InvalidArgument);
    await expect(deleteScsiDevice('sd/a', '/nonexistent')).rejects.toBeInstanceOf(InvalidArgument);
  });

  it('flushBuffers runs blockdev --flushbufs', async () => {
    const runner = new FakeRunner();
    runner.expect(['blockdev', '--flushbufs', '/dev/sdc']);
    await flushBuffers(runner, '/dev/sdc');
    runner.assertDone();
  });
});

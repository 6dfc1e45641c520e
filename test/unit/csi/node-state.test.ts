import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFound } from '../../../src/errors.js';
import { locate, PublishIndex, publishIndexDir, writeState, type StageState } from '../../../src/csi/node-state.js';

const state = (volumeId: string, targets: string[]): StageState => ({
  volumeId,
  attach: 'iscsi',
  targetIqn: 'iqn.x:y',
  portals: ['127.0.0.1:3260'],
  lun: 0,
  device: '/dev/sdz',
  disks: ['sdz'],
  block: false,
  fsType: 'ext4',
  targets,
});

describe('publish index and locate()', () => {
  const setup = async () => {
    const root = mkdtempSync(join(tmpdir(), 'node-state-'));
    const index = new PublishIndex(publishIndexDir(root, 'drv.example.org'));
    const staging = join(root, 'stage', 'globalmount');
    const target = join(root, 'pods', 'p1', 'mount');
    mkdirSync(staging, { recursive: true });
    await writeState(staging, state('vol-a', [target]));
    await index.record({ volumeId: 'vol-a', targetPath: target, stagingPath: staging });
    return { root, index, staging, target };
  };

  it('finds the stage from the target path alone, from the staging path, and from both', async () => {
    const { index, staging, target } = await setup();
    expect(index.dir).toMatch(/\/plugins\/drv\.example\.org\/publishes$/);
    expect((await locate(index, 'vol-a', target)).stagingPath).toBe(staging);
    expect(await locate(index, 'vol-a', staging)).toMatchObject({ stagingPath: staging, isStaging: true });
    expect(await locate(index, 'vol-a', target, staging)).toMatchObject({ stagingPath: staging, isStaging: false });
  });

  it('is NOT_FOUND for another volume (naming it), an unknown path, or a target the stage no longer lists', async () => {
    const { root, index, staging, target } = await setup();
    await expect(locate(index, 'vol-b', target)).rejects.toThrow(/holds volume vol-a, not vol-b/);
    await expect(locate(index, 'vol-b', staging)).rejects.toThrow(/holds volume vol-a/);
    await expect(locate(index, 'vol-a', join(root, 'elsewhere'))).rejects.toThrow(NotFound);
    await writeState(staging, state('vol-a', []));
    await expect(locate(index, 'vol-a', target)).rejects.toThrow(/not published at/);
    await index.remove(target);
    expect(await index.lookup(target)).toBeUndefined();
    await expect(locate(index, 'vol-a', target)).rejects.toThrow(/neither staged nor published/);
  });
});

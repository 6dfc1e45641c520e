import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

  it("lists a volume's records only (none before the index directory exists; stray and misfiled files skipped)", async () => {
    const root = mkdtempSync(join(tmpdir(), 'node-state-'));
    const index = new PublishIndex(publishIndexDir(root, 'drv.example.org'));
    expect(await index.forVolume('vol-a')).toEqual([]);
    const rec = (volumeId: string, pod: string) => ({
      volumeId,
      targetPath: join(root, 'pods', pod, 'dev'),
      stagingPath: join(root, 'staging', volumeId),
    });
    await index.record(rec('vol-a', 'p1'));
    await index.record(rec('vol-a', 'p2'));
    await index.record(rec('vol-b', 'p3'));
    writeFileSync(join(index.dir, 'junk.json'), '{');
    // a record under a name that is not its target path's hash is no record of that path
    writeFileSync(join(index.dir, 'misfiled.json'), JSON.stringify(rec('vol-a', 'p9')));
    const got = (await index.forVolume('vol-a')).map((r) => r.targetPath).sort();
    expect(got).toEqual([rec('vol-a', 'p1').targetPath, rec('vol-a', 'p2').targetPath]);
    expect(await index.forVolume('vol-c')).toEqual([]);
  });
});

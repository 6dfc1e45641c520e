import { describe, expect, it } from 'vitest';
import { persistentVolumeYaml } from '../../../src/agent/adopt.js';
import type { VolumeInfo } from '../../../src/agent/types.js';
import { ConfigError, loadAdoptConfig } from '../../../src/config.js';

const v = {
  id: 'n1/vg0/vol-x',
  name: 'pv-legacy',
  vg: 'vg0',
  sizeBytes: 16 << 20,
  params: { fsType: 'ext4', lvmType: 'thick' },
} as unknown as VolumeInfo;

const base = ['--node-id', 'storage-1', '--volume-group', 'vg0', '--lv', 'legacy', '--name', 'pv-legacy'];

describe('adopt: the PV names the CHAP Secret (CHAP is required by default)', () => {
  it('--controller-publish-secret and --node-stage-secret become the PV secret refs', () => {
    const c = loadAdoptConfig({
      argv: [...base, '--controller-publish-secret', 'csi-lvm-iscsi/chap', '--node-stage-secret', 'csi-lvm-iscsi/chap'],
      env: {},
    });
    if ('help' in c) throw new Error('help');
    expect(c.controllerPublishSecret).toEqual({ namespace: 'csi-lvm-iscsi', name: 'chap' });
    const yaml = persistentVolumeYaml(v, 'lvm-iscsi.csi.example.org', undefined, {
      controllerPublish: c.controllerPublishSecret,
      nodeStage: c.nodeStageSecret,
    });
    expect(yaml).toContain(
      '    controllerPublishSecretRef:\n      name: "chap"\n      namespace: "csi-lvm-iscsi"\n    nodeStageSecretRef:\n      name: "chap"\n',
    );
  });

  it('per-node mode names the controller-publish secret only; none gives a PV without refs', () => {
    const yaml = persistentVolumeYaml(v, 'd', undefined, { controllerPublish: { namespace: 'ns', name: 'chap' } });
    expect(yaml).toContain('controllerPublishSecretRef');
    expect(yaml).not.toContain('nodeStageSecretRef');
    expect(persistentVolumeYaml(v, 'd', undefined)).not.toContain('SecretRef');
  });

  it('a secret that is not NAMESPACE/NAME is a ConfigError naming the flag', () => {
    expect(() => loadAdoptConfig({ argv: [...base, '--node-stage-secret', 'chap'], env: {} })).toThrow(ConfigError);
    expect(() => loadAdoptConfig({ argv: [...base, '--node-stage-secret', 'chap'], env: {} })).toThrow(
      /node-stage-secret: "chap" must be NAMESPACE\/NAME/,
    );
  });
});

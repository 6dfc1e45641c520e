/**
 * `csi-lvm-iscsi adopt ...`: the administrator's command around adoptLv().
 */
import { adoptLv, persistentVolumeYaml } from './agent/adopt.js';
import type { AdoptConfig } from './config.js';
import { ProcessRunner } from './exec/process-runner.js';
import { Lvm } from './lvm/lvm.js';
import { lvmSettings } from './lvm/settings.js';

export async function runAdopt(c: AdoptConfig, out: NodeJS.WritableStream): Promise<void> {
  const lvm = new Lvm(new ProcessRunner(), lvmSettings({ udevSync: c.lvmUdevSync }));
  const v = await adoptLv(lvm, {
    nodeName: c.nodeName,
    vg: c.volumeGroup,
    lv: c.lv,
    name: c.name,
    fsType: c.fsType,
    volumeClear: c.volumeClear,
  });
  out.write(
    persistentVolumeYaml(v, c.driverName, c.storageClass, {
      controllerPublish: c.controllerPublishSecret,
      nodeStage: c.nodeStageSecret,
    }),
  );
}

/**
 * Adopting an existing LV (Cinder's manage_existing): rename it to the name
 * the plugin derives from the new CSI name and tag it, so it becomes a volume
 * like any other. An administrator's command, not a StorageClass path.
 */
import { AlreadyExists, FailedPrecondition, NotFound } from '../errors.js';
import type { Lvm } from '../lvm/lvm.js';
import { volumeLvName } from '../lvm/names.js';
import { shortNodeId } from './ids.js';
import type { VolumeParams } from './params.js';
import { tagsFor, tagValues, toVolume } from './records.js';
import type { VolumeInfo } from './types.js';

export interface AdoptRequest {
  nodeName: string;
  vg: string;
  lv: string;
  /** The CSI name the volume will carry (becomes the PV name). */
  name: string;
  fsType: string | undefined;
  volumeClear: 'none' | 'zero';
}

export async function adoptLv(lvm: Lvm, r: AdoptRequest): Promise<VolumeInfo> {
  const lv = await lvm.getLv(r.vg, r.lv);
  if (!lv) throw new NotFound(`logical volume ${r.vg}/${r.lv} does not exist`);
  if (tagValues(lv)['kind'])
    throw new AlreadyExists(`${r.vg}/${r.lv} is already managed by this plugin (${tagValues(lv)['name']})`);
  const type = lv.attr.volumeType;
  if (type === 'thin-pool' || type === 'snapshot' || lv.origin) {
    throw new FailedPrecondition(
      `${r.vg}/${r.lv} is a ${lv.origin ? 'snapshot' : type}; only plain, striped, raid1 and thin volumes can be adopted`,
    );
  }
  if (lv.attr.open) throw new FailedPrecondition(`${r.vg}/${r.lv} is open (mounted or in use); stop its users first`);
  const target = volumeLvName(r.name);
  if (await lvm.getLv(r.vg, target)) throw new AlreadyExists(`a volume named ${r.name} already exists in ${r.vg}`);
  const thin = Boolean(lv.pool);
  const params: VolumeParams = {
    lvmType: thin ? 'thin' : 'thick',
    volumeGroup: r.vg,
    mirrors: lv.segtype === 'raid1' ? Math.max(0, lv.stripes - 1) : 0,
    stripes: lv.segtype === 'striped' ? lv.stripes : 1,
    stripeSizeKiB: lv.segtype === 'striped' && lv.stripeSizeBytes > 0 ? lv.stripeSizeBytes / 1024 : undefined,
    volumeClear: thin ? 'none' : r.volumeClear,
    fsType: r.fsType,
    localAttach: false,
  };
  // Tag first (reversible, the old name still stands), then rename: a crash in
  // between leaves a tagged LV under its old name, which adopt finds again.
  const tags = tagsFor({
    name: r.name,
    kind: 'volume',
    params: JSON.stringify(params),
    created: new Date().toISOString(),
    ready: '1',
  });
  await lvm.addTags(r.vg, r.lv, tags);
  await lvm.rename(r.vg, r.lv, target);
  const all = await lvm.listLvs(r.vg);
  const renamed = all.find((x) => x.name === target);
  const v = renamed ? toVolume(shortNodeId(r.nodeName), renamed, all) : undefined;
  if (!v) throw new NotFound(`${r.vg}/${target} vanished after the rename`);
  return v;
}

/** A PersistentVolume manifest (YAML) for an adopted volume. Retain: the data was there before the plugin. */
type SecretRef = { namespace: string; name: string };

/** The PV of an adopted volume; the secret refs are the StorageClass's CHAP Secret (CHAP is required by default). */
export function persistentVolumeYaml(
  v: VolumeInfo,
  driverName: string,
  storageClass: string | undefined,
  secrets: { controllerPublish?: SecretRef | undefined; nodeStage?: SecretRef | undefined } = {},
): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    'apiVersion: v1',
    'kind: PersistentVolume',
    'metadata:',
    `  name: ${q(v.name)}`,
    'spec:',
    '  capacity:',
    `    storage: ${q(String(v.sizeBytes))}`,
    '  accessModes: ["ReadWriteOnce"]',
    '  persistentVolumeReclaimPolicy: Retain',
    `  volumeMode: ${v.params.fsType ? 'Filesystem' : 'Block'}`,
  ];
  if (storageClass) lines.push(`  storageClassName: ${q(storageClass)}`);
  lines.push('  csi:', `    driver: ${q(driverName)}`, `    volumeHandle: ${q(v.id)}`);
  if (v.params.fsType) lines.push(`    fsType: ${q(v.params.fsType)}`);
  for (const [key, ref] of [
    ['controllerPublishSecretRef', secrets.controllerPublish],
    ['nodeStageSecretRef', secrets.nodeStage],
  ] as const) {
    if (ref) lines.push(`    ${key}:`, `      name: ${q(ref.name)}`, `      namespace: ${q(ref.namespace)}`);
  }
  lines.push('    volumeAttributes:', `      lvmType: ${q(v.params.lvmType)}`, `      volumeGroup: ${q(v.vg)}`);
  return `${lines.join('\n')}\n`;
}

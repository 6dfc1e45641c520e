/** Generated `vgs`/`lvs`/`pvs` JSON rows (the shape lvm2 2.03.16 prints) for tests that script LVM. */
import { LV_FIELDS } from '../../../src/lvm/report.js';

const MiB = 1024 * 1024;

export function vgRow(name: string, size: number, free: number): Record<string, string> {
  return {
    vg_name: name,
    vg_uuid: `uuid-${name}`,
    vg_attr: 'wz--n-',
    vg_size: String(size),
    vg_free: String(free),
    vg_extent_size: String(4 * MiB),
    vg_extent_count: String(size / (4 * MiB)),
    vg_free_count: String(free / (4 * MiB)),
    pv_count: '1',
    lv_count: '0',
    snap_count: '0',
    vg_tags: '',
    vg_mda_size: '1044480',
    vg_mda_free: '514560',
    vg_mda_count: '1',
  };
}

let uuid = 0;
export function lvRow(
  vg: string,
  name: string,
  o: {
    size?: number;
    attr?: string;
    pool?: string;
    origin?: string;
    tags?: string[];
    data?: string;
    meta?: string;
  } = {},
): Record<string, string> {
  const row: Record<string, string> = Object.fromEntries(LV_FIELDS.map((f) => [f, '']));
  return {
    ...row,
    lv_uuid: `lv-${++uuid}`,
    lv_name: name,
    vg_name: vg,
    lv_path: `/dev/${vg}/${name}`,
    lv_dm_path: `/dev/mapper/${vg}-${name}`,
    lv_size: String(o.size ?? 32 * MiB),
    lv_attr: o.attr ?? 'Vwi-a-tz--',
    lv_active: 'active',
    lv_tags: (o.tags ?? []).join(','),
    lv_time: '2026-11-25 09:46:40 +0000',
    lv_layout: 'thin,sparse',
    segtype: 'thin',
    seg_count: '1',
    stripes: '1',
    stripe_size: '0',
    pool_lv: o.pool ?? '',
    origin: o.origin ?? '',
    data_percent: o.data ?? '',
    metadata_percent: o.meta ?? '',
    zero: 'unknown',
  };
}

export const report = (kind: 'vg' | 'lv' | 'pv', rows: Record<string, string>[]) =>
  JSON.stringify({ report: [{ [kind]: rows }] });

export function pvRow(name: string, vg: string): Record<string, string> {
  return {
    pv_name: name,
    pv_uuid: `pv-${name}`,
    vg_name: vg,
    pv_size: String(1024 * MiB),
    pv_free: '0',
    dev_size: String(1024 * MiB),
  };
}

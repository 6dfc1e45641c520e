/**
 * Stand-ins for every program the plugin runs, for the host fuzz test: each
 * is a /bin/sh script on a PATH of its own that appends its argv to a log
 * file and answers like the real program would for one volume group
 * (FUZZ_VG, 1 GiB) with a thin pool, one ready thin volume (fuzz-vol) and one
 * thin snapshot of it (fuzz-snap). Writing programs answer success and change
 * nothing: a later lvs shows the same LVs.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatId, shortNodeId } from '../../src/agent/ids.js';
import { tagsFor } from '../../src/agent/records.js';
import { snapshotLvName, volumeLvName } from '../../src/lvm/names.js';
import { LOG_ARGV_SH, PLUGIN_PROGRAMS } from '../helpers/fuzz.js';

export const FUZZ_VG = 'vgfuzz';
const NODE = shortNodeId('storage-1');
const VOL_LV = volumeLvName('fuzz-vol');
const SNAP_LV = snapshotLvName('fuzz-snap');
export const SEED_VOLUME_ID = formatId({ node: NODE, vg: FUZZ_VG, lv: VOL_LV });
export const SEED_SNAPSHOT_ID = formatId({ node: NODE, vg: FUZZ_VG, lv: SNAP_LV });

function lvRow(o: Record<string, string>): Record<string, string> {
  return {
    lv_uuid: 'u',
    lv_name: '',
    vg_name: FUZZ_VG,
    lv_path: '',
    lv_dm_path: '',
    lv_size: '0',
    lv_attr: '',
    lv_active: 'active',
    lv_tags: '',
    lv_time: '2026-11-25 09:46:40 +0000',
    lv_layout: '',
    segtype: '',
    seg_count: '1',
    stripes: '1',
    stripe_size: '0',
    pool_lv: '',
    origin: '',
    origin_size: '',
    data_percent: '',
    metadata_percent: '',
    snap_percent: '',
    copy_percent: '',
    zero: '',
    discards: '',
    lv_when_full: '',
    lv_metadata_size: '',
    ...o,
  };
}

export function makeStubs(dir: string): { path: string; log: string; dir: string } {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'commands.log');
  writeFileSync(log, '');
  const params = JSON.stringify({
    lvmType: 'thin',
    volumeGroup: FUZZ_VG,
    mirrors: 0,
    stripes: 1,
    volumeClear: 'zero',
    fsType: 'ext4',
  });
  const volTags = tagsFor({
    name: 'fuzz-vol',
    kind: 'volume',
    params,
    created: '2026-11-25T09:46:40.000Z',
    size: '67108864',
    ready: '1',
  }).join(',');
  const snapTags = tagsFor({
    name: 'fuzz-snap',
    kind: 'snapshot',
    source: SEED_VOLUME_ID,
    created: '2026-11-25T09:47:40.000Z',
    size: '67108864',
    ready: '1',
  }).join(',');
  const lvs = {
    report: [
      {
        lv: [
          lvRow({
            lv_uuid: 'pool-uuid',
            lv_name: 'pool',
            lv_dm_path: `/dev/mapper/${FUZZ_VG}-pool`,
            lv_size: '805306368',
            lv_attr: 'twi-aotz--',
            lv_layout: 'thin,pool',
            segtype: 'thin-pool',
            data_percent: '1.00',
            metadata_percent: '1.00',
            zero: 'zero',
            discards: 'passdown',
            lv_when_full: 'error',
            lv_metadata_size: '4194304',
          }),
          lvRow({
            lv_uuid: 'vol-uuid',
            lv_name: VOL_LV,
            lv_path: `/dev/${FUZZ_VG}/${VOL_LV}`,
            lv_dm_path: `/dev/mapper/${FUZZ_VG}-${VOL_LV}`,
            lv_size: '67108864',
            lv_attr: 'Vwi-a-tz--',
            lv_tags: volTags,
            lv_layout: 'thin,sparse',
            segtype: 'thin',
            pool_lv: 'pool',
            data_percent: '0.00',
          }),
          lvRow({
            lv_uuid: 'snap-uuid',
            lv_name: SNAP_LV,
            lv_path: `/dev/${FUZZ_VG}/${SNAP_LV}`,
            lv_dm_path: `/dev/mapper/${FUZZ_VG}-${SNAP_LV}`,
            lv_size: '67108864',
            lv_attr: 'Vri---tz-k',
            lv_active: '',
            lv_tags: snapTags,
            lv_layout: 'thin,sparse',
            segtype: 'thin',
            pool_lv: 'pool',
            origin: VOL_LV,
            data_percent: '0.00',
          }),
        ],
      },
    ],
  };
  const vgs = {
    report: [
      {
        vg: [
          {
            vg_name: FUZZ_VG,
            vg_uuid: 'vg-uuid',
            vg_attr: 'wz--n-',
            vg_size: '1069547520',
            vg_free: '255852544',
            vg_extent_size: '4194304',
            vg_extent_count: '255',
            vg_free_count: '61',
            pv_count: '1',
            lv_count: '3',
            snap_count: '0',
            vg_tags: '',
            vg_mda_size: '1044480',
            vg_mda_free: '514560',
            vg_mda_count: '1',
          },
        ],
      },
    ],
  };
  const pvs = {
    report: [
      {
        pv: [
          {
            pv_name: '/dev/null',
            pv_uuid: 'pv-uuid',
            vg_name: FUZZ_VG,
            pv_size: '1069547520',
            pv_free: '255852544',
            dev_size: '1073741824',
          },
        ],
      },
    ],
  };
  writeFileSync(join(dir, 'lvs.json'), JSON.stringify(lvs));
  writeFileSync(join(dir, 'vgs.json'), JSON.stringify(vgs));
  writeFileSync(join(dir, 'pvs.json'), JSON.stringify(pvs));
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const script = [
    '#!/bin/sh',
    LOG_ARGV_SH,
    'case "${0##*/}" in',
    '  lvs) exec /bin/cat "$FUZZ_DIR/lvs.json" ;;',
    '  vgs) exec /bin/cat "$FUZZ_DIR/vgs.json" ;;',
    '  pvs) exec /bin/cat "$FUZZ_DIR/pvs.json" ;;',
    'esac',
    'exit 0',
    '',
  ].join('\n');
  for (const p of PLUGIN_PROGRAMS) {
    const f = join(bin, p);
    writeFileSync(f, script);
    chmodSync(f, 0o755);
  }
  return { path: bin, log, dir };
}

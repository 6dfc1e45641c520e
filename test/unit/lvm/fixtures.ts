import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Fixtures in test/unit/fixtures/lvm/ (lvm2 2.03.16, Debian 12):
 * - lvs-no-dm.json, vgs.json, vgs-one.json, pvs.json: captured from real lvm
 *   on loop devices with device-mapper unavailable (metadata written with
 *   vgcfgrestore), hence 'X' in lv_attr and lv_active "unknown". vol_thick1
 *   has two segments and so two rows.
 * - lvs-active.json: the same LVs as a host with device-mapper shows them
 *   (hand-edited: state/open letters, lv_active, percentages), plus an
 *   invalidated COW snapshot (snap_cow2).
 * - lvs-empty.json: an empty VG.
 */
export function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/lvm/${name}`, import.meta.url)), 'utf8');
}

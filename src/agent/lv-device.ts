/**
 * The block device of an LV, proven before a copy or a wipe touches it.
 *
 * lvs reports lv_dm_path for inactive LVs too, and /dev/mapper is a writable
 * file system: a dd aimed at an inactive LV's path would create a regular
 * file there (on tmpfs /dev the "wipe" lands in RAM and reports success).
 * So before every job: activate the LV when it is not, then check that the
 * path is a block device and that the kernel's device-mapper device behind
 * it carries this LV's uuid (/sys/dev/block/MAJ:MIN/dm/uuid is
 * "LVM-<vg uuid><lv uuid>" with the dashes removed, plus "-cow" for the
 * exception store of a COW snapshot). dd is also run with conv=nocreat
 * (blockcopy.ts), so a path that vanishes in between fails instead of
 * becoming a file.
 *
 * Before a wipe the LV must also be closed: LVM's open flag, read now,
 * counts every opener of the LV's own (top-level) device - a mount, a
 * process, a device stacked on it, LIO. Only that device is asked: the
 * "-real" device under a COW origin is held by its snapshots and a thin
 * pool's internals by the pool, which says nothing about the LV's users.
 * While the wipe runs the agent holds the device with O_EXCL, so nothing
 * that claims it exclusively (mount, device-mapper, LIO) can take it.
 */
import { constants } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { Lvm } from '../lvm/lvm.js';
import type { Lv } from '../lvm/report.js';

export interface DeviceProbe {
  /** major:minor of the block device at path; undefined when path is missing or not a block device. */
  blockDevice(path: string): Promise<{ major: number; minor: number } | undefined>;
  /** The dm uuid of the device major:minor; undefined when it is not a device-mapper device. */
  dmUuid(major: number, minor: number): Promise<string | undefined>;
  /**
   * Opens the block device with O_EXCL and holds it until release(); throws
   * when something else claims it (EBUSY: mounted, held by another device).
   * Absent: nothing is claimed (test doubles).
   */
  claim?(path: string): Promise<{ release(): Promise<void> }>;
}

/** Linux dev_t (glibc encoding) -> major, minor. */
export function splitDevT(rdev: bigint): { major: number; minor: number } {
  const major = Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
  const minor = Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
  return { major, minor };
}

class NotTheDevice extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotTheDevice';
  }
}

export const sysDeviceProbe: DeviceProbe = {
  async blockDevice(path) {
    try {
      const st = await stat(path, { bigint: true });
      return st.isBlockDevice() ? splitDevT(st.rdev) : undefined;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw e;
    }
  },
  async dmUuid(major, minor) {
    try {
      return (await readFile(`/sys/dev/block/${major}:${minor}/dm/uuid`, 'utf8')).trim();
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
  },
  async claim(path) {
    try {
      const fh = await open(path, constants.O_RDONLY | constants.O_EXCL);
      return { release: () => fh.close() };
    } catch (e) {
      if ((e as { code?: string }).code === 'EBUSY')
        throw new NotTheDevice(`${path} is in use (mounted, or held by another device); refusing to write to it`);
      throw e;
    }
  },
};

/**
 * The path of lv's own block device ("cow": its exception store), after
 * activating the LV when needed; throws NotTheDevice when what is at the
 * path is not that LV's device, or with `closed` when the LV is open.
 */
export async function lvBlockDevice(
  lvm: Lvm,
  probe: DeviceProbe,
  lv: Lv,
  part: 'data' | 'cow' = 'data',
  o: { signal?: AbortSignal; closed?: boolean } = {},
): Promise<string> {
  const { closed, ...opts } = o;
  // Read now, not from the agent's inventory: the uuid and the active state are proven against LVM itself.
  let l = await lvm.getLv(lv.vg, lv.name, { ...opts, maxAgeMs: 0 });
  if (!l) throw new NotTheDevice(`${lv.vg}/${lv.name} does not exist any more`);
  if (lv.uuid && l.uuid !== lv.uuid)
    throw new NotTheDevice(`${l.vg}/${l.name} is another LV now (uuid ${l.uuid}, expected ${lv.uuid})`);
  const uuidWas = l.uuid;
  if (!l.active) {
    await lvm.activate(l.vg, l.name, { ignoreSkip: true, ...opts });
    const now = await lvm.getLv(l.vg, l.name, { ...opts, maxAgeMs: 0 });
    if (!now) throw new NotTheDevice(`${l.vg}/${l.name} vanished while being activated`);
    l = now;
  }
  if (!l.active) throw new NotTheDevice(`${l.vg}/${l.name} is not active after activation`);
  if (closed && l.attr.open !== false)
    throw new NotTheDevice(
      `${l.vg}/${l.name} is ${l.attr.open ? 'open on this node (mounted, held by a process or by another device)' : 'of unknown open state (lvs shows X)'}; refusing to write to it`,
    );
  if (!l.dmPath) throw new NotTheDevice(`${l.vg}/${l.name} has no device-mapper path`);
  if (!l.uuid || l.uuid !== uuidWas)
    throw new NotTheDevice(`${l.vg}/${l.name} is another LV now (uuid ${l.uuid}, expected ${uuidWas})`);
  const path = part === 'cow' ? `${l.dmPath}-cow` : l.dmPath;
  const dev = await probe.blockDevice(path);
  if (!dev) throw new NotTheDevice(`${path} is not a block device; refusing to write to it`);
  const uuid = await probe.dmUuid(dev.major, dev.minor);
  const want = `${l.uuid.replace(/-/g, '')}${part === 'cow' ? '-cow' : ''}`;
  if (!uuid || !uuid.startsWith('LVM-') || !uuid.endsWith(want)) {
    throw new NotTheDevice(
      `${path} (${dev.major}:${dev.minor}) is not the device of ${l.vg}/${l.name} (dm uuid ${uuid ?? 'none'}); refusing to write to it`,
    );
  }
  return path;
}

/**
 * dm-multipath over several iSCSI sessions to one target (one per portal).
 * Small on purpose:
 * - mapOf(disks): the dm-multipath map holding the given sd disks, found
 *   through sysfs (/sys/block/sdX/holders/dm-N, dm/uuid "mpath-...", dm/name),
 *   so it works without multipathd;
 * - list(): `multipath -ll` parsed (parseMultipathLl);
 * - flush(map): `multipath -f MAP` on unstage, before the sd disks go;
 * - resize(map): `multipathd resize map MAP` after a rescan on expand (needs
 *   multipathd running).
 * Seen working on the VM tier (Debian 12, multipath-tools 0.9.4, LIO over two
 * loopback portals): map assembly by `multipath` after `multipath -a`, mapOf,
 * `multipath -ll` parsing, `multipathd resize map` after lvextend + rescan,
 * `multipath -f`. Not tested: path failover under I/O, user_friendly_names
 * aliases (unit-tested on a fixture only), a multipathd that assembles maps
 * by itself (find_multipaths policies are the host's configuration).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandFailed, InvalidArgument } from '../errors.js';
import type { CommandRunner } from '../exec/runner.js';
import { sleep } from '../abort.js';
import { multipathdListening } from './iscsid.js';
import { DEFAULT_SYSFS_ROOT } from './scsi.js';

/** How often a busy map is tried before unstage gives up (500 ms apart). */
export const FLUSH_ATTEMPTS = 10;
const FLUSH_PAUSE_MS = 500;

interface MultipathPath {
  /** host:channel:id:lun */
  hctl: string;
  /** e.g. "sdb" */
  device: string;
  /** "major:minor" */
  devt: string;
  /** The rest of the line: dm state, path state, online state ("active ready running"). */
  states: string[];
}

export interface MultipathMap {
  /** Map name (alias, or the WWID when user_friendly_names is off). */
  name: string;
  wwid: string;
  /** Kernel name, e.g. "dm-3". */
  dm: string;
  vendorProduct: string;
  paths: MultipathPath[];
}

const HEADER =
  /^(?:(?:create|reload|switchpg|rename|grow|shrink|unchanged):\s+)?(\S+)(?:\s+\(([^)]+)\))?\s+(dm-\d+)\s*(.*)$/;
const PATH = /(\d+:\d+:\d+:\d+)\s+(\S+)\s+(\d+:\d+)\s*(.*)$/;

/** Parses `multipath -ll` output (multipath-tools 0.8/0.9 layout). */
export function parseMultipathLl(text: string): MultipathMap[] {
  const maps: MultipathMap[] = [];
  let cur: MultipathMap | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    const h = /^[^\s|`]/.test(line) ? HEADER.exec(line) : null;
    if (h) {
      cur = {
        name: h[1] ?? '',
        wwid: h[2] ?? h[1] ?? '',
        dm: h[3] ?? '',
        vendorProduct: (h[4] ?? '').trim(),
        paths: [],
      };
      maps.push(cur);
      continue;
    }
    if (!cur || /^\s*size=/.test(line) || line.includes('policy=')) continue;
    const p = PATH.exec(line);
    if (p)
      cur.paths.push({
        hctl: p[1] ?? '',
        device: p[2] ?? '',
        devt: p[3] ?? '',
        states: (p[4] ?? '').split(/\s+/).filter(Boolean),
      });
  }
  return maps;
}

export interface MultipathOptions {
  sysfsRoot?: string;
  timeoutMs?: number;
}

export class Multipath {
  private readonly sysfs: string;
  private readonly timeoutMs: number;

  constructor(
    private readonly runner: CommandRunner,
    o: MultipathOptions = {},
  ) {
    this.sysfs = o.sysfsRoot ?? DEFAULT_SYSFS_ROOT;
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  /**
   * The multipath map (name and dm-N) that holds any of the given disks,
   * read from sysfs; undefined when none does (single path, or multipathd
   * has not assembled the map yet: poll).
   */
  async mapOf(disks: readonly string[]): Promise<{ name: string; dm: string; devicePath: string } | undefined> {
    for (const disk of disks) {
      if (!/^[a-z][a-z0-9]*$/.test(disk))
        throw new InvalidArgument('disk', `${JSON.stringify(disk)} is not a kernel disk name`);
      let holders: string[];
      try {
        holders = await readdir(join(this.sysfs, 'block', disk, 'holders'));
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') continue;
        throw e;
      }
      for (const dm of holders.filter((h) => /^dm-\d+$/.test(h))) {
        const uuid = await readTrim(join(this.sysfs, 'block', dm, 'dm', 'uuid'));
        if (!uuid?.startsWith('mpath-')) continue;
        const name = (await readTrim(join(this.sysfs, 'block', dm, 'dm', 'name'))) ?? dm;
        return { name, dm, devicePath: `/dev/mapper/${name}` };
      }
    }
    return undefined;
  }

  /** `multipath -ll`, parsed. */
  async list(o: { signal?: AbortSignal } = {}): Promise<MultipathMap[]> {
    const r = await this.runner.run(['multipath', '-ll'], { signal: o.signal, timeoutMs: this.timeoutMs });
    return parseMultipathLl(r.stdout);
  }

  /** `multipath -f MAP`: removes the map (it must not be open); the caller then deletes the sd paths. */
  /**
   * multipath -f MAP. Right after a resize or a path change udev and
   * multipathd briefly hold the map open ("map in use"): retried a few times
   * with a short pause, like os-brick does.
   */
  async flush(map: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    assertMapName(map);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.runner.run(['multipath', '-f', map], { signal: o.signal, timeoutMs: this.timeoutMs });
        return;
      } catch (e) {
        // "map in use" (multipath) or the ioctl's EBUSY ("Device or resource busy"): udev's probe of the
        // map after a resize or a path change still holds it for a moment; both seen on the VM tier.
        if (
          !(e instanceof CommandFailed) ||
          !/in use|Device or resource busy/.test(e.stderr) ||
          attempt >= FLUSH_ATTEMPTS
        )
          throw e;
        await sleep(FLUSH_PAUSE_MS, o.signal);
      }
    }
  }

  /** `multipathd resize map MAP`: after every path was rescanned, grows the map to the new size. */
  async resize(map: string, o: { signal?: AbortSignal } = {}): Promise<void> {
    assertMapName(map);
    const argv = ['multipathd', 'resize', 'map', map];
    const r = await this.runner.run(argv, { signal: o.signal, timeoutMs: this.timeoutMs });
    // Older multipathd clients print "fail" and still exit 0.
    if (/^fail/m.test(r.stdout))
      throw new CommandFailed({ argv, exitCode: r.exitCode, stderr: r.stdout.trim() || 'fail' });
  }
}

function assertMapName(map: string): void {
  if (!/^[A-Za-z0-9_.+-]+$/.test(map))
    throw new InvalidArgument('map', `${JSON.stringify(map)} is not a multipath map name`);
}

async function readTrim(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * find_multipaths from the defaults section of a multipath config dump
 * (`multipathd show config`, `multipath -t`), without quotes; undefined when
 * it is not there.
 */
export function parseFindMultipaths(config: string): string | undefined {
  let inDefaults = false;
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (/^defaults\s*\{/.test(line)) inDefaults = true;
    else if (line === '}') inDefaults = false;
    else if (inDefaults) {
      const m = /^find_multipaths\s+"?([^"\s]+)"?/.exec(line);
      if (m) return m[1];
    }
  }
  return undefined;
}

/**
 * Why a volume with several portals cannot get a dm-multipath map on this
 * node, or undefined when it can: multipathd must be running (expansion
 * resizes maps through it, failover is its job) and must assemble maps for
 * new WWIDs by itself. With find_multipaths "strict" (multipath-tools'
 * built-in default when /etc/multipath.conf does not set it) it only does so
 * for WWIDs already in /etc/multipath/wwids, which a new volume never is.
 */
export async function multipathProblem(
  runner: CommandRunner,
  o: { procNetUnix?: string; signal?: AbortSignal } = {},
): Promise<string | undefined> {
  if (!(await multipathdListening(o.procNetUnix))) {
    return 'multipathd is not running on this node (no @/org/kernel/linux/storage/multipathd socket): install multipath-tools, set find_multipaths "yes" in /etc/multipath.conf and start multipathd';
  }
  let config: string;
  try {
    config = (await runner.run(['multipathd', 'show', 'config'], { signal: o.signal, timeoutMs: 30_000 })).stdout;
  } catch (e) {
    if (!(e instanceof CommandFailed) || e.cancelled) throw e;
    return `multipathd does not answer "multipathd show config" (${e.message})`;
  }
  const policy = parseFindMultipaths(config);
  if (policy === 'strict') {
    return 'multipathd runs with find_multipaths "strict" (the default when /etc/multipath.conf does not set it) and so never assembles a map for a new volume: set find_multipaths "yes" (or "greedy") in the defaults section of /etc/multipath.conf and reload multipathd';
  }
  return undefined;
}

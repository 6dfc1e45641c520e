/**
 * The one place where an LVM command's failure text becomes a domain error.
 *
 * lvm exits 5 (ECMD_FAILED) for almost every failure, so the exit code says
 * nothing; the stderr line does. Messages below are lvm2's own (checked in
 * the lvm2 sources and reproduced with lvm2 2.03.16 where a kernel was not
 * needed); the runner runs lvm with LC_ALL=C, so they are not translated.
 * "WARNING:" lines are ignored: lvm prints warnings on success as well
 * (thin over-provisioning, "not zeroed", ...).
 */

import {
  AlreadyExists,
  Busy,
  CommandFailed,
  FailedPrecondition,
  InUse,
  NotFound,
  OutOfCapacity,
  type DomainError,
} from '../errors.js';

interface Rule {
  test: RegExp;
  make: (line: string, e: CommandFailed, all: string) => DomainError;
}

const vgOfMetadataError = (text: string): string | undefined =>
  /\bVG (\S+) (?:\d+ )?metadata on \S+/.exec(text)?.[1] ?? /Failed to write VG (\S+?)\.?$/m.exec(text)?.[1];

/** Ordered: the first matching rule wins. */
const RULES: readonly Rule[] = [
  // 2.03: "VG tinyvg 13 metadata on /dev/loop2 (558524 bytes) exceeds maximum metadata size (521472 bytes)"
  //       followed by "Failed to write VG tinyvg."; older lvm2: "... too large for circular buffer".
  {
    test: /exceeds maximum metadata size|too large for circular buffer|no space for metadata|metadata too large/i,
    make: (line, e, all) => {
      const vg = vgOfMetadataError(all);
      return new OutOfCapacity(
        `LVM metadata area of VG ${vg ?? '(unknown)'} is full: remove volumes or tags, or recreate the VG with a larger --metadatasize (${line})`,
        { cause: e },
      );
    },
  },
  // 'Volume group "vg" has insufficient free space (56 extents): 2048 required.'
  // "Insufficient free space: 25596 extents needed, but only 56 available" (lvextend)
  // "Insufficient suitable allocatable extents for logical volume lv: 516 more required" (raid, stripes)
  // "Cannot create new thin volume, free space in thin pool vg/pool reached threshold."
  {
    test: /insufficient (free space|free extents|suitable allocatable extents)|free space in thin pool|extents needed, but only|not enough free space/i,
    make: (line, e) => new OutOfCapacity(`not enough space: ${line}`, { cause: e }),
  },
  // 'Logical Volume "x" already exists in volume group "vg"' (lvcreate, lvrename)
  // "A volume group called vg already exists." (vgcreate)
  { test: /already exists/i, make: (line) => new AlreadyExists(line) },
  // The LV's device is open: "Logical volume vg/lv in use." / "Logical volume vg/lv contains a filesystem in use."
  // "Can't remove open logical volume "lv"" (older) / "Logical volume vg/lv is used by another device."
  // (lvremove re-checks the open count for a few seconds before it says so: a udev probe does not end here.)
  {
    test: /^Logical volume \S+ (?:contains a filesystem )?in use\b|open logical volume|used by another device/i,
    make: (line) => new InUse(line),
  },
  // "... Device or resource busy" (dm ioctl) / lock contention (file locks, lvmlockd)
  {
    test: /\bin use\b|device or resource busy|can't get lock|flock failed|held by other host|locked by other host|lock is held/i,
    make: (line) => new Busy(line),
  },
  // 'Do you really want to remove volume group "vg" containing 1 logical volumes? [y/n]: [n]'
  {
    test: /containing \d+ logical volumes/i,
    make: (line, e) => new FailedPrecondition(`volume group still contains logical volumes: ${line}`, { cause: e }),
  },
  // 'Failed to find logical volume "vg/lv"' (lvs, lvchange, lvremove)
  // 'Volume group "vg" not found' (any command on a missing VG)
  // "Logical volume lv not found in volume group vg." (lvextend)
  // 'Existing logical volume "lv" not found in volume group "vg"' (lvrename)
  // "Snapshot origin LV x not found in Volume group vg." / "Thin pool volume x not found in Volume group vg."
  {
    test: /failed to find logical volume|volume group "?[^"\s]+"? not found|not found in volume group|doesn't exist/i,
    make: (line, e) => new NotFound(line, { cause: e }),
  },
];

/** The stderr lines worth reading: trimmed, no blanks, no WARNING lines. */
function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^WARNING:/i.test(l));
}

/**
 * Turn a failed LVM command into a domain error: NotFound, OutOfCapacity
 * (no space; a full VG metadata area), AlreadyExists, InUse (the LV is open:
 * a Busy), Busy (lock contention), FailedPrecondition (vgremove of a non-empty VG).
 * Anything else, and timeouts/cancellations, come back unchanged.
 */
export function classifyLvmError(e: CommandFailed): DomainError {
  if (e.timedOut || e.cancelled) return e;
  const lines = errorLines(e.stderr);
  const all = lines.join('\n');
  for (const rule of RULES) {
    const line = lines.find((l) => rule.test.test(l));
    if (line !== undefined) return rule.make(line, e, all);
  }
  return e;
}

/** classifyLvmError for anything thrown: CommandFailed is classified, the rest passes through. */
export function classifyThrown(e: unknown): unknown {
  return e instanceof CommandFailed ? classifyLvmError(e) : e;
}

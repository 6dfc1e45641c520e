/**
 * The block-layer settings of an iSCSI disk on the node, through sysfs
 * (/sys/block/<sdX>/queue/*), set when the volume is staged. Only ever on a
 * disk already proven to hang under a session to the volume's target (the
 * caller checks), and never fatal: a setting the kernel refuses is reported
 * back and logged, the volume still stages.
 *
 * - scheduler "none": the requests are ordered and merged by the storage
 *   node (LIO -> dm-thin -> its disks and their scheduler); a second
 *   elevator on the initiator only adds latency and CPU per request.
 *   mq-deadline is the kernel's default for SCSI disks, chosen for local
 *   spinning disks.
 *
 * Left to the kernel on purpose: max_sectors_kb (the sd driver caps requests
 * at the target's optimal transfer length, 64 KiB for a thin LV: raising it
 * to 1 MiB doubled write throughput in the VM tier but put so much data
 * behind R2Ts that LIO's 3 s DataOut timeout closed the connection on a
 * loaded guest) and read_ahead_kb (see docs/performance.md, "Data path").
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ISCSI_SCHEDULER = 'none';

export interface QueueTuning {
  /** What was written, e.g. ["scheduler=none"]. */
  changed: string[];
  /** What could not be written and why (the volume still works with the kernel's defaults). */
  failed: string[];
}

/** /sys/block/<name>/queue/scheduler shows "[mq-deadline] none": the one in brackets is active. */
export function activeScheduler(shown: string): string | undefined {
  return /\[([^\]]+)\]/.exec(shown)?.[1];
}

export async function tuneIscsiDisk(name: string, o: { sysfsRoot?: string } = {}): Promise<QueueTuning> {
  if (!/^sd[a-z]+$/.test(name)) throw new Error(`not a SCSI disk name: ${JSON.stringify(name)}`);
  const file = join(o.sysfsRoot ?? '/sys', 'block', name, 'queue', 'scheduler');
  const out: QueueTuning = { changed: [], failed: [] };
  let shown: string;
  try {
    shown = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    out.failed.push(`scheduler: ${(e as { code?: string }).code ?? String(e)}`);
    return out;
  }
  if (activeScheduler(shown) === ISCSI_SCHEDULER) return out;
  if (!shown.split(/\s+/).some((s) => s.replace(/[[\]]/g, '') === ISCSI_SCHEDULER)) {
    out.failed.push(`scheduler=${ISCSI_SCHEDULER}: not offered (${shown})`);
    return out;
  }
  try {
    await writeFile(file, ISCSI_SCHEDULER);
    out.changed.push(`scheduler=${ISCSI_SCHEDULER}`);
  } catch (e) {
    out.failed.push(`scheduler=${ISCSI_SCHEDULER}: ${(e as { code?: string }).code ?? String(e)}`);
  }
  return out;
}

/**
 * Parser for `iscsiadm -m session -P 3` (open-iscsi usr/session_info.c,
 * session_info_print_tree): one "Target:" block per target, one "Current
 * Portal:" line per portal (omitted when the next session has the same target
 * and portal, e.g. through another iface), then per session its iface block,
 * "SID:", states, negotiated parameters and attached SCSI devices:
 *
 *   Target: iqn.2024-01.test:vol (non-flash)
 *   	Current Portal: 127.0.0.1:3260,1
 *   	Persistent Portal: 127.0.0.1:3260,1
 *   		**********
 *   		Interface:
 *   		**********
 *   		Iface Name: default
 *   		...
 *   		SID: 1
 *   		iSCSI Connection State: LOGGED IN
 *   		iSCSI Session State: LOGGED_IN
 *   		...
 *   		Host Number: 2	State: running
 *   		scsi2 Channel 00 Id 0 Lun: 0
 *   			Attached scsi disk sda		State: running
 *
 * Pure function; tolerant of lines it does not know.
 */
import { normalizePortal } from './portal.js';

interface ScsiDisk {
  lun: number;
  /** Block device name, e.g. "sda". */
  device: string;
  /** SCSI device state, e.g. "running", "offline", "blocked". */
  state: string;
}

export interface IscsiSession {
  sid: number;
  iqn: string;
  /** Canonical portal "addr:port" / "[v6]:port" (Persistent Portal: what the node record names). */
  portal: string;
  /** The portal actually connected to (differs after a redirect). */
  currentPortal: string;
  iface: string | undefined;
  /** Initiator IQN the session logged in with (iface.initiatorname), when printed. */
  initiatorName: string | undefined;
  /** "LOGGED_IN", "FAILED", "FREE", ... (iSCSI Session State, from sysfs). */
  state: string;
  /** "LOGGED IN", "TRANSPORT WAIT", ... (iSCSI Connection State, from iscsid). */
  connectionState: string | undefined;
  hostNumber: number | undefined;
  /** Attached SCSI disks, by LUN (ascending). */
  devices: ScsiDisk[];
}

/** "127.0.0.1:3260,1" / "[fd00::1]:3260,1" -> canonical portal without the tpgt. */
function portalOf(value: string): string {
  const noTpgt = value.replace(/,-?\d+$/, '').trim();
  try {
    return normalizePortal(noTpgt);
  } catch {
    return noTpgt;
  }
}

export function parseSessionTree(text: string): IscsiSession[] {
  const out: IscsiSession[] = [];
  let target: string | undefined;
  let current = '';
  let persistent = '';
  let iface: string | undefined;
  let initiatorName: string | undefined;
  let s: IscsiSession | undefined;
  let pendingLun: number | undefined;

  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    let m: RegExpExecArray | null;
    if ((m = /^Target:\s+(\S+)/.exec(line))) {
      target = m[1];
      s = undefined;
    } else if ((m = /^Current Portal:\s+(\S+)/.exec(line))) {
      current = portalOf(m[1] ?? '');
      s = undefined;
    } else if ((m = /^Persistent Portal:\s+(\S+)/.exec(line))) {
      persistent = portalOf(m[1] ?? '');
    } else if (line === 'Interface:') {
      iface = undefined;
      initiatorName = undefined;
      s = undefined;
    } else if ((m = /^Iface Name:\s+(\S+)/.exec(line))) {
      iface = m[1];
    } else if ((m = /^Iface Initiatorname:\s+(\S+)/.exec(line))) {
      initiatorName = m[1] === '<empty>' ? undefined : m[1];
    } else if ((m = /^SID:\s+(\d+)/.exec(line)) && target) {
      s = {
        sid: Number(m[1]),
        iqn: target,
        portal: persistent || current,
        currentPortal: current || persistent,
        iface,
        initiatorName,
        state: 'UNKNOWN',
        connectionState: undefined,
        hostNumber: undefined,
        devices: [],
      };
      out.push(s);
      pendingLun = undefined;
    } else if (!s) {
      continue;
    } else if ((m = /^iSCSI Session State:\s+(.+)$/.exec(line))) {
      s.state = (m[1] ?? '').trim();
    } else if ((m = /^iSCSI Connection State:\s+(.+)$/.exec(line))) {
      s.connectionState = (m[1] ?? '').trim();
    } else if ((m = /^Host Number:\s+(\d+)/.exec(line))) {
      s.hostNumber = Number(m[1]);
    } else if ((m = /^scsi\d+ Channel \d+ Id \d+ Lun:\s+(\d+)/.exec(line))) {
      pendingLun = Number(m[1]);
    } else if ((m = /^Attached scsi disk\s+(\S+)\s+State:\s+(\S+)/.exec(line)) && pendingLun !== undefined) {
      s.devices.push({ lun: pendingLun, device: m[1] ?? '', state: m[2] ?? '' });
      pendingLun = undefined;
    }
  }
  for (const x of out) x.devices.sort((a, b) => a.lun - b.lun);
  return out;
}

export interface NodeRecord {
  iqn: string;
  /** Canonical portal "addr:port" / "[v6]:port". */
  portal: string;
}

/**
 * Parser for `iscsiadm -m node` (one line per record: "127.0.0.1:3260,1
 * iqn..." or "[fd00::1]:3260,-1 iqn..." for a record made without
 * discovery). The same target and portal through several ifaces is listed
 * once.
 */
export function parseNodeRecords(text: string): NodeRecord[] {
  const out: NodeRecord[] = [];
  for (const raw of text.split('\n')) {
    const m = /^(\S+?),-?\d+\s+(\S+)$/.exec(raw.trim());
    if (!m) continue;
    const rec = { iqn: m[2] ?? '', portal: portalOf(m[1] ?? '') };
    if (!out.some((r) => r.iqn === rec.iqn && r.portal === rec.portal)) out.push(rec);
  }
  return out;
}

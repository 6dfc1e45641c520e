/**
 * Parsers for tgtadm's text output (tgt 1.0.85; format from
 * usr/target.c tgt_target_show_all, checked against a live tgtd):
 *
 *   Target 1: iqn.2024-01.org.example:vol1
 *       System information:
 *           Driver: iscsi
 *           State: ready
 *       I_T nexus information:
 *           I_T nexus: 12
 *               Initiator: iqn.2024-01.test:a alias: none
 *               Connection: 0
 *                   IP Address: 127.0.0.1
 *       LUN information:
 *           LUN: 0
 *               Type: controller
 *               ...
 *           LUN: 1
 *               Type: disk
 *               SCSI ID: 0123...
 *               SCSI SN: 0123...
 *               Size: 34 MB, Block size: 512        (rounded decimal MB: not exact)
 *               Online: Yes
 *               Readonly: No
 *               Thin-provisioning: Yes
 *               Backing store type: rdwr
 *               Backing store path: /dev/vg/lv
 *       Account information:
 *           alice
 *           mutual (outgoing)
 *       ACL information:
 *           iqn.2024-01.test:a
 *
 * The I_T nexus number is the session id (TSIH) that `--mode conn --op
 * delete --sid` takes.
 */

interface TgtConnection {
  cid: number;
  address: string | undefined;
}

interface TgtNexus {
  /** = the session id (sid) for --mode conn. */
  id: number;
  initiator: string;
  alias: string | undefined;
  connections: TgtConnection[];
}

export interface TgtLun {
  lun: number;
  type: string;
  scsiId: string;
  scsiSn: string;
  /** tgt's rounded MB figure; not exact. */
  sizeMb: number | undefined;
  blockSize: number | undefined;
  online: boolean;
  readOnly: boolean;
  thinProvisioning: boolean;
  backingStoreType: string;
  /** undefined for "None" (LUN 0). */
  backingStorePath: string | undefined;
}

export interface TgtTargetInfo {
  tid: number;
  iqn: string;
  driver: string | undefined;
  state: string | undefined;
  nexus: TgtNexus[];
  luns: TgtLun[];
  incomingAccounts: string[];
  outgoingAccount: string | undefined;
  /** Initiator names and addresses ("ALL", "192.0.2.1", "10.0.0.0/8") in the access list. */
  acls: string[];
}

type Section = 'system' | 'nexus' | 'lun' | 'account' | 'acl' | undefined;

const yes = (v: string | undefined) => v === 'Yes';

function emptyLun(n: number): TgtLun {
  return {
    lun: n,
    type: '',
    scsiId: '',
    scsiSn: '',
    sizeMb: undefined,
    blockSize: undefined,
    online: false,
    readOnly: false,
    thinProvisioning: false,
    backingStoreType: '',
    backingStorePath: undefined,
  };
}

function setLunField(lun: TgtLun, key: string, value: string): void {
  switch (key) {
    case 'Type':
      lun.type = value;
      break;
    case 'SCSI ID':
      lun.scsiId = value;
      break;
    case 'SCSI SN':
      lun.scsiSn = value;
      break;
    case 'Size': {
      const m = /^(\d+) MB(?:, Block size: (\d+))?/.exec(value);
      lun.sizeMb = m ? Number(m[1]) : undefined;
      lun.blockSize = m?.[2] ? Number(m[2]) : undefined;
      break;
    }
    case 'Online':
      lun.online = yes(value);
      break;
    case 'Readonly':
      lun.readOnly = yes(value);
      break;
    case 'Thin-provisioning':
      lun.thinProvisioning = yes(value);
      break;
    case 'Backing store type':
      lun.backingStoreType = value;
      break;
    case 'Backing store path':
      lun.backingStorePath = value === 'None' || value === '' ? undefined : value;
      break;
    default:
      break;
  }
}

/** `tgtadm --lld iscsi --mode target --op show`. */
export function parseTargetShow(text: string): TgtTargetInfo[] {
  const targets: TgtTargetInfo[] = [];
  let t: TgtTargetInfo | undefined;
  let section: Section;
  let nexus: TgtNexus | undefined;
  let lun: TgtLun | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '') continue;
    const head = /^Target (\d+): (\S+)$/.exec(line);
    if (head) {
      t = {
        tid: Number(head[1]),
        iqn: head[2] as string,
        driver: undefined,
        state: undefined,
        nexus: [],
        luns: [],
        incomingAccounts: [],
        outgoingAccount: undefined,
        acls: [],
      };
      targets.push(t);
      section = undefined;
      nexus = undefined;
      lun = undefined;
      continue;
    }
    if (!t) continue;
    const text1 = line.trim();
    const sectionName = /^(System|I_T nexus|LUN|Account|ACL) information:$/.exec(text1)?.[1];
    if (sectionName && /^ {4}\S/.test(line)) {
      section = ({ System: 'system', 'I_T nexus': 'nexus', LUN: 'lun', Account: 'account', ACL: 'acl' } as const)[
        sectionName as 'System'
      ];
      continue;
    }
    const kv = /^([^:]+):\s?(.*)$/.exec(text1);
    switch (section) {
      case 'system':
        if (kv?.[1] === 'Driver') t.driver = kv[2];
        if (kv?.[1] === 'State') t.state = kv[2];
        break;
      case 'nexus': {
        if (kv?.[1] === 'I_T nexus') {
          nexus = { id: Number(kv[2]), initiator: '', alias: undefined, connections: [] };
          t.nexus.push(nexus);
        } else if (nexus && kv?.[1] === 'Initiator') {
          const m = /^(\S+)(?: alias: (.*))?$/.exec(kv[2] ?? '');
          nexus.initiator = m?.[1] ?? '';
          nexus.alias = m?.[2] === undefined || m[2] === 'none' ? undefined : m[2];
        } else if (nexus && kv?.[1] === 'Connection') {
          nexus.connections.push({ cid: Number(kv[2]), address: undefined });
        } else if (nexus && kv?.[1] === 'IP Address') {
          const c = nexus.connections.at(-1);
          if (c) c.address = kv[2];
        }
        break;
      }
      case 'lun':
        if (kv?.[1] === 'LUN') {
          lun = emptyLun(Number(kv[2]));
          t.luns.push(lun);
        } else if (lun && kv) setLunField(lun, kv[1] as string, kv[2] ?? '');
        break;
      case 'account': {
        const out = /^(\S+) \(outgoing\)$/.exec(text1);
        if (out) t.outgoingAccount = out[1];
        else t.incomingAccounts.push(text1);
        break;
      }
      case 'acl':
        t.acls.push(text1);
        break;
      default:
        break;
    }
  }
  return targets;
}

/** `tgtadm --lld iscsi --mode portal --op show`: "Portal: 127.0.0.1:3260,1", "Portal: [::1]:3260,1". */
export function parsePortalShow(text: string): Array<{ address: string; port: number; tpgt: number }> {
  const out: Array<{ address: string; port: number; tpgt: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^Portal: (?:\[([^\]]+)\]|([^:\s]+)):(\d+),(\d+)\s*$/.exec(line.trim());
    const address = m?.[1] ?? m?.[2];
    if (m && address) out.push({ address, port: Number(m[3]), tpgt: Number(m[4]) });
  }
  return out;
}

/** `tgtadm --lld iscsi --mode account --op show`: "Account list:" then one user per line. */
export function parseAccountShow(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'Account list:');
}

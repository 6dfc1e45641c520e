/**
 * tgtadm argv builders (long options, as in tgtadm(8)) and the one place its
 * failures are classified.
 *
 * tgtadm exits 22 (EINVAL) for every error tgtd reports, printing
 * "tgtadm: <tgtadm_strerror text>" (usr/tgtadm.c), and 107 (ENOTCONN) when it
 * cannot reach tgtd ("failed to send request hdr to tgt daemon, Transport
 * endpoint is not connected"): the message, not the code, tells them apart.
 */
import { CommandFailed } from '../errors.js';
import { formatHostPort } from '../host-port.js';

export type TgtErrorKind =
  | 'no-target'
  | 'no-lun'
  | 'no-session'
  | 'target-exists'
  | 'lun-exists'
  | 'acl-exists'
  | 'acl-missing'
  | 'account-exists'
  | 'account-missing'
  | 'outgoing-exists'
  | 'target-active'
  | 'busy'
  | 'no-daemon'
  | 'other';

const RULES: ReadonlyArray<[RegExp, TgtErrorKind]> = [
  [/can't find the target/, 'no-target'],
  [/can't find the logical unit/, 'no-lun'],
  [/can't find the (session|connection)/, 'no-session'],
  [/this target already exists/, 'target-exists'],
  [/this logical unit number already exists/, 'lun-exists'],
  [/this access control rule already exists/, 'acl-exists'],
  [/this access control rule does not exist/, 'acl-missing'],
  [/this account already exists/, 'account-exists'],
  [/can't find the account/, 'account-missing'],
  [/already has an outgoing account/, 'outgoing-exists'],
  [/this target is still active/, 'target-active'],
  [/this logical unit is still active|this driver is busy|Device or resource busy/, 'busy'],
  [/failed to send request|can't connect|Transport endpoint is not connected|Connection refused/, 'no-daemon'],
];

export function classifyTgtadm(e: CommandFailed): TgtErrorKind {
  for (const [re, kind] of RULES) if (re.test(e.stderr)) return kind;
  if (e.exitCode === 107 || e.exitCode === 111) return 'no-daemon';
  return 'other';
}

export class TgtadmArgv {
  private readonly base: readonly string[];

  /** controlPort: tgtd's -C/--control-port (several tgtd on one host); default tgtd's own (0). */
  constructor(controlPort?: number) {
    this.base = [
      'tgtadm',
      ...(controlPort === undefined ? [] : ['--control-port', String(controlPort)]),
      '--lld',
      'iscsi',
    ];
  }

  private a(...rest: Array<string | number>): string[] {
    return [...this.base, ...rest.map(String)];
  }

  showTargets(): string[] {
    return this.a('--mode', 'target', '--op', 'show');
  }
  newTarget(tid: number, iqn: string): string[] {
    return this.a('--mode', 'target', '--op', 'new', '--tid', tid, '--targetname', iqn);
  }
  deleteTarget(tid: number, force = false): string[] {
    return this.a('--mode', 'target', '--op', 'delete', ...(force ? ['--force'] : []), '--tid', tid);
  }
  bindInitiator(tid: number, initiator: string): string[] {
    return this.a('--mode', 'target', '--op', 'bind', '--tid', tid, '--initiator-name', initiator);
  }
  unbindInitiator(tid: number, initiator: string): string[] {
    return this.a('--mode', 'target', '--op', 'unbind', '--tid', tid, '--initiator-name', initiator);
  }
  unbindAddress(tid: number, address: string): string[] {
    return this.a('--mode', 'target', '--op', 'unbind', '--tid', tid, '--initiator-address', address);
  }
  newLun(tid: number, lun: number, backingStore: string): string[] {
    return this.a('--mode', 'logicalunit', '--op', 'new', '--tid', tid, '--lun', lun, '--backing-store', backingStore);
  }
  deleteLun(tid: number, lun: number): string[] {
    return this.a('--mode', 'logicalunit', '--op', 'delete', '--tid', tid, '--lun', lun);
  }
  /** params: "scsi_id=...,scsi_sn=...,readonly=1" (comma-separated, no spaces). */
  updateLun(tid: number, lun: number, params: string): string[] {
    return this.a('--mode', 'logicalunit', '--op', 'update', '--tid', tid, '--lun', lun, '--params', params);
  }
  showAccounts(): string[] {
    return this.a('--mode', 'account', '--op', 'show');
  }
  newAccount(user: string, password: string): string[] {
    return this.a('--mode', 'account', '--op', 'new', '--user', user, '--password', password);
  }
  deleteAccount(user: string): string[] {
    return this.a('--mode', 'account', '--op', 'delete', '--user', user);
  }
  bindAccount(tid: number, user: string, outgoing = false): string[] {
    return this.a(
      '--mode',
      'account',
      '--op',
      'bind',
      '--tid',
      tid,
      '--user',
      user,
      ...(outgoing ? ['--outgoing'] : []),
    );
  }
  unbindAccount(tid: number, user: string, outgoing = false): string[] {
    return this.a(
      '--mode',
      'account',
      '--op',
      'unbind',
      '--tid',
      tid,
      '--user',
      user,
      ...(outgoing ? ['--outgoing'] : []),
    );
  }
  /** Closes one connection of a session (the I_T nexus id). */
  deleteConnection(tid: number, sid: number, cid: number): string[] {
    return this.a('--mode', 'conn', '--op', 'delete', '--tid', tid, '--sid', sid, '--cid', cid);
  }
  showPortals(): string[] {
    return this.a('--mode', 'portal', '--op', 'show');
  }
  newPortal(address: string, port: number): string[] {
    return this.a('--mode', 'portal', '--op', 'new', '--params', `portal=${formatHostPort(address, port)}`);
  }
}

/**
 * The iSCSI target on a storage node, as the storage agent sees it: one
 * target per volume, one LUN, per-initiator access, optional CHAP.
 *
 * Two implementations: LioTarget (kernel LIO through configfs, the default)
 * and TgtTarget (the user-space tgtd through tgtadm). Every mutating call is
 * idempotent and "check, then act": it reads the live state first and only
 * changes what differs, so a retry after a crash at any point completes the
 * work, and a second identical call changes nothing.
 *
 * The live kernel / tgtd state is the truth for exports (listTargets());
 * there is no state file.
 */

export interface Portal {
  /** IPv4 dotted quad or IPv6 address (without brackets). */
  address: string;
  port: number;
}

export interface ChapCredentials {
  /** What the initiator logs in with (node.session.auth.username). */
  userid: string;
  password: string;
  /** Mutual CHAP: what the target answers with (node.session.auth.username_in). Both or neither. */
  mutualUserid?: string;
  mutualPassword?: string;
}

export interface TargetSpec {
  /** Target IQN (see iqn.ts targetIqn()). */
  iqn: string;
  /** "vg/lv": names the backstore deterministically. */
  volumeKey: string;
  /** Block device to export, e.g. /dev/vg/lv. */
  devicePath: string;
  /**
   * Unit serial (VPD page 0x80), see iqn.ts unitSerial(). LIO also derives
   * the NAA WWID (page 0x83) from it, tgt gets it as scsi_id too, so the
   * initiator's WWID (/dev/disk/by-id/wwn-..., multipath) is the same after
   * every re-export.
   */
  serial: string;
  /** Where the target listens. LIO: per target. tgt: daemon-wide (missing portals are added, none removed). */
  portals: readonly Portal[];
  /** Export write-protected. Default false. */
  readOnly?: boolean;
}

export interface InitiatorState {
  iqn: string;
  /** The CHAP user this initiator must log in with; undefined when no CHAP is configured for it. */
  chapUserid: string | undefined;
  /** Mutual CHAP user, when configured. */
  mutualChapUserid: string | undefined;
  /** Logged-in sessions of this initiator (0 or 1 for LIO). */
  sessions: number;
}

export interface TargetState {
  iqn: string;
  /** The exported device, as configured (LIO: udev_path, tgt: backing store path); undefined if no LUN. */
  devicePath: string | undefined;
  /** The unit serial the LUN reports; undefined if no LUN or never set. */
  serial: string | undefined;
  /** LUN number the data is on (LIO 0, tgt 1); undefined if the LUN is missing. */
  lun: number | undefined;
  portals: Portal[];
  readOnly: boolean;
  /** An initiator without CHAP credentials is refused (LIO: TPG attrib/authentication, tgt: an incoming account is bound). */
  authRequired: boolean;
  /** Accepts logins (LIO: tpgt_1/enable; tgt: state ready). */
  enabled: boolean;
  /** Initiators in the access list (never "ALL"). */
  initiators: InitiatorState[];
  /** Current size of the LUN in bytes when the target can tell exactly (LIO through sysfs); tgt only prints rounded MB, so undefined. */
  sizeBytes: number | undefined;
}

export interface TargetCallOptions {
  /** Cancels a running tgtadm (tgt); checked between steps (LIO). */
  signal?: AbortSignal;
}

export type TargetKind = 'lio' | 'tgt';

export interface Target {
  readonly kind: TargetKind;
  /** The LUN number volumes are exported on: 0 (LIO) or 1 (tgt: LUN 0 is its controller). Goes into publish_context. */
  readonly lun: number;

  /**
   * Creates what is missing of: backstore (LIO) / LUN (tgt) on devicePath
   * with the unit serial and discards passed through; target; TPG; one LUN;
   * the portals; then enables the target. Existing parts that match are left
   * alone. A target of the same IQN on another device, or a LUN that cannot
   * get the requested serial because it is exported already, is
   * FailedPrecondition. Initiators are not touched: a new target admits
   * nobody until allowInitiator().
   */
  ensureTarget(spec: TargetSpec, o?: TargetCallOptions): Promise<void>;

  /**
   * Lets one initiator in (an ACL for its IQN; never "ALL", no demo mode).
   * With chap: the initiator must log in with those credentials, without
   * CHAP it is refused. Same credentials again => no change; different ones
   * => updated (live sessions stay; the new ones apply at the next login).
   * Without chap on an initiator that had CHAP: CHAP is removed for it.
   * NotFound when the target does not exist. InvalidArgument for a bad IQN.
   */
  allowInitiator(iqn: string, initiatorIqn: string, chap?: ChapCredentials, o?: TargetCallOptions): Promise<void>;

  /**
   * Removes the initiator's access and ends its live sessions before it
   * returns. OK when the target or the initiator is already gone.
   */
  denyInitiator(iqn: string, initiatorIqn: string, o?: TargetCallOptions): Promise<void>;

  /**
   * Tears the target down in the reverse order of creation (sessions end),
   * releasing the device (LIO holds it open exclusively while exported).
   * OK when it is gone.
   */
  removeTarget(iqn: string, o?: TargetCallOptions): Promise<void>;

  /**
   * Removes what a crash left of an export before its target linked it
   * (LIO: a backstore made and maybe enabled, no LUN linking it), only when
   * it is ours: its alias is a target IQN under `iqnPrefix` ("<prefix>:...").
   * Anything a LUN links, or that another tool made, is left alone. Returns
   * the names removed. tgt keeps nothing outside its targets: a no-op.
   */
  removeOrphans(iqnPrefix: string, o?: TargetCallOptions): Promise<string[]>;

  /** The live state of every target (LIO: under the configfs iscsi/ dir; tgt: tgtadm --op show). */
  listTargets(o?: TargetCallOptions): Promise<TargetState[]>;
  /**
   * Whether the target exists, without reading any target's state (LIO: one
   * stat of its configfs directory; tgt: one tgtadm --op show). listTargets()
   * reads every target in full: dozens of configfs files each.
   */
  hasTarget(iqn: string, o?: TargetCallOptions): Promise<boolean>;

  /**
   * Makes the LUN report the device's current size after lvextend. LIO needs
   * nothing (iblock reads the size at every READ CAPACITY; this only checks
   * the target exists). tgt re-opens the backing store; it refuses with
   * FailedPrecondition while initiators are logged in (see tgt.ts). The
   * initiator still has to rescan (iscsiadm -m session --rescan).
   * NotFound when the target does not exist.
   */
  refreshSize(iqn: string, o?: TargetCallOptions): Promise<void>;
}

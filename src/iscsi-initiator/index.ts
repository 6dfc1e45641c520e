/** The consumer node's iSCSI initiator: what src/csi/node.ts uses. */
export { Iscsiadm, validateIqn, type ChapSettings, type IscsiadmOptions, type IscsiCallOptions, type LoginResult, type NodeSpec } from './iscsiadm.js';
export { ISCSI_ERR, RETRYABLE_LOGIN_EXIT_CODES } from './iscsi-errors.js';
export { parseNodeRecords, parseSessionTree, type IscsiSession, type NodeRecord, type ScsiDisk } from './session-parser.js';
export { BY_PATH_DIR, byPathDevice, byPathName, DEFAULT_ISCSI_PORT, formatPortal, lunComponent, normalizePortal, parsePortal, type PortalAddress } from './portal.js';
export { resolveDevice, waitForDevice, type ResolvedDevice, type WaitForDeviceOptions } from './device.js';
export { Multipath, multipathProblem, parseFindMultipaths, parseMultipathLl, type MultipathMap, type MultipathOptions, type MultipathPath } from './multipath.js';
export { DEFAULT_SYSFS_ROOT, deleteScsiDevice, flushBuffers } from './scsi.js';
export { Mutex } from '../mutex.js';
export { iscsidListening, multipathdListening, socketListening } from './iscsid.js';
export { diskUse, probeExclusive, type DiskUse, type ExclusiveProbe, type MountLike } from './in-use.js';

/** The node's block and file-system tools: what src/csi/node.ts uses. */
export { BlockProbe, BLKID_AMBIVALENT, BLKID_NOTHING_FOUND, parseBlkidExport, parseWipefsJson, type ProbeResult, type WipefsSignature } from './blkid.js';
export { MountTable, parseMountinfo, PROC_MOUNTINFO, type MountEntry } from './mountinfo.js';
export { isSupportedFs, mkfs, mkfsArgv, parseMkfsArgs, SUPPORTED_FS, type FsType, type MkfsOptions } from './mkfs.js';
export { assertMountOptions, MAX_UNMOUNTS, Mounter, type MountCallOptions, type MountResult } from './mount.js';
export { assertSafePath, ensureDir, ensureFile, pathExists, pathKind, removeTarget, type PathKind } from './paths.js';
export { readOnlyMountOptions } from './readonly.js';
export { deviceSize, fsSize, growfs, parseDumpe2fsSize, parseXfsInfoSize } from './resize.js';
export { fsStats, type FsStats } from './stats.js';
export { regenerateXfsUuid, withXfsNoUuid, XFS_NOUUID_MOUNT_OPTION } from './xfs-uuid.js';

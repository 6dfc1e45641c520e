/**
 * Who may hold a volume, and which exports are read-only. The agent applies
 * these rules to every publish, whoever calls it.
 *
 * Which exports are read-only. The CO's `readonly` flag alone is not enough:
 * Kubernetes sets it only from the PV's spec.csi.readOnly, which the
 * external-provisioner fills for ReadOnlyMany claims only when it runs with
 * --controller-publish-readonly; the external-attacher derives the access
 * mode from the PV's access modes. A reader-only access mode therefore gets a
 * read-only LUN whatever the flag says.
 */
import { AlreadyExists, FailedPrecondition } from '../errors.js';
import type { Publication, VolumeInfo } from './types.js';

/** CSI access modes under which no node may write. */
export const READER_ONLY_MODES: ReadonlySet<string> = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY']);

/** The export of this publication is write-protected (records written before this rule count too). */
export function exportReadOnly(p: Pick<Publication, 'readOnly' | 'mode'>): boolean {
  return p.readOnly || READER_ONLY_MODES.has(p.mode);
}

/** Access modes that allow one node at a time. */
const SINGLE_NODE: ReadonlySet<string> = new Set([
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
]);

/**
 * Throws when `want` may not be added to the volume's publications: the
 * volume is not ready; the node holds it with another mode or read-only
 * flag (ALREADY_EXISTS); a single-node mode on either side and another node
 * holds it; or the export would be read-write for one node and read-only for
 * another (tgt's readonly is per LUN, LIO's backstore is opened one way).
 * The same publication again passes (idempotent).
 */
export function checkPublication(v: VolumeInfo, want: Pick<Publication, 'nodeId' | 'readOnly' | 'mode'>): void {
  if (v.state !== 'ready') throw new FailedPrecondition(`volume ${v.id} is not ready yet (${v.state})`);
  const readOnly = exportReadOnly(want);
  const mine = v.published.find((p) => p.nodeId === want.nodeId);
  if (mine) {
    if (exportReadOnly(mine) !== readOnly || mine.mode !== want.mode) {
      throw new AlreadyExists(
        `volume ${v.id} is published to ${want.nodeId} with ${mine.mode}${exportReadOnly(mine) ? ' read-only' : ''}; unpublish it first`,
      );
    }
    return;
  }
  // A single-node mode on either side refuses a second node (SINGLE_NODE_WRITER on A, then any mode on B, is refused here).
  const other = v.published.find((p) => SINGLE_NODE.has(p.mode) || SINGLE_NODE.has(want.mode));
  if (other)
    throw new FailedPrecondition(
      `volume ${v.id} is published to node ${other.nodeId} (${other.mode}); unpublish it there first`,
    );
  const mixed = v.published.find((p) => exportReadOnly(p) !== readOnly);
  if (mixed) {
    throw new FailedPrecondition(
      `volume ${v.id} is published ${exportReadOnly(mixed) ? 'read-only' : 'read-write'} to node ${mixed.nodeId} (${mixed.mode}); ` +
        `it cannot be published ${readOnly ? 'read-only' : 'read-write'} to another node at the same time`,
    );
  }
}

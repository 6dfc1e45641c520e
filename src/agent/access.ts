/**
 * Which exports are read-only. The CO's `readonly` flag alone is not enough:
 * Kubernetes sets it only from the PV's spec.csi.readOnly, which the
 * external-provisioner fills for ReadOnlyMany claims only when it runs with
 * --controller-publish-readonly; the external-attacher derives the access
 * mode from the PV's access modes. A reader-only access mode therefore gets a
 * read-only LUN whatever the flag says.
 */
import type { Publication } from './types.js';

/** CSI access modes under which no node may write. */
export const READER_ONLY_MODES: ReadonlySet<string> = new Set(['SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY']);

/** The export of this publication is write-protected (records written before this rule count too). */
export function exportReadOnly(p: Pick<Publication, 'readOnly' | 'mode'>): boolean {
  return p.readOnly || READER_ONLY_MODES.has(p.mode);
}

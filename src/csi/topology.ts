/**
 * The driver's one topology segment. Every volume is reachable over iSCSI
 * from every node that runs this driver's node service, so there is a
 * single segment, `topology.<driver name>/attachable: "true"`: NodeGetInfo
 * reports it (kubelet labels the node with it and lists the key in CSINode),
 * volumes carry it, and GetCapacity answers for it.
 *
 * Why not none: external-provisioner's capacity controller (--enable-capacity)
 * needs the segment. With none it makes a CSIStorageCapacity whose
 * nodeTopology (an empty selector) it then fails to recognise as its own,
 * deletes it and makes it again at every poll, so the scheduler mostly sees no
 * capacity for a WaitForFirstConsumer class. The capacity KEP asks central
 * provisioning drivers for a NodeGetInfo topology for this reason.
 */
import { OutOfCapacity } from '../errors.js';
import type { Topology } from '../gen/csi/v1/Topology.js';
import type { TopologyRequirement__Output } from '../gen/csi/v1/TopologyRequirement.js';

export type Segment = Readonly<Record<string, string>>;

/** The segment of a driver name (a DNS subdomain of at most 63 characters, so the label key is valid). */
export function driverSegment(driverName: string): Segment {
  return Object.freeze({ [`topology.${driverName}/attachable`]: 'true' });
}

/**
 * Whether a topology given by a caller lies in the segment: it has each of
 * the segment's keys with its value. An empty topology constrains nothing.
 */
export function inSegment(t: Topology | null | undefined, segment: Segment): boolean {
  const given = t?.segments ?? {};
  if (Object.keys(given).length === 0) return true;
  return Object.entries(segment).every(([k, v]) => given[k] === v);
}

/**
 * CreateVolume's accessibility_requirements: a volume is reachable only
 * within the segment, so a requisite list that names none of it cannot be
 * met (RESOURCE_EXHAUSTED, "Unable to provision in accessible_topology").
 * Preferred topologies only order a choice this driver does not have.
 */
export function checkRequisite(r: TopologyRequirement__Output | null | undefined, segment: Segment): void {
  const requisite = r?.requisite ?? [];
  if (requisite.length === 0 || requisite.some((t) => inSegment(t, segment))) return;
  const want = Object.entries(segment)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  throw new OutOfCapacity(
    `accessibility_requirements.requisite: none of its ${requisite.length} topologies has ${want}, the only segment this driver's volumes are reachable from`,
  );
}

/**
 * A cheap "has this VG's metadata changed?" check: the location and checksum
 * of the committed metadata text, read from a PV's metadata-area header.
 *
 * LVM writes every change of a VG (lvcreate, lvremove, lvchange --addtag,
 * vgextend, ...) as a new copy of the metadata text in each PV's metadata
 * area and then points the area's header at it. The header's first raw
 * location (offset, size, checksum of the text) therefore changes with every
 * commit. Reading it is two small reads of the block device (no process, no
 * device scan), where any LVM report command costs a process start plus a
 * scan. The agent's inventory (src/agent/vg-state.ts) uses it to trust its
 * in-memory copy of the VG between commits it made itself.
 *
 * On-disk format (lvm2 lib/format_text/layout.h, all little-endian):
 *   label_header in one of the first four 512-byte sectors:
 *     id "LABELONE"[8] | sector u64 | crc u32 | offset u32 (to pv_header) | type "LVM2 001"[8]
 *   pv_header: uuid[32] | device_size u64 | data areas {offset u64, size u64}... {0,0}
 *              | metadata areas {offset u64, size u64}... {0,0}
 *   mda_header at a metadata area's offset (512 bytes):
 *     checksum u32 | magic " LVM2 x[5A%r0N*>"[16] | version u32 | start u64 | size u64
 *     | raw_locn {offset u64, size u64, checksum u32, flags u32}...
 */
import { open } from 'node:fs/promises';

const SECTOR = 512;
const LABEL_ID = 'LABELONE';
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';

/** Byte offsets of the metadata areas a PV label points at; [] when the buffer holds no LVM2 label. */
export function metadataAreas(head: Buffer): number[] {
  for (let s = 0; s < 4 && (s + 1) * SECTOR <= head.length; s++) {
    const at = s * SECTOR;
    if (head.toString('latin1', at, at + 8) !== LABEL_ID) continue;
    let p = at + head.readUInt32LE(at + 20) + 32 + 8; // pv_header: past uuid and device_size
    const pair = () => {
      const offset = Number(head.readBigUInt64LE(p));
      const size = Number(head.readBigUInt64LE(p + 8));
      p += 16;
      return { offset, size };
    };
    while (p + 16 <= head.length && pair().offset !== 0); // data areas, up to the {0,0} terminator
    const out: number[] = [];
    while (p + 16 <= head.length) {
      const a = pair();
      if (a.offset === 0) break;
      out.push(a.offset);
    }
    return out;
  }
  return [];
}

/** "offset:size:checksum" of the committed metadata text, or undefined when the buffer is no mda header. */
export function committedText(mdaHeader: Buffer): string | undefined {
  if (mdaHeader.length < 40 + 24 || mdaHeader.toString('latin1', 4, 20) !== MDA_MAGIC) return undefined;
  const offset = mdaHeader.readBigUInt64LE(40);
  const size = mdaHeader.readBigUInt64LE(48);
  const checksum = mdaHeader.readUInt32LE(56);
  return `${offset}:${size}:${checksum.toString(16)}`;
}

/**
 * The metadata stamp of one PV: its first metadata area's committed-text
 * location, or undefined when the device cannot be read or carries no
 * metadata area (a PV made with --metadatacopies 0).
 */
export async function readMetadataStamp(device: string): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(device, 'r');
    // One read when the metadata area is where it was last time (LVM puts the first one at 4 KiB):
    // the label is read and checked every time, the header comes from the same buffer.
    const known = MDA_AT.get(device);
    const head = Buffer.alloc(known === undefined ? 4 * SECTOR : known + SECTOR);
    await fh.read(head, 0, head.length, 0);
    const first = metadataAreas(head)[0];
    if (first === undefined) return undefined;
    if (first + SECTOR <= head.length) return committedText(head.subarray(first, first + SECTOR));
    if (first + SECTOR <= ONE_READ_MAX) MDA_AT.set(device, first);
    const mda = Buffer.alloc(SECTOR);
    await fh.read(mda, 0, SECTOR, first);
    return committedText(mda);
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/** Where each device's first metadata area was found, when near enough the start to read with the label. */
const MDA_AT = new Map<string, number>();
const ONE_READ_MAX = 64 * 1024;

/** Reads the stamp of a VG from its PVs; undefined when no PV gave one (the caller then reads LVM every time). */
export type StampReader = (pvs: readonly string[]) => Promise<string | undefined>;

export const deviceStamps: StampReader = async (pvs) => {
  const parts = await Promise.all(pvs.map(readMetadataStamp));
  return parts.some((x) => x !== undefined) ? parts.map((x) => x ?? '-').join(',') : undefined;
};

/**
 * A stateful LVM in memory for the agent's unit tests: VGs with extents, a
 * thin pool, thin and thick LVs, thin and COW snapshots, tags, permission,
 * activation; the subset of Lvm (src/lvm/lvm.ts) the agent calls, with the
 * outcomes LVM gives (AlreadyExists, NotFound, OutOfCapacity; lvremove of an
 * origin takes its COW snapshots along). Every mutating call is recorded in
 * `ops` ("lvcreate thin vg/lv", ...) so tests can say what ran.
 *
 * It also plays the kernel for lv-device.ts (`probe`: every active LV's
 * device is a block device whose dm uuid names the LV) and dd (`runner`: dd
 * argv are recorded in `dd`, anything else fails).
 */
import { AlreadyExists, InUse, NotFound, OutOfCapacity } from '../../src/errors.js';
import type { CommandRunner, RunResult } from '../../src/exec/runner.js';
import type { DeviceProbe } from '../../src/agent/lv-device.js';
import type { Lvm } from '../../src/lvm/lvm.js';
import type { Lv, LvAttr, Vg } from '../../src/lvm/report.js';

const EXTENT = 4 * 1024 * 1024;

interface FakeLv {
  uuid: string;
  name: string;
  type: 'thin-pool' | 'thin' | 'linear' | 'cow';
  sizeBytes: number;
  /** cow: the exception store's size (its extents in the VG). */
  cowBytes?: number;
  pool?: string;
  origin?: string;
  tags: string[];
  readOnly: boolean;
  active: boolean;
  zero?: boolean;
  /** Something on the node holds the LV's device open (lvs attr[5] 'o'); lvremove refuses it. */
  open?: boolean;
}

interface FakeVg {
  name: string;
  uuid: string;
  sizeBytes: number;
  tags: string[];
  lvs: Map<string, FakeLv>;
}

const roundUp = (n: number) => Math.ceil(n / EXTENT) * EXTENT;

export class FakeLvm {
  readonly ops: string[] = [];
  readonly dd: string[][] = [];
  private readonly vgs = new Map<string, FakeVg>();
  private next = 1;

  /** A VG of `sizeBytes` (4 MiB extents), optionally with a thin pool of `thinPoolBytes`. */
  addVg(name: string, sizeBytes: number, thinPool?: { name: string; sizeBytes: number }): this {
    this.vgs.set(name, { name, uuid: this.uuid(), sizeBytes, tags: [], lvs: new Map() });
    if (thinPool)
      this.put(name, {
        name: thinPool.name,
        type: 'thin-pool',
        sizeBytes: thinPool.sizeBytes,
        tags: [],
        readOnly: false,
        active: true,
        zero: true,
      });
    return this;
  }

  /** The Lvm the agent is given (the fake implements the part the agent uses). */
  get lvm(): Lvm {
    return this as unknown as Lvm;
  }

  readonly probe: DeviceProbe = {
    blockDevice: async (path: string) => {
      const l = this.byDmPath(path);
      return l && l.lv.active ? { major: 253, minor: l.minor } : undefined;
    },
    dmUuid: async (_major: number, minor: number) => {
      for (const vg of this.vgs.values()) {
        for (const lv of vg.lvs.values())
          if (this.minorOf(lv) === minor) return `LVM-${vg.uuid.replace(/-/g, '')}${lv.uuid.replace(/-/g, '')}`;
      }
      return undefined;
    },
    claim: async (path: string) => {
      if (this.byDmPath(path)?.lv.open) throw new Error(`${path} is in use (EBUSY)`);
      this.claims.push(path);
      return { release: async () => {} };
    },
  };

  /** Devices the agent held with O_EXCL (probe.claim), in order. */
  readonly claims: string[] = [];

  readonly runner: CommandRunner = {
    run: async (argv: readonly string[]): Promise<RunResult> => {
      if (argv[0] !== 'dd') throw new Error(`FakeLvm runner: unexpected command ${argv.join(' ')}`);
      this.dd.push([...argv]);
      return { stdout: '', stderr: '', exitCode: 0 } as RunResult;
    },
  };

  // ------------------------------------------------------------------ reads

  async getVg(name: string): Promise<Vg | undefined> {
    const vg = this.vgs.get(name);
    if (!vg) return undefined;
    const used = [...vg.lvs.values()].reduce(
      (s, l) => s + (l.type === 'thin' ? 0 : l.type === 'cow' ? (l.cowBytes ?? 0) : l.sizeBytes),
      0,
    );
    return {
      name,
      uuid: vg.uuid,
      attr: 'wz--n-',
      sizeBytes: vg.sizeBytes,
      freeBytes: vg.sizeBytes - used,
      extentSizeBytes: EXTENT,
      extentCount: vg.sizeBytes / EXTENT,
      freeExtentCount: (vg.sizeBytes - used) / EXTENT,
      pvCount: 2,
      lvCount: vg.lvs.size,
      snapCount: [...vg.lvs.values()].filter((l) => l.type === 'cow').length,
      tags: [...vg.tags].sort(),
      mdaSizeBytes: 1 << 20,
      mdaFreeBytes: 1 << 19,
      mdaCount: 1,
    };
  }

  async listLvs(vg: string): Promise<Lv[]> {
    return [...this.vg(vg).lvs.values()].map((l) => this.toLv(vg, l));
  }

  async getLv(vg: string, lv: string): Promise<Lv | undefined> {
    const l = this.vgs.get(vg)?.lvs.get(lv);
    return l ? this.toLv(vg, l) : undefined;
  }

  /** Test access: the LV's tags as key=value (csi. prefix dropped, values as stored). */
  tagsOf(vg: string, lv: string): string[] | undefined {
    return this.vgs.get(vg)?.lvs.get(lv)?.tags;
  }

  names(vg: string): string[] {
    return [...this.vg(vg).lvs.keys()].sort();
  }

  // -------------------------------------------------------------- mutations

  async createThinPool(vg: string, pool: string, size: { percentOfVg?: number; bytes?: number }): Promise<void> {
    const v = this.vg(vg);
    const bytes = size.bytes ?? roundUp((v.sizeBytes * (size.percentOfVg ?? 100)) / 100);
    this.room(vg, bytes);
    this.op(`lvcreate thin-pool ${vg}/${pool}`);
    this.put(vg, {
      name: pool,
      type: 'thin-pool',
      sizeBytes: bytes,
      tags: [],
      readOnly: false,
      active: true,
      zero: true,
    });
  }

  async createThin(vg: string, pool: string, lv: string, sizeBytes: number, tags: readonly string[]): Promise<void> {
    if (this.vg(vg).lvs.get(pool)?.type !== 'thin-pool') throw new NotFound(`thin pool ${vg}/${pool} not found`);
    this.fresh(vg, lv);
    this.op(`lvcreate thin ${vg}/${lv}`);
    this.put(vg, {
      name: lv,
      type: 'thin',
      pool,
      sizeBytes: roundUp(sizeBytes),
      tags: [...tags],
      readOnly: false,
      active: true,
      zero: true,
    });
  }

  async createLinear(
    vg: string,
    lv: string,
    sizeBytes: number,
    tags: readonly string[],
    o: { mirrors?: number; stripes?: number } = {},
  ): Promise<void> {
    this.fresh(vg, lv);
    const bytes = roundUp(sizeBytes);
    this.room(vg, bytes * ((o.mirrors ?? 0) + 1));
    this.op(
      `lvcreate linear ${vg}/${lv}${o.mirrors ? ` mirrors=${o.mirrors}` : ''}${(o.stripes ?? 1) > 1 ? ` stripes=${o.stripes}` : ''}`,
    );
    this.put(vg, { name: lv, type: 'linear', sizeBytes: bytes, tags: [...tags], readOnly: false, active: true });
  }

  async createThinSnapshot(
    vg: string,
    origin: string,
    name: string,
    tags: readonly string[],
    o: { readOnly?: boolean; activate?: boolean } = {},
  ): Promise<void> {
    const src = this.lv(vg, origin);
    if (src.type !== 'thin') throw new Error(`FakeLvm: thin snapshot of ${vg}/${origin}, which is not thin`);
    this.fresh(vg, name);
    this.op(`lvcreate thin-snapshot ${vg}/${name} of ${origin}`);
    this.put(vg, {
      name,
      type: 'thin',
      pool: src.pool,
      origin,
      sizeBytes: src.sizeBytes,
      tags: [...tags],
      readOnly: o.readOnly ?? false,
      active: o.activate ?? true,
      zero: true,
    });
  }

  async createCowSnapshot(
    vg: string,
    origin: string,
    name: string,
    sizeBytes: number,
    tags: readonly string[],
    o: { readOnly?: boolean } = {},
  ): Promise<void> {
    const src = this.lv(vg, origin);
    if (src.type !== 'linear') throw new Error(`FakeLvm: COW snapshot of ${vg}/${origin}, which is not thick`);
    this.fresh(vg, name);
    const cow = roundUp(sizeBytes);
    this.room(vg, cow);
    this.op(`lvcreate cow-snapshot ${vg}/${name} of ${origin}`);
    this.put(vg, {
      name,
      type: 'cow',
      origin,
      sizeBytes: src.sizeBytes,
      cowBytes: cow,
      tags: [...tags],
      readOnly: o.readOnly ?? true,
      active: true,
    });
  }

  async extend(vg: string, lv: string, newSizeBytes: number): Promise<boolean> {
    const l = this.lv(vg, lv);
    const bytes = roundUp(newSizeBytes);
    if (bytes <= l.sizeBytes) return false;
    if (l.type === 'linear') this.room(vg, bytes - l.sizeBytes);
    this.op(`lvextend ${vg}/${lv} ${bytes}`);
    l.sizeBytes = bytes;
    return true;
  }

  /** Test access: something on the storage node opens (mounts) the LV, or lets it go. */
  setOpen(vg: string, lv: string, open: boolean): void {
    this.lv(vg, lv).open = open;
  }

  /** lvremove --yes: an origin's COW snapshots go with it; an open LV is refused as LVM does. */
  async remove(vg: string, lv: string): Promise<void> {
    if (this.lv(vg, lv).open) throw new InUse(`Logical volume ${vg}/${lv} in use.`);
    this.op(`lvremove ${vg}/${lv}`);
    const v = this.vg(vg);
    for (const l of [...v.lvs.values()]) if (l.type === 'cow' && l.origin === lv) v.lvs.delete(l.name);
    v.lvs.delete(lv);
  }

  async splitSnapshot(vg: string, lv: string): Promise<void> {
    const l = this.lv(vg, lv);
    this.op(`lvconvert --splitsnapshot ${vg}/${lv}`);
    if (l.open) throw new InUse(`Logical volume ${vg}/${lv} in use.`);
    l.type = 'linear';
    l.sizeBytes = l.cowBytes ?? l.sizeBytes;
    delete l.origin;
    delete l.cowBytes;
  }

  async changeTags(
    vg: string,
    lv: string,
    change: { add?: readonly string[]; del?: readonly string[] },
  ): Promise<void> {
    const l = this.lv(vg, lv);
    if (!change.add?.length && !change.del?.length) return;
    this.op(`lvchange tags ${vg}/${lv}`);
    l.tags = [
      ...l.tags.filter((t) => !(change.del ?? []).includes(t)),
      ...(change.add ?? []).filter((t) => !l.tags.includes(t)),
    ];
  }

  async addVgTags(vg: string, tags: readonly string[]): Promise<void> {
    const v = this.vg(vg);
    this.op(`vgchange --addtag ${vg}`);
    v.tags.push(...tags.filter((t) => !v.tags.includes(t)));
  }

  async setPermission(vg: string, lv: string, permission: 'r' | 'rw'): Promise<void> {
    this.op(`lvchange --permission ${permission} ${vg}/${lv}`);
    this.lv(vg, lv).readOnly = permission === 'r';
  }

  async activate(vg: string, lv: string): Promise<void> {
    this.op(`lvchange --activate y ${vg}/${lv}`);
    this.lv(vg, lv).active = true;
  }

  // -------------------------------------------------------------- internals

  private op(text: string): void {
    this.ops.push(text);
  }

  private uuid(): string {
    const n = String(this.next++).padStart(6, '0');
    return `abcdef-${n}-0000-0000-0000-0000-000000`;
  }

  private vg(name: string): FakeVg {
    const v = this.vgs.get(name);
    if (!v) throw new NotFound(`Volume group "${name}" not found`);
    return v;
  }

  private lv(vg: string, name: string): FakeLv {
    const l = this.vg(vg).lvs.get(name);
    if (!l) throw new NotFound(`Failed to find logical volume "${vg}/${name}"`);
    return l;
  }

  private fresh(vg: string, name: string): void {
    if (this.vg(vg).lvs.has(name))
      throw new AlreadyExists(`Logical Volume "${name}" already exists in volume group "${vg}"`);
  }

  private room(vg: string, bytes: number): void {
    const v = this.vg(vg);
    const used = [...v.lvs.values()].reduce(
      (s, l) => s + (l.type === 'thin' ? 0 : l.type === 'cow' ? (l.cowBytes ?? 0) : l.sizeBytes),
      0,
    );
    if (bytes > v.sizeBytes - used) throw new OutOfCapacity(`Volume group "${vg}" has insufficient free space`);
  }

  private put(vg: string, l: Omit<FakeLv, 'uuid'>): void {
    this.vg(vg).lvs.set(l.name, { ...l, uuid: this.uuid() });
  }

  private minorOf(l: FakeLv): number {
    return Number(l.uuid.split('-')[1]);
  }

  private byDmPath(path: string): { lv: FakeLv; minor: number } | undefined {
    for (const vg of this.vgs.values()) {
      for (const lv of vg.lvs.values())
        if (path === `/dev/mapper/${vg.name}-${lv.name}`) return { lv, minor: this.minorOf(lv) };
    }
    return undefined;
  }

  private toLv(vg: string, l: FakeLv): Lv {
    const v = this.vg(vg);
    const hasCow = [...v.lvs.values()].some((x) => x.type === 'cow' && x.origin === l.name);
    const volumeType: LvAttr['volumeType'] =
      l.type === 'thin-pool'
        ? 'thin-pool'
        : l.type === 'thin'
          ? 'thin-volume'
          : l.type === 'cow'
            ? 'snapshot'
            : hasCow
              ? 'origin'
              : 'plain';
    const attr = {
      raw: '',
      volumeType,
      permission: l.readOnly ? 'read-only' : 'writeable',
      allocationPolicy: 'i',
      fixedMinor: false,
      state: l.active ? 'active' : 'inactive',
      open: l.open === true,
      targetType: l.type === 'thin' || l.type === 'thin-pool' ? 't' : l.type === 'cow' ? 's' : '-',
      zeroing: l.zero === true,
      health: 'ok',
      skipActivation: false,
    } as unknown as LvAttr;
    const public_ = l.type !== 'thin-pool';
    return {
      uuid: l.uuid,
      name: l.name,
      vg,
      path: public_ ? `/dev/${vg}/${l.name}` : undefined,
      dmPath: public_ && l.active ? `/dev/mapper/${vg}-${l.name}` : undefined,
      sizeBytes: l.type === 'cow' ? (l.cowBytes ?? l.sizeBytes) : l.sizeBytes,
      attr,
      active: l.active,
      tags: [...l.tags].sort(),
      createdAt: undefined,
      layout: [],
      segtype: l.type === 'thin' ? 'thin' : l.type === 'thin-pool' ? 'thin-pool' : 'linear',
      segCount: 1,
      stripes: 1,
      stripeSizeBytes: 0,
      pool: l.pool,
      origin: l.origin,
      originSizeBytes: l.type === 'cow' && l.origin ? this.lv(vg, l.origin).sizeBytes : undefined,
      dataPercent: l.type === 'thin-pool' ? 0 : undefined,
      metadataPercent: l.type === 'thin-pool' ? 0 : undefined,
      snapPercent: l.type === 'cow' ? 0 : undefined,
      copyPercent: undefined,
      zero: l.type === 'thin' || l.type === 'thin-pool' ? l.zero === true : undefined,
      discards: undefined,
      whenFull: l.type === 'thin-pool' ? 'error' : undefined,
      metadataSizeBytes: undefined,
    };
  }
}

/**
 * fio in the guest for the data-path benchmark: one short job on one block
 * device, its figure parsed from fio's JSON output. Benchmarks print figures;
 * nothing here asserts a timing.
 */
import { sh } from '../vm/lib.js';

type FioUnit = 'MiB/s' | 'IOPS';

export interface FioWorkload {
  /** Row name in the bench table. */
  operation: string;
  rw: 'read' | 'write' | 'randread';
  /** fio block size, e.g. "1M", "4k". */
  bs: string;
  iodepth: number;
  unit: FioUnit;
}

/** What issue 12 asks for: sequential 1 MiB read and write, 4 KiB random read at queue depth 32. */
export const WORKLOADS: readonly FioWorkload[] = [
  { operation: 'seq read 1 MiB, QD16 (fio, direct)', rw: 'read', bs: '1M', iodepth: 16, unit: 'MiB/s' },
  { operation: 'seq write 1 MiB, QD16 (fio, direct)', rw: 'write', bs: '1M', iodepth: 16, unit: 'MiB/s' },
  { operation: 'rand read 4 KiB, QD32 (fio, direct)', rw: 'randread', bs: '4k', iodepth: 32, unit: 'IOPS' },
];

export interface FioOptions {
  /** Seconds measured (after rampSeconds). Default 10. */
  runtimeSeconds?: number;
  rampSeconds?: number;
  /** Bytes of the device the job covers (default: the whole device). */
  sizeBytes?: number;
}

interface FioSide {
  bw_bytes: number;
  iops: number;
}
interface FioJson {
  jobs: Array<{ error: number; read: FioSide; write: FioSide }>;
}

/** fio's argv for one workload on one device (direct I/O, libaio, time based). */
function fioArgv(device: string, w: FioWorkload, o: FioOptions = {}): string[] {
  return [
    'fio',
    '--name=bench',
    `--filename=${device}`,
    `--rw=${w.rw}`,
    `--bs=${w.bs}`,
    `--iodepth=${w.iodepth}`,
    '--ioengine=libaio',
    '--direct=1',
    '--numjobs=1',
    '--time_based',
    `--runtime=${o.runtimeSeconds ?? 10}`,
    `--ramp_time=${o.rampSeconds ?? 2}`,
    ...(o.sizeBytes ? [`--size=${o.sizeBytes}`] : []),
    '--randrepeat=0',
    '--norandommap',
    '--output-format=json',
  ];
}

/** Runs one workload; MiB/s or IOPS as the workload's unit says. */
export function runFio(device: string, w: FioWorkload, o: FioOptions = {}): number {
  const out = sh(fioArgv(device, w, o));
  // fio may print warnings before the JSON document
  const parsed = JSON.parse(out.slice(out.indexOf('{'))) as FioJson;
  const job = parsed.jobs[0];
  if (!job || job.error !== 0) throw new Error(`fio ${w.rw} on ${device} failed: ${out.slice(0, 500)}`);
  const side = w.rw === 'write' ? job.write : job.read;
  return w.unit === 'IOPS' ? side.iops : side.bw_bytes / (1024 * 1024);
}

/** Fills the first `bytes` of a device once (thin volumes: every later read and write hits allocated blocks). */
export function prefill(device: string, bytes: number): void {
  sh([
    'fio',
    '--name=fill',
    `--filename=${device}`,
    '--rw=write',
    '--bs=1M',
    '--iodepth=16',
    '--ioengine=libaio',
    '--direct=1',
    `--size=${bytes}`,
    '--output-format=terse',
  ]);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

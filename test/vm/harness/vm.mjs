#!/usr/bin/env node
// Real-kernel test harness: runs one command as root inside a qemu guest that boots Debian's
// stock kernel (device-mapper, SCSI, iSCSI initiator and the LIO target as modules) on top of
// the host's own root file system. See test/vm/README.md for the whole story.
//
//   node test/vm/harness/vm.mjs [--disks 4] [--disk-size 1G] [--disk-dir DIR] [--fresh-disks]
//        [--mem 4096] [--smp 2] [--timeout 1200] [--out DIR] [-e NAME=VALUE]... -- CMD ARG...
//
// or from JavaScript: `const exitCode = await runGuest({ command: ['sh', '-c', '...'] })`.
//
// Plain ESM with Node builtins only, so it runs before (and without) any build step.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';

const HARNESS_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HARNESS_DIR, '../../..');
const VM_DIR = join(REPO_ROOT, '.vm');
const STAGE1_SCRIPT = join(HARNESS_DIR, 'initramfs-init.sh');
const STAGE2_SCRIPT = join(HARNESS_DIR, 'guest-init.sh');
const BUSYBOX = '/bin/busybox';

/** Bump when the initramfs layout changes in a way the hashed inputs do not show. */
const INITRAMFS_FORMAT = 1;
/** Modules stage 1 needs; their dependencies are found in modules.dep. */
const STAGE1_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];
/** Prefix of the protocol lines the guest prints on the console (hidden from stdout). */
const MARKER = '@@VM@@';
/** Exit code of the CLI when the harness itself fails (the guest did not run the command). */
export const HARNESS_FAILURE = 125;

export const DEFAULTS = Object.freeze({
  disks: 4,
  diskSize: '1G',
  diskDir: join(VM_DIR, 'disks'),
  freshDisks: false,
  mem: 4096,
  smp: 2,
  timeout: 1200,
  out: join(VM_DIR, 'out'),
});

/** A failure of the harness or the guest, as opposed to the command's own exit status. */
export class VmError extends Error {
  constructor(message, { consoleTail = '', exitCode = HARNESS_FAILURE } = {}) {
    super(message);
    this.name = 'VmError';
    this.consoleTail = consoleTail;
    this.exitCode = exitCode; // what the CLI exits with
  }
}

// ---------------------------------------------------------------------------------------------
// Kernel and initramfs

/** The newest /boot/vmlinuz-VERSION that has /lib/modules/VERSION. */
export function findKernel() {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(`/lib/modules/${v}/modules.dep`))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  if (!version) {
    throw new VmError(
      'no /boot/vmlinuz-* with its /lib/modules: install linux-image-amd64 ' + '(test/vm/ensure-deps.sh does)',
    );
  }
  return { version, image: `/boot/vmlinuz-${version}`, modDir: `/lib/modules/${version}` };
}

const moduleKey = (name) => name.replace(/-/g, '_');
const moduleNameOf = (path) => moduleKey(basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, ''));

/** Parses modules.dep into Map(name -> { path, deps: [name] }). */
function readModulesDep(modDir) {
  const map = new Map();
  for (const line of readFileSync(join(modDir, 'modules.dep'), 'utf8').split('\n')) {
    const [path, rest] = line.split(':');
    if (!rest && !path) continue;
    const deps = (rest ?? '').trim().split(/\s+/).filter(Boolean).map(moduleNameOf);
    map.set(moduleNameOf(path), { path: join(modDir, path), deps });
  }
  return map;
}

/** The modules to insmod, dependencies first; modules built into the kernel are skipped. */
export function moduleLoadOrder(modDir, wanted) {
  const dep = readModulesDep(modDir);
  const builtinFile = join(modDir, 'modules.builtin');
  const builtin = new Set(
    existsSync(builtinFile) ? readFileSync(builtinFile, 'utf8').split('\n').filter(Boolean).map(moduleNameOf) : [],
  );
  const order = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const mod = dep.get(name);
    if (!mod) {
      if (builtin.has(name)) return;
      throw new VmError(`kernel module ${name} not found in ${modDir}`);
    }
    mod.deps.forEach(visit);
    order.push({ name, path: mod.path });
  };
  wanted.map(moduleKey).forEach(visit);
  return order;
}

/** A module's bytes, decompressed (busybox insmod wants plain .ko files). */
function readModule(path) {
  if (path.endsWith('.xz')) return execFileSync('xz', ['-dc', path], { maxBuffer: 1 << 28 });
  if (path.endsWith('.zst')) return execFileSync('zstd', ['-dc', path], { maxBuffer: 1 << 28 });
  if (path.endsWith('.gz')) return gunzipSync(readFileSync(path));
  return readFileSync(path);
}

/** One entry of a cpio archive in the "newc" format the kernel unpacks. */
function cpioEntry(ino, name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], name.length + 1, 0];
  const header = '070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join('');
  const pad = (len) => Buffer.alloc((4 - (len % 4)) % 4);
  const head = Buffer.from(header + name + '\0');
  return Buffer.concat([head, pad(head.length), data, pad(data.length)]);
}

/** Builds the gzipped cpio: busybox, /init (stage 1), stage 2 and the modules. */
function buildInitramfs(modules) {
  const S_DIR = 0o040000,
    S_REG = 0o100000,
    S_LNK = 0o120000,
    S_CHR = 0o020000;
  const entries = [
    ['bin', S_DIR | 0o755],
    ['dev', S_DIR | 0o755],
    ['modules', S_DIR | 0o755],
    ['dev/console', S_CHR | 0o600, undefined, [5, 1]],
    ['bin/busybox', S_REG | 0o755, readFileSync(BUSYBOX)],
    ['bin/sh', S_LNK | 0o777, Buffer.from('busybox')],
    ['init', S_REG | 0o755, readFileSync(STAGE1_SCRIPT)],
    ['guest-init.sh', S_REG | 0o755, readFileSync(STAGE2_SCRIPT)],
    ['modules/order', S_REG | 0o644, Buffer.from(modules.map((m) => m.name).join('\n') + '\n')],
    ...modules.map((m) => [`modules/${m.name}.ko`, S_REG | 0o644, readModule(m.path)]),
  ];
  const parts = entries.map(([name, mode, data, rdev], i) => cpioEntry(i + 1, name, mode, data, rdev));
  parts.push(cpioEntry(0, 'TRAILER!!!', 0));
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

/** A digest of everything the initramfs is made of: a change means a rebuild. */
function initramfsKey(kernel, modules) {
  const hash = createHash('sha256');
  hash.update(`format ${INITRAMFS_FORMAT}\nkernel ${kernel.version}\n`);
  for (const file of [STAGE1_SCRIPT, STAGE2_SCRIPT, BUSYBOX]) hash.update(readFileSync(file));
  for (const m of modules) {
    const st = statSync(m.path);
    hash.update(`${m.path} ${st.size} ${st.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Removes cached images of other versions, unless recent (a parallel run may be booting one). */
function removeStaleInitramfs() {
  for (const f of readdirSync(VM_DIR).filter((n) => /^initramfs-.*\.cpio\.gz$/.test(n))) {
    const file = join(VM_DIR, f);
    const mtime = statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
    if (Date.now() - mtime > 10 * 60_000) rmSync(file, { force: true });
  }
}

/** Path of the cached initramfs for this kernel, built (and older ones removed) if needed. */
export function ensureInitramfs(kernel, log = () => {}) {
  const modules = moduleLoadOrder(kernel.modDir, STAGE1_MODULES);
  const file = join(VM_DIR, `initramfs-${kernel.version}-${initramfsKey(kernel, modules)}.cpio.gz`);
  if (existsSync(file)) return file;
  log(`building ${file}`);
  mkdirSync(VM_DIR, { recursive: true });
  removeStaleInitramfs();
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, buildInitramfs(modules));
  renameSync(tmp, file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Disks, the out directory and locks

/** Parses "1G", "512M", "64K" or a plain byte count. */
export function parseSize(text) {
  const m = /^(\d+)([KMGT]?)i?B?$/i.exec(String(text).trim());
  if (!m) throw new VmError(`bad size: ${text} (use e.g. 512M or 1G)`);
  const shift = { '': 0, K: 10, M: 20, G: 30, T: 40 }[m[2].toUpperCase()];
  return Number(m[1]) * 2 ** shift;
}

/**
 * Makes sure dir/disk0.img ... exist as sparse files of at least `size` bytes. Existing files
 * are kept as they are (their data persists across boots) unless `fresh` asks for blank ones.
 */
export function prepareDisks(dir, count, size, fresh, log = () => {}) {
  mkdirSync(dir, { recursive: true });
  const paths = [];
  for (let i = 0; i < count; i++) {
    const path = join(realpathSync(dir), `disk${i}.img`);
    const fd = openSync(path, fresh ? 'w' : 'a');
    try {
      const current = fstatSync(fd).size;
      if (current < size) ftruncateSync(fd, size);
      else if (current > size) log(`keeping ${path} at its size of ${current} bytes`);
    } finally {
      closeSync(fd);
    }
    paths.push(path);
  }
  return paths;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Fails if `file` names another live process; otherwise writes our pid into it. */
function claim(file, what, flag) {
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0;
  if (pid && pid !== process.pid && pidAlive(pid)) {
    throw new VmError(`${what} is in use by another vm.mjs (pid ${pid}); pass another ${flag}`);
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => rmSync(file, { force: true });
}

/**
 * Empties the out directory (only one that vm.mjs made: it has .vm-ctl/) and writes the
 * control files the guest reads. Returns the directory's real path and the control dir.
 */
function prepareOut(outDir) {
  mkdirSync(outDir, { recursive: true });
  const dir = realpathSync(outDir);
  const ctl = join(dir, '.vm-ctl');
  const entries = readdirSync(dir);
  if (entries.length > 0 && !entries.includes('.vm-ctl')) {
    throw new VmError(`refusing to empty ${dir}: it is not empty and vm.mjs did not make it`);
  }
  if (existsSync(ctl)) claim(join(ctl, 'host-pid'), `out directory ${dir}`, '--out');
  for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
  mkdirSync(ctl);
  const release = claim(join(ctl, 'host-pid'), `out directory ${dir}`, '--out');
  writeFileSync(join(ctl, 'out-path'), dir);
  return { dir, ctl, release };
}

const shQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** The script the guest runs: cd, a clean environment, then exec the command. */
function commandScript(cwd, env, command) {
  const assignments = Object.entries(env).map(([k, v]) => shQuote(`${k}=${v}`));
  return [
    '# Written by vm.mjs: the command to run in the guest.',
    `cd ${shQuote(cwd)} || exit 126`,
    `exec /usr/bin/env -i ${assignments.join(' ')} ${command.map(shQuote).join(' ')}`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// qemu

/** qemu's option syntax needs commas in values doubled. */
const qemuValue = (s) => s.replace(/,/g, ',,');

/**
 * Software emulation only (KVM hangs on this kind of machine), no network device, the serial
 * console on stdio. Disks: cache=unsafe skips the host fsync on guest flushes (data still
 * reaches the host file when qemu writes it, so it survives qemu's exit, and a kill), and
 * discard=unmap keeps the sparse files sparse when the guest discards (thin pools, mkfs).
 * The serial numbers give stable /dev/disk/by-id/virtio-vmdiskN links.
 */
function qemuArgs({ kernel, initrd, mem, smp, outDir, disks }) {
  const args = [
    '-accel',
    'tcg,thread=multi',
    '-cpu',
    'max',
    '-m',
    String(mem),
    '-smp',
    String(smp),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    kernel.image,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 quiet loglevel=3 panic=-1',
    '-virtfs',
    'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${qemuValue(outDir)},mount_tag=out,security_model=none,multidevs=remap`,
    '-device',
    'virtio-rng-pci',
  ];
  disks.forEach((file, i) => {
    args.push('-drive', `file=${qemuValue(file)},if=none,id=disk${i},format=raw,cache=unsafe,discard=unmap`);
    args.push('-device', `virtio-blk-pci,drive=disk${i},serial=vmdisk${i}`);
  });
  return args;
}

/**
 * Splits the console stream into protocol lines (given to onMarker) and everything else
 * (given to write as soon as it arrives: a partial line is held back only while it could
 * still turn out to be a protocol line). After end() (the command is over) whole lines are
 * held, so that the kernel's "reboot: Power down" line can be dropped too.
 */
function consoleSplitter(onMarker, write) {
  let held = ''; // start of the current line, held while it may be a marker
  let passing = false; // the current line is known not to be a marker and is being written
  let ended = false;
  const hidden = (line) => ended && /^\[[\s\d.]+\] reboot: Power down$/.test(line);
  const piece = (text, endsLine) => {
    if (passing) {
      write(endsLine ? `${text}\n` : text);
      passing = !endsLine;
      return;
    }
    held += text;
    if (endsLine) {
      if (held.startsWith(MARKER)) onMarker(held.slice(MARKER.length).trim());
      else if (!hidden(held)) write(`${held}\n`);
      held = '';
    } else if (!ended && !held.startsWith(MARKER) && !MARKER.startsWith(held)) {
      write(held);
      held = '';
      passing = true;
    }
  };
  return {
    feed(text) {
      let start = 0;
      while (start < text.length) {
        const nl = text.indexOf('\n', start);
        piece(text.slice(start, nl < 0 ? text.length : nl), nl >= 0);
        start = nl < 0 ? text.length : nl + 1;
      }
    },
    end() {
      ended = true;
    },
    flush() {
      if (held && !held.startsWith(MARKER)) write(`${held}\n`);
      held = '';
    },
  };
}

/** Keeps the last `max` characters of a stream. */
function tailKeeper(max = 64 * 1024) {
  let text = '';
  return {
    add(s) {
      text += s;
      if (text.length > 2 * max) text = text.slice(-max);
    },
    lines(n) {
      return text.split('\n').slice(-n).join('\n');
    },
    includes: (s) => text.includes(s),
  };
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Copies qemu's output to the console log, a tail kept for error messages and (without the
 * protocol lines) `stdout`. Returns the splitter (for end/flush), the tail, and close(cb).
 */
function followConsole(child, { consoleFile, stdout, onMarker }) {
  const logStream = createWriteStream(consoleFile);
  const tail = tailKeeper();
  const split = consoleSplitter(onMarker, (s) => stdout.write(s));
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const text = chunk.replace(/\r/g, ''); // the serial line's CR LF
    logStream.write(text);
    tail.add(text);
    split.feed(text);
  });
  child.stderr.setEncoding('utf8'); // qemu's own complaints: log only, shown on failure
  child.stderr.on('data', (text) => {
    logStream.write(`[qemu] ${text}`);
    tail.add(`[qemu] ${text}`);
  });
  return { split, tail, close: (cb) => logStream.end(cb) };
}

/**
 * Boots qemu and follows the console until qemu exits (or is killed at the timeout, or when
 * this process is interrupted). Resolves with what happened, including the host times (ms
 * after the start) at which each protocol line arrived.
 */
/** Seconds before the timeout at which the guest writes its hang report (guest-init.sh). */
const HANG_REPORT_LEAD_S = 90;

function bootGuest({ args, consoleFile, stdout, timeoutMs }) {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const times = {};
    const child = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let killedFor = null;
    let exitGrace = null;
    const kill = (why) => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const onMarker = (line) => {
      const what = line.split(' ')[0];
      times[what] = Date.now() - started;
      if (what === 'exit' || what === 'setup-failed') {
        // Power-off comes next: hide its kernel line, and do not wait forever for it.
        con.split.end();
        exitGrace = setTimeout(() => kill('the guest did not power off'), 60_000);
      }
    };
    const con = followConsole(child, { consoleFile, stdout, onMarker });

    const timer = setTimeout(() => kill(`timeout after ${timeoutMs / 1000} s`), timeoutMs);
    const onSignal = (sig) => kill(`interrupted by ${sig}`);
    const onExit = () => child.kill('SIGKILL');
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal).on('exit', onExit);

    child.on('error', (err) => reject(new VmError(`cannot start qemu-system-x86_64: ${err.message}`)));
    child.on('close', (code, signal) => {
      con.split.flush();
      clearTimeout(timer);
      clearTimeout(exitGrace);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal).off('exit', onExit);
      con.close(() => resolvePromise({ code, signal, killedFor, times, tail: con.tail }));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The whole run

function readCtl(ctl, name) {
  const file = join(ctl, name);
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : null;
}

/** One line: boot phases (host clock, from qemu's start), the command, and the whole run. */
function reportTimings(log, times, totalMs) {
  const stage1 = times['stage1-done'];
  const parts = [];
  if (stage1 !== undefined) parts.push(`kernel+initramfs ${seconds(stage1)}`);
  if (times.ready !== undefined) {
    parts.push(`guest setup ${seconds(times.ready - (stage1 ?? 0))}`);
    parts.push(`boot ${seconds(times.ready)}`);
  }
  if (times.exit !== undefined && times.ready !== undefined) {
    parts.push(`command ${seconds(times.exit - times.ready)}`);
  }
  parts.push(`total ${seconds(totalMs)}`);
  log(`times: ${parts.join(', ')}`);
}

/** Turns what happened into the command's exit code, or a VmError. */
function outcome(result, ctl) {
  const tail = () => result.tail.lines(40);
  const status = readCtl(ctl, 'status');
  const exitCode = readCtl(ctl, 'exit-code');
  if (status?.startsWith('setup-failed')) {
    // The guest has printed the setup log on the console already.
    throw new VmError(
      `guest setup failed (${status.slice('setup-failed '.length)}); ` +
        `the command was not run. Setup log: ${join(ctl, 'setup.log')}`,
    );
  }
  if (exitCode !== null && /^\d+$/.test(exitCode)) return Number(exitCode);
  if (result.killedFor) {
    const signal = /interrupted by (SIG\w+)/.exec(result.killedFor)?.[1];
    const exitCode = signal ? 128 + os.constants.signals[signal] : HARNESS_FAILURE;
    throw new VmError(`qemu killed: ${result.killedFor}`, { consoleTail: tail(), exitCode });
  }
  const panic = result.tail.includes('Kernel panic') ? ' (kernel panic)' : '';
  const how = result.signal ? `signal ${result.signal}` : `exit code ${result.code}`;
  throw new VmError(`the guest stopped before the command finished${panic}; qemu ${how}`, { consoleTail: tail() });
}

function resolveOptions(options) {
  const o = { ...DEFAULTS, cwd: process.cwd(), env: {}, stdout: process.stdout, ...options };
  if (!Array.isArray(o.command) || o.command.length === 0) {
    throw new VmError('runGuest: options.command must be a non-empty array (argv)');
  }
  if (!Number.isInteger(o.disks) || o.disks < 0 || o.disks > 26) {
    throw new VmError(`disks must be 0..26 (vda..vdz), got ${o.disks}`);
  }
  for (const key of Object.keys(o.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new VmError(`bad environment variable name: ${key}`);
  }
  o.log ??= (msg) => process.stderr.write(`[vm] ${msg}\n`);
  return o;
}

/**
 * Boots a guest, runs `options.command` (argv array) in it as root and resolves with its exit
 * code. Throws VmError when the guest could not run it (setup failure, panic, timeout).
 *
 * Options (all but command optional): disks, diskSize ('1G'), diskDir, freshDisks, mem (MiB),
 * smp, timeout (seconds), out (host dir shared writable at the same path), cwd (default
 * process.cwd()), env (extra variables for the command), stdout (stream for the console),
 * log (function for the harness's own messages), qemuArgs (extra qemu arguments).
 *
 * Calling it again with the same diskDir and without freshDisks boots on the same disks.
 */
export async function runGuest(options) {
  const o = resolveOptions(options);
  const startedAt = Date.now();
  const kernel = findKernel();
  const initrd = ensureInitramfs(kernel, o.log);
  mkdirSync(o.diskDir, { recursive: true });
  const releaseDisks = claim(join(realpathSync(o.diskDir), '.vm-lock'), `disk directory ${o.diskDir}`, '--disk-dir');
  let out;
  try {
    const disks = prepareDisks(o.diskDir, o.disks, parseSize(o.diskSize), o.freshDisks, o.log);
    out = prepareOut(o.out);
    const guestDisks = disks.map((_, i) => `/dev/vd${String.fromCharCode(97 + i)}`);
    const env = {
      PATH: process.env.PATH,
      HOME: '/root',
      TERM: 'dumb',
      LANG: 'C.UTF-8',
      VM_GUEST: '1',
      VM_OUT: out.dir,
      VM_DISKS: guestDisks.join(' '),
      ...o.env,
    };
    writeFileSync(join(out.ctl, 'disks'), `${guestDisks.join(' ')}\n`);
    writeFileSync(join(out.ctl, 'run.sh'), commandScript(o.cwd, env, o.command));
    // the guest writes a hang report (processes, blocked tasks' kernel stacks, kernel log) at
    // this uptime, before the kill: a run that times out says where it was stuck
    writeFileSync(join(out.ctl, 'report-at'), `${Math.max(30, o.timeout - HANG_REPORT_LEAD_S)}\n`);
    o.log(`booting ${kernel.image} with ${disks.length} disk(s) in ${o.diskDir}`);
    const result = await bootGuest({
      args: [...qemuArgs({ kernel, initrd, mem: o.mem, smp: o.smp, outDir: out.dir, disks }), ...(o.qemuArgs ?? [])],
      consoleFile: join(out.dir, 'console.log'),
      stdout: o.stdout,
      timeoutMs: o.timeout * 1000,
    });
    reportTimings(o.log, result.times, Date.now() - startedAt);
    return outcome(result, out.ctl);
  } finally {
    out?.release();
    releaseDisks();
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const USAGE = `usage: node test/vm/harness/vm.mjs [options] -- CMD [ARG...]

Runs CMD as root in a qemu guest (Debian kernel, host root file system read-only under a
tmpfs overlay, cwd and PATH as on the host) and exits with its exit code (${HARNESS_FAILURE} when the
guest could not run it).

  --disks N         virtio disks /dev/vda.. (default ${DEFAULTS.disks})
  --disk-size SIZE  size of new disk files, e.g. 512M, 1G (default ${DEFAULTS.diskSize})
  --disk-dir DIR    where the disk files live (default .vm/disks); they persist across runs
  --fresh-disks     recreate the disk files blank
  --mem MIB         guest memory (default ${DEFAULTS.mem})
  --smp N           guest CPUs (default ${DEFAULTS.smp})
  --timeout SEC     kill the guest after SEC seconds (default ${DEFAULTS.timeout})
  --out DIR         writable share, same path in the guest, emptied per run (default .vm/out)
  -e NAME=VALUE     extra environment variable for CMD (repeatable)
`;

function parseCli(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      disks: { type: 'string' },
      'disk-size': { type: 'string' },
      'disk-dir': { type: 'string' },
      'fresh-disks': { type: 'boolean' },
      mem: { type: 'string' },
      smp: { type: 'string' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      env: { type: 'string', short: 'e', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const int = (name, v, fallback) => {
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) throw new VmError(`--${name} wants a whole number, got ${v}`);
    return Number(v);
  };
  const env = Object.fromEntries(
    (values.env ?? []).map((kv) => {
      const i = kv.indexOf('=');
      if (i < 1) throw new VmError(`-e wants NAME=VALUE, got ${kv}`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
  return {
    help: values.help,
    command: positionals,
    disks: int('disks', values.disks, DEFAULTS.disks),
    diskSize: values['disk-size'] ?? DEFAULTS.diskSize,
    diskDir: resolve(values['disk-dir'] ?? DEFAULTS.diskDir),
    freshDisks: values['fresh-disks'] ?? false,
    mem: int('mem', values.mem, DEFAULTS.mem),
    smp: int('smp', values.smp, DEFAULTS.smp),
    timeout: int('timeout', values.timeout, DEFAULTS.timeout),
    out: resolve(values.out ?? DEFAULTS.out),
    env,
  };
}

async function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`vm.mjs: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (opts.command.length === 0) {
    process.stderr.write(`vm.mjs: no command given\n\n${USAGE}`);
    return 2;
  }
  try {
    const code = await runGuest(opts);
    process.stderr.write(`[vm] command exited with ${code}\n`);
    return code;
  } catch (err) {
    if (!(err instanceof VmError)) throw err;
    if (err.consoleTail) process.stderr.write(`[vm] ---- console tail ----\n${err.consoleTail}\n[vm] ----\n`);
    process.stderr.write(`[vm] FAILED: ${err.message}\n`);
    return err.exitCode;
  }
}

const invokedDirectly = process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) process.exitCode = await main();

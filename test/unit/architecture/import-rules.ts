/**
 * The import rules of docs/architecture.md as data, and the check that holds
 * an import graph (./import-graph.ts) against them. Type-only imports count
 * like any other: a type pointing upward ties the lower layer to the upper
 * one just the same.
 */
import type { ImportEdge, ImportGraph } from './import-graph.js';

/**
 * The layers, top first. A unit is a folder of src/ or a file at its top.
 * A unit imports only units of layers below its own; units of one layer
 * never import each other (lvm/ knows nothing of iscsi-target/). Every file
 * of src/ must fall in a unit here: a new folder has to be placed.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['src/main.ts'], // the executable: flags, subcommand, signals
  ['src/app.ts', 'src/adopt-command.ts', 'src/chap-node-key-command.ts'], // composition roots
  ['src/csi'], // CSI Identity, Controller, Node semantics
  ['src/server'], // grpc-js: the unary adapter, error <-> status, the agent API's server, client and directory
  ['src/agent'], // the storage agent: volumes, snapshots, copies, exports, capacity
  ['src/lvm', 'src/iscsi-target', 'src/iscsi-initiator', 'src/host'], // one host tool each
  ['src/metrics.ts', 'src/readiness.ts'],
  ['src/exec'], // the one CommandRunner
  ['src/mutex.ts'], // FIFO mutex (cancellable through abort.ts)
  ['src/log.ts', 'src/abort.ts', 'src/backoff.ts', 'src/host-port.ts', 'src/version.ts', 'src/compare.ts'],
  ['src/errors.ts', 'src/config.ts', 'src/gen'],
];

const TOOLS = ['src/lvm/', 'src/iscsi-target/', 'src/iscsi-initiator/', 'src/host/', 'src/exec/'];
const under = (prefixes: readonly string[]) => (p: string) => prefixes.some((x) => p.startsWith(x));

interface Rule {
  name: string;
  /** What the rule keeps, for the failure message. */
  why: string;
  forbidden: (e: ImportEdge) => boolean;
}

const RULES: readonly Rule[] = [
  {
    name: 'production-never-imports-tests',
    why: 'src/ imports nothing under test/: test doubles (test/doubles) never ship in dist/',
    forbidden: (e) => e.from.startsWith('src/') && e.to.startsWith('test/'),
  },
  {
    name: 'csi-reaches-storage-through-the-agent',
    why: 'csi/ never imports lvm/ or iscsi-target/: storage is reached only through the StorageAgent interface (agent/types.ts)',
    forbidden: (e) => e.from.startsWith('src/csi/') && under(['src/lvm/', 'src/iscsi-target/'])(e.to),
  },
  {
    name: 'only-the-node-service-drives-the-initiator',
    why: "only the CSI Node service (csi/node*.ts) imports iscsi-initiator/ and host/: they are the node's tools",
    forbidden: (e) =>
      e.from.startsWith('src/csi/') &&
      !/^src\/csi\/node[-.]/.test(e.from) &&
      under(['src/iscsi-initiator/', 'src/host/'])(e.to),
  },
  {
    name: 'tools-know-nothing-of-csi-or-grpc',
    why: 'lvm/, iscsi-target/, iscsi-initiator/, host/, exec/ import nothing of csi/, server/, agent/, gen/ or @grpc/*',
    forbidden: (e) =>
      under(TOOLS)(e.from) && under(['src/csi/', 'src/server/', 'src/agent/', 'src/gen/', '@grpc/'])(e.to),
  },
  {
    name: 'only-the-runner-starts-processes',
    why: 'only exec/process-runner.ts imports node:child_process: every program runs through the one CommandRunner',
    forbidden: (e) =>
      (e.to === 'node:child_process' || e.to === 'child_process') && e.from !== 'src/exec/process-runner.ts',
  },
  {
    name: 'only-server-imports-grpc',
    why: 'only server/ (and the generated gen/) import @grpc/*, type-only imports included: elsewhere gRPC is the generated message types',
    forbidden: (e) => e.to.startsWith('@grpc/') && !under(['src/server/', 'src/gen/'])(e.from),
  },
];

/**
 * config.ts reads the environment for settings; the runner only hands it on to the programs it
 * starts (with LC_ALL=C and a call's own variables over it), as any child inherits it.
 */
const ENV_READERS = ['src/config.ts', 'src/exec/process-runner.ts'];

function unitOf(file: string): string | undefined {
  for (const layer of LAYERS) for (const u of layer) if (file === u || file.startsWith(`${u}/`)) return u;
  return undefined;
}

function layerOf(unit: string): number {
  return LAYERS.findIndex((l) => l.includes(unit));
}

/** Cycles between units, each as "a -> b -> a", found by depth-first search. */
export function unitCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = unitOf(e.from);
    const b = unitOf(e.to);
    if (a && b && a !== b) next.set(a, (next.get(a) ?? new Set()).add(b));
  }
  const cycles = new Set<string>();
  const done = new Set<string>();
  const walk = (u: string, path: string[]): void => {
    const at = path.indexOf(u);
    if (at >= 0) {
      const loop = path.slice(at);
      const start = loop.indexOf([...loop].sort()[0] as string); // one spelling per cycle
      const turned = [...loop.slice(start), ...loop.slice(0, start)];
      cycles.add([...turned, turned[0]].join(' -> '));
      return;
    }
    if (done.has(u)) return;
    for (const v of next.get(u) ?? []) walk(v, [...path, u]);
    done.add(u);
  };
  for (const u of [...next.keys()].sort()) walk(u, []);
  return [...cycles].sort();
}

/** Every broken rule, one line each; empty when the graph keeps them all. */
export function checkImports(g: ImportGraph): string[] {
  const out: string[] = [];
  for (const f of g.files)
    if (!unitOf(f)) out.push(`unplaced: ${f} is in no layer (add its folder to LAYERS and docs/architecture.md)`);
  for (const e of g.edges) {
    const at = `${e.from}:${e.line} -> ${e.to}${e.typeOnly ? ' (type-only)' : ''}`;
    for (const r of RULES) if (r.forbidden(e)) out.push(`${r.name}: ${at}: ${r.why}`);
    const a = unitOf(e.from);
    const b = unitOf(e.to);
    if (!a || !b || a === b) continue;
    const [la, lb] = [layerOf(a), layerOf(b)];
    if (lb < la) out.push(`layers: ${at}: ${a} may not import ${b}, a layer above it`);
    else if (lb === la) out.push(`layers: ${at}: ${a} and ${b} are siblings in one layer and never import each other`);
  }
  for (const r of g.envReads)
    if (!ENV_READERS.includes(r.file))
      out.push(`only-config-reads-the-environment: ${r.file}:${r.line} reads process.env`);
  for (const c of unitCycles(g.edges)) out.push(`cycle: ${c}`);
  return out;
}

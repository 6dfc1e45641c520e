/**
 * Imports flow one way (docs/architecture.md, "Layers" and "Rules"): the rule
 * set of ./import-rules.ts held against src/, and shown to fail on a small
 * fixture tree (test/unit/fixtures/import-rules) once an import runs upward.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { importGraph } from './import-graph.js';
import { checkImports, unitCycles } from './import-rules.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixture = join(repo, 'test/unit/fixtures/import-rules');

describe('import rules', () => {
  it('src/ keeps every rule', () => {
    const g = importGraph(repo);
    expect(g.files.length).toBeGreaterThan(100);
    expect(g.edges.some((e) => e.from === 'src/exec/process-runner.ts' && e.to === 'node:child_process')).toBe(true);
    expect(g.envReads.map((r) => r.file)).toContain('src/config.ts');
    expect(checkImports(g)).toEqual([]);
  });

  describe('on the fixture tree', () => {
    let dir = '';
    const copy = (): string => {
      dir = mkdtempSync(join(tmpdir(), 'import-rules-'));
      cpSync(fixture, dir, { recursive: true });
      return dir;
    };
    afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

    it('passes as it is', () => {
      expect(checkImports(importGraph(fixture))).toEqual([]);
    });

    it('fails on one deliberately upward import, even a type-only one, naming the line and the cycle', () => {
      const root = copy();
      // the shape of the old src/server/agent-directory.ts -> src/csi/controller-ops.ts
      appendFileSync(join(root, 'src/server/adapter.ts'), "import type { handlers } from '../csi/controller.js';\n");
      expect(checkImports(importGraph(root))).toEqual([
        'layers: src/server/adapter.ts:5 -> src/csi/controller.ts (type-only): src/server may not import src/csi, a layer above it',
        'cycle: src/csi -> src/server -> src/csi',
      ]);
    });

    it('names the tool that imports CSI, child_process outside the runner, grpc outside server/, process.env outside config.ts', () => {
      const root = copy();
      appendFileSync(
        join(root, 'src/lvm/lvm.ts'),
        [
          "import { spawn } from 'node:child_process';",
          "import type { Metadata } from '@grpc/grpc-js';",
          'export const lang = process.env.LANG;',
          '',
        ].join('\n'),
      );
      expect(checkImports(importGraph(root)).map((l) => l.split(':')[0])).toEqual([
        'only-the-runner-starts-processes',
        'tools-know-nothing-of-csi-or-grpc',
        'only-server-imports-grpc',
        'only-config-reads-the-environment',
      ]);
    });

    it('refuses production code that imports a test double', () => {
      const root = copy();
      appendFileSync(join(root, 'src/lvm/lvm.ts'), "import { FakeRunner } from '../../test/doubles/fake-runner.js';\n");
      expect(checkImports(importGraph(root)).map((l) => l.split(':')[0])).toEqual(['production-never-imports-tests']);
    });

    it('refuses a file outside the layer table and a sibling import', () => {
      const root = copy();
      mkdirSync(join(root, 'src/host'));
      writeFileSync(join(root, 'src/host/mount.ts'), "import { Lvm } from '../lvm/lvm.js';\nexport const m = Lvm;\n");
      mkdirSync(join(root, 'src/target'));
      writeFileSync(join(root, 'src/target/lio.ts'), 'export const lio = 1;\n');
      expect(checkImports(importGraph(root))).toEqual([
        'unplaced: src/target/lio.ts is in no layer (add its folder to LAYERS and docs/architecture.md)',
        'layers: src/host/mount.ts:1 -> src/lvm/lvm.ts: src/host and src/lvm are siblings in one layer and never import each other',
      ]);
    });
  });

  it('reports a cycle once, however it is entered', () => {
    const e = (from: string, to: string) => ({ from, to, typeOnly: false, line: 1 });
    expect(
      unitCycles([
        e('src/agent/a.ts', 'src/lvm/b.ts'),
        e('src/lvm/b.ts', 'src/host/c.ts'),
        e('src/host/c.ts', 'src/agent/d.ts'),
      ]),
    ).toEqual(['src/agent -> src/lvm -> src/host -> src/agent']);
  });
});

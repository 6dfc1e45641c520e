/**
 * The Dockerfile's runtime stage installs every program the code can exec, builds with the dev
 * dependencies, ships the production ones only, and runs dist/main.js.
 *
 * The programs are extracted from src/**\/*.ts with the TypeScript parser, from every place a
 * command line is formed (the runner's argv arrays are never built any other way):
 *   - an array literal passed straight to `.run([...])`;
 *   - an array literal whose second element is an option (`['mkfs.xfs', '-q', ...]`);
 *   - an array literal held in a variable named `*argv`, returned by a function named `*Argv`,
 *     or built inside a class named `*Argv` (the tgtadm builder);
 *   - the command name given to `exec(...)` / `report(...)` (the LVM wrapper in src/lvm/lvm.ts);
 *   - a string literal default for a `binary`/`bin` setting (`options.binary ?? 'iscsiadm'`).
 * A first element written as a template (`mkfs.${fsType}`) is expanded with the values the code
 * allows (SUPPORTED_FS). Every program found must be in PROGRAMS below (program -> Debian
 * package, checked against this machine's dpkg database where the program is installed), and
 * every package must be installed by the runtime stage. A program added to src without its
 * package in PROGRAMS and in the Dockerfile fails this test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_FS } from '../../../src/host/mkfs.js';
import { ROOT } from './k8s-validate.js';

/** Program -> the Debian bookworm package that ships it. */
const PROGRAMS: Record<string, string> = {
  lvm: 'lvm2',
  lvmconfig: 'lvm2',
  lvs: 'lvm2',
  vgs: 'lvm2',
  pvs: 'lvm2',
  lvcreate: 'lvm2',
  lvchange: 'lvm2',
  lvconvert: 'lvm2',
  lvextend: 'lvm2',
  lvremove: 'lvm2',
  lvrename: 'lvm2',
  vgcreate: 'lvm2',
  vgchange: 'lvm2',
  vgremove: 'lvm2',
  pvcreate: 'lvm2',
  iscsiadm: 'open-iscsi',
  tgtadm: 'tgt',
  multipath: 'multipath-tools',
  multipathd: 'multipath-tools',
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.ext3': 'e2fsprogs',
  'mkfs.ext2': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_growfs: 'xfsprogs',
  xfs_info: 'xfsprogs',
  xfs_admin: 'xfsprogs',
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  findmnt: 'util-linux',
  blkid: 'util-linux',
  lsblk: 'util-linux',
  blockdev: 'util-linux',
  wipefs: 'util-linux',
  nsenter: 'util-linux',
  dd: 'coreutils',
  udevadm: 'udev',
  modprobe: 'kmod',
};

/** Programs the code does not exec itself but that the programs it runs need. */
const INDIRECT: Record<string, string> = {
  // lvm2 runs thin_check when it activates a thin pool (and thin_repair on request).
  thin_check: 'thin-provisioning-tools',
};

/** Template first elements and the values they can take. */
const TEMPLATE_EXPANSIONS: Record<string, readonly string[]> = {
  'mkfs.*': SUPPORTED_FS.map((fs) => `mkfs.${fs}`),
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'gen' ? [] : sourceFiles(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function literal(e: ts.Node | undefined): string | undefined {
  if (!e) return undefined;
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
  if (ts.isTemplateExpression(e)) return `${e.head.text}*`;
  return undefined;
}

function namedLike(n: ts.Node, re: RegExp): boolean {
  const name = (n as { name?: ts.Node }).name;
  return name !== undefined && ts.isIdentifier(name) && re.test(name.text);
}

/** Is this array literal an argv: held in `*argv`, returned by `*Argv()`, or built in a `*Argv` class? */
function argvByName(arr: ts.ArrayLiteralExpression): boolean {
  const parent = arr.parent;
  if (ts.isVariableDeclaration(parent) && namedLike(parent, /argv$/i)) return true;
  for (let p: ts.Node | undefined = parent; p; p = p.parent) {
    if (ts.isReturnStatement(p) || ts.isBinaryExpression(p)) {
      for (let q: ts.Node | undefined = p.parent; q; q = q.parent) {
        if (
          (ts.isFunctionDeclaration(q) || ts.isMethodDeclaration(q) || ts.isClassDeclaration(q)) &&
          namedLike(q, /argv$/i)
        )
          return true;
      }
      return false;
    }
    if (ts.isBlock(p) || ts.isSourceFile(p)) return false;
  }
  return false;
}

/** program (or template pattern) -> where it was found. */
function extractPrograms(srcDir: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(srcDir)) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const add = (program: string, node: ts.Node) => {
      const where = `${relative(ROOT, file)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
      found.set(program, [...(found.get(program) ?? []), where]);
    };
    const visit = (n: ts.Node): void => {
      if (ts.isArrayLiteralExpression(n)) {
        const first = literal(n.elements[0]);
        if (first !== undefined && !first.startsWith('-')) {
          const p = n.parent;
          const passedToRun =
            ts.isCallExpression(p) &&
            p.arguments[0] === n &&
            ts.isPropertyAccessExpression(p.expression) &&
            p.expression.name.text === 'run';
          const optionSecond = literal(n.elements[1])?.startsWith('-') === true;
          if (passedToRun || optionSecond || argvByName(n)) add(first, n);
        }
      }
      if (
        ts.isCallExpression(n) &&
        ts.isPropertyAccessExpression(n.expression) &&
        ['exec', 'report'].includes(n.expression.name.text)
      ) {
        const first = literal(n.arguments[0]);
        if (first !== undefined) add(first, n);
      }
      if (
        ts.isBinaryExpression(n) &&
        [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(n.operatorToken.kind) &&
        /\b(bin|binary)$/i.test(n.left.getText())
      ) {
        const fallback = literal(n.right);
        if (fallback !== undefined) add(fallback, n);
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

/** The packages `apt-get install` names in the last stage, and that stage's other lines. */
function parseDockerfile(text: string): { stages: Array<{ from: string; lines: string[] }>; comments: string[] } {
  const comments = text.split('\n').filter((l) => l.trimStart().startsWith('#'));
  const logical = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const stages: Array<{ from: string; lines: string[] }> = [];
  for (const l of logical) {
    if (/^FROM\s/i.test(l)) stages.push({ from: l, lines: [] });
    else stages.at(-1)?.lines.push(l);
  }
  return { stages, comments };
}

function aptPackages(lines: readonly string[]): string[] {
  return lines.flatMap((l) =>
    [...l.matchAll(/apt-get install((?:\s+[^\s&;|]+)+)/g)].flatMap((m) =>
      (m[1] ?? '')
        .trim()
        .split(/\s+/)
        .filter((w) => !w.startsWith('-')),
    ),
  );
}

const dockerfileText = readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8');
const dockerfile = parseDockerfile(dockerfileText);
const runtime = dockerfile.stages.at(-1) ?? { from: '', lines: [] };
const build = dockerfile.stages[0] ?? { from: '', lines: [] };
const installed = new Set(aptPackages(runtime.lines));

describe('Dockerfile: the programs the code runs', () => {
  const found = extractPrograms(resolve(ROOT, 'src'));
  const programs = new Map<string, string[]>();
  for (const [p, where] of found) {
    for (const q of p.endsWith('*') ? (TEMPLATE_EXPANSIONS[p] ?? [p]) : [p])
      programs.set(q, [...(programs.get(q) ?? []), ...where]);
  }

  it('finds the commands of every layer in src/ (the extraction still works)', () => {
    for (const p of [
      'lvcreate',
      'lvs',
      'vgcreate',
      'iscsiadm',
      'tgtadm',
      'multipath',
      'mkfs.ext4',
      'mkfs.xfs',
      'mount',
      'umount',
      'blkid',
      'dd',
      'losetup',
      'resize2fs',
      'xfs_growfs',
    ]) {
      expect([...programs.keys()], p).toContain(p);
    }
  });

  it('knows the Debian package of every program src/ can exec', () => {
    const unknown = [...programs].filter(([p]) => !(p in PROGRAMS)).map(([p, where]) => `${p} (${where.join(', ')})`);
    expect(unknown, 'add the program to PROGRAMS in this test and its package to the Dockerfile').toEqual([]);
  });

  it('installs each of those packages in the runtime stage', () => {
    const needed = new Map<string, string[]>();
    for (const p of [...programs.keys(), ...Object.keys(INDIRECT)]) {
      const pkg = PROGRAMS[p] ?? INDIRECT[p];
      if (pkg) needed.set(pkg, [...(needed.get(pkg) ?? []), p]);
    }
    const missing = [...needed]
      .filter(([pkg]) => !installed.has(pkg))
      .map(([pkg, ps]) => `${pkg} (for ${ps.join(', ')})`);
    expect(missing).toEqual([]);
    expect(installed).toContain('ca-certificates');
  });

  it('the program -> package map agrees with this Debian machine, for the programs installed here', () => {
    const dpkg = ['/usr/bin/dpkg', '/bin/dpkg'].find((p) => existsSync(p));
    const all = { ...PROGRAMS, ...INDIRECT };
    // usrmerge: dpkg knows /sbin/x or /usr/sbin/x, whichever the package ships.
    const paths = Object.keys(all).flatMap((p) => ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => `${d}/${p}`));
    if (!dpkg) return; // not a Debian machine: nothing to compare with
    let out = '';
    try {
      out = execFileSync(dpkg, ['-S', ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? ''); // exit 1 when some paths belong to no package
    }
    const owner = new Map<string, string>();
    for (const line of out.split('\n')) {
      const m = /^([^:,\s]+)(?::\S+)?: .*\/([^/]+)$/.exec(line);
      if (m?.[1] && m[2]) owner.set(m[2], m[1]);
    }
    expect(owner.size, 'dpkg -S found none of the programs').toBeGreaterThan(5);
    const disagree = [...owner]
      .filter(([prog, pkg]) => all[prog] !== pkg)
      .map(([prog, pkg]) => `${prog}: map says ${all[prog]}, dpkg says ${pkg}`);
    expect(disagree).toEqual([]);
  });

  it('the extraction catches a program added the ways src/ forms command lines', () => {
    const tmp = resolve(ROOT, 'test/unit/packaging/fixtures/exec-sample');
    const extracted = [...extractPrograms(tmp).keys()].sort();
    expect(extracted).toEqual([
      'from-argv-variable',
      'from-binary-default',
      'from-builder-class',
      'from-exec',
      'from-option-shape',
      'from-run',
      'from-template*',
    ]);
  });
});

describe('Dockerfile: build and runtime stages', () => {
  it('builds on Node 20 (package.json engines) and runs on Debian bookworm', () => {
    expect(dockerfile.stages.length).toBe(2);
    expect(build.from).toMatch(/^FROM node:20-bookworm-slim AS build$/i);
    expect(runtime.from).toMatch(/^FROM debian:bookworm-slim$/i);
  });

  it('compiles with the dev dependencies, then keeps the production dependencies only', () => {
    const i = (re: RegExp) => build.lines.findIndex((l) => re.test(l));
    expect(i(/^RUN npm ci\b/)).toBeGreaterThanOrEqual(0);
    expect(i(/npm run build/)).toBeGreaterThan(i(/^RUN npm ci\b/));
    expect(i(/npm prune --omit=dev/)).toBeGreaterThanOrEqual(i(/npm run build/));
    expect(runtime.lines.some((l) => /\bnpm\b/.test(l))).toBe(false);
    expect(runtime.lines).toContain('COPY --from=build /src/node_modules ./node_modules');
    expect(runtime.lines).toContain('COPY --from=build /src/dist ./dist');
    expect(runtime.lines.some((l) => /^COPY (?!--from=build)/.test(l))).toBe(false);
  });

  it('installs without recommends, cleans the apt lists, and runs dist/main.js with node', () => {
    const apt = runtime.lines.find((l) => l.includes('apt-get install')) ?? '';
    expect(apt).toContain('--no-install-recommends');
    expect(apt).toContain('rm -rf /var/lib/apt/lists/*');
    const entry = runtime.lines.find((l) => l.startsWith('ENTRYPOINT')) ?? '';
    expect(JSON.parse(entry.slice('ENTRYPOINT'.length))).toEqual([
      '/usr/local/bin/node',
      '--max-semi-space-size=1',
      '--lite-mode',
      '/opt/csi-lvm-iscsi/dist/main.js',
    ]);
    expect(runtime.lines).toContain('ENV NODE_ENV=production');
  });

  it('points at this test in its comment', () => {
    expect(dockerfile.comments.join('\n')).toContain('test/unit/packaging/dockerfile.test.ts');
  });
});

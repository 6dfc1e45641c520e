/**
 * The import graph of a source tree, read with the TypeScript parser (no type
 * checker, no build): every import, `export ... from`, `import x = require()`,
 * dynamic `import()` and `import('x').T` type, whether it is type-only (erased
 * at run time), and every read of `process.env`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** The importing file, relative to the root, with '/' (e.g. "src/lvm/lvm.ts"). */
  from: string;
  /**
   * A project file relative to the root ("src/errors.ts") for a relative
   * specifier, otherwise the package name ("pino", "@grpc/grpc-js", "node:fs").
   */
  to: string;
  /** Erased at run time: `import type`, all-`type` named imports, `export type`, `import('x').T`. */
  typeOnly: boolean;
  line: number;
}

interface EnvRead {
  file: string;
  line: number;
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
  envReads: EnvRead[];
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return listTs(p);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function packageOf(spec: string): string {
  if (spec.startsWith('node:')) return spec;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

function resolveSpec(fromFile: string, spec: string): string {
  if (!spec.startsWith('.')) return packageOf(spec);
  return posix.normalize(posix.join(posix.dirname(fromFile), spec)).replace(/\.js$/, '.ts');
}

function namedAllTypes(b: ts.NamedImportBindings | ts.NamedExportBindings | undefined): boolean {
  if (!b || ts.isNamespaceImport(b) || ts.isNamespaceExport(b)) return false;
  return b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly);
}

/** `process.env`, `process['env']`, `globalThis.process.env`, `const { env } = process`, `import { env } from 'node:process'`. */
function isEnvRead(n: ts.Node): boolean {
  const isProcess = (e: ts.Expression): boolean =>
    (ts.isIdentifier(e) && e.text === 'process') || (ts.isPropertyAccessExpression(e) && e.name.text === 'process');
  if (ts.isPropertyAccessExpression(n)) return n.name.text === 'env' && isProcess(n.expression);
  if (ts.isElementAccessExpression(n)) {
    return (
      ts.isStringLiteralLike(n.argumentExpression) && n.argumentExpression.text === 'env' && isProcess(n.expression)
    );
  }
  if (ts.isVariableDeclaration(n) && n.initializer && isProcess(n.initializer) && ts.isObjectBindingPattern(n.name)) {
    return n.name.elements.some((e) => (e.propertyName ?? e.name).getText() === 'env');
  }
  if (
    ts.isImportDeclaration(n) &&
    ts.isStringLiteral(n.moduleSpecifier) &&
    ['process', 'node:process'].includes(n.moduleSpecifier.text)
  ) {
    const b = n.importClause?.namedBindings;
    return !!b && ts.isNamedImports(b) && b.elements.some((e) => (e.propertyName ?? e.name).text === 'env');
  }
  return false;
}

/** Reads every .ts file below `<root>/<dir>`; paths in the answer are relative to `root`. */
export function importGraph(root: string, dir = 'src'): ImportGraph {
  const files = listTs(join(root, dir))
    .map((p) => relative(root, p).split(sep).join('/'))
    .sort();
  const edges: ImportEdge[] = [];
  const envReads: EnvRead[] = [];
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
    const line = (n: ts.Node): number => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    const add = (spec: string, typeOnly: boolean, n: ts.Node): void => {
      edges.push({ from: file, to: resolveSpec(file, spec), typeOnly, line: line(n) });
    };
    const visit = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        const c = n.importClause;
        add(n.moduleSpecifier.text, !!c && (c.isTypeOnly || (!c.name && namedAllTypes(c.namedBindings))), n);
      } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
        add(n.moduleSpecifier.text, n.isTypeOnly || namedAllTypes(n.exportClause), n);
      } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference)) {
        const e = n.moduleReference.expression;
        if (ts.isStringLiteral(e)) add(e.text, n.isTypeOnly, n);
      } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const a = n.arguments[0];
        if (a && ts.isStringLiteralLike(a)) add(a.text, false, n);
      } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
        add(n.argument.literal.text, true, n);
      }
      if (isEnvRead(n)) envReads.push({ file, line: line(n) });
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return { files, edges, envReads };
}

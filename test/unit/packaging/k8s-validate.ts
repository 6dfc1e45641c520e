/**
 * Offline validation of Kubernetes objects for the packaging tests.
 *
 * Built-in kinds are checked twice against the Kubernetes API schema as packaged by
 * kubernetes-models (v4.5.x: Kubernetes 1.27.1 OpenAPI, the last major that runs on Node 20):
 *   1. the package's generated JSON-schema validators (`new Kind(obj).validate()`): required
 *      fields, types, enums, formats - but they accept unknown fields;
 *   2. the package's TypeScript declarations of the same schema: every object is written as an
 *      object literal typed `I<Kind>` into one in-memory TypeScript program, so the compiler's
 *      excess-property check rejects any field the API does not have (a typo such as
 *      `imagePullPolicyy`), at every depth. That is what `kubectl apply --validate=strict` does.
 * snapshot.storage.k8s.io objects are checked with ajv against the CRDs' openAPIV3Schema vendored
 * in fixtures/ (unknown fields rejected the same way); their metadata goes through the built-in
 * ObjectMeta checks.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../../..');

export type K8sObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
};

export interface Labelled {
  /** Where the object came from, for messages: "deploy/agent.yaml#0". */
  label: string;
  obj: K8sObject;
}

/**
 * Every document of a YAML stream. YAML 1.1, as Kubernetes (sigs.k8s.io/yaml) and Helm read it:
 * `0400` is octal, `yes` is a boolean. Empty documents (comments only) are skipped.
 */
export function parseYamlDocs(text: string, where: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true, strict: true })) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${where}: ${problems.map((p) => p.message).join('; ')}`);
    const value: unknown = doc.toJS({ maxAliasCount: 0 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function loadObjects(relPath: string): Labelled[] {
  return parseYamlDocs(readFileSync(resolve(ROOT, relPath), 'utf8'), relPath).map((obj, i) => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      throw new Error(`${relPath}#${i}: not an object`);
    const o = obj as K8sObject;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string')
      throw new Error(`${relPath}#${i}: apiVersion and kind are required`);
    return { label: `${relPath}#${i}`, obj: o };
  });
}

/** "apps/v1" -> module path of kubernetes-models; core "v1" has no group. */
function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const SNAPSHOT_GROUP = 'snapshot.storage.k8s.io/v1';
const SNAPSHOT_KINDS: Record<string, string> = {
  VolumeSnapshotClass: 'snapshot.storage.k8s.io_volumesnapshotclasses.v1.yaml',
  VolumeSnapshot: 'snapshot.storage.k8s.io_volumesnapshots.v1.yaml',
};

function isSnapshotKind(o: K8sObject): boolean {
  return o.apiVersion === SNAPSHOT_GROUP && o.kind in SNAPSHOT_KINDS;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Step 1: the generated runtime validators. Returns problems, empty when valid. */
export async function validateWithModels(items: readonly Labelled[]): Promise<string[]> {
  const problems: string[] = [];
  for (const { label, obj } of items) {
    const builtin = !isSnapshotKind(obj);
    const apiVersion = builtin ? obj.apiVersion : 'v1';
    const kind = builtin ? obj.kind : 'ConfigMap';
    // CRD objects: their metadata is checked as a ConfigMap's (ObjectMeta is the same type).
    const data = builtin ? obj : { apiVersion: 'v1', kind: 'ConfigMap', metadata: obj.metadata };
    let Model: ModelClass;
    try {
      const mod = (await import(modelModule(apiVersion, kind))) as Record<string, ModelClass>;
      const found = mod[kind];
      if (!found) throw new Error('no such export');
      Model = found;
    } catch {
      problems.push(`${label}: ${obj.apiVersion} ${obj.kind} is not a Kubernetes 1.27 built-in kind`);
      continue;
    }
    try {
      new Model(data).validate();
    } catch (e) {
      problems.push(`${label} (${obj.kind} ${obj.metadata?.name ?? '?'}): ${(e as Error).message}`);
    }
  }
  return problems;
}

/**
 * Step 2: one TypeScript program in which every object is an object literal of its kind's
 * declared type; returns the compiler's complaints per object (empty list: all valid).
 */
export function typeCheckObjects(items: readonly Labelled[]): Map<string, string[]> {
  const virtualFile = resolve(ROOT, 'test/unit/packaging/__k8s_typecheck__.ts');
  const imports: string[] = [];
  const lines: string[] = [];
  const lineOwner: string[] = [];
  const typeAlias = new Map<string, string>();
  const aliasFor = (apiVersion: string, kind: string): string => {
    const key = `${apiVersion}/${kind}`;
    let alias = typeAlias.get(key);
    if (!alias) {
      alias = `T${typeAlias.size}`;
      typeAlias.set(key, alias);
      imports.push(`import type { I${kind} as ${alias} } from '${modelModule(apiVersion, kind)}';`);
    }
    return alias;
  };
  items.forEach(({ label, obj }, i) => {
    const builtin = !isSnapshotKind(obj);
    const alias = builtin ? aliasFor(obj.apiVersion, obj.kind) : aliasFor('v1', 'ConfigMap');
    const data = builtin ? obj : { apiVersion: 'v1', kind: 'ConfigMap', metadata: obj.metadata };
    // One line per object so a diagnostic's line names its object.
    lines.push(`export const o${i}: ${alias} = ${JSON.stringify(data)};`);
    lineOwner.push(label);
  });
  const header = imports.length;
  const text = [...imports, ...lines].join('\n');

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    types: [],
    // The smallest standard library: the API types need nothing more (no DOM, no Node).
    lib: ['lib.es5.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (f, lang, onError, create) =>
    f === virtualFile ? ts.createSourceFile(f, text, lang) : getSourceFile(f, lang, onError, create);
  host.fileExists = (f) => f === virtualFile || fileExists(f);
  host.readFile = (f) => (f === virtualFile ? text : readFile(f));
  const program = ts.createProgram([virtualFile], options, host);

  const out = new Map<string, string[]>(items.map(({ label }) => [label, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    let owner = 'typescript';
    if (d.file?.fileName === virtualFile && d.start !== undefined) {
      const line = d.file.getLineAndCharacterOfPosition(d.start).line;
      owner = line < header ? `import of ${imports[line]}` : (lineOwner[line - header] ?? 'typescript');
    }
    const list = out.get(owner) ?? [];
    list.push(message);
    out.set(owner, list);
  }
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A CRD version's openAPIV3Schema as the API server's strict field validation applies it:
 * descriptions and x-kubernetes-* extensions dropped, and every object that lists its
 * properties closed to others (additionalProperties false), as `kubectl --validate=strict`
 * rejects unknown fields.
 */
function crdSchemaToJsonSchema(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(crdSchemaToJsonSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'description' || k.startsWith('x-kubernetes-')) continue;
    if (k === 'properties' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, sub]) => [name, crdSchemaToJsonSchema(sub)]));
    } else {
      out[k] = crdSchemaToJsonSchema(v);
    }
  }
  if ('properties' in out && !('additionalProperties' in out)) out['additionalProperties'] = false;
  return out;
}

let snapshotValidators: Map<string, ValidateFunction> | undefined;

function snapshotValidator(kind: string): ValidateFunction {
  if (!snapshotValidators) {
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      strictRequired: false,
      strictTypes: false,
      validateFormats: false,
    });
    const compiled = new Map<string, ValidateFunction>();
    for (const [k, file] of Object.entries(SNAPSHOT_KINDS)) {
      const [schema] = parseYamlDocs(
        readFileSync(resolve(import.meta.dirname, 'fixtures', file), 'utf8'),
        file,
      ) as Json[];
      const js = crdSchemaToJsonSchema(schema ?? null) as { [key: string]: Json };
      const props = (js['properties'] ?? {}) as { [key: string]: Json };
      // apiVersion/kind pinned; metadata is ObjectMeta, checked by the built-in validators.
      props['apiVersion'] = { const: SNAPSHOT_GROUP };
      props['kind'] = { const: k };
      props['metadata'] = { type: 'object' };
      js['properties'] = props;
      js['required'] = [
        ...new Set([...((js['required'] as string[] | undefined) ?? []), 'apiVersion', 'kind', 'metadata']),
      ];
      compiled.set(k, ajv.compile(js));
    }
    snapshotValidators = compiled;
  }
  const v = snapshotValidators.get(kind);
  if (!v) throw new Error(`no vendored CRD schema for ${kind}`);
  return v;
}

/** snapshot.storage.k8s.io objects against the vendored CRD schemas. */
export function validateSnapshotObjects(items: readonly Labelled[]): string[] {
  const problems: string[] = [];
  for (const { label, obj } of items) {
    if (!isSnapshotKind(obj)) continue;
    const v = snapshotValidator(obj.kind);
    if (!v(obj))
      problems.push(
        `${label}: ${(v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ')}`,
      );
  }
  return problems;
}

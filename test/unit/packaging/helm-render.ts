/**
 * A small renderer for exactly the Go-template subset the chart in charts/csi-lvm-iscsi uses,
 * so the tests can render it without helm (no helm binary is available here):
 *
 *   {{ .Values.a.b }}  {{ .Release.Namespace }}  {{ .Chart.Name }}  {{ $.Values.x }}  {{ .field }}
 *   {{- ... -}} whitespace trimming, {{/* comments *\/}}
 *   {{- if PIPELINE }} ... {{- else }} ... {{- end }}
 *   {{- range PIPELINE }} ... {{- end }}          (lists only; dot becomes the element)
 *   functions: quote, toYaml, nindent N, indent N, join SEP LIST, eq A B
 *   pipelines: {{ toYaml .Values.x | nindent 4 }}   (the piped value is the last argument)
 *
 * Anything else (variables, with, define/include, parentheses, other functions) throws, and so
 * does a path that does not exist in the values: the chart has to stay inside this subset, and a
 * misspelled value path fails the test instead of rendering as an empty string (which is what
 * Helm would do).
 */
import { stringify } from 'yaml';

type Ctx = { dot: unknown; root: Record<string, unknown> };
type Node =
  | { t: 'text'; text: string }
  | { t: 'out'; pipe: string }
  | { t: 'if'; pipe: string; then: Node[]; else: Node[] }
  | { t: 'range'; pipe: string; body: Node[] };

type Token =
  { kind: 'text'; text: string } | { kind: 'action'; body: string; trimLeft: boolean; trimRight: boolean; at: number };

export class TemplateError extends Error {}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\{\{(-\s)?([\s\S]*?)(\s-)?\}\}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    tokens.push({ kind: 'text', text: src.slice(last, m.index) });
    tokens.push({
      kind: 'action',
      body: (m[2] ?? '').trim(),
      trimLeft: m[1] !== undefined,
      trimRight: m[3] !== undefined,
      at: m.index,
    });
    last = re.lastIndex;
  }
  tokens.push({ kind: 'text', text: src.slice(last) });
  // Trim markers eat all whitespace (newlines included) on their side.
  tokens.forEach((tok, i) => {
    if (tok.kind !== 'action') return;
    const before = tokens[i - 1];
    const after = tokens[i + 1];
    if (tok.trimLeft && before?.kind === 'text') before.text = before.text.replace(/\s+$/, '');
    if (tok.trimRight && after?.kind === 'text') after.text = after.text.replace(/^\s+/, '');
  });
  return tokens;
}

function parse(tokens: Token[]): Node[] {
  let i = 0;
  const block = (closers: string[]): { nodes: Node[]; closer: string } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const tok = tokens[i++] as Token;
      if (tok.kind === 'text') {
        if (tok.text) nodes.push({ t: 'text', text: tok.text });
        continue;
      }
      const body = tok.body;
      if (body.startsWith('/*')) {
        if (!body.endsWith('*/')) throw new TemplateError(`unterminated comment at ${tok.at}`);
        continue;
      }
      const [word] = body.split(/\s+/, 1);
      if (word === 'end' || word === 'else') {
        if (!closers.includes(word) || body !== word) throw new TemplateError(`unexpected {{ ${body} }} at ${tok.at}`);
        return { nodes, closer: word };
      }
      if (word === 'if') {
        const pipe = body.slice(2).trim();
        const thenPart = block(['else', 'end']);
        const elsePart = thenPart.closer === 'else' ? block(['end']).nodes : [];
        nodes.push({ t: 'if', pipe, then: thenPart.nodes, else: elsePart });
      } else if (word === 'range') {
        const pipe = body.slice(5).trim();
        if (/[$]\w+\s*(,|:=)/.test(pipe))
          throw new TemplateError(`range with variables is outside the supported subset: ${body}`);
        nodes.push({ t: 'range', pipe, body: block(['end']).nodes });
      } else if (
        ['with', 'define', 'template', 'include', 'block', 'break', 'continue'].includes(word ?? '') ||
        /:=|(^|\s)\$\w/.test(body)
      ) {
        throw new TemplateError(`{{ ${body} }} is outside the supported subset`);
      } else {
        nodes.push({ t: 'out', pipe: body });
      }
    }
    if (closers.length > 0) throw new TemplateError(`missing {{ end }}`);
    return { nodes, closer: '' };
  };
  return block([]).nodes;
}

function words(command: string): string[] {
  const out: string[] = [];
  const re = /"(?:[^"\\]|\\.)*"|[^\s"]+/g;
  for (let m = re.exec(command); m; m = re.exec(command)) out.push(m[0]);
  if (out.join(' ').includes('(')) throw new TemplateError(`parentheses are outside the supported subset: ${command}`);
  return out;
}

function lookup(base: unknown, path: string[], whole: string): unknown {
  let v = base;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !(key in v))
      throw new TemplateError(`${whole}: no value at "${key}"`);
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function operand(word: string, ctx: Ctx): unknown {
  if (word.startsWith('"')) return JSON.parse(word) as string;
  if (/^-?\d+$/.test(word)) return Number(word);
  if (word === 'true' || word === 'false') return word === 'true';
  if (word === '.') return ctx.dot;
  if (word === '$') return ctx.root;
  if (word.startsWith('$.')) return lookup(ctx.root, word.slice(2).split('.'), word);
  if (word.startsWith('.')) return lookup(ctx.dot, word.slice(1).split('.'), word);
  throw new TemplateError(`unknown operand ${word}`);
}

/** How Go's text/template prints a value; composite values are a template bug here. */
function print(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateError(`cannot print ${JSON.stringify(v)} (use toYaml)`);
}

function indentText(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return pad + s.split('\n').join(`\n${pad}`);
}

const FUNCS: Record<string, (args: unknown[]) => unknown> = {
  quote: ([v]) => JSON.stringify(print(v)),
  // Helm: sigs.k8s.io/yaml (keys sorted), final newline removed.
  toYaml: ([v]) => stringify(v, { version: '1.1', sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, ''),
  nindent: ([n, s]) => `\n${indentText(n as number, print(s))}`,
  indent: ([n, s]) => indentText(n as number, print(s)),
  join: ([sep, list]) => {
    if (!Array.isArray(list)) throw new TemplateError('join needs a list');
    return list.map(print).join(print(sep));
  },
  eq: ([a, b]) => a === b,
};
const ARITY: Record<string, number> = { quote: 1, toYaml: 1, nindent: 2, indent: 2, join: 2, eq: 2 };

function evalPipe(pipe: string, ctx: Ctx): unknown {
  let value: unknown;
  let first = true;
  for (const command of pipe.split('|').map((c) => c.trim())) {
    const [head, ...rest] = words(command);
    if (head === undefined) throw new TemplateError(`empty command in "${pipe}"`);
    const fn = FUNCS[head];
    if (fn) {
      const args = rest.map((w) => operand(w, ctx));
      if (!first) args.push(value);
      if (args.length !== ARITY[head]) throw new TemplateError(`${head} takes ${ARITY[head]} arguments: "${pipe}"`);
      value = fn(args);
    } else {
      if (!first || rest.length > 0) throw new TemplateError(`unknown function ${head} in "${pipe}"`);
      value = operand(head, ctx);
    }
    first = false;
  }
  return value;
}

/** Go templates: false, 0, nil and empty strings, lists and maps are false. */
function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function run(nodes: Node[], ctx: Ctx): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.text;
    else if (n.t === 'out') out += print(evalPipe(n.pipe, ctx));
    else if (n.t === 'if') out += run(truthy(evalPipe(n.pipe, ctx)) ? n.then : n.else, ctx);
    else {
      const list = evalPipe(n.pipe, ctx);
      if (!Array.isArray(list)) throw new TemplateError(`range over a non-list: ${n.pipe}`);
      for (const item of list) out += run(n.body, { dot: item, root: ctx.root });
    }
  }
  return out;
}

export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service: string };
  Chart: { Name: string; Version: string; AppVersion: string };
}

export function renderTemplate(source: string, context: RenderContext): string {
  const root = context as unknown as Record<string, unknown>;
  return run(parse(tokenize(source)), { dot: root, root });
}

/**
 * charts/csi-lvm-iscsi without helm (none can be installed here): values.yaml against
 * values.schema.json (ajv, JSON Schema draft-07, as Helm validates it), and the templates
 * rendered with the minimal renderer of helm-render.ts: with the default values they must make
 * exactly the objects of deploy/ (field for field), and with other values objects that still
 * pass the Kubernetes schemas.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseVolumeParams } from '../../../src/agent/params.js';
import { loadConfig } from '../../../src/config.js';
import { renderTemplate, TemplateError, type RenderContext } from './helm-render.js';
import {
  loadObjects,
  parseYamlDocs,
  ROOT,
  typeCheckObjects,
  validateSnapshotObjects,
  validateWithModels,
  type K8sObject,
  type Labelled,
} from './k8s-validate.js';

const CHART = resolve(ROOT, 'charts/csi-lvm-iscsi');
const NAMESPACE = 'csi-lvm-iscsi';
const read = (rel: string): string => readFileSync(join(CHART, rel), 'utf8');
const chart = parseYamlDocs(read('Chart.yaml'), 'Chart.yaml')[0] as Record<string, string>;
const defaults = parseYamlDocs(read('values.yaml'), 'values.yaml')[0] as Record<string, any>;
const schema = JSON.parse(read('values.schema.json')) as object;
const TEMPLATES = readdirSync(join(CHART, 'templates')).sort();

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateValues = ajv.compile(schema);
const schemaErrors = (values: unknown): string[] =>
  validateValues(values)
    ? []
    : (validateValues.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);

function context(values: Record<string, unknown>): RenderContext {
  return {
    Values: values,
    Release: { Name: 'csi-lvm-iscsi', Namespace: NAMESPACE, Service: 'Helm' },
    Chart: { Name: chart['name'] ?? '', Version: chart['version'] ?? '', AppVersion: chart['appVersion'] ?? '' },
  };
}

/** Every object the chart makes with these values, labelled "template#n". */
function render(values: Record<string, unknown>): Labelled[] {
  return TEMPLATES.filter((t) => t.endsWith('.yaml')).flatMap((t) =>
    parseYamlDocs(renderTemplate(read(`templates/${t}`), context(values)), t).map((obj, i) => ({
      label: `${t}#${i}`,
      obj: obj as K8sObject,
    })),
  );
}

/** Drops the two labels only Helm adds (after checking every object has them). */
function withoutHelmLabels(o: K8sObject): K8sObject {
  const c = structuredClone(o);
  const labels = c.metadata?.labels ?? {};
  expect(labels['helm.sh/chart'], `${o.kind} ${o.metadata?.name}`).toBe(`csi-lvm-iscsi-${chart['version']}`);
  expect(labels['app.kubernetes.io/managed-by'], `${o.kind} ${o.metadata?.name}`).toBe('Helm');
  delete labels['helm.sh/chart'];
  delete labels['app.kubernetes.io/managed-by'];
  return c;
}
const key = (o: K8sObject) => `${o.kind}/${o.metadata?.name}`;
const byKey = (list: K8sObject[]) => [...list].sort((a, b) => key(a).localeCompare(key(b)));

function variant(f: (v: Record<string, any>) => void): Record<string, any> {
  const v = structuredClone(defaults);
  f(v);
  return v;
}

describe('chart metadata and values', () => {
  it('Chart.yaml: apiVersion v2, the package version as appVersion', () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(chart['apiVersion']).toBe('v2');
    expect(chart['name']).toBe('csi-lvm-iscsi');
    expect(chart['version']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(chart['appVersion']).toBe(pkg.version);
    expect(defaults['image'].tag).toBe(pkg.version);
  });

  it('values.yaml passes values.schema.json (draft-07, closed objects)', () => {
    expect((schema as { $schema: string }).$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schemaErrors(defaults)).toEqual([]);
  });

  it.each([
    ['an unknown top-level key', (v: any) => (v.replicas = 2), /must NOT have additional properties.*replicas/],
    ['a misspelled nested key', (v: any) => (v.agent.volumeGroup = ['vg0']), /additionalProperty.*volumeGroup"/],
    [
      'a sidecar on latest',
      (v: any) => (v.sidecars.provisioner.tag = 'latest'),
      /sidecars\/provisioner\/tag must match pattern/,
    ],
    [
      'a log level the plugin lacks',
      (v: any) => (v.logLevel = 'verbose'),
      /logLevel must be equal to one of the allowed values/,
    ],
    ['a port out of range', (v: any) => (v.agent.apiPort = 70000), /agent\/apiPort must be <= 65535/],
    [
      'a StorageClass parameter the plugin does not know',
      (v: any) => (v.storageClasses[0].parameters.lvmTyp = 'thin'),
      /storageClasses\/0\/parameters.*property name must be valid/,
    ],
    [
      'a number where Kubernetes needs a string',
      (v: any) => (v.storageClasses[2].parameters.mirrors = 1),
      /storageClasses\/2\/parameters\/mirrors must be string/,
    ],
    [
      'static discovery without agents',
      (v: any) => (v.controller.agentDiscovery = 'static'),
      /controller\/agents must NOT have fewer than 1 items/,
    ],
  ])('values.schema.json rejects %s', (_, f, message) => {
    expect(schemaErrors(variant(f)).join('\n')).toMatch(message);
  });

  it("the schema's StorageClass parameter names are exactly the ones src/agent/params.ts knows", () => {
    const names = (schema as any).definitions.storageClass.properties.parameters.propertyNames.enum as string[];
    let message = '';
    try {
      parseVolumeParams({ notAParameter: 'x' }, { volumeGroups: ['vg'], thinPoolConfigured: () => true });
    } catch (e) {
      message = (e as Error).message;
    }
    // "unknown parameter; known: lvmType, volumeGroup, ..." lists the parser's keys.
    const known = /unknown parameter; known: (.*)$/.exec(message)?.[1]?.split(', ') ?? [];
    expect(known.length).toBeGreaterThan(0);
    expect(names.filter((x) => !x.startsWith('csi.storage.k8s.io/')).sort()).toEqual([...known].sort());
  });
});

describe('chart templates', () => {
  let rendered: Labelled[];
  beforeAll(() => {
    rendered = render(defaults);
  });

  it('every template renders with the default values, NOTES.txt included', () => {
    expect(TEMPLATES).toEqual([
      'NOTES.txt',
      'agent.yaml',
      'controller.yaml',
      'csidriver.yaml',
      'node.yaml',
      'rbac-controller.yaml',
      'rbac-node.yaml',
      'storageclasses.yaml',
      'volumesnapshotclass.yaml',
    ]);
    expect(renderTemplate(read('templates/NOTES.txt'), context(defaults))).toContain(
      'kubectl label node NODE lvm-iscsi.csi.example.org/storage-node=true',
    );
  });

  it('with the default values makes exactly the objects of deploy/ (less the Namespace: helm install --namespace)', () => {
    const kustomization = parseYamlDocs(readFileSync(resolve(ROOT, 'deploy/kustomization.yaml'), 'utf8'), 'k')[0] as {
      resources: string[];
    };
    const deploy = kustomization.resources
      .flatMap((r) => loadObjects(`deploy/${r}`))
      .map((l) => l.obj)
      .filter((o) => o.kind !== 'Namespace');
    const chartObjects = rendered.map((l) => withoutHelmLabels(l.obj));
    expect(byKey(chartObjects).map(key)).toEqual(byKey(deploy).map(key));
    // Field for field: images, args, env, ports, probes, mounts, volumes, RBAC rules, parameters.
    expect(byKey(chartObjects)).toEqual(byKey(deploy));
  });

  it('with other values still makes valid objects, as asked', async () => {
    const values = variant((v) => {
      v.controller.healthMonitor.enabled = false;
      v.controller.agentDiscovery = 'static';
      v.controller.agents = ['storage-1=10.0.0.11:9809', 'storage-2=10.0.0.12:9809'];
      v.volumeSnapshotClass.enabled = false;
      v.storageClasses = [
        {
          name: 'fast',
          parameters: { lvmType: 'thick', stripes: '2', stripeSize: '64k' },
          reclaimPolicy: 'Retain',
          volumeBindingMode: 'Immediate',
        },
      ];
      v.agent.volumeGroups = ['vg-a', 'vg-b'];
      v.node.kubeletDir = '/var/lib/k0s/kubelet';
      v.node.chapNodeKeyDir = '/var/lib/csi-keys';
      v.logLevel = 'debug';
    });
    expect(schemaErrors(values)).toEqual([]);
    const objects = render(values);
    const typed = typeCheckObjects(objects);
    expect([
      ...(await validateWithModels(objects)),
      ...[...typed.values()].flat(),
      ...validateSnapshotObjects(objects),
    ]).toEqual([]);

    const kinds = objects.map((l) => key(l.obj));
    expect(kinds).not.toContain('ClusterRole/csi-lvm-iscsi-health-monitor');
    expect(kinds).not.toContain('VolumeSnapshotClass/csi-lvm-iscsi-snapclass');
    expect(kinds.filter((k) => k.startsWith('StorageClass/'))).toEqual(['StorageClass/fast']);
    const pod = (name: string) => (objects.find((l) => l.obj.metadata?.name === name)?.obj as any).spec.template.spec;
    const controller = pod('csi-lvm-iscsi-controller').containers;
    expect(controller.map((c: any) => c.name)).not.toContain('csi-external-health-monitor-controller');
    const args: string[] = controller[0].args;
    const cfg = loadConfig({
      argv: args.map((a) => a.replace('$(NODE_NAME)', 'n1').replace('$(POD_NAMESPACE)', NAMESPACE)),
      env: {},
    });
    if (cfg.help) throw new Error('help');
    expect(cfg.config.agentDiscovery).toBe('static');
    expect(cfg.config.agents.map((a) => a.node)).toEqual(['storage-1', 'storage-2']);
    expect(cfg.config.logLevel).toBe('debug');
    expect(pod('csi-lvm-iscsi-agent').containers[0].args).toContain('--volume-group=vg-a,vg-b');
    const node = pod('csi-lvm-iscsi-node');
    expect(node.containers[1].args).toContain(
      '--kubelet-registration-path=/var/lib/k0s/kubelet/plugins/lvm-iscsi.csi.example.org/csi.sock',
    );
    expect(node.containers[0].args).toEqual(
      expect.arrayContaining(['--kubelet-dir=/var/lib/k0s/kubelet', '--restrict-paths-to-kubelet-dir=true']),
    );
    expect(node.containers[0].args).toContain('--chap-node-key-file=/etc/csi-lvm-iscsi/chap-node-key.json');
    expect(node.volumes.find((x: any) => x.name === 'chap-node-key').hostPath).toEqual({
      path: '/var/lib/csi-keys',
      type: 'DirectoryOrCreate',
    });
    expect(node.containers[0].volumeMounts.find((m: any) => m.name === 'kubelet-dir')).toEqual({
      name: 'kubelet-dir',
      mountPath: '/var/lib/k0s/kubelet',
      mountPropagation: 'Bidirectional',
    });
    const sc = objects.find((l) => l.obj.kind === 'StorageClass')?.obj as any;
    expect(sc.parameters).toEqual({
      lvmType: 'thick',
      stripes: '2',
      stripeSize: '64k',
      'csi.storage.k8s.io/controller-publish-secret-name': 'csi-lvm-iscsi-chap',
      'csi.storage.k8s.io/controller-publish-secret-namespace': NAMESPACE,
      'csi.storage.k8s.io/node-stage-secret-name': 'csi-lvm-iscsi-chap',
      'csi.storage.k8s.io/node-stage-secret-namespace': NAMESPACE,
    });
  });
});

describe('chart: per-node CHAP key directory', () => {
  it('node.chapNodeKeyDir empty: no key file flag, mount or volume; the objects stay valid', async () => {
    const values = variant((v) => {
      v.node.chapNodeKeyDir = '';
    });
    expect(schemaErrors(values)).toEqual([]);
    const objects = render(values);
    expect(await validateWithModels(objects)).toEqual([]);
    const node = (objects.find((l) => l.obj.metadata?.name === 'csi-lvm-iscsi-node')?.obj as any).spec.template.spec;
    expect(node.containers[0].args.some((a: string) => a.startsWith('--chap-node-key-file'))).toBe(false);
    expect(node.containers[0].volumeMounts.map((m: any) => m.name)).not.toContain('chap-node-key');
    expect(node.volumes.map((x: any) => x.name)).not.toContain('chap-node-key');
  });

  it('a relative chapNodeKeyDir is refused by the schema', () => {
    expect(
      schemaErrors(
        variant((v) => {
          v.node.chapNodeKeyDir = 'etc/keys';
        }),
      ),
    ).not.toEqual([]);
  });
});

describe('the minimal Go-template renderer (helm-render.ts)', () => {
  const ctx = context({
    a: { b: 'x', n: 3, list: ['p', 'q'], empty: [], on: true, off: false, m: { k: 'v', 'x.y/z': '1' } },
  });
  const r = (t: string) => renderTemplate(t, ctx);

  it('renders values, trims whitespace, branches and loops as Go templates do', () => {
    expect(r('a: {{ .Values.a.b }}\nns: {{ .Release.Namespace }}')).toBe(`a: x\nns: ${NAMESPACE}`);
    expect(r('x:\n  {{- if .Values.a.on }}\n  y: 1\n  {{- end }}\nz: 2')).toBe('x:\n  y: 1\nz: 2');
    expect(r('x:\n  {{- if .Values.a.off }}\n  y: 1\n  {{- else }}\n  y: 0\n  {{- end }}')).toBe('x:\n  y: 0');
    expect(r('{{- range .Values.a.list }}\n- {{ . }} {{ $.Values.a.n }}\n{{- end }}')).toBe('\n- p 3\n- q 3');
    expect(r('{{- range .Values.a.empty }}x{{- end }}{{ if .Values.a.empty }}y{{ end }}')).toBe('');
    expect(r('m:\n  {{- toYaml .Values.a.m | nindent 2 }}')).toBe('m:\n  k: v\n  x.y/z: "1"');
    expect(r('{{ join "," .Values.a.list }} {{ .Values.a.b | quote }} {{ if eq .Values.a.b "x" }}eq{{ end }}')).toBe(
      'p,q "x" eq',
    );
    expect(r('{{/* a comment */}}ok')).toBe('ok');
  });

  it('refuses what it does not implement and values that do not exist', () => {
    expect(() => r('{{ .Values.a.missing }}')).toThrow(TemplateError);
    expect(() => r('{{ include "x" . }}')).toThrow(/outside the supported subset/);
    expect(() => r('{{- range $k, $v := .Values.a.m }}{{ end }}')).toThrow(/variables/);
    expect(() => r('{{ .Values.a.b | upper }}')).toThrow(/unknown function upper/);
    expect(() => r('{{ .Values.a.m }}')).toThrow(/toYaml/);
    expect(() => r('{{ if .Values.a.on }}x')).toThrow(/missing/);
  });
});

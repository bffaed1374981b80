// The CRDs in crds/ against a real Kubernetes 1.20 apiserver, applied with Debian's kubectl 1.20: they
// become Established, the guides' Argo manifests apply unchanged and nothing in them is pruned, invalid
// manifests are rejected by the server's schema validation with the field named, and the printer columns,
// short names and the status/scale subresources behave as Argo's.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../../cluster/kube-client.ts';
import { kubectl } from '../../cluster/kubectl.ts';
import { createTestNamespace, testClient, testKubeconfig, useNamespace } from '../../cluster/namespace.ts';
import { REPO_ROOT } from '../../cluster/paths.ts';

const CRDS_DIR = join(REPO_ROOT, 'crds');
const GUIDES_DIR = join(REPO_ROOT, 'test', 'fixtures', 'guides');
const CRD_NAMES = [
  'rollouts.argoproj.io',
  'analysistemplates.argoproj.io',
  'clusteranalysistemplates.argoproj.io',
  'analysisruns.argoproj.io',
  'experiments.argoproj.io',
];
const API = '/apis/argoproj.io/v1alpha1';

type Json = Record<string, unknown>;

let kubeconfig: string;
let client: KubeClient;
// Applying the CRDs is this file's subject, so its beforeAll applies them itself (not useNamespace's crds).
const ns = useNamespace('crds');

/** The guide's manifest text with its namespace (e-commerce) replaced by the test namespace, nothing else. */
async function guideManifest(file: string): Promise<string> {
  const text = await readFile(join(GUIDES_DIR, file), 'utf8');
  return text.replaceAll(/^(\s+namespace:) e-commerce$/gm, `$1 ${ns.name}`);
}

function documents(text: string): Json[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as Json);
}

async function apply(manifest: string, extraArgs: string[] = []) {
  return await kubectl(kubeconfig, ['apply', '-n', ns.name, ...extraArgs, '-f', '-'], { input: manifest });
}

/**
 * Applies with client-side validation off, so any rejection comes from the apiserver's schema. Sent as JSON:
 * kubectl reads YAML 1.1, where an unquoted `yes` would arrive as a boolean.
 */
async function applyServerValidated(doc: Json) {
  return await apply(JSON.stringify(doc), ['--validate=false']);
}

/**
 * A field path as the apiserver names it in a validation error. Kubernetes 1.20 drops list indexes
 * (`spec.metrics.provider`); later versions keep them (`spec.metrics[0].provider`): both match.
 */
function fieldPattern(path: string): RegExp {
  const escaped = path.replaceAll('.', '\\.').replaceAll(/\[(\d+)\]/g, '(\\[$1\\])?');
  return new RegExp(escaped);
}

const baseRollout = (name: string): Json => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'app', image: 'example.com/app:v1' }] },
    },
    strategy: { canary: { steps: [{ setWeight: 20 }, { pause: { duration: '30s' } }] } },
  },
});

const baseTemplate = (name: string): Json => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name },
  spec: {
    args: [{ name: 'service' }],
    metrics: [
      {
        name: 'success-rate',
        interval: '30s',
        count: 3,
        successCondition: 'result[0] >= 0.95',
        failureLimit: 1,
        provider: {
          prometheus: { address: 'http://prometheus:9090', query: 'up{service="{{args.service}}"}' },
        },
      },
    ],
  },
});

/** Deep copy with a mutation applied at a path of object keys / array indexes. */
function withChange(doc: Json, path: (string | number)[], value: unknown): Json {
  const copy = structuredClone(doc);
  let node: unknown = copy;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete (node as Record<string | number, unknown>)[last];
  else (node as Record<string | number, unknown>)[last] = value;
  return copy;
}

beforeAll(async () => {
  kubeconfig = testKubeconfig();
  client = await testClient();
  const applied = await kubectl(kubeconfig, ['apply', '-f', CRDS_DIR]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  const established = await kubectl(
    kubeconfig,
    ['wait', '--for=condition=Established', '--timeout=60s', ...CRD_NAMES.map((name) => `crd/${name}`)],
    { timeoutMs: 70_000 },
  );
  expect(established.code, established.stderr).toBe(0);
});

afterAll(async () => {
  await client?.close();
});

describe('CRD installation', () => {
  it('installs all five CRDs as Established with their names accepted', async () => {
    for (const name of CRD_NAMES) {
      const crd = await client.get(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conditions = ((crd.status as Json).conditions as Json[]).map((c) => `${c.type}=${c.status}`);
      expect(conditions, name).toEqual(expect.arrayContaining(['Established=True', 'NamesAccepted=True']));
      expect(conditions, name).not.toContain('NonStructuralSchema=True');
    }
  });

  it('is idempotent: applying crds/ again changes nothing', async () => {
    const again = await kubectl(kubeconfig, ['apply', '-f', CRDS_DIR]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n')).toHaveLength(5);
    for (const line of again.stdout.trim().split('\n')) expect(line).toMatch(/unchanged$/);
  });

  it('registers the short names ro, at, cat, ar and exp', async () => {
    const resources = await kubectl(kubeconfig, ['api-resources', '--api-group=argoproj.io', '--no-headers']);
    expect(resources.code).toBe(0);
    const rows = resources.stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/));
    const byName = new Map(rows.map((cols) => [cols[0], cols]));
    expect(byName.get('rollouts')).toEqual(['rollouts', 'ro', 'argoproj.io/v1alpha1', 'true', 'Rollout']);
    expect(byName.get('analysistemplates')).toEqual([
      'analysistemplates',
      'at',
      'argoproj.io/v1alpha1',
      'true',
      'AnalysisTemplate',
    ]);
    expect(byName.get('clusteranalysistemplates')).toEqual([
      'clusteranalysistemplates',
      'cat',
      'argoproj.io/v1alpha1',
      'false',
      'ClusterAnalysisTemplate',
    ]);
    expect(byName.get('analysisruns')).toEqual([
      'analysisruns',
      'ar',
      'argoproj.io/v1alpha1',
      'true',
      'AnalysisRun',
    ]);
    expect(byName.get('experiments')).toEqual([
      'experiments',
      'exp',
      'argoproj.io/v1alpha1',
      'true',
      'Experiment',
    ]);
  });
});

describe("Argo manifests (the guides', and every documented field)", () => {
  it('apply unchanged with kubectl, and the server stores every field of each Argo object (nothing pruned)', async () => {
    const files = (await readdir(GUIDES_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThanOrEqual(6);
    // The two canary guides declare the same Rollout name; apply each in its own namespace.
    for (const file of files) {
      const own = await createTestNamespace(client, `guide-${file.replace(/\.yaml$/, '')}`);
      try {
        const text = (await readFile(join(GUIDES_DIR, file), 'utf8')).replaceAll(
          /^(\s+namespace:) e-commerce$/gm,
          `$1 ${own.name}`,
        );
        const result = await kubectl(kubeconfig, ['apply', '-n', own.name, '-f', '-'], { input: text });
        expect(result.stderr, file).toBe('');
        expect(result.code, file).toBe(0);
        for (const doc of documents(text)) {
          const metadata = doc.metadata as Json;
          expect(result.stdout, file).toContain(`/${String(metadata.name)} created`);
          if (doc.apiVersion !== 'argoproj.io/v1alpha1') continue;
          const plural = doc.kind === 'Rollout' ? 'rollouts' : 'analysistemplates';
          const stored = await client.get(`${API}/namespaces/${own.name}/${plural}/${String(metadata.name)}`);
          expect(stored.spec, `${file}: ${String(doc.kind)} spec as stored`).toEqual(doc.spec);
        }
      } finally {
        await own.delete();
      }
    }
  });

  it('keeps int-or-string fields as written: pause duration 3600 and "10m", failureLimit 2', async () => {
    await apply(await guideManifest('http-kpi-analysis-template.yaml'));
    const canary = await apply(await guideManifest('canary-analysis-rollout.yaml'));
    expect(canary.code, canary.stderr).toBe(0);
    const rollout = await client.get(`${API}/namespaces/${ns.name}/rollouts/payment-service-rollout`);
    const steps = ((rollout.spec as Json).strategy as Json).canary as Json;
    expect((steps.steps as Json[])[2]).toEqual({ pause: { duration: '10m' } });
    const template = await client.get(`${API}/namespaces/${ns.name}/analysistemplates/http-kpi-analysis`);
    const metrics = (template.spec as Json).metrics as Json[];
    expect(metrics.map((m) => m.failureLimit)).toEqual([2, 1]);

    const nginx = await apply(await guideManifest('canary-nginx-rollout.yaml'));
    expect(nginx.code, nginx.stderr).toBe(0);
    const updated = await client.get(`${API}/namespaces/${ns.name}/rollouts/payment-service-rollout`);
    const nginxSteps = (((updated.spec as Json).strategy as Json).canary as Json).steps as Json[];
    expect(nginxSteps[3]).toEqual({ pause: { duration: 3600 } });
  });

  it('stores every documented Argo field as written (test/fixtures/crds/every-field.yaml)', async () => {
    const text = await readFile(join(REPO_ROOT, 'test', 'fixtures', 'crds', 'every-field.yaml'), 'utf8');
    const result = await apply(text);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const plurals: Record<string, string> = {
      Rollout: 'rollouts',
      AnalysisTemplate: 'analysistemplates',
      AnalysisRun: 'analysisruns',
      Experiment: 'experiments',
    };
    const docs = documents(text);
    expect(docs.map((d) => d.kind)).toEqual([
      'Rollout',
      'Rollout',
      'AnalysisTemplate',
      'AnalysisRun',
      'Experiment',
    ]);
    for (const doc of docs) {
      const name = String((doc.metadata as Json).name);
      const stored = await client.get(`${API}/namespaces/${ns.name}/${plurals[String(doc.kind)]}/${name}`);
      expect(stored.spec, `${String(doc.kind)} ${name}`).toEqual(doc.spec);
    }
  });

  it('shows the Argo printer columns in kubectl get ro', async () => {
    const bg = await apply(await guideManifest('blue-green-rollout.yaml'));
    expect(bg.code, bg.stderr).toBe(0);
    const got = await kubectl(kubeconfig, ['get', 'ro', '-n', ns.name, 'order-processor-rollout']);
    expect(got.code, got.stderr).toBe(0);
    const [header, row] = got.stdout.trim().split('\n');
    expect(header?.trim().split(/\s+/)).toEqual([
      'NAME',
      'DESIRED',
      'CURRENT',
      'UP-TO-DATE',
      'AVAILABLE',
      'AGE',
    ]);
    // No controller has written status: the status columns are empty (<none> is not printed for integers).
    expect(row?.trim().split(/\s+/).slice(0, 2)).toEqual(['order-processor-rollout', '8']);
  });
});

describe('server-side schema validation (kubectl --validate=false, so only the apiserver judges)', () => {
  const rejected: {
    what: string;
    kind: 'rollout' | 'template';
    path: (string | number)[];
    value: unknown;
    field: string;
  }[] = [
    {
      what: 'replicas as a word',
      kind: 'rollout',
      path: ['spec', 'replicas'],
      value: 'three',
      field: 'spec.replicas',
    },
    {
      what: 'setWeight as a word',
      kind: 'rollout',
      path: ['spec', 'strategy', 'canary', 'steps', 0, 'setWeight'],
      value: 'ten',
      field: 'spec.strategy.canary.steps[0].setWeight',
    },
    {
      what: 'pause duration that is neither integer nor string',
      kind: 'rollout',
      path: ['spec', 'strategy', 'canary', 'steps', 1, 'pause', 'duration'],
      value: true,
      field: 'spec.strategy.canary.steps[1].pause.duration',
    },
    {
      what: 'blueGreen without activeService',
      kind: 'rollout',
      path: ['spec', 'strategy'],
      value: { blueGreen: { previewService: 'preview' } },
      field: 'spec.strategy.blueGreen.activeService',
    },
    {
      what: 'a pod template without containers',
      kind: 'rollout',
      path: ['spec', 'template', 'spec'],
      value: { restartPolicy: 'Always' },
      field: 'spec.template.spec.containers',
    },
    {
      what: 'a container without a name',
      kind: 'rollout',
      path: ['spec', 'template', 'spec', 'containers', 0],
      value: { image: 'example.com/app:v1' },
      field: 'spec.template.spec.containers[0].name',
    },
    {
      what: 'maxSurge as a boolean',
      kind: 'rollout',
      path: ['spec', 'strategy', 'canary', 'maxSurge'],
      value: false,
      field: 'spec.strategy.canary.maxSurge',
    },
    {
      what: 'paused as a string',
      kind: 'rollout',
      path: ['spec', 'paused'],
      value: 'enabled',
      field: 'spec.paused',
    },
    {
      what: 'an analysis arg without a name',
      kind: 'rollout',
      path: ['spec', 'strategy', 'canary', 'analysis'],
      value: { templates: [{ templateName: 'x' }], args: [{ value: 'v' }] },
      field: 'spec.strategy.canary.analysis.args[0].name',
    },
    {
      what: 'a metric without a provider',
      kind: 'template',
      path: ['spec', 'metrics', 0, 'provider'],
      value: undefined,
      field: 'spec.metrics[0].provider',
    },
    {
      what: 'a metric without a name',
      kind: 'template',
      path: ['spec', 'metrics', 0, 'name'],
      value: undefined,
      field: 'spec.metrics[0].name',
    },
    {
      what: 'count as a boolean',
      kind: 'template',
      path: ['spec', 'metrics', 0, 'count'],
      value: true,
      field: 'spec.metrics[0].count',
    },
    {
      what: 'a web provider without url',
      kind: 'template',
      path: ['spec', 'metrics', 0, 'provider'],
      value: { web: { jsonPath: '{$.ok}' } },
      field: 'spec.metrics[0].provider.web.url',
    },
  ];

  for (const testCase of rejected) {
    it(`rejects ${testCase.what}, naming the field`, async () => {
      const base = testCase.kind === 'rollout' ? baseRollout('invalid-ro') : baseTemplate('invalid-at');
      const result = await applyServerValidated(withChange(base, testCase.path, testCase.value));
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/is invalid/);
      expect(result.stderr).toMatch(fieldPattern(testCase.field));
    });
  }

  it('accepts the unmodified base objects (the rejections above are caused by the change alone)', async () => {
    const ro = await applyServerValidated(baseRollout('valid-ro'));
    expect(ro.code, ro.stderr).toBe(0);
    const at = await applyServerValidated(baseTemplate('valid-at'));
    expect(at.code, at.stderr).toBe(0);
  });

  it('rejects an AnalysisRun without metrics and an Experiment template without a selector', async () => {
    const run = await applyServerValidated({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'no-metrics' },
      spec: { args: [{ name: 'a', value: 'b' }] },
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/spec\.metrics/);
    const experiment = await applyServerValidated({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Experiment',
      metadata: { name: 'no-selector' },
      spec: {
        templates: [
          {
            name: 'baseline',
            template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
          },
        ],
      },
    });
    expect(experiment.code).not.toBe(0);
    expect(experiment.stderr).toMatch(fieldPattern('spec.templates[0].selector'));
  });

  it('prunes unknown fields outside the pod template, as Argo does, and keeps unknown pod-spec fields', async () => {
    const doc = withChange(baseRollout('pruned-ro'), ['spec', 'notAField'], 'x');
    const spec = (doc.spec as Json).template as Json;
    (spec.spec as Json).dnsPolicy = 'ClusterFirst';
    const result = await applyServerValidated(doc);
    expect(result.code, result.stderr).toBe(0);
    const stored = await client.get(`${API}/namespaces/${ns.name}/rollouts/pruned-ro`);
    expect(stored.spec as Json).not.toHaveProperty('notAField');
    expect(((stored.spec as Json).template as Json).spec).toHaveProperty('dnsPolicy', 'ClusterFirst');
  });
});

describe('subresources', () => {
  it('writes status only through the status subresource and types status.observedGeneration as a string', async () => {
    const created = await applyServerValidated({ ...baseRollout('status-ro'), status: { phase: 'Healthy' } });
    expect(created.code, created.stderr).toBe(0);
    const path = `${API}/namespaces/${ns.name}/rollouts/status-ro`;
    expect((await client.get(path)).status).toBeUndefined();

    await client.mergePatch(`${path}/status`, {
      status: {
        phase: 'Progressing',
        observedGeneration: '1',
        replicas: 2,
        updatedReplicas: 1,
        availableReplicas: 1,
      },
    });
    const stored = await client.get(path);
    expect(stored.status).toMatchObject({ phase: 'Progressing', observedGeneration: '1', replicas: 2 });

    const wrong = await client.raw(
      'PATCH',
      `${path}/status`,
      { status: { observedGeneration: 1 } },
      'application/merge-patch+json',
    );
    expect(wrong.status).toBe(422);
    expect(JSON.stringify(wrong.body)).toMatch(/status\.observedGeneration/);

    const columns = await kubectl(kubeconfig, ['get', 'ro', '-n', ns.name, 'status-ro', '--no-headers']);
    expect(columns.stdout.trim().split(/\s+/).slice(0, 5)).toEqual(['status-ro', '2', '2', '1', '1']);
  });

  it('rejects a condition without Argo’s required fields', async () => {
    const path = `${API}/namespaces/${ns.name}/rollouts/status-ro`;
    const result = await client.raw(
      'PATCH',
      `${path}/status`,
      { status: { conditions: [{ type: 'Available', status: 'True' }] } },
      'application/merge-patch+json',
    );
    expect(result.status).toBe(422);
    const message = JSON.stringify(result.body);
    for (const field of ['lastTransitionTime', 'lastUpdateTime', 'message', 'reason']) {
      expect(message).toMatch(fieldPattern(`status.conditions[0].${field}`));
    }
  });

  it('serves the scale subresource from spec.replicas, status.HPAReplicas and status.selector (kubectl scale works)', async () => {
    const created = await applyServerValidated(baseRollout('scale-ro'));
    expect(created.code, created.stderr).toBe(0);
    const path = `${API}/namespaces/${ns.name}/rollouts/scale-ro`;
    await client.mergePatch(`${path}/status`, { status: { HPAReplicas: 2, selector: 'app=scale-ro' } });
    const scaled = await kubectl(kubeconfig, ['scale', '-n', ns.name, 'ro/scale-ro', '--replicas=5']);
    expect(scaled.code, scaled.stderr).toBe(0);
    const scale = await client.get(`${path}/scale`);
    expect(scale.spec).toEqual({ replicas: 5 });
    expect(scale.status).toEqual({ replicas: 2, selector: 'app=scale-ro' });
    expect(((await client.get(path)).spec as Json).replicas).toBe(5);
  });

  it('shows Status in kubectl get ar and exp', async () => {
    const run = await applyServerValidated({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'run-1' },
      spec: { metrics: [{ name: 'm', provider: { web: { url: 'http://127.0.0.1:1/' } } }] },
    });
    expect(run.code, run.stderr).toBe(0);
    await client.mergePatch(`${API}/namespaces/${ns.name}/analysisruns/run-1/status`, {
      status: { phase: 'Running', startedAt: new Date().toISOString() },
    });
    const got = await kubectl(kubeconfig, ['get', 'ar', '-n', ns.name, 'run-1']);
    const [header, row] = got.stdout.trim().split('\n');
    expect(header?.trim().split(/\s+/)).toEqual(['NAME', 'STATUS', 'AGE']);
    expect(row?.trim().split(/\s+/).slice(0, 2)).toEqual(['run-1', 'Running']);

    const exp = await applyServerValidated({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Experiment',
      metadata: { name: 'exp-1' },
      spec: {
        duration: '1m',
        templates: [
          {
            name: 'baseline',
            selector: { matchLabels: { app: 'exp' } },
            template: {
              metadata: { labels: { app: 'exp' } },
              spec: { containers: [{ name: 'c', image: 'i' }] },
            },
          },
        ],
      },
    });
    expect(exp.code, exp.stderr).toBe(0);
    const exps = await kubectl(kubeconfig, ['get', 'exp', '-n', ns.name, 'exp-1']);
    expect(exps.stdout.trim().split('\n')[0]?.trim().split(/\s+/)).toEqual(['NAME', 'STATUS', 'AGE']);
  });

  it('makes ClusterAnalysisTemplate cluster-scoped (kubectl get cat)', async () => {
    const name = `${ns.name}-cat`;
    const result = await kubectl(kubeconfig, ['apply', '--validate=false', '-f', '-'], {
      input: JSON.stringify({ ...baseTemplate(name), kind: 'ClusterAnalysisTemplate' }),
    });
    expect(result.code, result.stderr).toBe(0);
    try {
      const got = await kubectl(kubeconfig, ['get', 'cat', name, '-o', 'jsonpath={.metadata.namespace}']);
      expect(got.code, got.stderr).toBe(0);
      expect(got.stdout).toBe('');
    } finally {
      await kubectl(kubeconfig, ['delete', 'cat', name, '--wait=false']);
    }
  });
});

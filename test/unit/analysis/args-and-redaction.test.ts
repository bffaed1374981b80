import { describe, expect, it } from 'vitest';
import {
  buildAnalysisRun,
  flattenTemplates,
  mergeArgs,
  resolveFieldPath,
  resolveRunArgs,
  substituteMetricArgs,
  substituteTemplate,
} from '../../../src/analysis/args.ts';
import { redact } from '../../../src/analysis/redact.ts';
import { parseAnalysisRun, validateMetrics } from '../../../src/api/analysis-run.ts';
import { type AnalysisTemplate, parseAnalysisTemplate } from '../../../src/api/analysis-template.ts';
import { formatDurationMs, parseDuration } from '../../../src/api/duration.ts';

describe('Argo duration strings', () => {
  it.each([
    ['30s', 30_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['500ms', 500],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['0', 0],
    ['-2m', -120_000],
    ['250us', 0.25],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
  it.each(['', '30', '5 minutes', '1d', 'm', '1m30'])('%j is rejected', (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });
  it('formats durations like Go', () => {
    expect(formatDurationMs(90_000)).toBe('1m30s');
    expect(formatDurationMs(500)).toBe('500ms');
    expect(formatDurationMs(3_600_000)).toBe('1h0m0s');
  });
});

const template = (
  name: string,
  spec: Record<string, unknown>,
  kind = 'AnalysisTemplate',
): AnalysisTemplate => {
  const parsed = parseAnalysisTemplate({
    apiVersion: 'argoproj.io/v1alpha1',
    kind,
    metadata: { name },
    spec,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
};
const webMetric = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  provider: { web: { url: 'http://x/' } },
  ...extra,
});

describe('parsing manifests', () => {
  it('parses the guide template', () => {
    const t = template('http-kpi-analysis', {
      metrics: [
        {
          name: 'error-rate',
          interval: '1m',
          successCondition: 'result[0] < 0.01',
          failureLimit: 2,
          provider: { prometheus: { address: 'http://p:9090', query: 'up' } },
        },
      ],
    });
    expect(t.spec.metrics[0]).toMatchObject({ name: 'error-rate', interval: '1m', failureLimit: 2 });
  });

  it.each([
    [{ metrics: [{ provider: { web: {} } }] }, 'spec.metrics[0].name', 'is required'],
    [{ metrics: [{ name: 'a' }] }, 'spec.metrics[0].provider', 'is required'],
    [
      { metrics: [{ name: 'a', interval: 5, provider: { web: {} } }] },
      'spec.metrics[0].interval',
      'must be a string',
    ],
    [
      { metrics: [{ name: 'a', count: 1.5, provider: { web: {} } }] },
      'spec.metrics[0].count',
      'must be an integer',
    ],
    [
      { metrics: [{ name: 'a', intervall: '1m', provider: { web: {} } }] },
      'spec.metrics[0].intervall',
      'unknown field',
    ],
    [{ metrics: [webMetric('a')], args: [{ name: 'x' }, { name: 'x' }] }, 'spec.args[1].name', 'duplicate'],
    [{ metrics: [webMetric('a')], args: [{ name: 'x', valueFrom: {} }] }, 'spec.args[0].valueFrom', 'one of'],
    [
      { metrics: [webMetric('a')], measurementRetention: [{ metricName: 'a', limit: -1 }] },
      'spec.measurementRetention[0].limit',
      'non-negative',
    ],
    [{}, 'spec.metrics', 'is required'],
  ])('names the field of a structural error (%#)', (spec, field, message) => {
    const parsed = parseAnalysisTemplate({ kind: 'AnalysisTemplate', metadata: { name: 't' }, spec });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.field).toBe(field);
      expect(parsed.error.message).toContain(message);
    }
  });

  it('rejects other kinds and parses AnalysisRun', () => {
    expect(parseAnalysisTemplate({ kind: 'Rollout', spec: {} }).ok).toBe(false);
    const run = parseAnalysisRun({
      kind: 'AnalysisRun',
      metadata: { name: 'r' },
      spec: { metrics: [webMetric('a')], terminate: true },
    });
    expect(run.ok && run.value.spec.terminate).toBe(true);
    const badRun = parseAnalysisRun({
      kind: 'AnalysisRun',
      spec: { metrics: [webMetric('a')], terminate: 'yes' },
    });
    expect(!badRun.ok && badRun.error.field).toBe('spec.terminate');
  });

  it('validateMetrics applies defaults and effective count', () => {
    const v = validateMetrics([
      { name: 'once', provider: { web: {} } },
      { name: 'forever', interval: '1m', provider: { web: {} } },
      { name: 'three', interval: '1m', count: '3', provider: { web: {} } },
    ]);
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.settings.map((s) => s.effectiveCount)).toEqual([1, undefined, 3]);
      expect(v.settings[0]).toMatchObject({
        failureLimit: 0,
        inconclusiveLimit: 0,
        consecutiveErrorLimit: 4,
        consecutiveSuccessLimit: 0,
      });
    }
  });
});

describe('args', () => {
  it('substitutes {{args.x}} JSON-escaped, keeps other tags, errors on unknown args', () => {
    expect(substituteTemplate('a {{ args.x }} {{other}}', { x: 'say "hi"' })).toEqual({
      ok: true,
      value: 'a say \\"hi\\" {{other}}',
    });
    expect(substituteTemplate('{{args.y}}', {})).toEqual({
      ok: false,
      error: 'failed to resolve {{args.y}}',
    });
  });

  it('substitutes into every string of a metric, quotes included', () => {
    const m = substituteMetricArgs(
      {
        name: 'm',
        successCondition: 'result[0] < {{args.limit}}',
        provider: { prometheus: { query: 'up{app="{{args.app}}"}' } },
      },
      { limit: '0.01', app: 'payment-service' },
    );
    expect(m).toEqual({
      ok: true,
      value: {
        name: 'm',
        successCondition: 'result[0] < 0.01',
        provider: { prometheus: { query: 'up{app="payment-service"}' } },
      },
    });
  });

  it('mergeArgs overrides only declared args and requires every arg to be resolved', () => {
    expect(
      mergeArgs(
        [
          { name: 'a', value: '1' },
          { name: 'zzz', value: '2' },
        ],
        [{ name: 'a' }, { name: 'b', value: 'd' }],
      ),
    ).toEqual({
      ok: true,
      value: [
        { name: 'a', value: '1' },
        { name: 'b', value: 'd' },
      ],
    });
    expect(mergeArgs([], [{ name: 'service' }])).toEqual({
      ok: false,
      error: 'args.service was not resolved',
    });
  });

  it('resolves fieldRef paths against an object', () => {
    const rollout = {
      metadata: { name: 'r', labels: { app: 'pay' } },
      spec: { template: { spec: { containers: [{ image: 'img:1' }] } } },
    };
    expect(resolveFieldPath(rollout, "metadata.labels['app']")).toEqual({ ok: true, value: 'pay' });
    expect(resolveFieldPath(rollout, 'spec.template.spec.containers[0].image')).toEqual({
      ok: true,
      value: 'img:1',
    });
    expect(resolveFieldPath(rollout, 'spec.nothing').ok).toBe(false);
  });

  it('reads secretKeyRef args through the resolver and marks them as secrets', async () => {
    const r = await resolveRunArgs(
      [
        { name: 'a', value: '1' },
        { name: 'k', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      ],
      'ns',
      async (ref) => ({ ok: true, value: `${ref.namespace}/${ref.name}/${ref.key}` }),
    );
    expect(r).toEqual({ ok: true, value: { values: { a: '1', k: 'ns/s/k' }, secrets: ['ns/s/k'] } });
  });

  it('redacts secrets, longest first', () => {
    expect(redact('token abc and abcdef', ['abc', 'abcdef'])).toBe('token ***** and *****');
  });
});

describe('template composition', () => {
  const base = template('base', { args: [{ name: 'app' }], metrics: [webMetric('a')] });
  const extra = template('extra', {
    args: [{ name: 'app', value: 'x' }],
    metrics: [webMetric('b')],
    dryRun: [{ metricName: 'b' }],
  });
  const composite = template('composite', {
    templates: [{ templateName: 'base' }, { templateName: 'extra' }],
  });
  const lookup = (name: string) => ({ base, extra, composite })[name as 'base'];

  it('flattens referenced templates, merging args and dryRun', () => {
    const flat = flattenTemplates([composite], lookup);
    expect(flat.ok && flat.value.metrics.map((m) => m.name)).toEqual(['a', 'b']);
    expect(flat.ok && flat.value.args).toEqual([{ name: 'app', value: 'x' }]);
    expect(flat.ok && flat.value.dryRun).toEqual([{ metricName: 'b' }]);
  });

  it('rejects duplicate metric names across templates and conflicting args', () => {
    expect(flattenTemplates([base, template('dup', { metrics: [webMetric('a')] })])).toEqual({
      ok: false,
      error: "two metrics have the same name 'a'",
    });
    const conflict = template('c', { args: [{ name: 'app', value: 'y' }], metrics: [webMetric('c')] });
    expect(flattenTemplates([extra, conflict]).ok).toBe(false);
  });

  it('reports a missing referenced template and cycles', () => {
    const missing = template('m', { templates: [{ templateName: 'ghost', clusterScope: true }] });
    const f = flattenTemplates([missing], () => undefined);
    expect(!f.ok && f.error).toMatch(/spec\.templates\[0\]: ClusterAnalysisTemplate "ghost" not found/);
    const loop: AnalysisTemplate = template('loop', { templates: [{ templateName: 'loop' }] });
    expect(flattenTemplates([loop], () => loop).ok).toBe(false);
  });

  it('builds a run with caller args and fieldRefs resolved', () => {
    const t = template('t', {
      args: [
        { name: 'app', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'q' },
      ],
      metrics: [webMetric('a')],
    });
    const run = buildAnalysisRun({
      templates: [t],
      args: [{ name: 'q', value: '1' }],
      name: 'r',
      fieldRefSource: { metadata: { labels: { app: 'pay' } } },
    });
    expect(run.ok && run.value.spec.args).toEqual([
      { name: 'app', value: 'pay' },
      { name: 'q', value: '1' },
    ]);
    expect(buildAnalysisRun({ templates: [t], name: 'r' })).toEqual({
      ok: false,
      error: 'args.q was not resolved',
    });
  });
});

// The SaaS providers' spec parsers: defaults as Argo's CRD sets them, errors naming the field, unknown
// fields warned (Argo's CRD prunes them), and `lenient` for fields still holding {{args.x}}.

import { describe, expect, it } from 'vitest';
import {
  checkSaasProviderSpec,
  parseCloudWatchSpec,
  parseDatadogSpec,
  parseKayentaSpec,
  parseNewRelicSpec,
} from '../../../src/api/metric-provider-specs.ts';

describe('metric provider specs', () => {
  it('datadog defaults: v1, 5m, aggregator last, 10s timeout, query as {query}', () => {
    expect(parseDatadogSpec({ query: 'avg:x{*}' })).toEqual({
      ok: true,
      warnings: [],
      value: {
        apiVersion: 'v1',
        intervalMs: 300_000,
        query: 'avg:x{*}',
        queries: { query: 'avg:x{*}' },
        formula: '',
        aggregator: 'last',
        secretRef: { name: '', namespaced: false },
        requestTimeoutMs: 10_000,
      },
    });
  });

  it.each([
    [
      { query: 'x', secretRef: { namespaced: true } },
      'datadog.secretRef.name',
      'secret name is required for namespaced credentials',
    ],
    [
      { query: 'x', requestTimeout: '0s' },
      'datadog.requestTimeout',
      'Request timeout must be a positive duration (e.g. 30s). Please review the Analysis Template.',
    ],
    [{ apiVersion: 'v2', queries: { a: 1 } }, 'datadog.queries.a', 'must be a string'],
    [
      { formula: 'a', apiVersion: 'v2', query: 'q' },
      'datadog.formula',
      'Formula are only valid when queries are set. Please review the Analysis Template.',
    ],
  ])('datadog %j -> %s: %s', (block, field, message) => {
    expect(parseDatadogSpec(block)).toEqual({ ok: false, field, message });
  });

  it('newRelic: profile defaults to newrelic; query is required', () => {
    expect(parseNewRelicSpec({ query: 'q' })).toMatchObject({
      ok: true,
      value: { profile: 'newrelic', query: 'q' },
    });
    expect(parseNewRelicSpec({ profile: 'p' })).toEqual({
      ok: false,
      field: 'newRelic.query',
      message: 'is required',
    });
  });

  it('cloudWatch: each query needs an id and exactly one of expression and metricStat; periods may be strings', () => {
    const ok = parseCloudWatchSpec({
      metricDataQueries: [
        { id: 'a', metricStat: { metric: { metricName: 'm' }, period: '60', stat: 'p99' }, period: 60 },
      ],
    });
    expect(ok).toMatchObject({
      ok: true,
      value: {
        intervalMs: 300_000,
        queries: [
          { Id: 'a', MetricStat: { Metric: { MetricName: 'm' }, Period: 60, Stat: 'p99' }, Period: 60 },
        ],
      },
    });
    expect(parseCloudWatchSpec({ metricDataQueries: [{ id: 'a' }] })).toMatchObject({
      ok: false,
      field: 'cloudWatch.metricDataQueries[0]',
      message: 'must set exactly one of expression and metricStat',
    });
  });

  it('kayenta: threshold defaults to 0/0; thresholds is warned and ignored; address must be http(s)', () => {
    const r = parseKayentaSpec({
      address: 'http://k:8090/',
      application: 'a',
      canaryConfigName: 'c',
      thresholds: { pass: 90, marginal: 75 },
      scopes: [
        { name: 'default', controlScope: { scope: 's', step: '60' }, experimentScope: { scope: 't' } },
      ],
    });
    expect(r).toMatchObject({
      ok: true,
      value: {
        address: 'http://k:8090',
        threshold: { pass: 0, marginal: 0 },
        scopes: [{ controlScope: { step: 60 } }],
      },
      warnings: ["kayenta.thresholds: unknown field, ignored (Argo's CRD prunes it)"],
    });
    expect(
      parseKayentaSpec({ address: 'kayenta:8090', application: 'a', canaryConfigName: 'c', scopes: [] }),
    ).toMatchObject({
      ok: false,
      field: 'kayenta.address',
    });
  });

  it('lenient accepts {{args.x}} where a number, an enum or a duration is expected', () => {
    const provider = { datadog: { apiVersion: '{{args.v}}', interval: '{{args.i}}', query: 'q' } };
    expect(checkSaasProviderSpec(provider).error).toMatchObject({ field: 'datadog.apiVersion' });
    expect(checkSaasProviderSpec(provider, { lenient: true })).toEqual({ warnings: [] });
    expect(checkSaasProviderSpec({ prometheus: { query: 'up' } })).toEqual({ warnings: [] });
  });
});

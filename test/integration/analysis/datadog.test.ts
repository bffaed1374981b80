// The datadog provider against a local server answering as Datadog's API reference documents
// (GET /api/v1/query, POST /api/v2/query/scalar), with the cases of Argo's datadogV1/V2 tests.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatadogProvider } from '../../../src/analysis/providers/datadog.ts';
import type { Metric } from '../../../src/api/analysis-template.ts';
import { type FakeApi, json, measure, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const API_KEY = '0123456789abcdef0123456789abcdef';
const APP_KEY = '0123456789abcdef0123456789abcdef01234567';
const NOW = 1_599_076_435_000;
let api: FakeApi;
let secrets: Record<string, string>;
const datadog = createDatadogProvider({ env: { POD_NAMESPACE: 'argo-rollouts' } });

beforeAll(async () => {
  api = await startFakeApi();
  secrets = {
    'argo-rollouts/datadog/api-key': API_KEY,
    'argo-rollouts/datadog/app-key': APP_KEY,
    'argo-rollouts/datadog/address': api.base,
  };
});
afterAll(async () => {
  await datadog.close();
  await api.close();
});

const V1_SERIES =
  '{"status":"ok","series":[{"pointlist":[[1598867910000,0.0020008318672513122],[1598867925000,0.0003332881882246533]]}]}';

function ddMetric(provider: Record<string, unknown>, fields: Partial<Metric> = {}): Metric {
  return { name: 'error-rate', provider: { datadog: provider }, ...fields };
}

describe('datadog v1', () => {
  it('takes the last point of the first series over [now-interval, now] with both keys', async () => {
    api.handle((_q, res) => json(res, 200, V1_SERIES));
    const m = await measure(
      datadog,
      ddMetric(
        { query: 'avg:kubernetes.cpu.user.total{*}', interval: '10m' },
        {
          successCondition: 'result < 0.001',
          failureCondition: 'result >= 0.001',
        },
      ),
      secrets,
      { nowMs: NOW },
    );
    expect(m.measurement).toMatchObject({ phase: 'Successful', value: '0.0003332881882246533' });
    const req = api.seen.at(-1)!;
    const url = new URL(req.url, api.base);
    expect(url.pathname).toBe('/api/v1/query');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      from: String(1_599_076_435 - 600),
      query: 'avg:kubernetes.cpu.user.total{*}',
      to: '1599076435',
    });
    expect(req.headers['dd-api-key']).toBe(API_KEY);
    expect(req.headers['dd-application-key']).toBe(APP_KEY);
    expect(req.headers['content-type']).toBe('application/json');
  });

  it.each([
    ['result < 0.05', '{"status":"ok","series":[]}', 'Error', undefined],
    ['default(result, 0) < 0.05', '{"status":"ok","series":[]}', 'Successful', '[]'],
    ['default(result, 1) < 0.05', '{"status":"ok","series":[]}', 'Failed', '[]'],
    ['default(result, 1) < 0.05', V1_SERIES, 'Successful', '0.0003332881882246533'],
    ['result == 0', '{"series":[{"pointlist":[[1598867910000,null]]}]}', 'Successful', '0'],
  ])('empty and null answers: %s on %s is %s', async (condition, body, phase, value) => {
    api.handle((_q, res) => json(res, 200, body));
    const m = await measure(datadog, ddMetric({ query: 'q' }, { successCondition: condition }), secrets);
    expect(m.measurement.phase).toBe(phase);
    if (value !== undefined) expect(m.measurement.value).toBe(value);
    if (phase === 'Error') expect(m.measurement.message).toContain('metric result is nil or empty');
  });

  it('401/403 and 429 are Errors carrying the body, never the keys', async () => {
    for (const [status, body] of [
      [401, '{"errors": ["No authenticated user."]}'],
      [403, `{"errors": ["Forbidden: key ${API_KEY}"]}`],
      [429, '{"errors": ["Rate limit exceeded"]}'],
    ] as const) {
      api.handle((_q, res) => json(res, status, body, status === 429 ? { 'retry-after': '3' } : {}));
      const before = api.seen.length;
      const m = await measure(datadog, ddMetric({ query: 'q' }), secrets);
      expect(m.measurement.phase).toBe('Error');
      expect(m.measurement.message).toContain(
        status === 429
          ? 'received non 2xx response code: 429'
          : `received authentication error response code: ${status}`,
      );
      const stored = JSON.stringify(m.run);
      expect(stored).not.toContain(API_KEY);
      expect(stored).not.toContain(APP_KEY);
      // No retry inside a measurement (Argo does not retry); the engine's 10 s error retry applies.
      expect(api.seen.length - before).toBe(5);
    }
  });

  it('a timeout is an Error naming the request timeout', async () => {
    api.handle(() => {});
    const provider = createDatadogProvider({ env: {} });
    const m = await measure(
      provider,
      ddMetric({ query: 'q', requestTimeout: '200ms' }, { consecutiveErrorLimit: 0 }),
      {
        'argo-rollouts/datadog/api-key': API_KEY,
        'argo-rollouts/datadog/app-key': APP_KEY,
        'argo-rollouts/datadog/address': api.base,
      },
    );
    await provider.close();
    expect(m.measurement.phase).toBe('Error');
    expect(m.measurement.message).toContain(
      'Datadog API request timed out after 0.2s before receiving an HTTP response',
    );
    expect(m.measurement.metadata).toMatchObject({ requestOutcome: 'timeout', responseReceived: 'false' });
  });

  it('without credentials the measurement is an Error as in Argo', async () => {
    const m = await measure(datadog, ddMetric({ query: 'q' }), {});
    expect(m.measurement.message).toBe('failed to find the credentials for datadog metrics provider');
  });

  it('reads DD_API_KEY, DD_APP_KEY and DD_ADDRESS before the Secret, and a namespaced secretRef', async () => {
    api.handle((_q, res) => json(res, 200, V1_SERIES));
    const fromEnv = createDatadogProvider({
      env: { DD_API_KEY: 'ea', DD_APP_KEY: 'eb', DD_ADDRESS: api.base },
    });
    const m = await measure(fromEnv, ddMetric({ query: 'q' }), {});
    expect(m.measurement.phase).toBe('Successful');
    expect(api.seen.at(-1)!.headers['dd-api-key']).toBe('ea');
    await fromEnv.close();
    const ns = await measure(
      datadog,
      ddMetric({ query: 'q', secretRef: { name: 'mine', namespaced: true } }),
      { 'default/mine/api-key': 'na', 'default/mine/app-key': 'nb', 'default/mine/address': api.base },
    );
    expect(ns.measurement.phase).toBe('Successful');
    expect(api.seen.at(-1)!.headers['dd-api-key']).toBe('na');
  });
});

describe('datadog v2', () => {
  it('posts a scalar_request with queries, formula and the default aggregator "last"', async () => {
    api.handle((_q, res) =>
      json(res, 200, {
        data: {
          type: 'scalar_response',
          attributes: { columns: [{ name: 'a', type: 'number', values: [0.0067] }] },
        },
      }),
    );
    const m = await measure(
      datadog,
      ddMetric(
        {
          apiVersion: 'v2',
          interval: '5m',
          queries: { b: 'sum:requests{*}', a: 'sum:errors{*}' },
          formula: 'a / b',
        },
        { successCondition: 'default(result, 0) < 10' },
      ),
      secrets,
      { nowMs: NOW },
    );
    expect(m.measurement).toMatchObject({ phase: 'Successful', value: '0.0067' });
    const req = api.seen.at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/v2/query/scalar');
    expect(JSON.parse(req.body)).toEqual({
      data: {
        attributes: {
          from: (1_599_076_435 - 300) * 1_000,
          to: 1_599_076_435_000,
          queries: [
            { aggregator: 'last', data_source: 'metrics', name: 'a', query: 'sum:errors{*}' },
            { aggregator: 'last', data_source: 'metrics', name: 'b', query: 'sum:requests{*}' },
          ],
          formulas: [{ formula: 'a / b' }],
        },
        type: 'scalar_request',
      },
    });
  });

  it('a grouped answer is a list, nulls skipped, groups in metadata; all-null is empty', async () => {
    api.handle((_q, res) =>
      json(res, 200, {
        data: {
          attributes: {
            columns: [
              { name: 'resource_name', type: 'group', values: [['GET /a'], ['GET /b'], ['GET /c']] },
              { name: 'query1', type: 'number', values: [0.01, null, 0.2] },
            ],
          },
        },
      }),
    );
    const m = await measure(
      datadog,
      ddMetric(
        { apiVersion: 'v2', query: 'q by {resource_name}' },
        { successCondition: 'max(result) < 0.05' },
      ),
      secrets,
    );
    expect(m.measurement).toMatchObject({ phase: 'Failed', value: '[0.01,0.2]' });
    expect(JSON.parse(m.measurement.metadata!.groups!)).toEqual([
      { name: 'GET /a', value: 0.01 },
      { name: 'GET /c', value: 0.2 },
    ]);
    api.handle((_q, res) =>
      json(res, 200, { data: { attributes: { columns: [{ name: 'q', type: 'number', values: [null] }] } } }),
    );
    const empty = await measure(
      datadog,
      ddMetric({ apiVersion: 'v2', query: 'q' }, { successCondition: 'default(result, 0) < 1' }),
      secrets,
    );
    expect(empty.measurement).toMatchObject({ phase: 'Successful', value: '[]' });
  });

  it('query errors in the answer are Errors', async () => {
    api.handle((_q, res) => json(res, 200, { data: { errors: 'bad query' } }));
    const m = await measure(datadog, ddMetric({ apiVersion: 'v2', query: 'q' }), secrets);
    expect(m.measurement.message).toBe('There were errors in your query: bad query');
  });

  it('invalid specs are Errors with Argo messages and the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'datadog.query: Must have either a query or queries. Please review the Analysis Template.'],
      [
        { query: 'a', queries: { b: 'c' }, apiVersion: 'v2' },
        'datadog.queries: Cannot have both a query and queries.',
      ],
      [
        { apiVersion: 'v1', queries: { a: 'x' } },
        'datadog.query: Query is empty. API Version v1 only supports',
      ],
      [
        { apiVersion: 'v2', queries: { a: 'x', b: 'y' } },
        'datadog.formula: When multiple queries are provided you must include a formula.',
      ],
      [{ query: 'x', aggregator: 'sum' }, 'datadog.aggregator: Aggregator is not supported in v1.'],
      [{ apiVersion: 'v3', query: 'x' }, 'datadog.apiVersion: must be v1 or v2'],
      [{ apiVersion: 'v2', query: 'x', aggregator: 'median' }, 'datadog.aggregator: must be one of avg'],
      [{ query: 'x', interval: 'soon' }, 'datadog.interval:'],
    ];
    for (const [spec, message] of cases) {
      const m = await measure(datadog, ddMetric(spec, { consecutiveErrorLimit: 0 }), secrets);
      expect(m.measurement.phase).toBe('Error');
      expect(m.measurement.message).toContain(message);
    }
  });
});

// The newRelic provider against a local NerdGraph answering as New Relic's GraphQL API documents
// (POST /graphql, data.actor.account.nrql.results; errors[] with extensions), with Argo's cases.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNewRelicProvider } from '../../../src/analysis/providers/newrelic.ts';
import type { Metric } from '../../../src/api/analysis-template.ts';
import { type FakeApi, json, measure, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const KEY = 'NRAK-0123456789ABCDEFGHIJKLMNOPQ';
let api: FakeApi;
let secrets: Record<string, string>;
const waits: number[] = [];
const newRelic = createNewRelicProvider({
  env: {},
  sleep: async (ms) => {
    waits.push(ms);
  },
});

beforeAll(async () => {
  api = await startFakeApi();
  secrets = {
    'argo-rollouts/newrelic/personal-api-key': KEY,
    'argo-rollouts/newrelic/account-id': '1234567',
    'argo-rollouts/newrelic/base-url-nerdgraph': `${api.base}/graphql`,
  };
});
afterAll(async () => {
  await newRelic.close();
  await api.close();
});

const nrql = (results: unknown[]) => ({ data: { actor: { account: { nrql: { results, metadata: {} } } } } });

function nrMetric(query: string, fields: Partial<Metric> = {}): Metric {
  return { name: 'success-rate', provider: { newRelic: { query } }, ...fields };
}

describe('newRelic', () => {
  it('sends the NRQL query to NerdGraph with the account and Api-Key; one row is a map', async () => {
    api.handle((_q, res) => json(res, 200, nrql([{ successRate: 0.98 }])));
    const m = await measure(
      newRelic,
      nrMetric('FROM Transaction SELECT 1', { successCondition: 'result.successRate >= 0.95' }),
      secrets,
    );
    expect(m.measurement).toMatchObject({ phase: 'Successful', value: '{"successRate":0.98}' });
    const req = api.seen.at(-1)!;
    expect(req.url).toBe('/graphql');
    expect(req.headers['api-key']).toBe(KEY);
    const body = JSON.parse(req.body);
    expect(body.variables).toEqual({ accountId: 1234567, query: 'FROM Transaction SELECT 1' });
    expect(body.query).toContain('nrql(query: $query)');
  });

  it('several rows are a list; value is Go JSON with sorted keys', async () => {
    api.handle((_q, res) =>
      json(
        res,
        200,
        nrql([
          { b: 2, a: 1 },
          { b: 3, a: '<x>' },
        ]),
      ),
    );
    const m = await measure(newRelic, nrMetric('q', { successCondition: 'len(result) == 2' }), secrets);
    expect(m.measurement).toMatchObject({
      phase: 'Successful',
      value: '[{"a":1,"b":2},{"a":"\\u003cx\\u003e","b":3}]',
    });
  });

  it('no rows, or one empty row, is an Error', async () => {
    for (const results of [[], [{}]]) {
      api.handle((_q, res) => json(res, 200, nrql(results)));
      const m = await measure(newRelic, nrMetric('q'), secrets);
      expect(m.measurement).toMatchObject({ phase: 'Error', message: 'no results returned from NRQL query' });
    }
  });

  it("a profile selects another Secret; a missing key is Argo's message", async () => {
    api.handle((_q, res) => json(res, 200, nrql([{ v: 1 }])));
    const m = await measure(
      newRelic,
      { name: 'm', provider: { newRelic: { profile: 'nr-eu', query: 'q' } } },
      {
        'argo-rollouts/nr-eu/personal-api-key': 'other',
        'argo-rollouts/nr-eu/account-id': '9',
        'argo-rollouts/nr-eu/base-url-nerdgraph': `${api.base}/graphql`,
      },
    );
    expect(m.measurement.phase).toBe('Successful');
    expect(api.seen.at(-1)!.headers['api-key']).toBe('other');
    const missing = await measure(newRelic, nrMetric('q'), { 'argo-rollouts/newrelic/account-id': '1' });
    expect(missing.measurement.message).toBe('account ID or personal API key not found');
  });

  it('401 and BAD_API_KEY are Errors without the key; GraphQL errors are Errors', async () => {
    api.handle((_q, res) =>
      json(res, 401, { errors: [{ message: `bad key ${KEY}`, extensions: { error_code: 'BAD_API_KEY' } }] }),
    );
    const m = await measure(newRelic, nrMetric('q'), secrets);
    expect(m.measurement.message).toBe(
      '401 response returned: Invalid credentials provided. Missing API key or an invalid API key was provided.',
    );
    expect(JSON.stringify(m.run)).not.toContain(KEY);
    api.handle((_q, res) => json(res, 403, { errors: [{ message: 'Forbidden' }] }));
    expect((await measure(newRelic, nrMetric('q'), secrets)).measurement.message).toBe(
      '403 response returned: Forbidden',
    );
    api.handle((_q, res) =>
      json(res, 200, { errors: [{ message: 'NRQL Syntax Error: Error at line 1' }], data: null }),
    );
    expect((await measure(newRelic, nrMetric('q'), secrets)).measurement.message).toBe(
      'NRQL Syntax Error: Error at line 1',
    );
  });

  it('429 is retried 3 times honouring Retry-After, then an Error; a later success is used', async () => {
    waits.length = 0;
    api.handle((_q, res) =>
      json(res, 429, { errors: [{ message: 'Too many requests' }] }, { 'retry-after': '7' }),
    );
    const before = api.seen.length;
    const m = await measure(newRelic, nrMetric('q', { consecutiveErrorLimit: 0 }), secrets);
    expect(m.measurement.phase).toBe('Error');
    expect(m.measurement.message).toMatch(
      /^POST http:\/\/127\.0\.0\.1:\d+\/graphql giving up after 4 attempt\(s\)$/,
    );
    expect(api.seen.length - before).toBe(4);
    expect(waits).toEqual([7_000, 7_000, 7_000]);
    waits.length = 0;
    let calls = 0;
    api.handle((_q, res) => (++calls < 3 ? json(res, 502, 'bad gateway') : json(res, 200, nrql([{ v: 1 }]))));
    const ok = await measure(newRelic, nrMetric('q'), secrets);
    expect(ok.measurement.phase).toBe('Successful');
    expect(waits).toEqual([1_000, 2_000]);
  });

  it('a timeout is retried as a transport error, then an Error', async () => {
    waits.length = 0;
    const slow = createNewRelicProvider({
      env: {},
      timeoutMs: 100,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    api.handle(() => {});
    const before = api.seen.length;
    const m = await measure(slow, nrMetric('q', { consecutiveErrorLimit: 0 }), secrets);
    await slow.close();
    expect(m.measurement.phase).toBe('Error');
    expect(m.measurement.message).toMatch(/giving up after 4 attempt\(s\): Post ".*": timeout after 100 ms$/);
    expect(api.seen.length - before).toBe(4);
    expect(waits).toEqual([1_000, 2_000, 4_000]);
  });
});

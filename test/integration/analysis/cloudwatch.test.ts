// The cloudWatch provider against a local CloudWatch answering GetMetricData as the API reference
// documents for the JSON 1.0 protocol; the server checks each request's SigV4 signature.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudWatchProvider } from '../../../src/analysis/providers/cloudwatch.ts';
import { signV4 } from '../../../src/analysis/providers/sigv4.ts';
import type { Metric } from '../../../src/api/analysis-template.ts';
import { type FakeApi, json, measure, type Seen, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const TOKEN = 'session-token-value';
let api: FakeApi;
let env: Record<string, string>;
const waits: number[] = [];
let provider: ReturnType<typeof createCloudWatchProvider>;

function signatureValid(req: Seen, base: string): boolean {
  const { authorization, ...rest } = req.headers as Record<string, string>;
  const signedNames = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const name of signedNames) headers[name] = rest[name]!;
  const date = rest['x-amz-date']!;
  const nowMs = Date.parse(
    `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
  );
  const expected = signV4({
    method: req.method,
    url: new URL(req.url, base),
    headers,
    body: req.body,
    region: 'eu-west-1',
    service: 'monitoring',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET, sessionToken: TOKEN },
    nowMs,
  });
  return expected.headers.authorization === authorization;
}

beforeAll(async () => {
  api = await startFakeApi();
  env = {
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: TOKEN,
    AWS_REGION: 'eu-west-1',
    AWS_ENDPOINT_URL_CLOUDWATCH: api.base,
  };
  provider = createCloudWatchProvider({
    env,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
  });
});
afterAll(async () => {
  await provider.close();
  await api.close();
});

const QUERIES = [
  { id: 'rate', expression: 'errors / requests' },
  {
    id: 'errors',
    metricStat: {
      metric: { namespace: 'app', metricName: 'errors', dimensions: [{ name: 'svc', value: 'a' }] },
      period: 300,
      stat: 'Sum',
      unit: 'Count',
    },
    returnData: false,
  },
];

function cwMetric(
  fields: Partial<Metric> = {},
  block: Record<string, unknown> = { interval: '15m', metricDataQueries: QUERIES },
): Metric {
  return { name: 'success-rate', provider: { cloudWatch: block }, ...fields };
}

describe('cloudWatch', () => {
  it('sends a signed GetMetricData over [now-interval, now]; result is MetricDataResults', async () => {
    api.handle((req, res) => {
      if (!signatureValid(req, api.base))
        return json(res, 403, {
          __type: 'com.amazon.coral.service#InvalidSignatureException',
          message: 'bad',
        });
      json(res, 200, {
        MetricDataResults: [
          {
            Id: 'rate',
            Label: 'rate',
            StatusCode: 'Complete',
            Timestamps: [1735689600],
            Values: [0.005, 0.01],
          },
        ],
        Messages: [],
      });
    });
    const now = Date.parse('2025-01-01T00:00:00Z');
    const m = await measure(
      provider,
      cwMetric({ successCondition: 'all(result[0].Values, {# <= 0.01})' }),
      {},
      { nowMs: now },
    );
    expect(m.measurement).toMatchObject({ phase: 'Successful', value: '[[0.005 0.01]]' });
    const req = api.seen.at(-1)!;
    expect(req.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.GetMetricData');
    expect(req.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(req.headers['x-amz-security-token']).toBe(TOKEN);
    expect(req.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/monitoring\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.parse(req.body)).toEqual({
      StartTime: now / 1_000 - 900,
      EndTime: now / 1_000,
      MetricDataQueries: [
        { Id: 'rate', Expression: 'errors / requests' },
        {
          Id: 'errors',
          MetricStat: {
            Metric: { Namespace: 'app', MetricName: 'errors', Dimensions: [{ Name: 'svc', Value: 'a' }] },
            Period: 300,
            Stat: 'Sum',
            Unit: 'Count',
          },
          ReturnData: false,
        },
      ],
    });
  });

  it('NaN values and empty series reach the conditions; messages go to metadata', async () => {
    api.handle((_q, res) =>
      json(res, 200, {
        MetricDataResults: [
          { Id: 'rate', StatusCode: 'PartialData', Timestamps: [], Values: ['NaN', 2000000] },
          { Id: 'x', Values: [] },
        ],
        Messages: [{ Code: 'MaxQueryTimeRangeExceed', Value: 'too long' }],
      }),
    );
    const m = await measure(
      provider,
      cwMetric({
        successCondition: 'len(result[1].Values) == 0 && result[0].Values[0] != result[0].Values[0]',
      }),
    );
    expect(m.measurement).toMatchObject({ phase: 'Successful', value: '[[NaN 2e+06] []]' });
    expect(m.measurement.metadata).toEqual({ messages: '[{Code:MaxQueryTimeRangeExceed Value:too long}]' });
  });

  it('403 and bad requests are Errors in the SDK form, without the secret key', async () => {
    api.handle((_q, res) =>
      json(res, 403, {
        __type: 'com.amazon.coral.service#AccessDeniedException',
        Message: `User is not authorized; key ${SECRET}`,
      }),
    );
    const m = await measure(provider, cwMetric());
    expect(m.measurement.phase).toBe('Error');
    expect(m.measurement.message).toMatch(
      /^operation error CloudWatch: GetMetricData, https response error StatusCode: 403, RequestID: , api error AccessDeniedException: User is not authorized/,
    );
    expect(JSON.stringify(m.run)).not.toContain(SECRET);
  });

  it('throttling is retried 3 attempts in all with jittered backoff, then an Error', async () => {
    waits.length = 0;
    api.handle((_q, res) =>
      json(res, 400, { __type: 'Throttling', message: 'Rate exceeded' }, { 'retry-after': '5' }),
    );
    const before = api.seen.length;
    const m = await measure(provider, cwMetric({ consecutiveErrorLimit: 0 }));
    expect(m.measurement.message).toBe(
      'operation error CloudWatch: GetMetricData, exceeded maximum number of attempts, 3, https response error StatusCode: 400, RequestID: , api error Throttling: Rate exceeded',
    );
    expect(api.seen.length - before).toBe(3);
    expect(waits).toEqual([1_000, 2_000]);
  });

  it('without credentials or region the measurement is an Error', async () => {
    const none = createCloudWatchProvider({ env: {} });
    expect((await measure(none, cwMetric({ consecutiveErrorLimit: 0 }))).measurement.message).toContain(
      'failed to retrieve credentials',
    );
    const noRegion = createCloudWatchProvider({
      env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' },
    });
    expect((await measure(noRegion, cwMetric({ consecutiveErrorLimit: 0 }))).measurement.message).toContain(
      'an AWS region is required',
    );
    await none.close();
    await noRegion.close();
  });

  it('invalid specs name the field', async () => {
    for (const [block, text] of [
      [{ metricDataQueries: [] }, 'cloudWatch.metricDataQueries: is required'],
      [{ metricDataQueries: '[{"Id":"a"}]' }, 'cloudWatch.metricDataQueries: must be a list'],
      [{ metricDataQueries: [{ expression: 'a' }] }, 'cloudWatch.metricDataQueries[0].id: is required'],
      [
        { metricDataQueries: [{ id: 'a', metricStat: { metric: { metricName: 'x' }, stat: 'Sum' } }] },
        'cloudWatch.metricDataQueries[0].metricStat.period: is required',
      ],
      [{ interval: 'x', metricDataQueries: [{ id: 'a', expression: 'b' }] }, 'cloudWatch.interval:'],
    ] as const) {
      const m = await measure(
        provider,
        cwMetric({ consecutiveErrorLimit: 0 }, block as Record<string, unknown>),
      );
      expect(m.measurement.message).toContain(text);
    }
  });

  it('a timeout is retried, then an Error', async () => {
    const slow = createCloudWatchProvider({ env, timeoutMs: 100, sleep: async () => {}, random: () => 0 });
    api.handle(() => {});
    const before = api.seen.length;
    const m = await measure(slow, cwMetric({ consecutiveErrorLimit: 0 }));
    await slow.close();
    expect(m.measurement.message).toMatch(
      /exceeded maximum number of attempts, 3, .*request send failed, Post ".*": timeout after 100 ms$/,
    );
    expect(api.seen.length - before).toBe(3);
  });
});

// The kayenta provider against a local Kayenta answering as its REST API does (GET /canaryConfig,
// POST /canary/{configId}, GET /canary/{executionId}), with the request URLs and body of Argo's
// kayenta_test.go.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKayentaProvider, kayentaPhase } from '../../../src/analysis/providers/kayenta.ts';
import type { Metric } from '../../../src/api/analysis-template.ts';
import { type FakeApi, json, measure, startFakeApi } from '../../fixtures/analysis/saas-server.ts';
import { runOf } from '../../fixtures/analysis/scripted.ts';

let api: FakeApi;
let kayenta: ReturnType<typeof createKayentaProvider>;
beforeAll(async () => {
  api = await startFakeApi();
  kayenta = createKayentaProvider({});
});
afterAll(async () => {
  await kayenta.close();
  await api.close();
});

const CONFIGS = [
  {
    id: '69a6c352-7033-4ca1-858b-02497e5cc672',
    name: 'ValidationCanaryConfigWF',
    applications: ['guestbook'],
  },
  {
    id: 'bf9795c0-170f-403e-bb7f-fef3f9a44d42',
    name: 'ValidationCanaryConfigTest3',
    applications: ['guestbook'],
  },
];
const EXPECTED_BODY = `
\t\t\t\t\t\t\t{
\t\t\t\t\t\t\t\t"scopes": {
\t\t\t\t\t\t\t\t\t\t"default":{"controlScope": {"scope":"app=guestbook and rollouts-pod-template-hash=xxxx","region":"us-=west-2","step":60,"start":"2019-03-29T01:08:34Z","end":"2019-03-29T01:38:34Z"}, "experimentScope": {"scope":"app=guestbook and rollouts-pod-template-hash=yyyy","region":"us-=west-2","step":60,"start":"2019-03-29T01:08:34Z","end":"2019-03-29T01:38:34Z"}}
\t\t\t\t\t\t\t\t},
                                "thresholds" : {
                                    "pass": 90,
                                    "marginal": 75
                                }
                            }`;

function kMetric(address: string): Metric {
  const scope = (hash: string) => ({
    scope: `app=guestbook and rollouts-pod-template-hash={{args.${hash}}}`,
    step: 60,
    region: 'us-=west-2',
    start: '{{args.start-time}}',
    end: '{{args.end-time}}',
  });
  return {
    name: 'mann-whitney',
    provider: {
      kayenta: {
        address,
        application: 'guestbook',
        canaryConfigName: 'ValidationCanaryConfigTest3',
        metricsAccountName: 'wavefront-prod',
        configurationAccountName: 'intuit-kayenta',
        storageAccountName: 'intuit-kayenta',
        threshold: { pass: 90, marginal: 75 },
        scopes: [
          { name: 'default', controlScope: scope('stable-hash'), experimentScope: scope('canary-hash') },
        ],
      },
    },
  };
}

const ARGS = [
  { name: 'start-time', value: '2019-03-29T01:08:34Z' },
  { name: 'end-time', value: '2019-03-29T01:38:34Z' },
  { name: 'stable-hash', value: 'xxxx' },
  { name: 'canary-hash', value: 'yyyy' },
];

function kayentaApi(scores: Array<number | null>, failPost = false): void {
  let polls = 0;
  api.handle((req, res) => {
    const path = req.url.split('?')[0]!;
    if (req.method === 'GET' && path === '/canaryConfig') return json(res, 200, CONFIGS);
    if (req.method === 'POST' && path.startsWith('/canary/'))
      return failPost
        ? res.writeHead(500).end()
        : json(res, 200, { canaryExecutionId: '01DS50WVHAWSTAQACJKB1VKDQB' });
    if (req.method === 'GET' && path === '/canary/01DS50WVHAWSTAQACJKB1VKDQB') {
      const score = scores[Math.min(polls++, scores.length - 1)];
      return json(
        res,
        200,
        score === null
          ? { complete: false }
          : { complete: true, result: { judgeResult: { score: { score } } } },
      );
    }
    res.writeHead(404).end();
  });
}

describe('kayenta', () => {
  it("starts the analysis with Argo's URLs and body, polls every 15 s and maps the score", async () => {
    kayentaApi([null, null, 92.7]);
    const before = api.seen.length;
    const m = await measure(
      kayenta,
      kMetric(api.base),
      {},
      { run: runOf([kMetric(api.base)], { args: ARGS }) },
    );
    expect(m.measurement).toMatchObject({
      phase: 'Successful',
      value: '92',
      metadata: { canaryExecutionId: '01DS50WVHAWSTAQACJKB1VKDQB' },
    });
    const seen = api.seen.slice(before);
    expect(seen[0]!.url).toBe('/canaryConfig?application=guestbook&configurationAccountName=intuit-kayenta');
    expect(seen[1]!.url).toBe(
      '/canary/bf9795c0-170f-403e-bb7f-fef3f9a44d42?application=guestbook&metricsAccountName=wavefront-prod&configurationAccountName=intuit-kayenta&storageAccountName=intuit-kayenta',
    );
    expect(seen[1]!.body).toBe(EXPECTED_BODY);
    expect(seen.slice(2).map((s) => s.url)).toEqual(Array(3).fill('/canary/01DS50WVHAWSTAQACJKB1VKDQB'));
    const started = Date.parse(m.measurement.startedAt!);
    expect(Date.parse(m.measurement.finishedAt!) - started).toBe(45_000);
  });

  it.each([
    [80, 'Inconclusive'],
    [74.9, 'Failed'],
  ])('score %d is %s', async (score, phase) => {
    kayentaApi([score]);
    const m = await measure(
      kayenta,
      kMetric(api.base),
      {},
      { run: runOf([kMetric(api.base)], { args: ARGS }) },
    );
    expect(m.measurement.phase).toBe(phase);
  });

  it('a refused start, lookup or poll is an Error "Invalid Response"; a missing score is an Error', async () => {
    kayentaApi([null], true);
    const m = await measure(
      kayenta,
      kMetric(api.base),
      {},
      { run: runOf([kMetric(api.base)], { args: ARGS }) },
    );
    expect(m.measurement).toMatchObject({ phase: 'Error', message: 'Invalid Response' });
    api.handle((req, res) =>
      req.method === 'POST'
        ? json(res, 200, { canaryExecutionId: 'e1' })
        : req.url.startsWith('/canaryConfig')
          ? json(res, 200, CONFIGS)
          : json(res, 200, { complete: true }),
    );
    const noScore = await measure(
      kayenta,
      kMetric(api.base),
      {},
      { run: runOf([kMetric(api.base)], { args: ARGS }) },
    );
    expect(noScore.measurement).toMatchObject({
      phase: 'Error',
      message: 'Missing Score',
      metadata: { canaryExecutionId: 'e1' },
    });
  });

  it('maps scores to phases as Argo does', () => {
    expect([kayentaPhase(90, 90, 75), kayentaPhase(75, 90, 75), kayentaPhase(74, 90, 75)]).toEqual([
      'Successful',
      'Inconclusive',
      'Failed',
    ]);
  });

  it('a timeout is an Error', async () => {
    const slow = createKayentaProvider({ timeoutMs: 100 });
    api.handle(() => {});
    const m = await measure(
      slow,
      { ...kMetric(api.base), consecutiveErrorLimit: 0 },
      {},
      {
        run: runOf([{ ...kMetric(api.base), consecutiveErrorLimit: 0 }], { args: ARGS }),
      },
    );
    await slow.close();
    expect(m.measurement.phase).toBe('Error');
    expect(m.measurement.message).toMatch(
      /^Get ".*\/canaryConfig\?application=guestbook&configurationAccountName=intuit-kayenta": timeout after 100 ms$/,
    );
  });
});

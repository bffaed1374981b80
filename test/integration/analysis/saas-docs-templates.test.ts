// Argo's docs templates for datadog, newRelic, cloudWatch and kayenta, unchanged, through
// `sluice analysis run -f` against local API servers: each ends with the value and phase Argo would give.
// Two docs templates do not do what they seem to in Argo either: newrelic.md's `query` sits beside
// `newRelic` (Argo's CRD prunes it, NerdGraph refuses the empty query: Error), and cloudwatch.md's
// metricDataQueries is a string (Argo's CRD refuses the template); each is also run in its corrected form.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnalysisRun } from '../../../src/api/analysis-run.ts';
import { runAnalysisCommand } from '../../../src/cli/analysis.ts';
import { type FakeApi, json, startFakeApi } from '../../fixtures/analysis/saas-server.ts';
import { virtualClock } from '../../fixtures/analysis/scripted.ts';

const DOCS = join(import.meta.dirname, '../../fixtures/analysis/argo-docs');
let api: FakeApi;
let dir: string;

beforeAll(async () => {
  api = await startFakeApi();
  dir = mkdtempSync(join(tmpdir(), 'sluice-saas-docs-'));
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string; final: AnalysisRun }> {
  let out = '';
  let err = '';
  const code = await runAnalysisCommand([...argv, '-o', 'json'], {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    terminateSignal: new AbortController().signal,
    clock: virtualClock(),
  });
  return { code, out, err, final: (out.trim() === '' ? {} : JSON.parse(out)) as AnalysisRun };
}

const lastMeasurement = (final: AnalysisRun) => {
  const r = final.status!.metricResults![0]!;
  return r.measurements![r.measurements!.length - 1];
};

describe("Argo's docs templates through sluice analysis run", () => {
  it('datadog.md: v2 query, 0.005 three times -> Successful, value 0.005, exit 0; keys redacted', async () => {
    api.handle((req, res) => {
      if (req.url !== '/api/v2/query/scalar') {
        res.writeHead(404).end();
        return;
      }
      json(res, 200, {
        data: {
          type: 'scalar_response',
          attributes: { columns: [{ name: 'query', type: 'number', values: [0.005] }] },
        },
      });
    });
    const before = api.seen.length;
    const r = await cli([
      'run',
      '-f',
      join(DOCS, 'datadog.yaml'),
      '--arg',
      'service-name=web',
      '--secret',
      'datadog/api-key=dd-api-key-value',
      '--secret',
      'datadog/app-key=dd-app-key-value',
      '--secret',
      `datadog/address=${api.base}`,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.final.status!.phase).toBe('Successful');
    expect(r.final.status!.metricResults![0]).toMatchObject({ count: 3, successful: 3 });
    expect(lastMeasurement(r.final)).toMatchObject({ phase: 'Successful', value: '0.005' });
    const sent = api.seen.slice(before);
    expect(sent).toHaveLength(3);
    expect(JSON.parse(sent[0]!.body).data.attributes.queries[0].query).toBe(
      'sum:requests.error.rate{service:web}\n',
    );
    expect(r.out).not.toContain('dd-api-key-value');
  });

  it('newrelic.md unchanged -> Error, exit 2 (as in Argo); with query under newRelic -> Successful', async () => {
    api.handle((req, res) => {
      const { query } = JSON.parse(req.body).variables;
      if (!query) return json(res, 200, { errors: [{ message: 'NRQL Syntax Error' }], data: null });
      json(res, 200, { data: { actor: { account: { nrql: { results: [{ successRate: 0.98 }] } } } } });
    });
    const secrets = [
      '--secret',
      'my-newrelic-secret/personal-api-key=NRAK-KEY',
      '--secret',
      'my-newrelic-secret/account-id=42',
      '--secret',
      `my-newrelic-secret/base-url-nerdgraph=${api.base}/graphql`,
      '--arg',
      'application-name=web',
    ];
    const asIs = await cli(['run', '-f', join(DOCS, 'newrelic.yaml'), ...secrets]);
    expect(asIs.code).toBe(2);
    expect(asIs.final.status!.phase).toBe('Error');
    const fixed = file(
      'newrelic-fixed.yaml',
      readFileSync(join(DOCS, 'newrelic.yaml'), 'utf8').replace(
        '      query: |\n        FROM',
        '        query: |\n          FROM',
      ),
    );
    const ok = await cli(['run', '-f', fixed, ...secrets]);
    expect(ok.code).toBe(0);
    expect(lastMeasurement(ok.final)).toMatchObject({ phase: 'Successful', value: '{"successRate":0.98}' });
  });

  it("cloudwatch.md unchanged is refused naming the field (Argo's CRD refuses it); in list form -> Successful", async () => {
    const asIs = await cli(['run', '-f', join(DOCS, 'cloudwatch.yaml')]);
    expect(asIs.code).toBe(2);
    expect(asIs.err).toContain(
      'metrics[0] (success-rate): provider.cloudWatch.metricDataQueries: must be a list',
    );
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'cw-secret-value',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_CLOUDWATCH: api.base,
    });
    api.handle((req, res) => {
      if (!String(req.headers.authorization).includes('/us-east-1/monitoring/aws4_request')) {
        res.writeHead(403).end();
        return;
      }
      json(res, 200, {
        MetricDataResults: [
          { Id: 'rate', Label: 'rate', StatusCode: 'Complete', Timestamps: [1, 2], Values: [0.004, 0.002] },
        ],
      });
    });
    try {
      const list = file(
        'cloudwatch-list.yaml',
        `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  metrics:
  - name: success-rate
    successCondition: "all(result[0].Values, {# <= 0.01})"
    failureLimit: 3
    provider:
      cloudWatch:
        interval: 15m
        metricDataQueries:
        - id: rate
          expression: errors / requests
        - id: errors
          metricStat: { metric: { namespace: app, metricName: errors }, period: 300, stat: Sum, unit: Count }
          returnData: false
        - id: requests
          metricStat: { metric: { namespace: app, metricName: requests }, period: 300, stat: Sum, unit: Count }
          returnData: false
`,
      );
      const ok = await cli(['run', '-f', list]);
      expect(ok.code).toBe(0);
      expect(lastMeasurement(ok.final)).toMatchObject({ phase: 'Successful', value: '[[0.004 0.002]]' });
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it("kayenta.md unchanged with --kayenta: `thresholds` is ignored as Argo's CRD prunes it, so score 50 -> Successful", async () => {
    let polls = 0;
    api.handle((req, res) => {
      const path = req.url.split('?')[0]!;
      if (path === '/canaryConfig') return json(res, 200, [{ id: 'cfg-1', name: 'my-test' }]);
      if (req.method === 'POST' && path === '/canary/cfg-1')
        return json(res, 200, { canaryExecutionId: 'exec-1' });
      if (path === '/canary/exec-1')
        return json(
          res,
          200,
          ++polls < 2
            ? { complete: false }
            : { complete: true, result: { judgeResult: { score: { score: 50 } } } },
        );
      res.writeHead(404).end();
    });
    const before = api.seen.length;
    const r = await cli([
      'run',
      '-f',
      join(DOCS, 'kayenta.yaml'),
      '--kayenta',
      api.base,
      '--arg',
      'start-time=2019-03-29T01:08:34Z',
      '--arg',
      'end-time=2019-03-29T01:38:34Z',
      '--arg',
      'stable-hash=xxxx',
      '--arg',
      'canary-hash=yyyy',
    ]);
    expect(r.err).toContain(
      "metrics[0] (mann-whitney): provider.kayenta.thresholds: unknown field, ignored (Argo's CRD prunes it)",
    );
    expect(r.code).toBe(0);
    expect(lastMeasurement(r.final)).toMatchObject({ phase: 'Successful', value: '50' });
    const post = api.seen.slice(before).find((s) => s.method === 'POST')!;
    expect(post.url).toBe(
      '/canary/cfg-1?application=guestbook&metricsAccountName=&configurationAccountName=&storageAccountName=',
    );
    expect(post.body).toContain('"pass": 0,');
  });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

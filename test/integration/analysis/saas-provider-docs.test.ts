// The templates of docs/analysis-saas-providers.md work: each section's first yaml block runs through
// `sluice analysis run -f` against a local API and ends Successful.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalysisCommand } from '../../../src/cli/analysis.ts';
import { type FakeApi, json, startFakeApi } from '../../fixtures/analysis/saas-server.ts';
import { virtualClock } from '../../fixtures/analysis/scripted.ts';

const DOC = readFileSync(join(import.meta.dirname, '../../../docs/analysis-saas-providers.md'), 'utf8');
let api: FakeApi;
let dir: string;
beforeAll(async () => {
  api = await startFakeApi();
  dir = mkdtempSync(join(tmpdir(), 'sluice-saas-doc-'));
});
afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

function template(section: string): string {
  const body = DOC.split(/^## /m).find((s) => s.startsWith(section))!;
  const block = /```yaml\n([\s\S]*?)```/.exec(body)![1]!;
  const path = join(dir, `${section.replace(/\W/g, '')}.yaml`);
  writeFileSync(path, block);
  return path;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAnalysisCommand(argv, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    terminateSignal: new AbortController().signal,
    clock: virtualClock(),
  });
  return { code, out, err };
}

describe('docs/analysis-saas-providers.md templates', () => {
  it('Datadog', async () => {
    api.handle((_q, res) =>
      json(res, 200, { data: { attributes: { columns: [{ name: 'q', type: 'number', values: [0.002] }] } } }),
    );
    const r = await cli([
      'run',
      '-f',
      template('Datadog'),
      '--arg',
      'service-name=web',
      '--secret',
      'datadog/api-key=k1',
      '--secret',
      'datadog/app-key=k2',
      '--secret',
      `datadog/address=${api.base}`,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('New Relic', async () => {
    api.handle((_q, res) =>
      json(res, 200, { data: { actor: { account: { nrql: { results: [{ successRate: 0.99 }] } } } } }),
    );
    const r = await cli([
      'run',
      '-f',
      template('New Relic'),
      '--arg',
      'application-name=web',
      '--secret',
      'my-newrelic-secret/personal-api-key=NRAK-1',
      '--secret',
      'my-newrelic-secret/account-id=1234567',
      '--secret',
      `my-newrelic-secret/base-url-nerdgraph=${api.base}/graphql`,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('CloudWatch', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL: api.base,
    });
    api.handle((_q, res) => json(res, 200, { MetricDataResults: [{ Id: 'rate', Values: [0.001] }] }));
    try {
      const r = await cli([
        'run',
        '-f',
        template('CloudWatch'),
        '--interval-scale',
        '0.01',
        '--duration',
        '1s',
      ]);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it('Kayenta', async () => {
    api.handle((req, res) => {
      const path = req.url.split('?')[0]!;
      if (path === '/canaryConfig') return json(res, 200, [{ id: 'c1', name: 'my-test' }]);
      if (req.method === 'POST') return json(res, 200, { canaryExecutionId: 'x1' });
      return json(res, 200, { complete: true, result: { judgeResult: { score: { score: 95 } } } });
    });
    const r = await cli([
      'run',
      '-f',
      template('Kayenta'),
      '--kayenta',
      api.base,
      '--arg',
      'start-time=2025-01-01T00:00:00Z',
      '--arg',
      'end-time=2025-01-01T01:00:00Z',
      '--arg',
      'stable-hash=a',
      '--arg',
      'canary-hash=b',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});

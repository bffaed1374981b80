// `sluice analysis run -f` as a process (bin/sluice.js) with Argo's Datadog docs template against a local
// Datadog: exit codes as for every provider, and the keys never printed, even when the server echoes them.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeApi, json, startFakeApi } from '../../fixtures/analysis/saas-server.ts';

const ROOT = join(import.meta.dirname, '../../..');
const TEMPLATE = join(ROOT, 'test/fixtures/analysis/argo-docs/datadog.yaml');
const API_KEY = 'dd-api-key-0123456789';
const APP_KEY = 'dd-app-key-9876543210';
let api: FakeApi;
beforeAll(async () => {
  api = await startFakeApi();
});
afterAll(async () => {
  await api.close();
});

function sluice(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/sluice.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

const ARGS = () => [
  'analysis',
  'run',
  '-f',
  TEMPLATE,
  '--arg',
  'service-name=web',
  '--interval-scale',
  '0.0001',
  '--secret',
  `datadog/api-key=${API_KEY}`,
  '--secret',
  `datadog/app-key=${APP_KEY}`,
  '--secret',
  `datadog/address=${api.base}`,
];

describe('sluice analysis run with a datadog template', () => {
  it('exits 0 when the run is Successful', async () => {
    api.handle((_q, res) =>
      json(res, 200, { data: { attributes: { columns: [{ name: 'q', type: 'number', values: [0.004] }] } } }),
    );
    const r = await sluice(ARGS());
    expect(r.code).toBe(0);
    expect(r.out).toContain('error-rate #3  Successful  value=0.004');
    expect(r.out).toContain('AnalysisRun loq-error-rate: Successful');
  }, 30_000);

  it('exits 2 on 403, printing the body with the keys redacted', async () => {
    api.handle((req, res) =>
      json(res, 403, {
        errors: [
          `Forbidden for ${String(req.headers['dd-api-key'])}/${String(req.headers['dd-application-key'])}`,
        ],
      }),
    );
    const r = await sluice(ARGS());
    expect(r.code).toBe(2);
    expect(r.out).toContain('received authentication error response code: 403');
    expect(r.out).toContain('Forbidden for *****/*****');
    expect(`${r.out}${r.err}`).not.toContain(API_KEY);
    expect(`${r.out}${r.err}`).not.toContain(APP_KEY);
  }, 30_000);
});

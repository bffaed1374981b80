// Argo's Graphite template run through the real `sluice analysis run` CLI against a real Graphite
// (Debian's carbon-cache and graphite-web, started by the fixture) fed known counts.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGraphiteProvider } from '../../../src/analysis/providers/graphite.ts';
import { type GraphiteHandle, graphiteUnavailableReason, startGraphite } from '../../fixtures/graphite.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const TEMPLATE = fileURLToPath(
  new URL('../../fixtures/analysis/graphite-success-rate.yaml', import.meta.url),
);
const BUCKET_S = 300;

function runCli(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'analysis', 'run', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const series = (app: string, outcome: string, status: number) =>
  `stats.timers.httpServerRequests.app.${app}.exception.None.method.GET.outcome.${outcome}.status.${status}.uri.root.count`;

const skip = graphiteUnavailableReason();
if (skip) console.warn(`skipping Graphite tests: ${skip}`);

describe.skipIf(skip !== undefined)('analysis against a real Graphite', () => {
  let graphite: GraphiteHandle;
  let dir: string;
  let template: string;

  beforeAll(async () => {
    graphite = await startGraphite();
    dir = mkdtempSync(join(tmpdir(), 'sluice-graphite-test-'));
    template = join(dir, 'template.yaml');
    writeFileSync(template, readFileSync(TEMPLATE, 'utf8').replace('GRAPHITE_ADDRESS', graphite.url));
    // Every point inside the previous whole 5-minute bucket, on 10 s boundaries (the fixture's resolution),
    // so summarize(..., '5min', 'avg') gives one value.
    const bucket = Math.floor(Date.now() / 1_000 / BUCKET_S) * BUCKET_S - BUCKET_S;
    const points = [];
    for (let i = 0; i < 5; i++) {
      const timestampS = bucket + 10 + i * 10;
      points.push({ path: series('payment', 'SUCCESS', 200), value: 95, timestampS });
      points.push({ path: series('payment', 'SERVER_ERROR', 500), value: 5, timestampS });
      points.push({ path: series('orders', 'SUCCESS', 200), value: 70, timestampS });
      points.push({ path: series('orders', 'SERVER_ERROR', 500), value: 30, timestampS });
    }
    await graphite.feed(points);
    await graphite.waitForPoints(series('orders', 'SERVER_ERROR', 500), 5, '-15min');
  }, 60_000);

  afterAll(async () => {
    await graphite?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('measures real render API answers: values per datapoint, nulls skipped, %f values', async () => {
    const provider = createGraphiteProvider();
    const measure = (query: string) =>
      provider.run({
        metricName: 'm',
        provider: { graphite: { address: graphite.url, query } },
        nowMs: Date.now(),
        signal: new AbortController().signal,
      });
    try {
      const raw = await measure(`target=${series('payment', 'SUCCESS', 200)}&from=-15min`);
      expect(raw).toEqual({
        result: [95, 95, 95, 95, 95],
        value: '[95.000000,95.000000,95.000000,95.000000,95.000000]',
      });
      const none = await measure('target=no.such.series&from=-15min');
      expect(none).toEqual({ phase: 'Error', message: 'no values found' });
      const bad = await measure('target=noSuchFunction(a.b)&from=-15min');
      expect(bad.phase).toBe('Error');
      expect(bad.message).toMatch(/^error response: .*noSuchFunction/s);
    } finally {
      await provider.close();
    }
  });

  it('judges the docs template Successful at a 95% success rate (exit 0)', async () => {
    const r = await runCli(['-f', template, '--arg', 'service-name=payment', '--duration', '1s']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/success-rate #1 {2}Successful {2}value=\[95\.000000\]/);
    expect(r.stdout).toContain('AnalysisRun success-rate: Successful');
    expect(r.code).toBe(0);
  }, 40_000);

  it('judges it Failed at a 70% success rate (exit 1)', async () => {
    const r = await runCli([
      '-f',
      template,
      '--arg',
      'service-name=orders',
      '--interval-scale',
      '0.001',
      '--duration',
      '20s',
    ]);
    expect(r.stdout).toMatch(/success-rate #1 {2}Failed {2}value=\[70\.000000\]/);
    expect(r.stdout).toContain('AnalysisRun success-rate: Failed');
    expect(r.code).toBe(1);
  }, 40_000);

  it("measures Error with the docs' own `results[0]` condition, as Argo does (unknown name)", async () => {
    const verbatim = join(dir, 'verbatim.yaml');
    writeFileSync(verbatim, readFileSync(template, 'utf8').replace('result[0] >=', 'results[0] >='));
    const r = await runCli(['-f', verbatim, '--arg', 'service-name=payment', '--duration', '1s']);
    expect(r.stdout).toMatch(
      /success-rate #1 {2}Error {2}value=\[95\.000000\] {2}message="unknown name results/,
    );
  }, 40_000);
});

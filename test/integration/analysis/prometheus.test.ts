// The guide's http-kpi-analysis template, verbatim, run through the real `sluice analysis run` CLI
// against a real Prometheus (Debian package) scraping a test exporter whose series the test controls.

import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrometheusProvider } from '../../../src/analysis/providers/prometheus.ts';
import { type PaymentExporter, startPaymentExporter } from '../../fixtures/analysis/payment-exporter.ts';
import {
  type PrometheusHandle,
  prometheusUnavailableReason,
  singleValue,
  startPrometheus,
} from '../../fixtures/prometheus.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../../fixtures/analysis/http-kpi-analysis.yaml', import.meta.url));
const ERROR_RATE =
  'sum(rate(http_requests_total{status=~"5..", app="payment-service"}[2m])) / sum(rate(http_requests_total{app="payment-service"}[2m]))';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

function runCli(args: string[], onStdout?: (text: string) => void, timeoutMs = 40_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'analysis', 'run', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      onStdout?.(stdout);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const skip = prometheusUnavailableReason();

describe.skipIf(skip !== undefined)('analysis against a real Prometheus', () => {
  let exporter: PaymentExporter;
  let prometheus: PrometheusHandle;

  beforeAll(async () => {
    exporter = await startPaymentExporter();
    prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalMs: 250 });
    await prometheus.waitForTargetsUp(15_000);
    // rate() needs two samples in the window.
    await waitFor(
      'an error-rate value',
      async () => Number.isFinite(singleValue(await prometheus.query(ERROR_RATE))),
      15_000,
    );
  }, 50_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await prometheus?.stop();
    await exporter?.stop();
  });

  it('shapes real query results: vector -> numbers, scalar -> number, empty -> []', async () => {
    const provider = createPrometheusProvider();
    try {
      const req = (query: string) => ({
        metricName: 'm',
        provider: { prometheus: { address: prometheus.url, query } },
        nowMs: Date.now(),
        signal: new AbortController().signal,
      });
      const vector = await provider.run(req('sum by (status) (http_requests_total{app="payment-service"})'));
      expect(Array.isArray(vector.result) && vector.result.length).toBe(2);
      expect(vector.value).toMatch(/^\[\d+,\d+\]$/);
      expect(await provider.run(req('scalar(vector(0.25))'))).toEqual({ result: 0.25, value: '0.25' });
      expect(await provider.run(req('http_requests_total{app="nope"}'))).toEqual({ result: [], value: '[]' });
      const bad = await provider.run(req('sum(rate(http_requests_total[2m])'));
      expect(bad.phase).toBe('Error');
      expect(bad.message).toMatch(/^bad_data: .*parse error/);
      const range = await provider.run({
        ...req('up'),
        provider: {
          prometheus: {
            address: prometheus.url,
            query: 'up',
            rangeQuery: { start: 'now() - duration("2s")', end: 'now()', step: '250ms' },
          },
        },
      });
      expect(Array.isArray(range.result) && range.result.length).toBeGreaterThanOrEqual(2);
    } finally {
      await provider.close();
    }
  });

  it('judges the guide template Successful on healthy traffic (exit 0)', async () => {
    const r = await runCli([
      '-f',
      TEMPLATE,
      '--prometheus',
      prometheus.url,
      '--interval-scale',
      '0.01',
      '--duration',
      '3s',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/error-rate #1 {2}Successful {2}value=\[0\]/);
    expect(r.stdout).toMatch(/latency-p95 #1 {2}Successful {2}value=\[\d+(\.\d+)?\]/);
    expect(r.stdout).toContain('AnalysisRun http-kpi-analysis: Successful');
    expect((r.stdout.match(/error-rate #\d+ {2}Successful/g) ?? []).length).toBeGreaterThanOrEqual(3);
    expect(r.code).toBe(0);
  }, 50_000);

  it('judges it Failed when the service serves 5xx (exit 1)', async () => {
    exporter.okPerScrape = 50;
    exporter.errorsPerScrape = 50;
    await waitFor(
      'the error rate to rise',
      async () => singleValue(await prometheus.query(ERROR_RATE)) > 0.05,
      20_000,
    );
    const r = await runCli([
      '-f',
      TEMPLATE,
      '--prometheus',
      prometheus.url,
      '--interval-scale',
      '0.01',
      '--duration',
      '30s',
    ]);
    expect(r.stdout).toMatch(/error-rate #3 {2}Failed/);
    expect(r.stdout).toContain('AnalysisRun http-kpi-analysis: Failed');
    expect(r.stdout).toContain('Metric "error-rate" assessed Failed due to failed (3) > failureLimit (2)');
    expect(r.code).toBe(1);
  }, 50_000);

  it('gives Error measurements when Prometheus stops mid-run, and the run Error after the limit (exit 2)', async () => {
    exporter.okPerScrape = 100;
    exporter.errorsPerScrape = 0;
    let stopping: Promise<void> | undefined;
    const r = await runCli(
      ['-f', TEMPLATE, '--prometheus', prometheus.url, '--interval-scale', '0.01', '--duration', '30s'],
      (out) => {
        if (stopping === undefined && /latency-p95 #1 /.test(out)) stopping = prometheus.stop();
      },
    );
    await stopping;
    expect(stopping).toBeDefined();
    expect(r.stdout).toMatch(/error-rate #\d+ {2}Error {2}message=".*ECONNREFUSED/);
    expect(r.stdout).toContain('AnalysisRun http-kpi-analysis: Error');
    expect(r.stdout).toMatch(/assessed Error due to consecutiveErrors \(5\) > consecutiveErrorLimit \(4\)/);
    expect(r.code).toBe(2);
  }, 50_000);
});

// A real Prometheus scrapes the admin server while known requests are recorded through the
// Telemetry API; the success-rate and p95 queries from the Argo guides must return the right values.
//
// Determinism: rate() extrapolates each series by a factor that depends on its first sample, so
// every series is seeded (before the first scrape) with exactly twice the measured traffic; then
// every series and bucket that moves has first/increase = 2 and the same factor, and the ratio and
// the quantile are exact. Recording is synchronous, so no scrape can land in the middle of it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminServer, startAdminServer } from '../../../proxy/admin.ts';
import { DURATION_BUCKETS_SECONDS } from '../../../proxy/metrics.ts';
import { createTelemetry, type ProxyTelemetry, type SeriesLabels } from '../../../proxy/telemetry.ts';
import {
  expectedHistogramQuantile,
  type PrometheusHandle,
  prometheusUnavailableReason,
  singleValue,
  startPrometheus,
  waitForQuery,
} from '../../fixtures/prometheus.ts';

const SUCCESS_RATE =
  '100 * sum(rate(http_requests_total{status!~"5..", app="checkout"}[5m])) / sum(rate(http_requests_total{app="checkout"}[5m]))';
const P95_MS =
  'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket{app="checkout"}[5m])) by (le)) * 1000';

const STABLE: SeriesLabels = { app: 'checkout', namespace: 'shop', role: 'stable', revision: '6f9c7d' };
const CANARY: SeriesLabels = { app: 'checkout', namespace: 'shop', role: 'canary', revision: '84b2a1' };
const OTHER_APP: SeriesLabels = { app: 'payments', namespace: 'shop', role: 'stable', revision: 'aaaaaa' };

interface KnownRequest {
  labels: SeriesLabels;
  status: number;
  method: string;
  latencyUs: number;
}

/**
 * 1000 checkout requests, 30 of them 5xx, latencies spread evenly over 2.05..301.75 ms in a scrambled
 * order (never on a bucket bound), split 900 stable / 100 canary; plus 50 failing requests of
 * another app that the queries must ignore.
 */
function knownRequests(): KnownRequest[] {
  const requests: KnownRequest[] = [];
  for (let i = 0; i < 1_000; i++) {
    const latencyUs = 2_050 + ((i * 7_919) % 1_000) * 300;
    const status = i % 100 < 3 ? (i % 2 === 0 ? 503 : 500) : i % 10 === 5 ? 404 : 200;
    requests.push({
      labels: i % 10 === 0 ? CANARY : STABLE,
      status,
      method: i % 4 === 0 ? 'POST' : 'GET',
      latencyUs,
    });
  }
  for (let i = 0; i < 50; i++)
    requests.push({ labels: OTHER_APP, status: 502, method: 'GET', latencyUs: 9_000_000 });
  return requests;
}

function recordAll(telemetry: ProxyTelemetry, requests: KnownRequest[]): void {
  for (const r of requests) telemetry.series(r.labels).record(r.status, r.method, r.latencyUs);
}

const skipReason = prometheusUnavailableReason();
if (skipReason) console.warn(`prometheus-metrics.test.ts skipped: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('Prometheus scraping the admin server', () => {
  let telemetry: ProxyTelemetry;
  let admin: AdminServer;
  let prometheus: PrometheusHandle | undefined;
  const requests = knownRequests();

  beforeAll(async () => {
    telemetry = createTelemetry();
    admin = await startAdminServer({
      host: '127.0.0.1',
      port: 0,
      metrics: telemetry.metrics,
      describeConfig: () => ({ routes: [] }),
      ready: () => true,
    });
    // Seed: twice the measured traffic, present from the first scrape on.
    recordAll(telemetry, requests);
    recordAll(telemetry, requests);
    prometheus = await startPrometheus({ targets: [admin.address], scrapeIntervalMs: 500 });
    await prometheus.waitForTargetsUp(15_000);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await admin?.close();
  });

  it('answers the success-rate and p95 queries of the guides verbatim with the recorded values', async () => {
    const prom = prometheus!;
    recordAll(telemetry, requests);
    // Wait until a scrape has seen the measured traffic (3x the per-phase count in total).
    await waitForQuery(
      prom,
      'sum(http_requests_total{app="checkout"})',
      (data) => singleValue(data) === 3_000,
      10_000,
    );

    const successRate = singleValue(await prom.query(SUCCESS_RATE));
    expect(successRate).toBeCloseTo(97, 9);

    const checkout = requests.filter((r) => r.labels.app === 'checkout');
    const latenciesSeconds = checkout.map((r) => r.latencyUs / 1e6);
    const sorted = [...latenciesSeconds].sort((a, b) => a - b);
    const trueP95Seconds = sorted[Math.ceil(0.95 * sorted.length) - 1]!;
    const p95Ms = singleValue(await prom.query(P95_MS));

    // Exactly what Prometheus' interpolation gives for these observations...
    const expectedMs = expectedHistogramQuantile(0.95, DURATION_BUCKETS_SECONDS, latenciesSeconds) * 1000;
    expect(p95Ms).toBeCloseTo(expectedMs, 6);
    // ...which lies in the same bucket as the true p95 (the bucket resolution).
    const upper = DURATION_BUCKETS_SECONDS.find((bound) => bound >= trueP95Seconds)!;
    const lower = DURATION_BUCKETS_SECONDS[DURATION_BUCKETS_SECONDS.indexOf(upper) - 1] ?? 0;
    expect(p95Ms).toBeGreaterThan(lower * 1000);
    expect(p95Ms).toBeLessThanOrEqual(upper * 1000);
    expect(Math.abs(p95Ms - trueP95Seconds * 1000)).toBeLessThanOrEqual((upper - lower) * 1000);
  });

  it('exposes the proxy self-metrics to Prometheus', async () => {
    telemetry.configApplied(42);
    telemetry.upstreamError('SLUICE_UPSTREAM_CONNECT');
    const data = await waitForQuery(
      prometheus!,
      'sluice_proxy_config_version',
      (d) => singleValue(d) === 42,
      10_000,
    );
    expect(singleValue(data)).toBe(42);
    expect(singleValue(await prometheus!.query('sum(sluice_proxy_upstream_errors_total)'))).toBe(1);
    expect(singleValue(await prometheus!.query('process_resident_memory_bytes'))).toBeGreaterThan(0);
  });
});

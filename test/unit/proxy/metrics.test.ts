import { describe, expect, it } from 'vitest';
import {
  bucketIndexUs,
  DURATION_BUCKETS_SECONDS,
  type LabelSet,
  PrometheusMetrics,
} from '../../../proxy/metrics.ts';
import { createTelemetry } from '../../../proxy/telemetry.ts';
import { type ExpositionSample, parseExposition } from '../../fixtures/prometheus.ts';

const CHECKOUT_STABLE: LabelSet = { app: 'checkout', namespace: 'shop', role: 'stable', revision: '6f9c7d' };
const CHECKOUT_CANARY: LabelSet = { app: 'checkout', namespace: 'shop', role: 'canary', revision: '84b2a1' };

const fixedStats = () => ({
  residentMemoryBytes: 12_345_678,
  cpuSeconds: 1.5,
  startTimeSeconds: 1_700_000_000,
  heapUsedBytes: 4_000_000,
});

function find(samples: ExpositionSample[], name: string, labels: Record<string, string>): ExpositionSample[] {
  return samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
}

function one(samples: ExpositionSample[], name: string, labels: Record<string, string>): number {
  const found = find(samples, name, labels);
  if (found.length !== 1)
    throw new Error(`expected one ${name} ${JSON.stringify(labels)}, got ${found.length}`);
  return found[0]!.value;
}

describe('PrometheusMetrics exposition', () => {
  it('counts requests per series by status code and method', async () => {
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    const stable = metrics.series(CHECKOUT_STABLE);
    for (let i = 0; i < 7; i++) stable.record(200, 'GET', 2_000);
    stable.record(503, 'GET', 1_000);
    stable.record(201, 'POST', 3_000);
    metrics.series(CHECKOUT_CANARY).record(200, 'GET', 500);

    const { samples, types } = parseExposition(await metrics.render());
    expect(types.get('http_requests_total')).toBe('counter');
    const base = { app: 'checkout', namespace: 'shop', role: 'stable', revision: '6f9c7d' };
    expect(one(samples, 'http_requests_total', { ...base, status: '200', method: 'GET' })).toBe(7);
    expect(one(samples, 'http_requests_total', { ...base, status: '503', method: 'GET' })).toBe(1);
    expect(one(samples, 'http_requests_total', { ...base, status: '201', method: 'POST' })).toBe(1);
    expect(one(samples, 'http_requests_total', { role: 'canary', status: '200', method: 'GET' })).toBe(1);
    expect(find(samples, 'http_requests_total', {})).toHaveLength(4);
  });

  it('renders cumulative buckets with the identical le set on every series, +Inf equal to _count', async () => {
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    const latenciesUs = [
      100, 1_000, 1_001, 4_999, 20_000, 333_000, 999_999, 1_000_000, 7_000_000, 12_000_000,
    ];
    for (const latencyUs of latenciesUs) metrics.series(CHECKOUT_STABLE).record(200, 'GET', latencyUs);
    metrics.series(CHECKOUT_CANARY).record(200, 'GET', 50_000);

    const { samples, types } = parseExposition(await metrics.render());
    expect(types.get('http_request_duration_seconds')).toBe('histogram');
    const expectedLe = [...DURATION_BUCKETS_SECONDS.map(String), '+Inf'];
    for (const role of ['stable', 'canary']) {
      const buckets = find(samples, 'http_request_duration_seconds_bucket', { role });
      expect(buckets.map((b) => b.labels.le)).toEqual(expectedLe);
      for (let i = 1; i < buckets.length; i++)
        expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets.at(-1)!.value).toBe(one(samples, 'http_request_duration_seconds_count', { role }));
    }
    const stableBuckets = find(samples, 'http_request_duration_seconds_bucket', { role: 'stable' });
    const le = (bound: string) => stableBuckets.find((b) => b.labels.le === bound)!.value;
    // `le` is inclusive: exactly 1 ms falls in le="0.001", 1.001 ms does not.
    expect(le('0.001')).toBe(2);
    expect(le('0.0025')).toBe(3);
    expect(le('0.005')).toBe(4);
    expect(le('1')).toBe(8);
    expect(le('10')).toBe(9);
    expect(le('+Inf')).toBe(10);
    const sumSeconds = latenciesUs.reduce((a, b) => a + b, 0) / 1e6;
    expect(one(samples, 'http_request_duration_seconds_sum', { role: 'stable' })).toBeCloseTo(sumSeconds, 9);
  });

  it('finds the first bound at or above a latency with binary search', () => {
    const boundsUs = DURATION_BUCKETS_SECONDS.map((s) => Math.round(s * 1e6));
    for (const latencyUs of [0, 1, 999, 1_000, 1_001, 74_999, 75_000, 75_001, 10_000_000, 10_000_001, 1e12]) {
      const linear = boundsUs.findIndex((bound) => latencyUs <= bound);
      expect(bucketIndexUs(latencyUs)).toBe(linear === -1 ? boundsUs.length : linear);
    }
  });

  it('escapes backslash, double quote and line feed in label values so they parse back unchanged', async () => {
    const nasty: LabelSet = { app: 'we"ird\\app\nx', namespace: '', role: 'r{o}le,=', revision: 'ü-1' };
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    metrics.series(nasty).record(200, 'GET', 1);
    metrics.upstreamError('CODE"WITH\\QUOTE');
    const text = await metrics.render();
    expect(text).toContain('app="we\\"ird\\\\app\\nx"');
    const { samples } = parseExposition(text);
    const request = find(samples, 'http_requests_total', {})[0]!;
    expect(request.labels).toEqual({ ...nasty, status: '200', method: 'GET' });
    expect(one(samples, 'sluice_proxy_upstream_errors_total', { code: 'CODE"WITH\\QUOTE' })).toBe(1);
  });

  it('counts unknown methods as OTHER and out-of-range statuses as other', async () => {
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    const series = metrics.series(CHECKOUT_STABLE);
    series.record(200, 'PROPFIND', 10);
    series.record(200, 'get', 10);
    series.record(99, 'GET', 10);
    series.record(600, 'GET', 10);
    const { samples } = parseExposition(await metrics.render());
    expect(one(samples, 'http_requests_total', { method: 'OTHER', status: '200' })).toBe(2);
    expect(one(samples, 'http_requests_total', { method: 'GET', status: 'other' })).toBe(2);
  });

  it('exposes the proxy self-metrics and process basics with HELP and TYPE for every family', async () => {
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    metrics.configApplied(7);
    metrics.configApplied(9);
    metrics.configRejected();
    metrics.upstreamError('SLUICE_UPSTREAM_CONNECT');
    metrics.upstreamError('SLUICE_UPSTREAM_CONNECT');
    metrics.upstreamError('SLUICE_UPSTREAM_TIMEOUT');
    metrics.connectionOpened();
    metrics.connectionOpened();
    metrics.connectionOpened();
    metrics.connectionClosed();
    metrics.reportsDropped(4);
    metrics.controlConnected(true);

    const { samples, types, help } = parseExposition(await metrics.render());
    expect(one(samples, 'sluice_proxy_config_version', {})).toBe(9);
    expect(one(samples, 'sluice_proxy_config_reloads_total', { result: 'success' })).toBe(2);
    expect(one(samples, 'sluice_proxy_config_reloads_total', { result: 'failure' })).toBe(1);
    expect(one(samples, 'sluice_proxy_upstream_errors_total', { code: 'SLUICE_UPSTREAM_CONNECT' })).toBe(2);
    expect(one(samples, 'sluice_proxy_upstream_errors_total', { code: 'SLUICE_UPSTREAM_TIMEOUT' })).toBe(1);
    expect(one(samples, 'sluice_proxy_open_connections', {})).toBe(2);
    expect(one(samples, 'sluice_proxy_histogram_reports_dropped_total', {})).toBe(4);
    expect(one(samples, 'sluice_proxy_control_connected', {})).toBe(1);
    expect(one(samples, 'process_resident_memory_bytes', {})).toBe(12_345_678);
    expect(one(samples, 'process_cpu_seconds_total', {})).toBe(1.5);
    expect(types.get('process_cpu_seconds_total')).toBe('counter');

    for (const sample of samples) {
      const family = sample.name.replace(/_(bucket|sum|count)$/, '');
      const name = types.has(sample.name) ? sample.name : family;
      expect(types.has(name), `TYPE for ${sample.name}`).toBe(true);
      expect(help.get(name), `HELP for ${sample.name}`).toBeTruthy();
    }
  });

  it('never lets open connections go negative', async () => {
    const metrics = new PrometheusMetrics({ processStats: fixedStats });
    metrics.connectionClosed();
    expect(one(parseExposition(await metrics.render()).samples, 'sluice_proxy_open_connections', {})).toBe(0);
  });

  it('reads this process when no stats are injected', async () => {
    const { samples } = parseExposition(await new PrometheusMetrics().render());
    expect(one(samples, 'process_resident_memory_bytes', {})).toBeGreaterThan(1_000_000);
    expect(one(samples, 'process_cpu_seconds_total', {})).toBeGreaterThan(0);
  });
});

describe('createTelemetry', () => {
  it('returns the same series for the same labels and records into both Prometheus and HDR', async () => {
    let now = 1_000_000;
    const telemetry = createTelemetry({ clock: () => now, processStats: fixedStats });
    const a = telemetry.series({ ...CHECKOUT_STABLE });
    const b = telemetry.series({ ...CHECKOUT_STABLE });
    expect(a).toBe(b);
    expect(telemetry.series(CHECKOUT_CANARY)).not.toBe(a);
    a.record(200, 'GET', 1_500);
    a.record(502, 'GET', 2_500);
    telemetry.configApplied(3);
    telemetry.upstreamError('SLUICE_UPSTREAM_RESET');

    const { samples } = parseExposition(await telemetry.metrics.render());
    expect(one(samples, 'http_requests_total', { role: 'stable', status: '502' })).toBe(1);
    expect(one(samples, 'sluice_proxy_config_version', {})).toBe(3);
    expect(one(samples, 'sluice_proxy_upstream_errors_total', { code: 'SLUICE_UPSTREAM_RESET' })).toBe(1);

    now += 1_000;
    const reports = telemetry.histograms.drainReports();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      route: 'checkout',
      role: 'stable',
      requests: 2,
      count2xx: 1,
      errors: 1,
    });
  });
});

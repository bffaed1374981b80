import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  errorRate,
  type HistogramReport,
  HistogramStore,
  latencyQuantileMs,
  requestRatePerSecond,
  successRate,
} from '../../../src/control/histogram-store.ts';

function encode(latenciesUs: readonly number[]): string {
  const h = build();
  for (const v of latenciesUs) h.recordValue(v);
  return encodeIntoCompressedBase64(h);
}

function report(overrides: Partial<HistogramReport> & { latenciesUs?: number[] } = {}): HistogramReport {
  const latenciesUs = overrides.latenciesUs ?? [1000, 2000, 3000, 4000];
  const errors = overrides.errors ?? 0;
  const requests = overrides.requests ?? latenciesUs.length;
  const { latenciesUs: _ignored, ...rest } = overrides;
  return {
    proxyId: 'proxy-a',
    route: 'checkout',
    namespace: 'shop',
    role: 'stable',
    revision: 'rev1',
    startMs: 9_000,
    endMs: 10_000,
    histogram: encode(latenciesUs),
    count1xx: 0,
    count2xx: requests - errors,
    count3xx: 0,
    count4xx: 0,
    count5xx: errors,
    requests,
    errors,
    ...rest,
  };
}

describe('histogram store', () => {
  it('rejects malformed reports with an error naming the field, never throwing', () => {
    const store = new HistogramStore({ nowMs: () => 10_000 });
    const cases: [unknown, string][] = [
      [null, 'report'],
      [{ ...report(), route: '' }, 'report.route'],
      [{ ...report(), revision: 7 }, 'report.revision'],
      [{ ...report(), endMs: 8_000 }, 'report.endMs'],
      [{ ...report(), count2xx: -1 }, 'report.count2xx'],
      [{ ...report(), requests: 1.5 }, 'report.requests'],
      [{ ...report(), errors: 10 }, 'report.errors'],
      [{ ...report(), histogram: 'not-a-histogram' }, 'report.histogram'],
      [{ ...report(), endMs: 10_000 + 3_600_000, startMs: 10_000 }, 'report.endMs'],
    ];
    for (const [input, field] of cases) {
      const result = store.ingest(input);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.field).toBe(field);
    }
  });

  it('merges reports from several proxies and answers rates and quantiles over a window', () => {
    const store = new HistogramStore({ nowMs: () => 60_000 });
    expect(store.ingest(report({ proxyId: 'a', latenciesUs: [1000, 2000], errors: 1 }))).toEqual({
      ok: true,
      stored: true,
    });
    expect(store.ingest(report({ proxyId: 'b', latenciesUs: [3000, 4000, 5000, 100_000] })).ok).toBe(true);
    const w = store.window({ route: 'checkout', revision: 'stable', fromMs: 0, toMs: 60_000 });
    expect(w.ok).toBe(true);
    if (!w.ok) return;
    expect(w.value).toMatchObject({
      namespace: 'shop',
      revision: 'rev1',
      requests: 6,
      errors: 1,
      intervals: 2,
      proxies: 2,
    });
    expect(errorRate(w.value)).toBeCloseTo(1 / 6, 12);
    expect(successRate(w.value)).toBeCloseTo(5 / 6, 12);
    expect(requestRatePerSecond(w.value)).toBeCloseTo(6 / 60, 12);
    expect(latencyQuantileMs(w.value, 0.5)).toBeCloseTo(3, 2);
    expect(latencyQuantileMs(w.value, 1)).toBeCloseTo(100, 0);
  });

  it('windows by interval end and resolves roles to the latest revision reported with them', () => {
    const store = new HistogramStore({ nowMs: () => 100_000 });
    store.ingest(report({ endMs: 10_000, startMs: 9_000 }));
    store.ingest(report({ endMs: 20_000, startMs: 19_000, latenciesUs: [7000] }));
    store.ingest(
      report({
        endMs: 20_000,
        startMs: 19_000,
        role: 'canary',
        revision: 'rev2',
        latenciesUs: [9000],
        errors: 1,
      }),
    );
    const late = store.window({ route: 'checkout', revision: 'stable', fromMs: 10_000, toMs: 20_000 });
    expect(late.ok && late.value.requests).toBe(1);
    const canary = store.window({ route: 'checkout', revision: 'canary', fromMs: 0, toMs: 100_000 });
    expect(canary.ok && canary.value).toMatchObject({ revision: 'rev2', requests: 1, errors: 1 });
    const byHash = store.window({ route: 'checkout', revision: 'rev1', fromMs: 0, toMs: 100_000 });
    expect(byHash.ok && byHash.value.requests).toBe(5);
    // rev2 becomes stable after promotion: the role follows the latest report.
    store.ingest(report({ endMs: 30_000, startMs: 29_000, role: 'stable', revision: 'rev2' }));
    const promoted = store.window({ route: 'checkout', revision: 'stable', fromMs: 0, toMs: 100_000 });
    expect(promoted.ok && promoted.value.revision).toBe('rev2');
  });

  it('ignores a report re-sent by the same proxy for the same interval', () => {
    const store = new HistogramStore({ nowMs: () => 10_000 });
    expect(store.ingest(report())).toEqual({ ok: true, stored: true });
    expect(store.ingest(report())).toEqual({ ok: true, stored: false, reason: 'duplicate' });
  });

  it('drops intervals older than the retention window and evicts the oldest over the memory cap', () => {
    let now = 10_000;
    const store = new HistogramStore({ nowMs: () => now, retentionMs: 60_000 });
    store.ingest(report());
    now = 75_000;
    expect(store.ingest(report({ startMs: 74_000, endMs: 75_000 })).ok).toBe(true);
    const w = store.window({ route: 'checkout', revision: 'stable', fromMs: 0, toMs: now });
    expect(w.ok && w.value.intervals).toBe(1);
    expect(store.ingest(report({ startMs: 1_000, endMs: 2_000 }))).toEqual({
      ok: true,
      stored: false,
      reason: 'stale',
    });

    const capped = new HistogramStore({ nowMs: () => 100_000, maxBytes: 1_000 });
    for (let i = 1; i <= 10; i++) capped.ingest(report({ startMs: i * 1000, endMs: i * 1000 + 1000 }));
    expect(capped.sizeBytes).toBeLessThanOrEqual(1_000);
    const left = capped.series({ route: 'checkout', revision: 'stable', fromMs: 0, toMs: 100_000 });
    expect(left.ok && left.value.intervals.map((i) => i.endMs).at(-1)).toBe(11_000);
    expect(left.ok && left.value.intervals.length).toBeLessThan(10);
  });

  it('asks for a namespace when the route exists in several', () => {
    const store = new HistogramStore({ nowMs: () => 10_000 });
    store.ingest(report());
    store.ingest(report({ namespace: 'other' }));
    const w = store.window({ route: 'checkout', revision: 'stable', fromMs: 0, toMs: 10_000 });
    expect(!w.ok && w.error.field).toBe('query.namespace');
  });
});

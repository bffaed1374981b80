import { describe, expect, it } from 'vitest';
import {
  decodeLatencyHistogram,
  HistogramRecorder,
  newLatencyHistogram,
  statusClassIndex,
} from '../../../proxy/histograms.ts';
import type { LabelSet } from '../../../proxy/metrics.ts';

const STABLE: LabelSet = { app: 'checkout', namespace: 'shop', role: 'stable', revision: '6f9c7d' };
const CANARY: LabelSet = { app: 'checkout', namespace: 'shop', role: 'canary', revision: '84b2a1' };
const T0 = 1_700_000_000_000;

function fakeClock(startMs = T0) {
  let now = startMs;
  return {
    now: () => now,
    set: (ms: number) => {
      now = ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

/** Deterministic pseudo-random latencies (xorshift), log-spread between 100 us and ~2 s. */
function latencies(count: number, seed = 42): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const u = (x >>> 0) / 0xffffffff;
    out.push(Math.round(100 * 20_000 ** u));
  }
  return out;
}

function exactPercentile(sorted: number[], percentile: number): number {
  // Nearest-rank percentile; the epsilon keeps float noise (0.999 * 5000 = 4995.000000000001) from skipping a rank.
  const rank = Math.max(1, Math.ceil((percentile * sorted.length) / 100 - 1e-9));
  return sorted[rank - 1]!;
}

describe('HistogramRecorder intervals', () => {
  it('cuts intervals on the interval grid and reports each completed interval exactly once', () => {
    const clock = fakeClock(T0 + 250);
    const store = new HistogramRecorder({ intervalMs: 1_000, clock: clock.now });
    const series = store.series(STABLE);
    series.record(200, 'GET', 1_000);
    series.record(404, 'GET', 2_000);
    clock.advance(500); // T0+750, same interval
    series.record(500, 'GET', 3_000);
    expect(store.drainReports()).toEqual([]); // nothing completed yet

    clock.set(T0 + 1_100); // next interval
    series.record(200, 'GET', 4_000);
    const first = store.drainReports();
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({
      route: 'checkout',
      namespace: 'shop',
      role: 'stable',
      revision: '6f9c7d',
      startMs: T0,
      endMs: T0 + 1_000,
      requests: 3,
      count1xx: 0,
      count2xx: 1,
      count3xx: 0,
      count4xx: 1,
      count5xx: 1,
      errors: 1,
    });
    const decoded = decodeLatencyHistogram(first[0]!.histogram);
    expect(decoded.totalCount).toBe(3);
    expect(decoded.maxValue).toBeGreaterThanOrEqual(2_997);
    expect(decoded.maxValue).toBeLessThanOrEqual(3_003);

    expect(store.drainReports()).toEqual([]); // already exported, current interval still open
    clock.set(T0 + 2_000); // the second interval closes without a new request
    const second = store.drainReports();
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ startMs: T0 + 1_000, endMs: T0 + 2_000, requests: 1, count2xx: 1 });
  });

  it('skips empty intervals instead of storing or reporting them', () => {
    const clock = fakeClock();
    const store = new HistogramRecorder({ intervalMs: 1_000, clock: clock.now });
    const series = store.series(STABLE);
    series.record(200, 'GET', 10);
    clock.advance(5_500); // five silent intervals pass
    series.record(200, 'GET', 20);
    clock.advance(1_000);
    const reports = store.drainReports();
    expect(reports.map((r) => [r.startMs - T0, r.endMs - T0])).toEqual([
      [0, 1_000],
      [5_000, 6_000],
    ]);
    expect(series.retainedIntervals).toBe(2);
    clock.advance(3_000);
    store.rotateAll();
    expect(series.current.histogram).toBeUndefined(); // idle series released its counts array
  });

  it('keeps completed intervals for the window only and counts those that expired unexported', () => {
    const clock = fakeClock();
    const store = new HistogramRecorder({ intervalMs: 1_000, windowMs: 5_000, clock: clock.now });
    const series = store.series(STABLE);
    for (let i = 0; i < 10; i++) {
      series.record(200, 'GET', 1_000 + i);
      clock.advance(1_000);
    }
    store.rotateAll();
    expect(series.retainedIntervals).toBe(5);
    expect(store.expiredUnexported).toBe(5);
    const reports = store.drainReports();
    expect(reports.map((r) => (r.startMs - T0) / 1_000)).toEqual([5, 6, 7, 8, 9]);
  });

  it('rejects an interval that is not a positive integer and a window shorter than the interval', () => {
    expect(() => new HistogramRecorder({ intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => new HistogramRecorder({ intervalMs: 1.5 })).toThrow(/intervalMs/);
    expect(() => new HistogramRecorder({ intervalMs: 1_000, windowMs: 500 })).toThrow(/windowMs/);
  });

  it('returns the same series object for the same labels', () => {
    const store = new HistogramRecorder();
    expect(store.series({ ...STABLE })).toBe(store.series({ ...STABLE }));
    expect(store.series(CANARY)).not.toBe(store.series(STABLE));
  });

  it('maps status codes to classes, clamping out-of-range codes', () => {
    expect([100, 199, 200, 302, 404, 500, 599, 42, 700, Number.NaN].map(statusClassIndex)).toEqual([
      0, 0, 1, 2, 3, 4, 4, 0, 4, 0,
    ]);
  });
});

describe('HDR encoding and window queries', () => {
  it('round-trips through the V2 compressed encoding with percentiles preserved to 3 significant digits', () => {
    const values = latencies(5_000);
    const histogram = newLatencyHistogram();
    for (const v of values) histogram.recordValue(v);
    const clock = fakeClock();
    const store = new HistogramRecorder({ clock: clock.now });
    const series = store.series(STABLE);
    for (const v of values) series.record(200, 'GET', v);
    clock.advance(1_000);
    const [report] = store.drainReports();
    expect(report!.histogram.startsWith('HISTF')).toBe(true);
    const decoded = decodeLatencyHistogram(report!.histogram);
    expect(decoded.totalCount).toBe(values.length);

    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [50, 90, 95, 99, 99.9]) {
      const exact = exactPercentile(sorted, p);
      const got = decoded.getValueAtPercentile(p);
      expect(got).toBe(histogram.getValueAtPercentile(p));
      // 3 significant digits: within 0.1% of the true value (HDR reports the bucket's highest equivalent value).
      expect(Math.abs(got - exact) / exact, `p${p}: ${got} vs ${exact}`).toBeLessThanOrEqual(0.001);
    }
  });

  it('merges matching series over the window, including the interval still being recorded', () => {
    const clock = fakeClock();
    const store = new HistogramRecorder({ intervalMs: 1_000, windowMs: 10_000, clock: clock.now });
    const stable = store.series(STABLE);
    const canary = store.series(CANARY);
    const canaryValues: number[] = [];
    for (let second = 0; second < 4; second++) {
      for (let i = 0; i < 100; i++) {
        stable.record(200, 'GET', 1_000);
        const v = 10_000 + second * 1_000 + i;
        canaryValues.push(v);
        canary.record(i < 5 ? 503 : 200, 'GET', v);
      }
      clock.advance(1_000);
    }
    canary.record(200, 'GET', 50_000); // open interval
    canaryValues.push(50_000);

    const canaryWindow = store.query({ app: 'checkout', role: 'canary' });
    expect(canaryWindow.requests).toBe(401);
    expect(canaryWindow.errors).toBe(20);
    expect(canaryWindow.countsByClass).toEqual([0, 381, 0, 0, 20]);
    const sorted = canaryValues.sort((a, b) => a - b);
    for (const p of [50, 95, 99]) {
      const exact = exactPercentile(sorted, p);
      expect(Math.abs(canaryWindow.percentileUs(p) - exact) / exact).toBeLessThanOrEqual(0.001);
    }
    expect(canaryWindow.histogram.maxValue).toBeGreaterThanOrEqual(49_950);

    expect(store.query({ app: 'checkout' }).requests).toBe(801);
    expect(store.query({ app: 'checkout', role: 'canary' }, 2_000).requests).toBe(201);
    const none = store.query({ app: 'nope' });
    expect(none.requests).toBe(0);
    expect(none.percentileUs(99)).toBe(0);
  });
});

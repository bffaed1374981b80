import { describe, expect, it } from 'vitest';
import {
  histogramDelta,
  histogramOf,
  histogramQuantile,
  parsePromText,
  sumOf,
} from '../../../bench/lib/prom-text.ts';
import { createControllerMetrics } from '../../../src/metrics/controller-metrics.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';

describe('bench/lib/prom-text', () => {
  it('parses samples with escaped label values, skipping comments and junk', () => {
    const samples = parsePromText(
      [
        '# HELP x help',
        '# TYPE x counter',
        'x{a="1",b="q\\"uote"} 3',
        'y 4.5 1700000000',
        'not a sample line {',
        'z_bucket{le="+Inf"} 7',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'x', labels: { a: '1', b: 'q"uote' }, value: 3 },
      { name: 'y', labels: {}, value: 4.5 },
      { name: 'z_bucket', labels: { le: '+Inf' }, value: 7 },
    ]);
    expect(sumOf(samples, 'x')).toBe(3);
  });

  it('sums a histogram over label sets and interpolates quantiles like histogram_quantile', () => {
    const text = [
      'h_bucket{name="a",le="0.01"} 50',
      'h_bucket{name="a",le="0.05"} 90',
      'h_bucket{name="a",le="+Inf"} 100',
      'h_sum{name="a"} 2',
      'h_count{name="a"} 100',
      'h_bucket{name="b",le="0.01"} 50',
      'h_bucket{name="b",le="0.05"} 100',
      'h_bucket{name="b",le="+Inf"} 100',
      'h_sum{name="b"} 1',
      'h_count{name="b"} 100',
    ].join('\n');
    const h = histogramOf(parsePromText(text), 'h');
    expect(h.bounds).toEqual([0.01, 0.05, Number.POSITIVE_INFINITY]);
    expect(h.cumulative).toEqual([100, 190, 200]);
    expect(h.count).toBe(200);
    // rank 100 of 200 lies at the top of the first bucket
    expect(histogramQuantile(h, 0.5)).toEqual({ estimate: 0.01, upperBound: 0.01 });
    // rank 180: 80 of the 90 in (0.01, 0.05]
    const p90 = histogramQuantile(h, 0.9);
    expect(p90.upperBound).toBe(0.05);
    expect(p90.estimate).toBeCloseTo(0.01 + (0.04 * 80) / 90, 10);
    // rank 198 falls in +Inf: the estimate is the last finite bound and the bound is unbounded
    expect(histogramQuantile(h, 0.99)).toEqual({ estimate: 0.05, upperBound: Number.POSITIVE_INFINITY });
    expect(histogramQuantile(histogramOf([], 'h'), 0.5).estimate).toBeNaN();
  });

  it('subtracts an earlier snapshot bucket by bucket', () => {
    const before = histogramOf(
      parsePromText('h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 3\nh_sum 4\nh_count 3'),
      'h',
    );
    const after = histogramOf(
      parsePromText('h_bucket{le="1"} 5\nh_bucket{le="+Inf"} 9\nh_sum 10\nh_count 9'),
      'h',
    );
    expect(histogramDelta(after, before)).toEqual({
      bounds: [1, Number.POSITIVE_INFINITY],
      cumulative: [3, 6],
      sum: 6,
      count: 6,
    });
  });

  it('reads the controller reconcile histogram as the metrics endpoint renders it', async () => {
    const metrics = createControllerMetrics(createMemoryStore(), { version: 'test' });
    for (const seconds of [0.0015, 0.0015, 0.004, 0.012, 0.06])
      metrics.rolloutReconcileDuration.observe({}, seconds);
    const h = histogramOf(parsePromText(await metrics.expose()), 'sluice_rollout_reconcile_duration_seconds');
    expect(h.count).toBe(5);
    expect(histogramQuantile(h, 0.5).upperBound).toBe(0.005);
    expect(histogramQuantile(h, 0.99).upperBound).toBe(0.075);
  });
});

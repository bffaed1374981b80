// The pure parts of `sluice proxy --workers N`: the SWRR phase that keeps the union of the workers'
// picks exact, the merges of the workers' expositions and histogram reports, and the --workers flag.

import { describe, expect, it } from 'vitest';
import { encodeCompressedBase64 } from '../../../../proxy/hdr.ts';
import { decodeLatencyHistogram, newLatencyHistogram } from '../../../../proxy/histograms.ts';
import { cycleLength, SwrrPicker } from '../../../../proxy/routing/swrr.ts';
import { countersOnly, mergeExpositions, mergeReports } from '../../../../proxy/workers/merge.ts';
import { parseProxyArgs } from '../../../../src/cli/proxy.ts';

/** A deterministic 0..1 sequence (mulberry32), so failures replay. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Sends `requests` picks to `workers` pickers, the worker of each request chosen by `next`, and returns
 * the largest |count - n * weight| of backend 0 over every prefix of the union.
 */
function worstUnionError(
  weightsBp: number[],
  workers: number,
  requests: number,
  next: (n: number) => number,
  phased: boolean,
  /** Only prefixes that are a multiple of this are checked. */
  every = 1,
): number {
  const pickers = Array.from(
    { length: workers },
    (_, index) => new SwrrPicker(weightsBp, phased ? { index, count: workers } : undefined),
  );
  const share = weightsBp[0]! / weightsBp.reduce((a, b) => a + b, 0);
  let count = 0;
  let worst = 0;
  for (let n = 1; n <= requests; n++) {
    if (pickers[next(n)]!.pick() === 0) count++;
    if (n % every === 0) worst = Math.max(worst, Math.abs(count - n * share));
  }
  return worst;
}

const WEIGHTS: number[][] = [
  [5_000, 5_000],
  [9_000, 1_000],
  [1_000, 9_000],
  [9_950, 50],
  [3_333, 6_667],
  [100, 9_900],
];

describe('SWRR phase across workers', () => {
  it('computes the cycle length as total / gcd', () => {
    expect(cycleLength([5_000, 5_000], 10_000)).toBe(2);
    expect(cycleLength([9_000, 1_000], 10_000)).toBe(10);
    expect(cycleLength([3_333, 6_667], 10_000)).toBe(10_000);
    expect(cycleLength([0, 0], 0)).toBe(0);
  });

  it('starts worker 0 at the head of the cycle, as a single process does', () => {
    const plain = new SwrrPicker([9_000, 1_000]);
    const phased = new SwrrPicker([9_000, 1_000], { index: 0, count: 4 });
    for (let i = 0; i < 50; i++) expect(phased.pick()).toBe(plain.pick());
  });

  it.each(WEIGHTS)(
    'keeps the union of N workers within N requests of the weight (%i/%i), any interleaving',
    (a, b) => {
      for (const workers of [2, 3, 4, 8]) {
        const draw = random(workers * 7919 + a);
        const worst = worstUnionError([a, b], workers, 20_000, () => Math.floor(draw() * workers), true);
        expect(worst).toBeLessThan(workers);
      }
    },
  );

  it.each(WEIGHTS)(
    'keeps the union within about one request whenever the workers served the same count (%i/%i)',
    (a, b) => {
      for (const workers of [2, 3, 4, 8, 16]) {
        // In turn, as the cluster's round robin hands out connections; checked after whole rounds.
        const atWholeRounds = (phased: boolean) =>
          worstUnionError([a, b], workers, 20_000, (n) => n % workers, phased, workers);
        expect(atWholeRounds(true)).toBeLessThanOrEqual(1.2);
        expect(atWholeRounds(true)).toBeLessThanOrEqual(atWholeRounds(false));
        // Between whole rounds: still within N.
        expect(worstUnionError([a, b], workers, 20_000, (n) => n % workers, true)).toBeLessThan(workers);
      }
    },
  );

  it('removes the error that adds up when every worker starts at the head of the cycle (50/50, 8 workers)', () => {
    const inTurn = (n: number) => n % 8;
    expect(worstUnionError([5_000, 5_000], 8, 1_000, inTurn, false, 8)).toBe(4);
    expect(worstUnionError([5_000, 5_000], 8, 1_000, inTurn, true, 8)).toBe(0);
  });
});

describe('mergeExpositions', () => {
  const worker = (requests: number, version: number, reloads: number, start: number) =>
    [
      '# HELP http_requests_total Requests.',
      '# TYPE http_requests_total counter',
      `http_requests_total{app="checkout",status="200",method="GET"} ${requests}`,
      '# HELP sluice_proxy_config_version Version.',
      '# TYPE sluice_proxy_config_version gauge',
      `sluice_proxy_config_version ${version}`,
      '# HELP sluice_proxy_config_reloads_total Reloads.',
      '# TYPE sluice_proxy_config_reloads_total counter',
      `sluice_proxy_config_reloads_total{result="success"} ${reloads}`,
      '# HELP process_start_time_seconds Start.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${start}`,
      '',
    ].join('\n');

  it('sums counters, keeps the oldest config version, counts reloads once and the earliest start', () => {
    const merged = mergeExpositions([worker(3, 7, 2, 100.5), worker(4, 6, 2, 99.25)]);
    expect(merged).toBe(
      [
        '# HELP http_requests_total Requests.',
        '# TYPE http_requests_total counter',
        'http_requests_total{app="checkout",status="200",method="GET"} 7',
        '# HELP sluice_proxy_config_version Version.',
        '# TYPE sluice_proxy_config_version gauge',
        'sluice_proxy_config_version 6',
        '# HELP sluice_proxy_config_reloads_total Reloads.',
        '# TYPE sluice_proxy_config_reloads_total counter',
        'sluice_proxy_config_reloads_total{result="success"} 2',
        '# HELP process_start_time_seconds Start.',
        '# TYPE process_start_time_seconds gauge',
        'process_start_time_seconds 99.25',
        '',
      ].join('\n'),
    );
  });

  it('keeps series only one worker has, and label values with spaces', () => {
    const a = '# TYPE m counter\nm{path="a b"} 1\n';
    const b = '# TYPE m counter\nm{path="c"} 2\nm{path="a b"} 5\n';
    expect(mergeExpositions([a, b])).toBe('# TYPE m counter\nm{path="a b"} 6\nm{path="c"} 2\n');
  });
});

describe('countersOnly', () => {
  it('keeps counter and histogram families with their headers and drops gauges', () => {
    const text = [
      '# HELP a_total A.',
      '# TYPE a_total counter',
      'a_total{x="1"} 3',
      '# HELP open Open.',
      '# TYPE open gauge',
      'open 7',
      '# HELP d Duration.',
      '# TYPE d histogram',
      'd_bucket{le="+Inf"} 2',
      'd_sum 0.5',
      'd_count 2',
      '',
    ].join('\n');
    expect(countersOnly(text)).toBe(
      [
        '# HELP a_total A.',
        '# TYPE a_total counter',
        'a_total{x="1"} 3',
        '# HELP d Duration.',
        '# TYPE d histogram',
        'd_bucket{le="+Inf"} 2',
        'd_sum 0.5',
        'd_count 2',
        '',
      ].join('\n'),
    );
    expect(countersOnly('# TYPE open gauge\nopen 1\n')).toBe('');
  });
});

describe('mergeReports', () => {
  const report = (latenciesUs: number[], startMs: number, role = 'canary') => {
    const h = newLatencyHistogram(32);
    for (const us of latenciesUs) h.recordValue(us);
    const encoded = encodeCompressedBase64(h);
    h.destroy();
    return {
      route: 'checkout',
      namespace: 'shop',
      role,
      revision: 'c1',
      startMs,
      endMs: startMs + 1_000,
      histogram: encoded,
      count1xx: 0,
      count2xx: latenciesUs.length - 1,
      count3xx: 0,
      count4xx: 0,
      count5xx: 1,
      requests: latenciesUs.length,
      errors: 1,
    };
  };

  it('adds the reports of one series and interval into one, histograms included', () => {
    const merged = mergeReports([[report([100, 200], 0)], [report([300, 400, 50_000], 0)]]);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({
      requests: 5,
      count2xx: 3,
      count5xx: 2,
      errors: 2,
      startMs: 0,
      endMs: 1_000,
    });
    const h = decodeLatencyHistogram(merged[0]!.histogram);
    expect(h.totalCount).toBe(5);
    expect(h.maxValue).toBeGreaterThanOrEqual(49_950);
    h.destroy();
  });

  it('keeps other intervals and series apart', () => {
    const merged = mergeReports([[report([100], 0), report([100], 1_000)], [report([100], 0, 'stable')]]);
    expect(merged.map((r) => [r.role, r.startMs, r.requests])).toEqual([
      ['canary', 0, 1],
      ['canary', 1_000, 1],
      ['stable', 0, 1],
    ]);
  });
});

describe('--workers', () => {
  const FILE = ['--config', 'routes.yaml'];
  it('defaults to one per core and takes a positive integer', () => {
    expect(parseProxyArgs(FILE, {}, false, 6).workers).toBe(6);
    expect(parseProxyArgs([...FILE, '--workers', '1'], {}, false, 6).workers).toBe(1);
    expect(parseProxyArgs([...FILE, '--workers=3'], {}, false, 6).workers).toBe(3);
  });

  it.each(['0', '-1', '1.5', 'all'])('rejects "%s" naming the flag', (value) => {
    expect(() => parseProxyArgs([...FILE, `--workers=${value}`], {})).toThrow(
      /^--workers: expected a positive integer/,
    );
  });
});

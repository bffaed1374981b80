import { describe, expect, it } from 'vitest';
import {
  betaBinomialLogPmf,
  binomialLogPmf,
  logGamma,
  logRegularizedBeta,
  truncatedBetaBinomialLogPmf,
} from '../../../../src/analysis/stats/beta-binomial.ts';
import { ShareEProcess } from '../../../../src/analysis/stats/e-process.ts';
import { mannWhitney } from '../../../../src/analysis/stats/mann-whitney.ts';
import { binomial, createPrng } from '../../../../src/analysis/stats/prng.ts';
import {
  bucketsFromValues,
  countAbove,
  mergeBuckets,
  quantileUs,
} from '../../../../src/control/latency-buckets.ts';

// Midpoint-rule integral of Binomial(x; m, q) * Beta(q; a, b) over (lo, hi), normalised by the
// prior mass on (lo, hi): the brute-force truth for the (truncated) beta-binomial.
function bruteForcePmf(x: number, m: number, a: number, b: number, lo: number, hi: number): number {
  const steps = 200_000;
  let num = 0;
  let den = 0;
  for (let i = 0; i < steps; i++) {
    const q = lo + ((i + 0.5) * (hi - lo)) / steps;
    const prior = q ** (a - 1) * (1 - q) ** (b - 1);
    num += Math.exp(binomialLogPmf(x, m, q)) * prior;
    den += prior;
  }
  return num / den;
}

describe('beta-binomial', () => {
  it('logGamma matches log factorials', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(11)).toBeCloseTo(Math.log(3_628_800), 10);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });

  it('the regularized incomplete beta matches closed forms', () => {
    // I_x(1, b) = 1 - (1 - x)^b; I_x(a, 1) = x^a
    expect(Math.exp(logRegularizedBeta(0.3, 1, 4))).toBeCloseTo(1 - 0.7 ** 4, 12);
    expect(Math.exp(logRegularizedBeta(0.3, 5, 1))).toBeCloseTo(0.3 ** 5, 12);
    expect(Math.exp(logRegularizedBeta(0.5, 7, 7))).toBeCloseTo(0.5, 12);
  });

  it('the beta-binomial pmf equals the brute-force mixture and sums to 1', () => {
    for (const [m, a, b] of [
      [5, 1, 1],
      [12, 2.5, 7],
      [30, 1.5, 3],
    ] as const) {
      let sum = 0;
      for (let x = 0; x <= m; x++) {
        const p = Math.exp(betaBinomialLogPmf(x, m, a, b));
        sum += p;
        expect(p).toBeCloseTo(bruteForcePmf(x, m, a, b, 0, 1), 5);
      }
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it('the truncated beta-binomial equals the brute-force mixture over one side of p', () => {
    const m = 9;
    for (const x of [0, 1, 4, 9]) {
      expect(Math.exp(truncatedBetaBinomialLogPmf(x, m, 1, 1, 0.1, 'above'))).toBeCloseTo(
        bruteForcePmf(x, m, 1, 1, 0.1, 1),
        5,
      );
      expect(Math.exp(truncatedBetaBinomialLogPmf(x, m, 3, 2, 0.4, 'below'))).toBeCloseTo(
        bruteForcePmf(x, m, 3, 2, 0, 0.4),
        5,
      );
    }
  });
});

describe('Mann-Whitney U', () => {
  it('matches a hand-computed example with ties', () => {
    // x = 1, 2, 2, 4 and y = 2, 3, 5. Pooled sorted: 1(x) 2(x) 2(x) 2(y) 3(y) 4(x) 5(y):
    // ranks 1, 3, 3, 3, 5, 6, 7, so R_x = 1 + 3 + 3 + 6 = 13 and U_x = 13 - 4*5/2 = 3.
    // Pairs x > y: 4 > 2, 4 > 3 (2); ties 2 = 2 twice count 1/2 each (1): U = 3, as ranked.
    // Tie term: the group of three 2s gives 27 - 3 = 24; var = 4*3/12 * (8 - 24/42) = 7.428571.
    // z = (3 - 6 + 0.5) / sqrt(7.428571) = -0.917249; two-sided p = 0.35901.
    const result = mannWhitney(bucketsFromValues([1, 2, 2, 4]), bucketsFromValues([2, 3, 5]));
    expect(result.u).toBe(3);
    expect(result.cles).toBeCloseTo(3 / 12, 12);
    expect(result.z).toBeCloseTo(-0.917249, 5);
    expect(result.pValue).toBeCloseTo(0.35901, 4);
  });

  it('finds a shifted sample significant and an identical one not', () => {
    const rng = createPrng(7);
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 2000; i++) {
      a.push(Math.round(100 + 20 * rng.next()));
      b.push(Math.round(110 + 20 * rng.next()));
    }
    expect(mannWhitney(bucketsFromValues(b), bucketsFromValues(a)).pValue).toBeLessThan(1e-6);
    expect(mannWhitney(bucketsFromValues(a), bucketsFromValues(a)).pValue).toBeCloseTo(1, 6);
  });
});

describe('latency buckets', () => {
  it('merge, quantile (HDR rank rule) and count above a threshold', () => {
    const merged = mergeBuckets(bucketsFromValues([1, 3, 3, 7]), bucketsFromValues([3, 5, 9, 9]));
    expect([...merged.valuesUs]).toEqual([1, 3, 5, 7, 9]);
    expect([...merged.counts]).toEqual([1, 3, 1, 1, 2]);
    expect(quantileUs(merged, 0.5)).toBe(3);
    expect(quantileUs(merged, 0.75)).toBe(7);
    expect(quantileUs(merged, 1)).toBe(9);
    expect(countAbove(merged, 5)).toBe(3);
    expect(Number.isNaN(quantileUs(bucketsFromValues([]), 0.5))).toBe(true);
  });
});

describe('share e-process', () => {
  it('with a constant traffic split, the sequential product equals the batch truncated beta-binomial ratio', () => {
    const p = 0.2;
    const observations = [
      [1, 3],
      [0, 5],
      [2, 2],
      [4, 1],
      [0, 0],
      [3, 6],
    ] as const;
    const process = new ShareEProcess('above');
    let x = 0;
    let m = 0;
    for (const [canary, stable] of observations) {
      process.update({
        canaryEvents: canary,
        baselineEvents: stable,
        canaryRequests: 200,
        baselineRequests: 800,
      });
      x += canary;
      m += canary + stable;
    }
    const batch = truncatedBetaBinomialLogPmf(x, m, 1, 1, p, 'above') - binomialLogPmf(x, m, p);
    expect(process.snapshot().logE).toBeCloseTo(batch, 9);
  });

  it('is a nonnegative supermartingale under H0: the mean e-value stays at most 1', () => {
    // Equal error rates, changing traffic split: E[E_t] <= 1 at every t (here checked at t = 50 and
    // t = 200 over 4,000 seeded paths; the standard error of the mean is about 0.02).
    const rng = createPrng(2024);
    const paths = 4000;
    let sumAt50 = 0;
    let sumAt200 = 0;
    for (let path = 0; path < paths; path++) {
      const process = new ShareEProcess('above');
      for (let t = 1; t <= 200; t++) {
        const canaryRequests = t < 100 ? 10 : 50;
        const baselineRequests = 100 - canaryRequests;
        const x = binomial(rng, canaryRequests, 0.02);
        const y = binomial(rng, baselineRequests, 0.02);
        process.update({ canaryEvents: x, baselineEvents: y, canaryRequests, baselineRequests });
        if (t === 50) sumAt50 += Math.exp(process.snapshot().logE);
      }
      const e = Math.exp(process.snapshot().logE);
      expect(e).toBeGreaterThanOrEqual(0);
      sumAt200 += e;
    }
    expect(sumAt50 / paths).toBeLessThan(1.05);
    expect(sumAt200 / paths).toBeLessThan(1.05);
  });

  it('grows quickly when every canary request fails', () => {
    const process = new ShareEProcess('above');
    process.update({ canaryEvents: 3, baselineEvents: 0, canaryRequests: 3, baselineRequests: 57 });
    expect(process.snapshot().logE).toBeGreaterThan(Math.log(100));
  });
});

// Seeded pseudo-random numbers for simulations and tests: xoshiro128** (Blackman and Vigna) seeded
// through splitmix32, plus the few distributions the judge's simulations need. Deterministic for a
// given seed on every platform (32-bit integer arithmetic only). Not for cryptography.

export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createPrng(seed: number): Prng {
  const init = splitmix32(seed);
  let s0 = init();
  let s1 = init();
  let s2 = init();
  let s3 = init();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  return {
    next(): number {
      const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
      const t = (s1 << 9) >>> 0;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      return result / 4_294_967_296;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Standard normal by Box-Muller (one of the pair is discarded: simplicity over speed). */
export function normal(rng: Prng): number {
  let u = rng.next();
  while (u === 0) u = rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Binomial(n, p). Exact inversion (walking the pmf) while n * min(p, 1-p) is small, which is what
 * per-interval simulations draw; a rounded normal approximation above 500 expected successes, where
 * the walk would be slow and (1-p)^n underflows.
 */
export function binomial(rng: Prng, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  const mean = n * p;
  if (mean > 500) {
    const x = Math.round(mean + Math.sqrt(mean * (1 - p)) * normal(rng));
    return Math.min(n, Math.max(0, x));
  }
  const ratio = p / (1 - p);
  let pmf = (1 - p) ** n;
  let cdf = pmf;
  const u = rng.next();
  let k = 0;
  while (u > cdf && k < n) {
    pmf *= (ratio * (n - k)) / (k + 1);
    k += 1;
    cdf += pmf;
  }
  return k;
}

/** Poisson(mean) by inversion for small means, normal approximation above 500. */
export function poisson(rng: Prng, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 500) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rng)));
  let pmf = Math.exp(-mean);
  let cdf = pmf;
  const u = rng.next();
  let k = 0;
  while (u > cdf && k < 10_000) {
    k += 1;
    pmf *= mean / k;
    cdf += pmf;
  }
  return k;
}

/**
 * Walker's alias table over a discrete distribution: O(1) per draw. Used to simulate request
 * latencies already bucketed the way the proxy's histograms bucket them.
 */
export interface AliasTable {
  sample(rng: Prng): number;
}

export function aliasTable(weights: readonly number[]): AliasTable {
  const n = weights.length;
  const total = weights.reduce((a, b) => a + b, 0);
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = weights.map((w) => (w * n) / total);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((w, i) => {
    (w < 1 ? small : large).push(i);
  });
  while (small.length > 0 && large.length > 0) {
    const s = small.pop() as number;
    const l = large.pop() as number;
    prob[s] = scaled[s] as number;
    alias[s] = l;
    scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1;
    ((scaled[l] as number) < 1 ? small : large).push(l);
  }
  for (const i of [...small, ...large]) prob[i] = 1;
  return {
    sample(rng: Prng): number {
      const x = rng.next() * n;
      const i = Math.floor(x);
      return x - i < (prob[i] as number) ? i : (alias[i] as number);
    },
  };
}

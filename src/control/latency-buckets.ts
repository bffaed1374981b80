// Latency distributions as sorted (value, count) buckets: the compact form the histogram store keeps
// per interval and the judge merges, ranks and thresholds. Values are the bucket's representative
// value as HDR iteration reports it (highest equivalent value), in microseconds; counts are exact.
// Invariant: valuesUs strictly ascending, every count > 0, total = sum of counts.

import type { Histogram, JsHistogram } from 'hdr-histogram-js';

export interface LatencyBuckets {
  readonly valuesUs: Float64Array;
  readonly counts: Float64Array;
  readonly total: number;
}

export const EMPTY_BUCKETS: LatencyBuckets = {
  valuesUs: new Float64Array(0),
  counts: new Float64Array(0),
  total: 0,
};

/** Reads the recorded buckets of a decoded HDR histogram (every implementation is a JsHistogram). */
export function bucketsFromHistogram(histogram: Histogram): LatencyBuckets {
  const iterator = (histogram as JsHistogram).recordedValuesIterator;
  iterator.reset();
  const values: number[] = [];
  const counts: number[] = [];
  while (iterator.hasNext()) {
    const step = iterator.next();
    if (step.countAtValueIteratedTo > 0) {
      values.push(step.valueIteratedTo);
      counts.push(step.countAtValueIteratedTo);
    }
  }
  return fromArrays(values, counts);
}

/** Buckets from raw values (each value its own bucket); for tests and hand-made samples. */
export function bucketsFromValues(valuesUs: readonly number[]): LatencyBuckets {
  const byValue = new Map<number, number>();
  for (const v of valuesUs) byValue.set(v, (byValue.get(v) ?? 0) + 1);
  return fromMap(byValue);
}

function fromArrays(values: number[], counts: number[]): LatencyBuckets {
  let total = 0;
  for (const c of counts) total += c;
  return { valuesUs: Float64Array.from(values), counts: Float64Array.from(counts), total };
}

function fromMap(byValue: Map<number, number>): LatencyBuckets {
  const values = [...byValue.keys()].sort((a, b) => a - b);
  return fromArrays(
    values,
    values.map((v) => byValue.get(v) as number),
  );
}

/**
 * Two-pointer walk over two bucket sets in ascending value order: each distinct value once, with its
 * count on each side (0 where that side has no such bucket). The merge and the rank-sum test share it.
 */
export function forEachAlignedBucket(
  left: LatencyBuckets,
  right: LatencyBuckets,
  visit: (valueUs: number, leftCount: number, rightCount: number) => void,
): void {
  let i = 0;
  let j = 0;
  while (i < left.valuesUs.length || j < right.valuesUs.length) {
    const lv = i < left.valuesUs.length ? (left.valuesUs[i] as number) : Number.POSITIVE_INFINITY;
    const rv = j < right.valuesUs.length ? (right.valuesUs[j] as number) : Number.POSITIVE_INFINITY;
    const value = Math.min(lv, rv);
    const leftCount = lv === value ? (left.counts[i++] as number) : 0;
    const rightCount = rv === value ? (right.counts[j++] as number) : 0;
    visit(value, leftCount, rightCount);
  }
}

/** Two-pointer merge of two bucket sets. */
export function mergeBuckets(left: LatencyBuckets, right: LatencyBuckets): LatencyBuckets {
  if (left.total === 0) return right;
  if (right.total === 0) return left;
  const values = new Float64Array(left.valuesUs.length + right.valuesUs.length);
  const counts = new Float64Array(values.length);
  let k = 0;
  forEachAlignedBucket(left, right, (valueUs, leftCount, rightCount) => {
    values[k] = valueUs;
    counts[k] = leftCount + rightCount;
    k += 1;
  });
  return { valuesUs: values.subarray(0, k), counts: counts.subarray(0, k), total: left.total + right.total };
}

export function mergeAllBuckets(list: readonly LatencyBuckets[]): LatencyBuckets {
  if (list.length === 0) return EMPTY_BUCKETS;
  if (list.length === 1) return list[0] as LatencyBuckets;
  const byValue = new Map<number, number>();
  for (const b of list) {
    for (let i = 0; i < b.valuesUs.length; i++) {
      const v = b.valuesUs[i] as number;
      byValue.set(v, (byValue.get(v) ?? 0) + (b.counts[i] as number));
    }
  }
  return fromMap(byValue);
}

/**
 * The value at quantile q (0..1) with HDR's rule: the first bucket whose cumulative count reaches
 * max(1, ceil(q * total)). NaN when empty.
 */
export function quantileUs(buckets: LatencyBuckets, q: number): number {
  if (buckets.total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * buckets.total - 1e-9));
  let cumulative = 0;
  for (let i = 0; i < buckets.valuesUs.length; i++) {
    cumulative += buckets.counts[i] as number;
    if (cumulative >= rank) return buckets.valuesUs[i] as number;
  }
  return buckets.valuesUs[buckets.valuesUs.length - 1] as number;
}

/** Requests strictly slower than thresholdUs (bucket value above the threshold). */
export function countAbove(buckets: LatencyBuckets, thresholdUs: number): number {
  let n = 0;
  for (let i = buckets.valuesUs.length - 1; i >= 0 && (buckets.valuesUs[i] as number) > thresholdUs; i--) {
    n += buckets.counts[i] as number;
  }
  return n;
}

export function meanUs(buckets: LatencyBuckets): number {
  if (buckets.total === 0) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < buckets.valuesUs.length; i++)
    sum += (buckets.valuesUs[i] as number) * (buckets.counts[i] as number);
  return sum / buckets.total;
}

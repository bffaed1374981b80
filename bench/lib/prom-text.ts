// Reading a Prometheus text exposition in the benchmark: samples (name, labels, value), one histogram
// family summed over its label sets, the difference of two snapshots, and quantiles. Quantiles follow
// PromQL's histogram_quantile (linear interpolation inside the bucket the rank falls in); the bucket's
// upper bound is returned too, because that bound is the only claim a histogram supports for certain.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Parses the text format; comments, blank and malformed lines are skipped. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_RE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(LABEL_RE)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return out;
}

/** A histogram summed over all label sets: cumulative counts per upper bound (seconds or any unit). */
export interface HistogramSnapshot {
  /** Sorted upper bounds, +Inf last. */
  bounds: number[];
  /** Cumulative counts, same order as bounds. */
  cumulative: number[];
  sum: number;
  count: number;
}

/** Sums every `<name>_bucket` / `_sum` / `_count` series of a histogram family (those `where` accepts). */
export function histogramOf(
  samples: readonly PromSample[],
  name: string,
  where: (labels: Readonly<Record<string, string>>) => boolean = () => true,
): HistogramSnapshot {
  const byBound = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const s of samples) {
    if (!s.name.startsWith(name) || !where(s.labels)) continue;
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) continue;
      const bound = parseValue(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + s.value);
    } else if (s.name === `${name}_sum`) sum += s.value;
    else if (s.name === `${name}_count`) count += s.value;
  }
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  if (bounds.length === 0 || bounds.at(-1) !== Number.POSITIVE_INFINITY) {
    bounds.push(Number.POSITIVE_INFINITY);
    byBound.set(Number.POSITIVE_INFINITY, count);
  }
  return { bounds, cumulative: bounds.map((b) => byBound.get(b) ?? 0), sum, count };
}

/** later - earlier, bucket by bucket (both from the same process, so the bounds match). */
export function histogramDelta(later: HistogramSnapshot, earlier: HistogramSnapshot): HistogramSnapshot {
  const before = new Map(earlier.bounds.map((b, i) => [b, earlier.cumulative[i]!]));
  return {
    bounds: [...later.bounds],
    cumulative: later.bounds.map((b, i) => later.cumulative[i]! - (before.get(b) ?? 0)),
    sum: later.sum - earlier.sum,
    count: later.count - earlier.count,
  };
}

export interface HistogramQuantile {
  /** histogram_quantile's estimate (linear inside the bucket); NaN when empty. */
  estimate: number;
  /** Upper bound of the bucket holding the rank: the quantile is at most this (Infinity past the last). */
  upperBound: number;
}

/** PromQL histogram_quantile semantics, plus the bucket bound. q in [0, 1]. */
export function histogramQuantile(h: HistogramSnapshot, q: number): HistogramQuantile {
  const total = h.cumulative.at(-1) ?? 0;
  if (total <= 0) return { estimate: Number.NaN, upperBound: Number.NaN };
  const rank = q * total;
  let i = h.cumulative.findIndex((c) => c >= rank);
  if (i < 0) i = h.cumulative.length - 1;
  const upper = h.bounds[i]!;
  const lower = i === 0 ? 0 : h.bounds[i - 1]!;
  if (upper === Number.POSITIVE_INFINITY) return { estimate: lower, upperBound: upper };
  const below = i === 0 ? 0 : h.cumulative[i - 1]!;
  const inBucket = h.cumulative[i]! - below;
  const estimate = inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
  return { estimate, upperBound: upper };
}

/** Sum of every sample of a counter or gauge family (any labels). */
export function sumOf(samples: readonly PromSample[], name: string): number {
  let total = 0;
  for (const s of samples) if (s.name === name) total += s.value;
  return total;
}

/** later - earlier of a counter family, summed by the given labels (joined with a space); zero deltas dropped. */
export function countDelta(
  later: readonly PromSample[],
  earlier: readonly PromSample[],
  name: string,
  by: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (samples: readonly PromSample[], sign: number): void => {
    for (const s of samples) {
      if (s.name !== name) continue;
      const key = by.map((l) => s.labels[l] ?? '').join(' ');
      out[key] = (out[key] ?? 0) + sign * s.value;
    }
  };
  add(later, 1);
  add(earlier, -1);
  for (const [k, v] of Object.entries(out)) if (v === 0) delete out[k];
  return out;
}

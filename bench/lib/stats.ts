// Small statistics for the benchmark: a microsecond latency histogram (HDR, 3 significant digits, the
// unit and precision the proxy itself records in) and the median across interleaved rounds.
import { build, type Histogram } from 'hdr-histogram-js';

const HIGHEST_TRACKABLE_US = 60_000_000;

export class LatencyRecorder {
  readonly #histogram: Histogram;

  constructor() {
    this.#histogram = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: HIGHEST_TRACKABLE_US,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
  }

  recordUs(latencyUs: number): void {
    this.#histogram.recordValue(Math.min(HIGHEST_TRACKABLE_US, Math.max(1, Math.round(latencyUs))));
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  percentileUs(percentile: number): number {
    return this.#histogram.totalCount === 0 ? Number.NaN : this.#histogram.getValueAtPercentile(percentile);
  }
}

/** Median of the finite values; NaN when there are none. Even counts average the middle two. */
export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

/** value / reference, NaN when either is missing or the reference is zero. */
export function ratio(value: number, reference: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(reference) || reference === 0) return Number.NaN;
  return value / reference;
}

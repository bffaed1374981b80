// The proxy's own latency measurements: per route x revision, an HDR histogram (integer
// microseconds, 3 significant digits) and counts by status class, cut into intervals aligned to the
// interval length (default 1 s) and kept for a window (default 10 min). Completed intervals are
// exported to the controller as encoded histograms and can be merged locally for a window query.
//
// Memory: only the interval being recorded is a full counts array (32-bit, ~70 KB; 32 bits cannot
// overflow within one interval). Completed intervals are kept as their V2 compressed encoding
// (tens of bytes to a few KB), empty intervals are not kept at all, and an idle series releases its
// counts array at the next cut, so an idle series costs almost nothing.

import type { Histogram } from 'hdr-histogram-js';
import type { HistogramReport } from './control/report.ts';
import { createHistogram, decodeCompressedBase64, encodeCompressedBase64 } from './hdr.ts';
import { type LabelSet, seriesKey } from './metrics.ts';

export const DEFAULT_INTERVAL_MS = 1_000;
export const DEFAULT_WINDOW_MS = 600_000;
export const HISTOGRAM_LOWEST_US = 1;
export const HISTOGRAM_HIGHEST_US = 60_000_000;
export const HISTOGRAM_SIGNIFICANT_DIGITS = 3;

export type Clock = () => number;

/** A new recording histogram with the project's fixed layout (JS, not WASM, so any two can be added). */
export function newLatencyHistogram(bitBucketSize: 32 | 64 = 32): Histogram {
  return createHistogram(
    bitBucketSize,
    HISTOGRAM_LOWEST_US,
    HISTOGRAM_HIGHEST_US,
    HISTOGRAM_SIGNIFICANT_DIGITS,
  );
}

/** Decodes a report's histogram string (V2 compressed base64) into a JS histogram. */
export function decodeLatencyHistogram(encoded: string, bitBucketSize: 32 | 64 = 64): Histogram {
  return decodeCompressedBase64(encoded, bitBucketSize);
}

/** One completed, non-empty interval. */
export interface IntervalRecord {
  readonly startMs: number;
  readonly endMs: number;
  readonly histogram: string;
  /** Counts for 1xx..5xx at indexes 0..4. */
  readonly countsByClass: readonly number[];
  readonly requests: number;
  exported: boolean;
}

/** Status class index 0..4 for 1xx..5xx; out-of-range codes are clamped into 1xx or 5xx. */
export function statusClassIndex(statusCode: number): number {
  const index = Math.floor(statusCode / 100) - 1;
  return Math.min(Math.max(index, 0), 4) || 0;
}

export class HdrSeries {
  readonly labels: LabelSet;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #onExpiredUnexported: (count: number) => void;
  #active: Histogram | undefined;
  #activeCounts = [0, 0, 0, 0, 0];
  #activeRequests = 0;
  #startMs: number;
  #endMs: number;
  /** Completed non-empty intervals, oldest first. */
  readonly #ring: IntervalRecord[] = [];

  constructor(
    labels: LabelSet,
    clock: Clock,
    intervalMs: number,
    windowMs: number,
    onExpiredUnexported: (count: number) => void,
  ) {
    this.labels = Object.freeze({ ...labels });
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#windowMs = windowMs;
    this.#onExpiredUnexported = onExpiredUnexported;
    this.#startMs = this.#alignedStart(clock());
    this.#endMs = this.#startMs + intervalMs;
  }

  record(statusCode: number, _method: string, latencyUs: number): void {
    const now = this.#clock();
    if (now >= this.#endMs || now < this.#startMs) this.rotate(now);
    let histogram = this.#active;
    if (histogram === undefined) {
      histogram = newLatencyHistogram(32);
      this.#active = histogram;
    }
    histogram.recordValue(Number.isFinite(latencyUs) && latencyUs > 0 ? Math.trunc(latencyUs) : 0);
    this.#activeCounts[statusClassIndex(statusCode)]! += 1;
    this.#activeRequests++;
  }

  /** Closes the current interval if `nowMs` is past it (or the clock went backwards) and expires old ones. */
  rotate(nowMs: number): void {
    if (nowMs >= this.#endMs || nowMs < this.#startMs) {
      const histogram = this.#active;
      if (this.#activeRequests > 0 && histogram !== undefined) {
        histogram.startTimeStampMsec = this.#startMs;
        histogram.endTimeStampMsec = this.#endMs;
        this.#ring.push({
          startMs: this.#startMs,
          endMs: this.#endMs,
          histogram: encodeCompressedBase64(histogram),
          countsByClass: this.#activeCounts,
          requests: this.#activeRequests,
          exported: false,
        });
        histogram.reset();
      } else if (histogram !== undefined) {
        // A whole interval without requests: give the counts array back until traffic returns.
        histogram.destroy();
        this.#active = undefined;
      }
      this.#activeCounts = [0, 0, 0, 0, 0];
      this.#activeRequests = 0;
      this.#startMs = this.#alignedStart(nowMs);
      this.#endMs = this.#startMs + this.#intervalMs;
    }
    this.#expire(nowMs);
  }

  #alignedStart(nowMs: number): number {
    return Math.floor(nowMs / this.#intervalMs) * this.#intervalMs;
  }

  #expire(nowMs: number): void {
    const oldestEndMs = nowMs - this.#windowMs;
    let drop = 0;
    let unexported = 0;
    while (drop < this.#ring.length && this.#ring[drop]!.endMs <= oldestEndMs) {
      if (!this.#ring[drop]!.exported) unexported++;
      drop++;
    }
    if (drop > 0) this.#ring.splice(0, drop);
    if (unexported > 0) this.#onExpiredUnexported(unexported);
  }

  /** Completed intervals not yet handed out, marked exported. */
  takePending(): IntervalRecord[] {
    const pending: IntervalRecord[] = [];
    for (const record of this.#ring) {
      if (!record.exported) {
        record.exported = true;
        pending.push(record);
      }
    }
    return pending;
  }

  /** Completed intervals that end after sinceMs (oldest first). */
  completedSince(sinceMs: number): readonly IntervalRecord[] {
    return this.#ring.filter((record) => record.endMs > sinceMs);
  }

  /** The interval still being recorded (not yet in the ring). */
  get current(): {
    startMs: number;
    histogram: Histogram | undefined;
    countsByClass: readonly number[];
    requests: number;
  } {
    return {
      startMs: this.#startMs,
      histogram: this.#active,
      countsByClass: this.#activeCounts,
      requests: this.#activeRequests,
    };
  }

  get retainedIntervals(): number {
    return this.#ring.length;
  }
}

export interface HistogramRecorderOptions {
  intervalMs?: number;
  windowMs?: number;
  /** Unix ms; injected in tests. */
  clock?: Clock;
}

/** Which series a window query merges; absent fields match anything. */
export interface SeriesFilter {
  app?: string;
  namespace?: string;
  role?: string;
  revision?: string;
}

export interface WindowSummary {
  requests: number;
  /** Counts for 1xx..5xx at indexes 0..4. */
  countsByClass: number[];
  errors: number;
  /** Merged latency histogram (microseconds); empty when there were no requests. */
  histogram: Histogram;
  /** Value at a percentile (0..100) in microseconds; 0 when empty. */
  percentileUs(percentile: number): number;
}

export class HistogramRecorder {
  readonly #series = new Map<string, HdrSeries>();
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  #expiredUnexported = 0;

  constructor(options: HistogramRecorderOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    if (!Number.isInteger(this.#intervalMs) || this.#intervalMs <= 0) {
      throw new Error(`histograms: intervalMs must be a positive integer, got ${this.#intervalMs}`);
    }
    if (!Number.isFinite(this.#windowMs) || this.#windowMs < this.#intervalMs) {
      throw new Error(
        `histograms: windowMs must be at least intervalMs (${this.#intervalMs}), got ${this.#windowMs}`,
      );
    }
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** The same object for the same labels for the life of the recorder. */
  series(labels: LabelSet): HdrSeries {
    const key = seriesKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new HdrSeries(labels, this.#clock, this.#intervalMs, this.#windowMs, (count) => {
        this.#expiredUnexported += count;
      });
      this.#series.set(key, series);
    }
    return series;
  }

  /** Closes every interval that has ended by now (also for series without new requests). */
  rotateAll(nowMs: number = this.#clock()): void {
    for (const series of this.#series.values()) series.rotate(nowMs);
  }

  /**
   * Completed intervals not yet exported, as reports (oldest first within a series). Each interval is
   * returned exactly once; intervals that left the window before anyone drained them are counted in
   * expiredUnexported instead.
   */
  drainReports(nowMs: number = this.#clock()): HistogramReport[] {
    this.rotateAll(nowMs);
    const reports: HistogramReport[] = [];
    for (const series of this.#series.values()) {
      for (const record of series.takePending()) reports.push(toReport(series.labels, record));
    }
    return reports;
  }

  /** Intervals that expired from the window without being exported. */
  get expiredUnexported(): number {
    return this.#expiredUnexported;
  }

  /**
   * Merges the matching series over the last windowMs (completed intervals ending inside the window,
   * plus the interval being recorded).
   */
  query(
    filter: SeriesFilter,
    windowMs: number = this.#windowMs,
    nowMs: number = this.#clock(),
  ): WindowSummary {
    this.rotateAll(nowMs);
    const merged = newLatencyHistogram(64);
    const countsByClass = [0, 0, 0, 0, 0];
    let requests = 0;
    const sinceMs = nowMs - windowMs;
    for (const series of this.#series.values()) {
      if (!matches(series.labels, filter)) continue;
      for (const record of series.completedSince(sinceMs)) {
        const decoded = decodeLatencyHistogram(record.histogram, 32);
        merged.add(decoded);
        decoded.destroy();
        addCounts(countsByClass, record.countsByClass);
        requests += record.requests;
      }
      const current = series.current;
      if (current.histogram !== undefined && current.requests > 0) {
        merged.add(current.histogram);
        addCounts(countsByClass, current.countsByClass);
        requests += current.requests;
      }
    }
    return {
      requests,
      countsByClass,
      errors: countsByClass[4]!,
      histogram: merged,
      percentileUs: (percentile) => (merged.totalCount === 0 ? 0 : merged.getValueAtPercentile(percentile)),
    };
  }
}

function matches(labels: LabelSet, filter: SeriesFilter): boolean {
  return (
    (filter.app === undefined || filter.app === labels.app) &&
    (filter.namespace === undefined || filter.namespace === labels.namespace) &&
    (filter.role === undefined || filter.role === labels.role) &&
    (filter.revision === undefined || filter.revision === labels.revision)
  );
}

function addCounts(into: number[], from: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0;
}

export function toReport(labels: LabelSet, record: IntervalRecord): HistogramReport {
  const c = record.countsByClass;
  return {
    route: labels.app,
    namespace: labels.namespace,
    role: labels.role,
    revision: labels.revision,
    startMs: record.startMs,
    endMs: record.endMs,
    histogram: record.histogram,
    count1xx: c[0] ?? 0,
    count2xx: c[1] ?? 0,
    count3xx: c[2] ?? 0,
    count4xx: c[3] ?? 0,
    count5xx: c[4] ?? 0,
    requests: record.requests,
    errors: c[4] ?? 0,
  };
}

// Pure arithmetic of bench/blast-radius.ts: the shared clock, small-sample percentiles (nearest rank, so
// with 20 trials p99 is the largest value), and what one trial's requests say: how many the bad version
// answered, when the first and last of them were sent, and what else failed.
import type { LoadRecords } from './open-loop.ts';

/** Epoch milliseconds with sub-ms precision; the same clock in every worker thread of this process. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
  min: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p% of values at or below it. */
export function nearestRank(sorted: readonly number[], percentile: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

/** p50/p99/max of the finite values (NaN fields when there are none). */
export function distribution(values: readonly number[]): Distribution {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 50),
    p99: nearestRank(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    min: sorted.length ? sorted[0]! : Number.NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
  };
}

export interface TrialTraffic {
  /** Requests sent in the trial. */
  requests: number;
  /** Answered by the version under test (x-demo-version). */
  byVersion: number;
  /** Of those, answered with a 5xx. */
  byVersion5xx: number;
  /** Send time of the first / last request the version under test answered (epoch ms). */
  firstSendMs: number;
  lastSendMs: number;
  /** When the last of its answers ended. */
  lastDoneMs: number;
  /** Requests not answered 200 by any other version: 5xx without the version, refused, timed out. */
  otherFailures: number;
  /** Answers per version, for the report. */
  perVersion: Record<string, number>;
}

/** What one trial's requests say about `version` (the canary under test). */
export function trialTraffic(records: LoadRecords, version: string): TrialTraffic {
  const id = records.versions.indexOf(version);
  const perVersion: Record<string, number> = {};
  let byVersion = 0;
  let byVersion5xx = 0;
  let firstSendMs = Number.POSITIVE_INFINITY;
  let lastSendMs = Number.NEGATIVE_INFINITY;
  let lastDoneMs = Number.NEGATIVE_INFINITY;
  let otherFailures = 0;
  for (let i = 0; i < records.count; i++) {
    const v = records.versionIndex[i]!;
    const name = v < 0 ? '(none)' : records.versions[v]!;
    perVersion[name] = (perVersion[name] ?? 0) + 1;
    if (v === id && id >= 0) {
      byVersion++;
      if (records.status[i]! >= 500) byVersion5xx++;
      firstSendMs = Math.min(firstSendMs, records.sendMs[i]!);
      lastSendMs = Math.max(lastSendMs, records.sendMs[i]!);
      lastDoneMs = Math.max(lastDoneMs, records.doneMs[i]!);
    } else if (records.status[i] !== 200) otherFailures++;
  }
  const finite = (ms: number): number => (Number.isFinite(ms) ? ms : Number.NaN);
  return {
    requests: records.count,
    byVersion,
    byVersion5xx,
    firstSendMs: finite(firstSendMs),
    lastSendMs: finite(lastSendMs),
    lastDoneMs: finite(lastDoneMs),
    otherFailures,
    perVersion,
  };
}

/** Answers by `version` among the requests sent in [fromMs, toMs). */
export function answeredBetween(records: LoadRecords, version: string, fromMs: number, toMs: number): number {
  const id = records.versions.indexOf(version);
  if (id < 0) return 0;
  let n = 0;
  for (let i = 0; i < records.count; i++) {
    const sent = records.sendMs[i]!;
    if (records.versionIndex[i] === id && sent >= fromMs && sent < toMs) n++;
  }
  return n;
}

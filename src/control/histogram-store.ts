// The controller's in-process store of the proxies' interval reports: per (namespace, route,
// revision) a time-ordered list of intervals, each holding the status-class counts and the latency
// distribution as sorted buckets (decoded once at ingest; the compressed HDR payload is not kept).
// Bounded by a retention window and a memory cap (oldest intervals go first). Reports from several
// proxies for the same revision are merged at query time. Never throws: ingest and queries return
// results whose errors name the offending field. Time comes from the injected clock.

import { build, decodeFromCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { errorText } from '../api/errors.ts';
import {
  bucketsFromHistogram,
  EMPTY_BUCKETS,
  type LatencyBuckets,
  mergeAllBuckets,
  quantileUs,
} from './latency-buckets.ts';

/** Mirrors the HistogramReport message of proxy/control/control.proto (field names as in TS). */
export interface HistogramReport {
  readonly proxyId?: string;
  readonly route: string;
  readonly namespace: string;
  /** stable | canary | any other backend role the proxy knows. */
  readonly role: string;
  readonly revision: string;
  readonly startMs: number;
  readonly endMs: number;
  /** HDR histogram V2, compressed, base64 (hdr-histogram-js encodeIntoCompressedBase64), microseconds. */
  readonly histogram: string;
  readonly count1xx: number;
  readonly count2xx: number;
  readonly count3xx: number;
  readonly count4xx: number;
  readonly count5xx: number;
  readonly requests: number;
  /** 5xx responses, proxy-generated ones included. */
  readonly errors: number;
}

export interface FieldError {
  /** Path of the offending field, e.g. "report.endMs" or "query.revision". */
  readonly field: string;
  readonly message: string;
}

export type IngestResult =
  | { readonly ok: true; readonly stored: boolean; readonly reason?: 'duplicate' | 'stale' }
  | { readonly ok: false; readonly error: FieldError };

export type QueryResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: FieldError };

export interface StatusCounts {
  readonly requests: number;
  readonly errors: number;
  readonly count1xx: number;
  readonly count2xx: number;
  readonly count3xx: number;
  readonly count4xx: number;
  readonly count5xx: number;
}

export interface StoredInterval extends StatusCounts {
  readonly proxyId: string;
  readonly role: string;
  readonly revision: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly buckets: LatencyBuckets;
}

export interface WindowQuery {
  readonly route: string;
  /** Omitted: the route's only namespace (an error names the candidates when there are several). */
  readonly namespace?: string;
  /** A role ("stable", "canary": the revision the latest report with that role carried) or a revision hash. */
  readonly revision: string;
  /** Intervals whose end lies in (fromMs, toMs]. */
  readonly fromMs: number;
  readonly toMs: number;
}

export interface WindowResult extends StatusCounts {
  readonly namespace: string;
  readonly route: string;
  /** The resolved revision; undefined when the selector names a role nobody has reported yet. */
  readonly revision: string | undefined;
  readonly fromMs: number;
  readonly toMs: number;
  readonly intervals: number;
  readonly proxies: number;
  /** Merged latency buckets, microseconds. */
  readonly buckets: LatencyBuckets;
}

export interface HistogramStoreOptions {
  readonly nowMs?: () => number;
  readonly retentionMs?: number;
  readonly maxBytes?: number;
  /** Reports ending further than this ahead of the controller's clock are rejected. */
  readonly maxClockSkewMs?: number;
}

export const DEFAULT_RETENTION_MS = 15 * 60_000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;
const INTERVAL_OVERHEAD_BYTES = 256;
const BYTES_PER_BUCKET = 16;

interface RevisionSeries {
  readonly namespace: string;
  readonly route: string;
  readonly revision: string;
  /** Sorted by endMs, then proxyId. */
  readonly intervals: StoredInterval[];
  readonly keys: Set<string>;
}

interface RoleMark {
  readonly revision: string;
  readonly endMs: number;
}

export class HistogramStore {
  private readonly nowMs: () => number;
  readonly retentionMs: number;
  readonly maxBytes: number;
  private readonly maxClockSkewMs: number;
  private readonly bySeries = new Map<string, RevisionSeries>();
  /** namespace/route -> role -> the revision of the latest report with that role. */
  private readonly roles = new Map<string, Map<string, RoleMark>>();
  private bytes = 0;

  constructor(options: HistogramStoreOptions = {}) {
    this.nowMs = options.nowMs ?? Date.now;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxClockSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
  }

  /** Estimated bytes held (buckets plus per-interval overhead). */
  get sizeBytes(): number {
    return this.bytes;
  }

  ingest(input: unknown): IngestResult {
    const parsed = parseReport(input);
    if (!parsed.ok) return parsed;
    const report = parsed.value.report;
    const now = this.nowMs();
    if (report.endMs > now + this.maxClockSkewMs) {
      return fail('report.endMs', `is ${report.endMs - now} ms ahead of the controller's clock`);
    }
    this.prune(now);
    if (report.endMs <= now - this.retentionMs) return { ok: true, stored: false, reason: 'stale' };
    const key = seriesKey(report.namespace, report.route, report.revision);
    let series = this.bySeries.get(key);
    if (series === undefined) {
      series = {
        namespace: report.namespace,
        route: report.route,
        revision: report.revision,
        intervals: [],
        keys: new Set(),
      };
      this.bySeries.set(key, series);
    }
    const proxyId = report.proxyId ?? '';
    // Reports re-sent after a reconnect carry the same proxy and interval: keep the first.
    const dedupeKey = proxyId === '' ? undefined : `${proxyId}\u0000${report.startMs}\u0000${report.endMs}`;
    if (dedupeKey !== undefined && series.keys.has(dedupeKey))
      return { ok: true, stored: false, reason: 'duplicate' };
    if (dedupeKey !== undefined) series.keys.add(dedupeKey);
    const interval: StoredInterval = {
      proxyId,
      role: report.role,
      revision: report.revision,
      startMs: report.startMs,
      endMs: report.endMs,
      requests: report.requests,
      errors: report.errors,
      count1xx: report.count1xx,
      count2xx: report.count2xx,
      count3xx: report.count3xx,
      count4xx: report.count4xx,
      count5xx: report.count5xx,
      buckets: parsed.value.buckets,
    };
    insertSorted(series.intervals, interval);
    this.bytes += intervalBytes(interval);
    const routeKey = routeKeyOf(report.namespace, report.route);
    let roles = this.roles.get(routeKey);
    if (roles === undefined) {
      roles = new Map();
      this.roles.set(routeKey, roles);
    }
    const mark = roles.get(report.role);
    if (mark === undefined || report.endMs >= mark.endMs)
      roles.set(report.role, { revision: report.revision, endMs: report.endMs });
    this.evictOverCap();
    return { ok: true, stored: true };
  }

  /** The revision a selector stands for now: a role's latest revision, else the selector itself. */
  resolveRevision(namespace: string, route: string, selector: string): string | undefined {
    const mark = this.roles.get(routeKeyOf(namespace, route))?.get(selector);
    if (mark !== undefined) return mark.revision;
    if (this.bySeries.has(seriesKey(namespace, route, selector))) return selector;
    return isRoleName(selector) ? undefined : selector;
  }

  /** Namespaces that have reports for a route. */
  namespacesOf(route: string): string[] {
    const out: string[] = [];
    for (const key of this.roles.keys()) {
      const [namespace, name] = key.split('\u0000') as [string, string];
      if (name === route) out.push(namespace);
    }
    return out.sort();
  }

  /** Per-interval records of one revision in (fromMs, toMs], oldest first (one per proxy and interval). */
  series(
    query: WindowQuery,
  ): QueryResult<{ namespace: string; revision: string | undefined; intervals: StoredInterval[] }> {
    const checked = this.checkQuery(query);
    if (!checked.ok) return checked;
    const { namespace } = checked.value;
    this.prune(this.nowMs());
    const revision = this.resolveRevision(namespace, query.route, query.revision);
    const stored =
      revision === undefined ? undefined : this.bySeries.get(seriesKey(namespace, query.route, revision));
    const intervals =
      stored === undefined
        ? []
        : stored.intervals.filter((i) => i.endMs > query.fromMs && i.endMs <= query.toMs);
    return { ok: true, value: { namespace, revision, intervals } };
  }

  /** Merged counts and latency buckets of one revision over (fromMs, toMs], across all proxies. */
  window(query: WindowQuery): QueryResult<WindowResult> {
    const found = this.series(query);
    if (!found.ok) return found;
    const { namespace, revision, intervals } = found.value;
    const counts = {
      requests: 0,
      errors: 0,
      count1xx: 0,
      count2xx: 0,
      count3xx: 0,
      count4xx: 0,
      count5xx: 0,
    };
    const proxies = new Set<string>();
    for (const i of intervals) {
      counts.requests += i.requests;
      counts.errors += i.errors;
      counts.count1xx += i.count1xx;
      counts.count2xx += i.count2xx;
      counts.count3xx += i.count3xx;
      counts.count4xx += i.count4xx;
      counts.count5xx += i.count5xx;
      proxies.add(i.proxyId);
    }
    return {
      ok: true,
      value: {
        ...counts,
        namespace,
        route: query.route,
        revision,
        fromMs: query.fromMs,
        toMs: query.toMs,
        intervals: intervals.length,
        proxies: proxies.size,
        buckets: mergeAllBuckets(intervals.map((i) => i.buckets)),
      },
    };
  }

  private checkQuery(query: WindowQuery): QueryResult<{ namespace: string }> {
    if (typeof query.route !== 'string' || query.route === '')
      return fail('query.route', 'must be a non-empty string');
    if (typeof query.revision !== 'string' || query.revision === '') {
      return fail('query.revision', 'must be a role (stable, canary) or a revision hash');
    }
    if (!Number.isFinite(query.fromMs))
      return fail('query.fromMs', 'must be a finite number of ms since the epoch');
    if (!Number.isFinite(query.toMs) || query.toMs < query.fromMs)
      return fail('query.toMs', 'must be a finite number >= fromMs');
    if (query.namespace !== undefined && query.namespace !== '')
      return { ok: true, value: { namespace: query.namespace } };
    const namespaces = this.namespacesOf(query.route);
    if (namespaces.length > 1) {
      return fail(
        'query.namespace',
        `route "${query.route}" has reports in several namespaces (${namespaces.join(', ')}); name one`,
      );
    }
    return { ok: true, value: { namespace: namespaces[0] ?? '' } };
  }

  private prune(now: number): void {
    const cutoff = now - this.retentionMs;
    for (const [key, series] of this.bySeries) {
      let drop = 0;
      while (drop < series.intervals.length && (series.intervals[drop] as StoredInterval).endMs <= cutoff)
        drop++;
      if (drop > 0) this.dropOldest(key, series, drop);
    }
  }

  private evictOverCap(): void {
    while (this.bytes > this.maxBytes) {
      let oldestKey: string | undefined;
      let oldestEnd = Number.POSITIVE_INFINITY;
      for (const [key, series] of this.bySeries) {
        const first = series.intervals[0];
        if (first !== undefined && first.endMs < oldestEnd) {
          oldestEnd = first.endMs;
          oldestKey = key;
        }
      }
      if (oldestKey === undefined) return;
      this.dropOldest(oldestKey, this.bySeries.get(oldestKey) as RevisionSeries, 1);
    }
  }

  private dropOldest(key: string, series: RevisionSeries, count: number): void {
    for (const interval of series.intervals.splice(0, count)) {
      this.bytes -= intervalBytes(interval);
      if (interval.proxyId !== '')
        series.keys.delete(`${interval.proxyId}\u0000${interval.startMs}\u0000${interval.endMs}`);
    }
    if (series.intervals.length === 0) this.bySeries.delete(key);
  }
}

/** A merged window's latency quantile (0..1) in milliseconds; NaN when the window is empty. */
export function latencyQuantileMs(window: WindowResult, quantile: number): number {
  return quantileUs(window.buckets, quantile) / 1000;
}

/** Non-5xx share of requests (the guides' success-rate query); NaN without requests. */
export function successRate(window: StatusCounts): number {
  return window.requests === 0 ? Number.NaN : (window.requests - window.errors) / window.requests;
}

/** 5xx share of requests; NaN without requests. */
export function errorRate(window: StatusCounts): number {
  return window.requests === 0 ? Number.NaN : window.errors / window.requests;
}

/** Requests per second over the queried window (as Prometheus rate() over the same range). */
export function requestRatePerSecond(window: WindowResult): number {
  const seconds = (window.toMs - window.fromMs) / 1000;
  return seconds <= 0 ? Number.NaN : window.requests / seconds;
}

/** Re-encodes merged buckets as an HDR histogram, for callers that want the library's API. */
export function toHdrHistogram(buckets: LatencyBuckets): Histogram {
  const histogram = build();
  for (let i = 0; i < buckets.valuesUs.length; i++) {
    histogram.recordValueWithCount(buckets.valuesUs[i] as number, buckets.counts[i] as number);
  }
  return histogram;
}

function isRoleName(selector: string): boolean {
  return selector === 'stable' || selector === 'canary' || selector === 'preview' || selector === 'active';
}

function seriesKey(namespace: string, route: string, revision: string): string {
  return `${namespace}\u0000${route}\u0000${revision}`;
}

function routeKeyOf(namespace: string, route: string): string {
  return `${namespace}\u0000${route}`;
}

function intervalBytes(interval: StoredInterval): number {
  return INTERVAL_OVERHEAD_BYTES + BYTES_PER_BUCKET * interval.buckets.valuesUs.length;
}

function insertSorted(intervals: StoredInterval[], interval: StoredInterval): void {
  let i = intervals.length;
  while (i > 0) {
    const prev = intervals[i - 1] as StoredInterval;
    if (prev.endMs < interval.endMs || (prev.endMs === interval.endMs && prev.proxyId <= interval.proxyId))
      break;
    i--;
  }
  intervals.splice(i, 0, interval);
}

function fail(field: string, message: string): { ok: false; error: FieldError } {
  return { ok: false, error: { field, message } };
}

const COUNT_FIELDS = [
  'count1xx',
  'count2xx',
  'count3xx',
  'count4xx',
  'count5xx',
  'requests',
  'errors',
] as const;
const STRING_FIELDS = ['route', 'namespace', 'role', 'revision'] as const;

/** Validates an untyped report (e.g. from the gRPC handler) and decodes its histogram. */
export function parseReport(
  input: unknown,
):
  | { ok: true; value: { report: HistogramReport; buckets: LatencyBuckets } }
  | { ok: false; error: FieldError } {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return fail('report', 'must be an object');
  const r = input as Record<string, unknown>;
  if (r.proxyId !== undefined && typeof r.proxyId !== 'string')
    return fail('report.proxyId', 'must be a string');
  for (const field of STRING_FIELDS) {
    const v = r[field];
    if (typeof v !== 'string' || v === '') return fail(`report.${field}`, 'must be a non-empty string');
  }
  for (const field of ['startMs', 'endMs'] as const) {
    const v = r[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      return fail(`report.${field}`, 'must be a non-negative number of ms since the epoch');
    }
  }
  if ((r.endMs as number) < (r.startMs as number)) return fail('report.endMs', 'must not be before startMs');
  for (const field of COUNT_FIELDS) {
    const v = r[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      return fail(`report.${field}`, 'must be a non-negative integer');
  }
  const requests = r.requests as number;
  const classes = COUNT_FIELDS.slice(0, 5).reduce((sum, f) => sum + (r[f] as number), 0);
  if (classes > requests)
    return fail('report.requests', `is ${requests} but the status classes add up to ${classes}`);
  if ((r.errors as number) > requests) return fail('report.errors', `exceeds requests (${requests})`);
  if (typeof r.histogram !== 'string')
    return fail('report.histogram', 'must be a base64 string (compressed HDR V2)');
  let buckets = EMPTY_BUCKETS;
  if (r.histogram !== '') {
    try {
      buckets = bucketsFromHistogram(decodeFromCompressedBase64(r.histogram));
    } catch (error) {
      const reason = errorText(error);
      return fail('report.histogram', `is not a compressed base64 HDR histogram: ${reason}`);
    }
  }
  return { ok: true, value: { report: r as unknown as HistogramReport, buckets } };
}

// The proxy's live per-revision success rate and latency for the dashboard. The proxy measures every
// request per route and revision and exposes the totals on its admin port (/metrics, proxy/metrics.ts:
// http_requests_total{app,namespace,role,revision,status,method} and the cumulative histogram
// http_request_duration_seconds{app,namespace,role,revision,le}); the controller's Rollout status carries
// only the weights. So the dashboard reads /metrics itself (--proxy-admin) while a page shows a
// proxy-routed Rollout, and turns the difference between the newest scrape and one WINDOW_MS older into
// rates: success = non-5xx / all requests, latency quantiles interpolated within buckets as
// Prometheus' histogram_quantile does.

import { request } from 'undici';

export const DEFAULT_SCRAPE_INTERVAL_MS = 2_000;
export const DEFAULT_WINDOW_MS = 10_000;
const SCRAPE_TIMEOUT_MS = 3_000;

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a Prometheus text exposition (0.0.4) whose names are in `names`. */
export function parseExposition(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE_RE.exec(line);
    if (m === null || !names.has(m[1]!)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL_RE))
      labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    const value = m[3] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Cumulative totals of one route x revision at one scrape. */
interface RevisionTotals {
  role: string;
  requests: number;
  errors: number;
  /** `le` upper bound (seconds) -> cumulative count. */
  buckets: Map<number, number>;
}

export interface Scrape {
  readonly atMs: number;
  /** `namespace/route` -> revision -> totals. */
  readonly routes: ReadonlyMap<string, ReadonlyMap<string, RevisionTotals>>;
}

const NAMES = new Set(['http_requests_total', 'http_request_duration_seconds_bucket']);

export function scrapeFromText(text: string, atMs: number): Scrape {
  const routes = new Map<string, Map<string, RevisionTotals>>();
  for (const s of parseExposition(text, NAMES)) {
    const key = `${s.labels.namespace ?? ''}/${s.labels.app ?? ''}`;
    const revisions = routes.get(key) ?? new Map<string, RevisionTotals>();
    routes.set(key, revisions);
    const revision = s.labels.revision ?? '';
    const totals = revisions.get(revision) ?? {
      role: s.labels.role ?? '',
      requests: 0,
      errors: 0,
      buckets: new Map<number, number>(),
    };
    revisions.set(revision, totals);
    if (s.name === 'http_requests_total') {
      totals.requests += s.value;
      const status = Number(s.labels.status);
      if (!(status >= 200 && status < 500)) totals.errors += s.value;
    } else {
      const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      totals.buckets.set(le, (totals.buckets.get(le) ?? 0) + s.value);
    }
  }
  return { atMs, routes };
}

export interface RevisionStats {
  /** The pod-template hash the proxy labels the series with. */
  readonly revision: string;
  readonly role: string;
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** 0..1; undefined without requests in the window. */
  readonly successRate: number | undefined;
  readonly p50Ms: number | undefined;
  readonly p95Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

export interface RouteStats {
  readonly namespace: string;
  readonly route: string;
  readonly windowMs: number;
  readonly revisions: readonly RevisionStats[];
  /** Why there are no numbers (no admin address, scrape failed, not enough scrapes yet). */
  readonly error?: string;
}

/** histogram_quantile over cumulative (le, count) pairs: linear within the bucket, as Prometheus does. */
export function bucketQuantile(q: number, buckets: ReadonlyMap<number, number>): number | undefined {
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      if (count === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

/** The per-revision stats of one route between two scrapes (`older` may be undefined: since start). */
export function routeStats(
  newer: Scrape,
  older: Scrape | undefined,
  namespace: string,
  route: string,
): RouteStats {
  const key = `${namespace}/${route}`;
  const now = newer.routes.get(key) ?? new Map<string, RevisionTotals>();
  const before = older?.routes.get(key);
  const windowMs = older === undefined ? 0 : newer.atMs - older.atMs;
  const revisions: RevisionStats[] = [];
  for (const [revision, t] of now) {
    const b = before?.get(revision);
    const requests = t.requests - (b?.requests ?? 0);
    const errors = t.errors - (b?.errors ?? 0);
    const buckets = new Map<number, number>();
    for (const [le, count] of t.buckets) buckets.set(le, count - (b?.buckets.get(le) ?? 0));
    const ms = (q: number): number | undefined => {
      const s = bucketQuantile(q, buckets);
      return s === undefined ? undefined : Math.round(s * 100_000) / 100;
    };
    revisions.push({
      revision,
      role: t.role,
      requests,
      requestsPerSecond: windowMs > 0 ? Math.round((requests * 10_000) / windowMs) / 10 : 0,
      successRate: requests > 0 ? (requests - errors) / requests : undefined,
      p50Ms: ms(0.5),
      p95Ms: ms(0.95),
      p99Ms: ms(0.99),
    });
  }
  revisions.sort((a, b) => a.role.localeCompare(b.role) || a.revision.localeCompare(b.revision));
  return { namespace, route, windowMs, revisions };
}

export interface ProxyStatsSource {
  /** The stats of a route over the last window; scrapes on demand at most every interval. */
  stats(namespace: string, route: string): Promise<RouteStats>;
}

/** Scrapes `http://ADMIN/metrics` at most every `intervalMs`, keeping the scrapes of the last window. */
export class ProxyScraper implements ProxyStatsSource {
  readonly #url: string;
  readonly #intervalMs: number;
  readonly #windowMs: number;
  readonly #nowMs: () => number;
  #history: Scrape[] = [];
  #inFlight: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(admin: string, o: { intervalMs?: number; windowMs?: number; nowMs?: () => number } = {}) {
    this.#url = `http://${admin}/metrics`;
    this.#intervalMs = o.intervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS;
    this.#windowMs = o.windowMs ?? DEFAULT_WINDOW_MS;
    this.#nowMs = o.nowMs ?? Date.now;
  }

  async #scrape(): Promise<void> {
    const atMs = this.#nowMs();
    try {
      const res = await request(this.#url, {
        headersTimeout: SCRAPE_TIMEOUT_MS,
        bodyTimeout: SCRAPE_TIMEOUT_MS,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      this.#history.push(scrapeFromText(text, atMs));
      this.#history = this.#history.filter((s) => atMs - s.atMs <= this.#windowMs + this.#intervalMs);
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = `proxy admin ${this.#url}: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  async stats(namespace: string, route: string): Promise<RouteStats> {
    const newest = this.#history.at(-1);
    if (newest === undefined || this.#nowMs() - newest.atMs >= this.#intervalMs) {
      this.#inFlight ??= this.#scrape().finally(() => {
        this.#inFlight = undefined;
      });
      await this.#inFlight;
    }
    const latest = this.#history.at(-1);
    if (this.#lastError !== undefined || latest === undefined)
      return { namespace, route, windowMs: 0, revisions: [], error: this.#lastError ?? 'no scrape yet' };
    const older = this.#history.find((s) => latest.atMs - s.atMs <= this.#windowMs && s !== latest);
    return routeStats(latest, older, namespace, route);
  }
}

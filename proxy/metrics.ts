// The proxy's Prometheus metrics. Recording stays a few array increments on the request path (no
// string building, no label hashing, no Map lookup per request); prom-client renders the exposition
// from those arrays at scrape time, through families whose samples are evaluated on each scrape.
// Names and labels are chosen so the queries in the Argo guides work verbatim:
//   http_requests_total{app,namespace,role,revision,status,method}       counter
//   http_request_duration_seconds{app,namespace,role,revision,le}        histogram (cumulative)
// Every series uses the same `le` set (DURATION_BUCKETS_SECONDS): summing _bucket across series,
// revisions and proxies is only valid with identical bounds. The duration histogram carries no
// status/method labels to keep the series count at one histogram per route x revision.

import { Counter, Gauge, type Metric, Registry } from 'prom-client';

/**
 * The four labels of a route x revision series. Structurally identical to LabelSet in
 * telemetry.ts, declared here so that telemetry.ts can import this file without an import cycle.
 */
export interface LabelSet {
  app: string;
  namespace: string;
  role: string;
  revision: string;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Upper bounds (seconds) of the latency buckets, dense between 1 ms and 1 s; +Inf is implicit. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2,
  0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10,
]);

/** Methods counted under their own name; anything else is counted as OTHER to bound cardinality. */
export const KNOWN_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'OTHER',
]);
const METHOD_INDEX = new Map<string, number>(KNOWN_METHODS.map((method, index) => [method, index]));
const OTHER_METHOD_INDEX = KNOWN_METHODS.length - 1;

const MIN_STATUS = 100;
const MAX_STATUS = 599;
/** Slots 0..499 are statuses 100..599; the last slot counts anything outside that range. */
const STATUS_SLOTS = MAX_STATUS - MIN_STATUS + 2;
const OTHER_STATUS_SLOT = STATUS_SLOTS - 1;
const OTHER_STATUS_LABEL = 'other';

const BOUNDS_US = Float64Array.from(DURATION_BUCKETS_SECONDS, (seconds) => Math.round(seconds * 1_000_000));
const LE_LABELS = [...DURATION_BUCKETS_SECONDS.map(String), '+Inf'];
const LE_LABEL_SETS = LE_LABELS.map((le) => Object.freeze({ le }));
const NO_LABELS = Object.freeze({});

/** Index of the first bucket whose bound is >= latencyUs (Prometheus `le` semantics); bounds.length for +Inf. */
export function bucketIndexUs(latencyUs: number): number {
  let lo = 0;
  let hi = BOUNDS_US.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (BOUNDS_US[mid]! < latencyUs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function seriesKey(labels: LabelSet): string {
  return `${labels.app}\u0000${labels.namespace}\u0000${labels.role}\u0000${labels.revision}`;
}

/** Counters and the latency histogram of one route x revision. */
export class MetricsSeries {
  readonly labels: LabelSet;
  /** Per method index, counts per status slot; allocated on first use of that method. */
  readonly #countsByMethod: (Float64Array | undefined)[] = new Array(KNOWN_METHODS.length).fill(undefined);
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly #bucketCounts = new Float64Array(BOUNDS_US.length + 1);
  #sumUs = 0;
  #count = 0;
  /** Scrape side only: label objects of the status x method cells seen so far (see #cellLabels). */
  readonly #requestLabels: (Map<number, LabelSet> | undefined)[] = new Array(KNOWN_METHODS.length).fill(
    undefined,
  );

  constructor(labels: LabelSet) {
    this.labels = Object.freeze({ ...labels });
  }

  record(statusCode: number, method: string, latencyUs: number): void {
    const methodIndex = METHOD_INDEX.get(method) ?? OTHER_METHOD_INDEX;
    let counts = this.#countsByMethod[methodIndex];
    if (counts === undefined) {
      counts = new Float64Array(STATUS_SLOTS);
      this.#countsByMethod[methodIndex] = counts;
    }
    const slot =
      statusCode >= MIN_STATUS && statusCode <= MAX_STATUS
        ? (statusCode - MIN_STATUS) | 0
        : OTHER_STATUS_SLOT;
    counts[slot]! += 1;
    const latency = Number.isFinite(latencyUs) && latencyUs > 0 ? latencyUs : 0;
    this.#bucketCounts[bucketIndexUs(latency)]! += 1;
    this.#sumUs += latency;
    this.#count += 1;
  }

  /**
   * The label set of one status x method cell, built at its first scrape and kept: prom-client caches
   * the rendered text of a `sharedLabels` object by identity, so later scrapes format no labels.
   */
  #cellLabels(methodIndex: number, slot: number): LabelSet {
    let byMethod = this.#requestLabels[methodIndex];
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#requestLabels[methodIndex] = byMethod;
    }
    let labels = byMethod.get(slot);
    if (labels === undefined) {
      const status = slot === OTHER_STATUS_SLOT ? OTHER_STATUS_LABEL : String(slot + MIN_STATUS);
      labels = Object.freeze({ ...this.labels, status, method: KNOWN_METHODS[methodIndex]! });
      byMethod.set(slot, labels);
    }
    return labels;
  }

  /** Appends this series' http_requests_total samples (non-zero status x method cells). */
  requestSamples(out: Sample[]): void {
    for (let m = 0; m < this.#countsByMethod.length; m++) {
      const counts = this.#countsByMethod[m];
      if (counts === undefined) continue;
      for (let slot = 0; slot < counts.length; slot++) {
        const value = counts[slot]!;
        if (value === 0) continue;
        out.push({ labels: NO_LABELS, sharedLabels: this.#cellLabels(m, slot), value });
      }
    }
  }

  /** Appends this series' cumulative buckets, _sum (seconds) and _count. */
  durationSamples(out: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.#bucketCounts.length; i++) {
      cumulative += this.#bucketCounts[i]!;
      out.push({
        metricName: 'http_request_duration_seconds_bucket',
        labels: LE_LABEL_SETS[i]!,
        sharedLabels: this.labels,
        value: cumulative,
      });
    }
    out.push({
      metricName: 'http_request_duration_seconds_sum',
      labels: NO_LABELS,
      sharedLabels: this.labels,
      value: this.#sumUs / 1_000_000,
    });
    out.push({
      metricName: 'http_request_duration_seconds_count',
      labels: NO_LABELS,
      sharedLabels: this.labels,
      value: this.#count,
    });
  }

  get requestCount(): number {
    return this.#count;
  }
}

export type ConfigReloadResult = 'success' | 'failure';

export interface ProcessStats {
  residentMemoryBytes: number;
  cpuSeconds: number;
  startTimeSeconds: number;
  heapUsedBytes: number;
}

export interface PrometheusMetricsOptions {
  /** Process figures; defaults to this process. Injected in tests for determinism. */
  processStats?: () => ProcessStats;
}

const PROCESS_START_TIME_SECONDS = Date.now() / 1000 - process.uptime();

export function currentProcessStats(): ProcessStats {
  const cpu = process.cpuUsage();
  return {
    residentMemoryBytes: process.memoryUsage.rss(),
    cpuSeconds: (cpu.user + cpu.system) / 1_000_000,
    startTimeSeconds: PROCESS_START_TIME_SECONDS,
    heapUsedBytes: process.memoryUsage().heapUsed,
  };
}

/** The registry of everything the admin server's /metrics exposes. */
export class PrometheusMetrics {
  readonly #series = new Map<string, MetricsSeries>();
  readonly #upstreamErrors = new Map<string, number>();
  readonly #reloads: Record<ConfigReloadResult, number> = { success: 0, failure: 0 };
  readonly #processStats: () => ProcessStats;
  #configVersion = 0;
  #openConnections = 0;
  #reportsDropped = 0;
  #controlConnected = 0;

  readonly #registry = new Registry();

  constructor(options: PrometheusMetricsOptions = {}) {
    this.#processStats = options.processStats ?? currentProcessStats;
    this.#register();
  }

  /** The same object for the same labels for the life of the registry. */
  series(labels: LabelSet): MetricsSeries {
    const key = seriesKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      series = new MetricsSeries(labels);
      this.#series.set(key, series);
    }
    return series;
  }

  upstreamError(code: string): void {
    this.#upstreamErrors.set(code, (this.#upstreamErrors.get(code) ?? 0) + 1);
  }

  connectionOpened(): void {
    this.#openConnections++;
  }

  connectionClosed(): void {
    if (this.#openConnections > 0) this.#openConnections--;
  }

  configApplied(version: number): void {
    this.#configVersion = version;
    this.#reloads.success++;
  }

  configRejected(): void {
    this.#reloads.failure++;
  }

  reportsDropped(count: number): void {
    this.#reportsDropped += count;
  }

  controlConnected(connected: boolean): void {
    this.#controlConnected = connected ? 1 : 0;
  }

  /** Text exposition format 0.0.4, rendered by prom-client from the counters above. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }

  #register(): void {
    const registry = this.#registry;
    const series = this.#series;
    registry.registerMetric(
      new ScrapeFamily(
        'http_requests_total',
        'Requests answered by the proxy, by route, revision, status and method.',
        'counter',
        () => {
          const out: Sample[] = [];
          for (const s of series.values()) s.requestSamples(out);
          return out;
        },
      ).asMetric(),
    );
    registry.registerMetric(
      new ScrapeFamily(
        'http_request_duration_seconds',
        'Time from the request head arriving to the response ending, in seconds.',
        'histogram',
        () => {
          const out: Sample[] = [];
          for (const s of series.values()) s.durationSamples(out);
          return out;
        },
      ).asMetric(),
    );
    const self = this;
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    gauge(
      'sluice_proxy_config_version',
      'Version of the routing configuration being served.',
      () => self.#configVersion,
    );
    new Counter({
      name: 'sluice_proxy_config_reloads_total',
      help: 'Configuration changes applied or rejected.',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const result of ['success', 'failure'] as const) this.inc({ result }, self.#reloads[result]);
      },
    });
    new Counter({
      name: 'sluice_proxy_upstream_errors_total',
      help: 'Proxy errors by stable error code.',
      labelNames: ['code'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [code, count] of self.#upstreamErrors) this.inc({ code }, count);
      },
    });
    gauge('sluice_proxy_open_connections', 'Client connections currently open.', () => self.#openConnections);
    gauge(
      'sluice_proxy_control_connected',
      '1 while subscribed to a control server.',
      () => self.#controlConnected,
    );
    new Counter({
      name: 'sluice_proxy_histogram_reports_dropped_total',
      help: 'Histogram reports dropped because the control backlog was full.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(self.#reportsDropped);
      },
    });
    // Read once per scrape by the first of these families (registration order is exposition order).
    let stats: ProcessStats = this.#processStats();
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => {
      stats = this.#processStats();
      return stats.residentMemoryBytes;
    });
    new Counter({
      name: 'process_cpu_seconds_total',
      help: 'Total user and system CPU time spent in seconds.',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(stats.cpuSeconds);
      },
    });
    gauge(
      'process_start_time_seconds',
      'Start time of the process since unix epoch in seconds.',
      () => stats.startTimeSeconds,
    );
    gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', () => stats.heapUsedBytes);
  }
}

/** One sample of a scrape-time family: its labels in exposition order, and the suffixed name for histograms. */
interface Sample {
  readonly metricName?: string;
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Labels written after `labels`, their text cached by prom-client per object (registry.js
   * flattenSharedLabels; its Histogram passes a series' labels this way). Kept objects, never copies.
   */
  readonly sharedLabels?: LabelSet;
  readonly value: number;
}

/**
 * A metric family whose samples are computed from the series' arrays at each scrape, in the shape
 * prom-client's Registry renders (what its own metrics return from get()). prom-client's Histogram can
 * only be fed by observe() and its Counter hashes labels on every inc(); neither fits a per-request
 * array increment, so these two families hand their values to the registry directly.
 */
class ScrapeFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly #samples: () => Sample[];

  constructor(name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#samples = samples;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#samples(),
    };
  }

  /** Nothing to reset: the counts belong to the series (Registry.resetMetrics calls this). */
  reset(): void {}

  /** The registry's parameter type lists its own four classes; it reads only the members above. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

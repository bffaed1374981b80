// Prometheus exposition of the proxy's measurements, written by hand: recording is a few array
// increments (no string building, no Map of label strings per request); all text is produced at
// scrape time. Names and labels are chosen so the queries in the Argo guides work verbatim:
//   http_requests_total{app,namespace,role,revision,status,method}       counter
//   http_request_duration_seconds{app,namespace,role,revision,le}        histogram (cumulative)
// Every series uses the same `le` set (DURATION_BUCKETS_SECONDS): summing _bucket across series,
// revisions and proxies is only valid with identical bounds. The duration histogram carries no
// status/method labels to keep the series count at one histogram per route x revision.

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
const LE_LABELS = [...DURATION_BUCKETS_SECONDS.map(formatNumber), '+Inf'];

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

/** Label value escaping per the text exposition format: backslash, double quote, line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** HELP text escaping: backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

/** Go-compatible float text: integers without exponent where exact, +Inf/-Inf/NaN spelled out. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export function seriesKey(labels: LabelSet): string {
  return `${labels.app}\u0000${labels.namespace}\u0000${labels.role}\u0000${labels.revision}`;
}

function seriesLabelText(labels: LabelSet): string {
  return (
    `app="${escapeLabelValue(labels.app)}",namespace="${escapeLabelValue(labels.namespace)}",` +
    `role="${escapeLabelValue(labels.role)}",revision="${escapeLabelValue(labels.revision)}"`
  );
}

/** Counters and the latency histogram of one route x revision. */
export class MetricsSeries {
  readonly labels: LabelSet;
  /** Escaped `app=..,namespace=..,role=..,revision=..`, built once. */
  readonly labelText: string;
  /** Per method index, counts per status slot; allocated on first use of that method. */
  readonly #countsByMethod: (Float64Array | undefined)[] = new Array(KNOWN_METHODS.length).fill(undefined);
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly #bucketCounts = new Float64Array(BOUNDS_US.length + 1);
  #sumUs = 0;
  #count = 0;

  constructor(labels: LabelSet) {
    this.labels = Object.freeze({ ...labels });
    this.labelText = seriesLabelText(labels);
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

  /** Appends this series' http_requests_total sample lines. */
  renderRequests(out: string[]): void {
    for (let m = 0; m < this.#countsByMethod.length; m++) {
      const counts = this.#countsByMethod[m];
      if (counts === undefined) continue;
      const method = KNOWN_METHODS[m]!;
      for (let slot = 0; slot < counts.length; slot++) {
        const count = counts[slot]!;
        if (count === 0) continue;
        const status = slot === OTHER_STATUS_SLOT ? OTHER_STATUS_LABEL : String(slot + MIN_STATUS);
        out.push(`http_requests_total{${this.labelText},status="${status}",method="${method}"} ${count}\n`);
      }
    }
  }

  /** Appends this series' cumulative buckets, _sum (seconds) and _count. */
  renderDuration(out: string[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.#bucketCounts.length; i++) {
      cumulative += this.#bucketCounts[i]!;
      out.push(
        `http_request_duration_seconds_bucket{${this.labelText},le="${LE_LABELS[i]}"} ${cumulative}\n`,
      );
    }
    out.push(
      `http_request_duration_seconds_sum{${this.labelText}} ${formatNumber(this.#sumUs / 1_000_000)}\n`,
    );
    out.push(`http_request_duration_seconds_count{${this.labelText}} ${this.#count}\n`);
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

  constructor(options: PrometheusMetricsOptions = {}) {
    this.#processStats = options.processStats ?? currentProcessStats;
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

  render(): string {
    const out: string[] = [];
    const all = [...this.#series.values()];

    family(
      out,
      'http_requests_total',
      'counter',
      'Requests answered by the proxy, by route, revision, status and method.',
    );
    for (const series of all) series.renderRequests(out);

    family(
      out,
      'http_request_duration_seconds',
      'histogram',
      'Time from the request head arriving to the response ending, in seconds.',
    );
    for (const series of all) series.renderDuration(out);

    family(out, 'sluice_proxy_config_version', 'gauge', 'Version of the routing configuration being served.');
    out.push(`sluice_proxy_config_version ${this.#configVersion}\n`);

    family(out, 'sluice_proxy_config_reloads_total', 'counter', 'Configuration changes applied or rejected.');
    for (const result of ['success', 'failure'] as const) {
      out.push(`sluice_proxy_config_reloads_total{result="${result}"} ${this.#reloads[result]}\n`);
    }

    family(out, 'sluice_proxy_upstream_errors_total', 'counter', 'Proxy errors by stable error code.');
    for (const [code, count] of this.#upstreamErrors) {
      out.push(`sluice_proxy_upstream_errors_total{code="${escapeLabelValue(code)}"} ${count}\n`);
    }

    family(out, 'sluice_proxy_open_connections', 'gauge', 'Client connections currently open.');
    out.push(`sluice_proxy_open_connections ${this.#openConnections}\n`);

    family(out, 'sluice_proxy_control_connected', 'gauge', '1 while subscribed to a control server.');
    out.push(`sluice_proxy_control_connected ${this.#controlConnected}\n`);

    family(
      out,
      'sluice_proxy_histogram_reports_dropped_total',
      'counter',
      'Histogram reports dropped because the control backlog was full.',
    );
    out.push(`sluice_proxy_histogram_reports_dropped_total ${this.#reportsDropped}\n`);

    const stats = this.#processStats();
    family(out, 'process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
    out.push(`process_resident_memory_bytes ${stats.residentMemoryBytes}\n`);
    family(out, 'process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.');
    out.push(`process_cpu_seconds_total ${formatNumber(stats.cpuSeconds)}\n`);
    family(
      out,
      'process_start_time_seconds',
      'gauge',
      'Start time of the process since unix epoch in seconds.',
    );
    out.push(`process_start_time_seconds ${formatNumber(stats.startTimeSeconds)}\n`);
    family(out, 'nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.');
    out.push(`nodejs_heap_used_bytes ${stats.heapUsedBytes}\n`);

    return out.join('');
  }
}

function family(out: string[], name: string, type: string, help: string): void {
  out.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`);
}

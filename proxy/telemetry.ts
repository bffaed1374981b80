// The seam between the data path and the proxy's measurements. The data path holds one
// RequestSeries per route x backend revision (resolved once when a snapshot is built, never per
// request) and calls record() once per finished request. Implementations: metrics.ts (Prometheus
// counters and fixed-bucket histograms, cumulative) and histograms.ts (HDR interval histograms for
// the control stream); Telemetry fans out to both.

import { type Clock, HistogramRecorder } from './histograms.ts';
import {
  type MetricsSeries,
  PrometheusMetrics,
  type PrometheusMetricsOptions,
  seriesKey,
} from './metrics.ts';

export interface SeriesLabels {
  /** Route name (`app` label). */
  app: string;
  namespace: string;
  /** Backend name (`role` label), e.g. "stable" / "canary". */
  role: string;
  revision: string;
}

export interface RequestSeries {
  readonly labels: SeriesLabels;
  /** One finished request. statusCode is what the client received (proxy-generated errors included). */
  record(statusCode: number, method: string, latencyUs: number): void;
}

export interface Telemetry {
  /** Returns the same object for the same labels for the life of the process (counters are cumulative). */
  series(labels: SeriesLabels): RequestSeries;
  /** An error from the catalogue in errors.ts, counted by its stable code. */
  upstreamError(code: string): void;
  connectionOpened(): void;
  connectionClosed(): void;
  configApplied(version: number): void;
}

// ---------------------------------------------------------------------------------------------
// The implementation: one Telemetry fanning out to the Prometheus registry (metrics.ts) and the HDR
// interval store (histograms.ts).

export interface TelemetryOptions {
  /** Length of one HDR interval (default 1 s). */
  intervalMs?: number;
  /** How long completed HDR intervals are kept (default 10 min). */
  windowMs?: number;
  /** Unix ms; injected in tests. */
  clock?: Clock;
  processStats?: PrometheusMetricsOptions['processStats'];
}

/** The Telemetry the proxy runs with, plus handles on both recorders for the admin and control sides. */
export interface ProxyTelemetry extends Telemetry {
  readonly metrics: PrometheusMetrics;
  readonly histograms: HistogramRecorder;
  /** A configuration change that was rejected (invalid file or NACKed snapshot). */
  configRejected(): void;
}

class FanOutSeries implements RequestSeries {
  readonly labels: SeriesLabels;
  readonly #prometheus: MetricsSeries;
  readonly #hdr: RequestSeries;

  constructor(prometheus: MetricsSeries, hdr: RequestSeries) {
    this.labels = prometheus.labels;
    this.#prometheus = prometheus;
    this.#hdr = hdr;
  }

  record(statusCode: number, method: string, latencyUs: number): void {
    this.#prometheus.record(statusCode, method, latencyUs);
    this.#hdr.record(statusCode, method, latencyUs);
  }
}

export function createTelemetry(options: TelemetryOptions = {}): ProxyTelemetry {
  const metrics = new PrometheusMetrics({ processStats: options.processStats });
  const histograms = new HistogramRecorder({
    intervalMs: options.intervalMs,
    windowMs: options.windowMs,
    clock: options.clock,
  });
  const seriesByKey = new Map<string, FanOutSeries>();
  return {
    metrics,
    histograms,
    series(labels: SeriesLabels): RequestSeries {
      const key = seriesKey(labels);
      let series = seriesByKey.get(key);
      if (series === undefined) {
        series = new FanOutSeries(metrics.series(labels), histograms.series(labels));
        seriesByKey.set(key, series);
      }
      return series;
    },
    upstreamError: (code) => metrics.upstreamError(code),
    connectionOpened: () => metrics.connectionOpened(),
    connectionClosed: () => metrics.connectionClosed(),
    configApplied: (version) => metrics.configApplied(version),
    configRejected: () => metrics.configRejected(),
  };
}

// The seam between the data path and the proxy's measurements. The data path holds one
// RequestSeries per route x backend revision (resolved once when a snapshot is built, never per
// request) and calls record() once per finished request. Implementations: metrics.ts (Prometheus
// counters and fixed-bucket histograms, cumulative) and histograms.ts (HDR interval histograms for
// the control stream); Telemetry fans out to both.

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

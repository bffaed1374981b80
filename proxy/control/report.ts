// The histogram report as TypeScript sees it: one completed interval of one route x revision, the
// camelCase twin of `sluice.control.v1.HistogramReport` in control.proto. histograms.ts produces
// these; the control client sends them.

export interface HistogramReport {
  /** Route name (`app` label). */
  route: string;
  namespace: string;
  /** Backend name, e.g. "stable" / "canary". */
  role: string;
  revision: string;
  /** Interval start, inclusive, Unix ms (aligned to the interval length). */
  startMs: number;
  /** Interval end, exclusive, Unix ms. */
  endMs: number;
  /** HdrHistogram V2 compressed base64 ("HISTF..."), values in integer microseconds. */
  histogram: string;
  count1xx: number;
  count2xx: number;
  count3xx: number;
  count4xx: number;
  count5xx: number;
  requests: number;
  /** Requests answered with 5xx. */
  errors: number;
}

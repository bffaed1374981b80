// The demo's summary: per release its outcome and what the load generator saw of it (requests it
// answered, how many failed, and for an aborted one the time from its first request to its last answer,
// i.e. until all traffic was back on stable). Printed, and written as JSON with --summary-json.

export interface DemoRelease {
  readonly version: string;
  readonly outcome: 'promoted' | 'aborted';
  readonly requests: number;
  readonly failed: number;
  /** Aborted: ms from the first request it answered being sent to its last answer; promoted: null. */
  readonly abortMs: number | null;
  /** The 99th percentile of its answers' latency as the load generator measured it (ms). */
  readonly p99Ms: number | null;
}

export interface DemoSummary {
  readonly releases: readonly DemoRelease[];
  readonly durationS: number;
  readonly scenario: string;
}

export function formatSummary(s: DemoSummary): string {
  const lines = ['', `Summary (${s.durationS} s, scenario ${s.scenario}):`];
  for (const r of s.releases) {
    const share = r.requests === 0 ? '' : ` (${((100 * r.failed) / r.requests).toFixed(1)}%)`;
    const abort =
      r.abortMs === null
        ? ''
        : `, ${(r.abortMs / 1000).toFixed(2)} s from its first request to all traffic back on stable`;
    const p99 = r.p99Ms === null ? '' : `, p99 ${r.p99Ms} ms`;
    lines.push(
      `  ${r.version}: ${r.outcome.toUpperCase()}: answered ${r.requests} requests, ${r.failed} failed${share}${p99}${abort}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

// The controller benchmark's three tables (process resources, reconcile latency, set-image and promote
// latency): printed by bench/controller.ts as it measures, and rebuilt from its JSON for docs/benchmarks.md
// by scripts/benchmarks-doc.ts. Values read back from JSON may be null (NaN serialised), shown as an em dash like a missing one.
import { fmt, fmtMiB, markdownTable } from './table.ts';

type Num = number | null | undefined;
const n = (value: Num): number | undefined => value ?? undefined;

/** CPU and RSS of one process tree over a window. */
export interface ResourceWindow {
  readonly seconds: Num;
  readonly cpuPercent: Num;
  readonly rssMeanBytes: Num;
  readonly rssMaxBytes: Num;
}

export interface ReconcileLatency {
  readonly reconciles: Num;
  readonly meanMs: Num;
  readonly p50Ms: Num;
  readonly p50BoundMs: Num;
  readonly p99Ms: Num;
  readonly p99BoundMs: Num;
}

export interface CommandLatency {
  readonly count: Num;
  readonly p50Ms: Num;
  readonly p90Ms: Num;
  readonly maxMs: Num;
  readonly timeouts: Num;
}

export function resourceTable(rows: readonly { name: string; phase: string; w: ResourceWindow }[]): string {
  return markdownTable(
    [
      { header: 'process', cell: (r: (typeof rows)[number]) => r.name },
      { header: 'phase', cell: (r) => r.phase },
      { header: 'window s', align: 'right', cell: (r) => fmt(n(r.w.seconds), 1) },
      { header: 'CPU %', align: 'right', cell: (r) => fmt(n(r.w.cpuPercent), 2) },
      { header: 'RSS mean MiB', align: 'right', cell: (r) => fmtMiB(n(r.w.rssMeanBytes)) },
      { header: 'RSS max MiB', align: 'right', cell: (r) => fmtMiB(n(r.w.rssMaxBytes)) },
    ],
    rows,
  );
}

/** `firstHeader` names the first column ("reconciles during", or "during" when API writes are listed too). */
export function reconcileTable(
  rows: readonly { what: string; r: ReconcileLatency }[],
  firstHeader = 'reconciles during',
): string {
  return markdownTable(
    [
      { header: firstHeader, cell: (x: (typeof rows)[number]) => x.what },
      { header: 'count', align: 'right', cell: (x) => fmt(n(x.r.reconciles)) },
      { header: 'mean ms', align: 'right', cell: (x) => fmt(n(x.r.meanMs), 2) },
      {
        header: 'p50 ms (≤ bucket)',
        align: 'right',
        cell: (x) => `${fmt(n(x.r.p50Ms), 2)} (≤ ${fmt(n(x.r.p50BoundMs), 0)})`,
      },
      {
        header: 'p99 ms (≤ bucket)',
        align: 'right',
        cell: (x) => `${fmt(n(x.r.p99Ms), 2)} (≤ ${fmt(n(x.r.p99BoundMs), 0)})`,
      },
    ],
    rows,
  );
}

/** The set-image and promote latencies; a row whose summary is missing is left out. */
export function commandLatencyTable(
  setImage: { readonly fromCommand?: CommandLatency; readonly fromWriteAcknowledged?: CommandLatency },
  promote: { readonly fromCommand?: CommandLatency; readonly fromWriteAcknowledged?: CommandLatency },
): string {
  const rows = [
    { what: 'set image → first canary Pod (from command)', s: setImage.fromCommand },
    { what: 'set image → first canary Pod (from PUT acknowledged)', s: setImage.fromWriteAcknowledged },
    { what: 'promote → currentStepIndex+1 (from command)', s: promote.fromCommand },
    { what: 'promote → currentStepIndex+1 (from PATCH acknowledged)', s: promote.fromWriteAcknowledged },
  ].filter((r): r is { what: string; s: CommandLatency } => r.s !== undefined);
  return markdownTable(
    [
      { header: 'latency', cell: (x: (typeof rows)[number]) => x.what },
      { header: 'n', align: 'right', cell: (x) => fmt(n(x.s.count)) },
      { header: 'p50 ms', align: 'right', cell: (x) => fmt(n(x.s.p50Ms), 1) },
      { header: 'p90 ms', align: 'right', cell: (x) => fmt(n(x.s.p90Ms), 1) },
      { header: 'max ms', align: 'right', cell: (x) => fmt(n(x.s.maxMs), 1) },
      { header: 'timeouts', align: 'right', cell: (x) => fmt(n(x.s.timeouts)) },
    ],
    rows,
  );
}

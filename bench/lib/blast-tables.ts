// The result shapes of bench/blast-radius.ts and the tables it prints, shared with
// scripts/benchmarks-doc.ts so the page and the terminal never disagree. Pure: no I/O, no cluster.
import { type Distribution, distribution } from './blast-stats.ts';
import type { PushResult } from './push-fanout.ts';
import type { TargetCheck } from './summary.ts';
import { fmt, fmtRatio, markdownTable } from './table.ts';

/** One bad revision (every request answered 500) pushed to the canary and aborted. */
export interface BadTrial {
  n: number;
  tag: string;
  hash: string;
  /** The gateway proxy (proxy id) that carried the trial. */
  gateway: string;
  /** Extra wait before the update, spreading the canary's start over the second (see blast-radius.ts). */
  startJitterMs: number;
  /** ms after a whole second at which the canary's first request was sent. */
  firstCanaryPhaseMs: number;
  /** Requests sent during the trial (stable warm-up included). */
  requests: number;
  /** Requests the bad version answered (x-demo-version), from its first to the proxy's weight 0. */
  blastRadius: number;
  /** Of those answered after the failing measurement's finishedAt (sent after it). */
  answeredAfterVerdict: number;
  /** Requests that failed without the bad version answering (503, refused, timeout): should be 0. */
  otherFailures: number;
  /** Update patch -> the proxy applied a snapshot routing weight to the canary. */
  updateToCanaryMs: number;
  /** First request the canary answered (its send time) -> the failing measurement's finishedAt. */
  timeToVerdictMs: number;
  /** The failing measurement's finishedAt -> the proxy applied weight 0 (the snapshot swap). */
  abortLatencyMs: number;
  /** The AnalysisRun watch event that carried the failure (arrival here) -> the proxy applied weight 0. */
  abortLatencyFromEventMs: number;
  /** finishedAt -> its watch event arrived here. */
  verdictEventLagMs: number;
  /** The last request the bad version answered was sent this long after finishedAt (negative: before). */
  lastBadSendAfterVerdictMs: number;
  /** First canary request -> weight 0 applied. */
  exposureMs: number;
  verdictMetric: string;
  verdictMessage: string;
  /** Why the trial did not complete, when it did not. */
  failure?: string;
}

export interface PhaseSummary {
  blastRadius: Distribution;
  answeredAfterVerdict: Distribution;
  timeToVerdictMs: Distribution;
  abortLatencyMs: Distribution;
  abortLatencyFromEventMs: Distribution;
  verdictEventLagMs: Distribution;
  exposureMs: Distribution;
  updateToCanaryMs: Distribution;
}

/** One gateway proxy of a phase: its report timing and the trials it carried. */
export interface GatewayRun {
  proxyId: string;
  reportIntervalMs: number;
  /** Started this many ms after a whole second (undefined: whenever). */
  startPhaseMs?: number;
  /** Measured: ms after each whole second at which its completed 1 s intervals were collected. */
  reportLagMs: number;
  trials: number[];
}

export interface BlastPhase {
  name: string;
  /** How the run is judged, for the table. */
  label: string;
  analysis: 'sluice/judge' | 'prometheus';
  reportIntervalMs: number;
  trialsPlanned: number;
  trials: BadTrial[];
  /** The gateways that carried the trials (several for the judge: each has its own report lag). */
  gateways: GatewayRun[];
  /** Over the completed trials. */
  summary: PhaseSummary;
  failedTrials: number;
  /** 1-minute load average at the start and end of the phase. */
  loadAverage: [number, number];
}

export interface FalseAlarmTrial {
  n: number;
  tag: string;
  hash: string;
  /** Requests the healthy canary answered in the window. */
  canaryRequests: number;
  aborted: boolean;
  /** Canary serving -> the failing measurement, when aborted. */
  abortedAfterMs?: number;
  verdictMetric?: string;
  verdictMessage?: string;
  /** Measurement phases of the run at the end of the window (early answers that pass leave no trace). */
  measurementPhases: Record<string, number>;
  failure?: string;
}

export interface FalseAlarmResult {
  windowS: number;
  alpha: number;
  trials: FalseAlarmTrial[];
  /** Completed trials (the window ran to its end or the judge aborted). */
  completed: number;
  aborted: number;
  /** P(aborted >= observed | each trial aborts with probability alpha): small means more than alpha. */
  tailProbability: number;
}

const cell3 = (d: Distribution, decimals = 0): string =>
  d.count === 0 ? '—' : `${fmt(d.p50, decimals)} / ${fmt(d.p99, decimals)} / ${fmt(d.max, decimals)}`;

/** P(X >= k) for X ~ Binomial(n, p). */
export function binomialTail(k: number, n: number, p: number): number {
  let sum = 0;
  let coefficient = 1;
  for (let i = 0; i <= n; i++) {
    if (i > 0) coefficient = (coefficient * (n - i + 1)) / i;
    if (i >= k) sum += coefficient * p ** i * (1 - p) ** (n - i);
  }
  return Math.min(1, sum);
}

export function blastTable(phases: readonly BlastPhase[]): string {
  const reference = phases.find((p) => p.analysis === 'prometheus');
  return markdownTable(
    [
      { header: 'analysis', cell: (p: BlastPhase) => p.label },
      {
        header: 'trials',
        align: 'right',
        cell: (p) => `${p.trials.length - p.failedTrials}/${p.trialsPlanned}`,
      },
      {
        header: 'blast radius, requests p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.summary.blastRadius),
      },
      {
        header: 'Prometheus / this (p50)',
        align: 'right',
        cell: (p) =>
          reference === undefined ||
          p === reference ||
          !reference.summary.blastRadius.count ||
          !p.summary.blastRadius.count
            ? '—'
            : fmtRatio(reference.summary.blastRadius.p50 / p.summary.blastRadius.p50),
      },
      {
        header: 'time to verdict, ms p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.summary.timeToVerdictMs),
      },
      {
        header: 'abort latency, ms p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.summary.abortLatencyMs, 1),
      },
      { header: 'exposure, ms p50', align: 'right', cell: (p) => fmt(p.summary.exposureMs.p50) },
    ],
    phases,
  );
}

export function breakdownTable(phases: readonly BlastPhase[]): string {
  return markdownTable(
    [
      { header: 'analysis', cell: (p: BlastPhase) => p.label },
      {
        header: 'update → canary routed, ms p50',
        align: 'right',
        cell: (p) => fmt(p.summary.updateToCanaryMs.p50),
      },
      {
        header: 'first canary request, ms into its second min / max',
        align: 'right',
        cell: (p) => {
          const d = distribution(
            p.trials.filter((t) => t.failure === undefined).map((t) => t.firstCanaryPhaseMs),
          );
          return `${fmt(d.min)} / ${fmt(d.max)}`;
        },
      },
      {
        header: 'verdict → its watch event here, ms p50 / max',
        align: 'right',
        cell: (p) =>
          `${fmt(p.summary.verdictEventLagMs.p50, 1)} / ${fmt(p.summary.verdictEventLagMs.max, 1)}`,
      },
      {
        header: 'watch event → weight 0, ms p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.summary.abortLatencyFromEventMs, 1),
      },
      {
        header: 'bad answers sent after the verdict p50 / max',
        align: 'right',
        cell: (p) =>
          `${fmt(p.summary.answeredAfterVerdict.p50)} / ${fmt(p.summary.answeredAfterVerdict.max)}`,
      },
      {
        header: 'other failed requests',
        align: 'right',
        cell: (p) => fmt(p.trials.reduce((sum, t) => sum + t.otherFailures, 0)),
      },
      {
        header: 'load avg (1 min) start / end',
        align: 'right',
        cell: (p) => `${fmt(p.loadAverage[0], 2)} / ${fmt(p.loadAverage[1], 2)}`,
      },
    ],
    phases,
  );
}

/** Per gateway of the judge's phases: its report lag against the blast radius and time to verdict. */
export function lagTable(phases: readonly BlastPhase[]): string {
  const rows = phases
    .filter((p) => p.analysis === 'sluice/judge')
    .flatMap((p) =>
      p.gateways.map((g) => {
        const trials = p.trials.filter((t) => t.failure === undefined && g.trials.includes(t.n));
        return {
          label: p.label,
          g,
          blast: distribution(trials.map((t) => t.blastRadius)),
          verdict: distribution(trials.map((t) => t.timeToVerdictMs)),
        };
      }),
    );
  return markdownTable(
    [
      { header: 'analysis', cell: (r: (typeof rows)[number]) => r.label },
      { header: 'gateway', cell: (r) => r.g.proxyId },
      { header: 'report lag after an interval ends, ms', align: 'right', cell: (r) => fmt(r.g.reportLagMs) },
      { header: 'trials', align: 'right', cell: (r) => fmt(r.blast.count) },
      {
        header: 'blast radius p50 / max',
        align: 'right',
        cell: (r) => `${fmt(r.blast.p50)} / ${fmt(r.blast.max)}`,
      },
      {
        header: 'time to verdict, ms p50 / max',
        align: 'right',
        cell: (r) => `${fmt(r.verdict.p50)} / ${fmt(r.verdict.max)}`,
      },
    ],
    rows,
  );
}

export function falseAlarmTable(result: FalseAlarmResult): string {
  const requests = result.trials.map((t) => t.canaryRequests);
  const phases: Record<string, number> = {};
  for (const t of result.trials)
    for (const [phase, n] of Object.entries(t.measurementPhases)) phases[phase] = (phases[phase] ?? 0) + n;
  return markdownTable(
    [
      {
        header: 'healthy canaries (ERROR_RATE 0)',
        cell: () => `${result.completed} × ${fmt(result.windowS)} s`,
      },
      {
        header: 'aborted by the judge',
        align: 'right',
        cell: () => `${fmt(result.aborted)} / ${fmt(result.completed)}`,
      },
      {
        header: 'false-alarm rate',
        align: 'right',
        cell: () => (result.completed === 0 ? '—' : `${fmt((100 * result.aborted) / result.completed, 1)}%`),
      },
      { header: 'alpha', align: 'right', cell: () => fmt(result.alpha, 2) },
      {
        header: 'P(≥ as many given alpha)',
        align: 'right',
        cell: () => fmt(result.tailProbability, 3),
      },
      {
        header: 'canary requests per window, min / max',
        align: 'right',
        cell: () => (requests.length ? `${fmt(Math.min(...requests))} / ${fmt(Math.max(...requests))}` : '—'),
      },
      {
        header: 'measurements recorded',
        cell: () =>
          Object.entries(phases)
            .map(([phase, n]) => `${phase} ${fmt(n)}`)
            .join(', ') || 'none',
      },
    ],
    [result],
  );
}

export function pushTable(push: PushResult): string {
  return markdownTable(
    [
      { header: 'proxies', align: 'right', cell: (p: PushResult) => fmt(p.proxies) },
      { header: 'weight changes', align: 'right', cell: (p) => `${fmt(p.completed)}/${fmt(p.changes)}` },
      {
        header: 'publish → all ACKed, ms p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.allAckedMs, 1),
      },
      {
        header: 'publish → all applied, ms p50 / p99 / max',
        align: 'right',
        cell: (p) => cell3(p.allAppliedMs, 1),
      },
      {
        header: 'publish() call, ms p50 / p99',
        align: 'right',
        cell: (p) => `${fmt(p.publishCallMs.p50, 2)} / ${fmt(p.publishCallMs.p99, 2)}`,
      },
      { header: 'all subscribed, ms', align: 'right', cell: (p) => fmt(p.connectAllMs) },
    ],
    [push],
  );
}

export function targetTable(checks: readonly TargetCheck[]): string {
  return markdownTable(
    [
      { header: 'target', cell: (c: TargetCheck) => c.name },
      { header: 'bound', cell: (c) => c.target },
      { header: 'measured', cell: (c) => c.measured },
      { header: 'result', cell: (c) => (c.pass === undefined ? 'n/a' : c.pass ? 'met' : 'NOT MET') },
    ],
    checks,
  );
}

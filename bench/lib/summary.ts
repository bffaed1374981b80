// Pure reduction of the proxy benchmark's interleaved rounds into one row per target: medians across
// rounds, errors summed, ratios to nginx measured in the same run, and the issue-2 targets for Sluice.
import { median, ratio } from './stats.ts';
import type { TargetName } from './targets.ts';

export interface ThroughputRound {
  round: number;
  requestsPerSec: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  responses: number;
  cpuTicks: number;
  cpuUsPerRequest: number;
  peakRssBytes: number;
  /** The same tree under rssConnections. */
  peakRssBytesHighConnections: number;
  errorsHighConnections: number;
}

export interface RateRound {
  round: number;
  requestsPerSec: number;
  p50Us: number;
  p99Us: number;
  errors: number;
  responses: number;
  cpuUsPerRequest: number;
}

export interface TargetRounds {
  name: TargetName;
  throughput: ThroughputRound[];
  rate: RateRound[];
}

export interface TargetSummary {
  name: TargetName;
  rounds: number;
  requestsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Summed over all runs of the target (throughput, high-connection and rate runs). */
  errors: number;
  cpuUsPerRequest: number;
  peakRssBytes: number;
  peakRssBytesHighConnections: number;
  rateP50Us: number;
  rateP99Us: number;
  rateCpuUsPerRequest: number;
  /** rateP99Us minus direct's rateP99Us. */
  rateP99AddedUs: number;
  cpuVsNginx: number;
  p99VsNginx: number;
  rateP99VsNginx: number;
  /** rateP99Us minus nginx's rateP99Us. */
  rateP99MinusNginxUs: number;
}

export function summarizeRounds(
  rounds: TargetRounds,
): Omit<
  TargetSummary,
  'rateP99AddedUs' | 'cpuVsNginx' | 'p99VsNginx' | 'rateP99VsNginx' | 'rateP99MinusNginxUs'
> {
  const t = rounds.throughput;
  const r = rounds.rate;
  const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
  return {
    name: rounds.name,
    rounds: t.length,
    requestsPerSec: median(t.map((x) => x.requestsPerSec)),
    p50Us: median(t.map((x) => x.p50Us)),
    p99Us: median(t.map((x) => x.p99Us)),
    errors: sum(t.map((x) => x.errors + x.errorsHighConnections)) + sum(r.map((x) => x.errors)),
    cpuUsPerRequest: median(t.map((x) => x.cpuUsPerRequest)),
    peakRssBytes: median(t.map((x) => x.peakRssBytes)),
    peakRssBytesHighConnections: median(t.map((x) => x.peakRssBytesHighConnections)),
    rateP50Us: median(r.map((x) => x.p50Us)),
    rateP99Us: median(r.map((x) => x.p99Us)),
    rateCpuUsPerRequest: median(r.map((x) => x.cpuUsPerRequest)),
  };
}

/** Summaries with same-run comparisons to direct and nginx (NaN where the reference is missing). */
export function summarize(all: readonly TargetRounds[]): TargetSummary[] {
  const base = all.map(summarizeRounds);
  const direct = base.find((s) => s.name === 'direct');
  const nginxOne = base.find((s) => s.name === 'nginx');
  const nginxWorkers = base.find((s) => s.name === 'nginx-workers');
  return base.map((s) => {
    // N workers are compared with nginx at N workers; everything else with nginx at one.
    const nginx = s.name.endsWith('-workers') ? nginxWorkers : nginxOne;
    return {
      ...s,
      rateP99AddedUs: direct ? s.rateP99Us - direct.rateP99Us : Number.NaN,
      cpuVsNginx: ratio(s.cpuUsPerRequest, nginx?.cpuUsPerRequest ?? Number.NaN),
      p99VsNginx: ratio(s.p99Us, nginx?.p99Us ?? Number.NaN),
      rateP99VsNginx: ratio(s.rateP99Us, nginx?.rateP99Us ?? Number.NaN),
      rateP99MinusNginxUs: nginx ? s.rateP99Us - nginx.rateP99Us : Number.NaN,
    };
  });
}

export const SLUICE_TARGETS = {
  maxCpuVsNginx: 2.0,
  maxRateP99MinusNginxUs: 2_000,
  maxErrors: 0,
  maxRssBytesHighConnections: 100 * 1024 * 1024,
} as const;

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  /** undefined when it could not be evaluated (e.g. nginx missing). */
  pass: boolean | undefined;
}

/** The issue-2 targets evaluated for one summary (meant for Sluice). */
export function checkTargets(s: TargetSummary): TargetCheck[] {
  const known = (v: number): boolean => Number.isFinite(v);
  return [
    {
      name: 'CPU per request vs nginx',
      target: `<= ${SLUICE_TARGETS.maxCpuVsNginx.toFixed(1)}x`,
      measured: known(s.cpuVsNginx) ? `${s.cpuVsNginx.toFixed(2)}x` : 'n/a',
      pass: known(s.cpuVsNginx) ? s.cpuVsNginx <= SLUICE_TARGETS.maxCpuVsNginx : undefined,
    },
    {
      name: 'p99 at fixed rate minus nginx',
      target: `<= ${SLUICE_TARGETS.maxRateP99MinusNginxUs / 1000} ms`,
      measured: known(s.rateP99MinusNginxUs) ? `${(s.rateP99MinusNginxUs / 1000).toFixed(2)} ms` : 'n/a',
      pass: known(s.rateP99MinusNginxUs)
        ? s.rateP99MinusNginxUs <= SLUICE_TARGETS.maxRateP99MinusNginxUs
        : undefined,
    },
    {
      name: 'errors',
      target: `${SLUICE_TARGETS.maxErrors}`,
      measured: String(s.errors),
      pass: s.errors <= SLUICE_TARGETS.maxErrors,
    },
    {
      name: 'RSS at high connection count',
      target: `< ${SLUICE_TARGETS.maxRssBytesHighConnections / 1024 / 1024} MiB`,
      measured: known(s.peakRssBytesHighConnections)
        ? `${(s.peakRssBytesHighConnections / 1024 / 1024).toFixed(1)} MiB`
        : 'n/a',
      pass: known(s.peakRssBytesHighConnections)
        ? s.peakRssBytesHighConnections < SLUICE_TARGETS.maxRssBytesHighConnections
        : undefined,
    },
  ];
}

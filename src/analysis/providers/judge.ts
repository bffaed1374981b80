// The `sluice/judge` metric provider: compares the canary with the stable from the histogram store
// with anytime-valid sequential tests, so it may be checked every second for as long as the rollout
// lasts while its false-alarm probability stays below alpha (Lindon, Sanden, Shirikian, KDD 2022).
//
// Per metric, an e-process (stats/e-process.ts) tests "the canary's share of events is at most its
// share of requests" per stratum (one proxy, one reported interval: 1 s by default): events are 5xx responses (error-rate) or
// requests slower than a threshold (latency): a stated SLO (thresholdMs) or the stable's running
// quantile computed from strata strictly before the current one, so the threshold is predictable and
// the test stays valid. A metric is High once the running maximum of its e-value reaches
// 1 / alpha_m (Ville's inequality), where alpha is split evenly across metrics (Bonferroni) and, for
// direction "either", across the two sides. A Mann-Whitney U test over the window and the observed
// quantiles go in the report only. Scoring follows Kayenta: the weighted share of countable metrics
// that Pass, 0 when a critical metric is High or Low, then passScore / marginalScore map the score to
// Successful / Inconclusive / Failed. Deterministic for a given store content, config and start.
//
//   provider:
//     plugin:
//       sluice/judge:
//         route: checkout
//         namespace: shop            # optional
//         alpha: 0.05                # overall false-alarm bound (default 0.05)
//         metrics:
//         - name: error-rate
//         - name: latency
//           quantile: 0.95           # threshold = stable's running p95 (default), or:
//           thresholdMs: 250         # a fixed SLO threshold instead
//           weight: 1                # optional; also critical: true, direction: increase|decrease|either
//         since: "2025-01-01T00:00:00Z"  # optional; default: this run's first measurement minus lookback
//         lookback: 0s
//         passScore: 95
//         marginalScore: 75
//         onNoData: Inconclusive     # Inconclusive | Successful | Failed when >= half the metrics have no data and none failed

import { errorText } from '../../api/errors.ts';
import type { HistogramStore, StoredInterval } from '../../control/histogram-store.ts';
import {
  countAbove,
  EMPTY_BUCKETS,
  type LatencyBuckets,
  mergeAllBuckets,
  mergeBuckets,
  quantileUs,
} from '../../control/latency-buckets.ts';
import type { Side } from '../stats/beta-binomial.ts';
import { ShareEProcess } from '../stats/e-process.ts';
import { type MannWhitneyResult, mannWhitney } from '../stats/mann-whitney.ts';
import type { MeasurementPhase, MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';
import {
  type ConfigResult,
  defaultNamespace,
  errorResult,
  isRecord,
  optionalDuration,
  optionalNumber,
  optionalString,
  routePluginConfig,
} from './sluice.ts';

export const SLUICE_JUDGE_TYPE = 'sluice/judge';
export const DEFAULT_JUDGE_ALPHA = 0.05;
export const DEFAULT_PASS_SCORE = 95;
export const DEFAULT_MARGINAL_SCORE = 75;
export const DEFAULT_JUDGE_QUANTILE = 0.95;
const MAX_REMEMBERED_STARTS = 10_000;
const MAX_LOG_E = 700;

export type Classification = 'Pass' | 'High' | 'Low' | 'NoData';
export type Direction = 'increase' | 'decrease' | 'either';
export type JudgeMetricKind = 'error-rate' | 'latency';

export interface JudgeMetricSpec {
  readonly kind: JudgeMetricKind;
  /** Unique label in the output: "error-rate", "latency-p95", "latency-250ms". */
  readonly label: string;
  readonly weight: number;
  readonly critical: boolean;
  readonly direction: Direction;
  /** latency: the stable's running quantile used as threshold (when thresholdMs is unset). */
  readonly quantile: number;
  /** latency: fixed threshold (SLO). */
  readonly thresholdMs: number | undefined;
}

export interface JudgeConfig {
  readonly route: string;
  readonly namespace: string | undefined;
  readonly baseline: string;
  readonly canary: string;
  readonly alpha: number;
  readonly metrics: readonly JudgeMetricSpec[];
  readonly passScore: number;
  readonly marginalScore: number;
  readonly sinceMs: number | undefined;
  readonly lookbackMs: number;
  readonly onNoData: 'Inconclusive' | 'Successful' | 'Failed';
}

/** What one revision did in one stratum (one proxy, one second). */
export interface StratumSample {
  readonly requests: number;
  readonly errors: number;
  readonly buckets: LatencyBuckets;
}

export interface Stratum {
  readonly canary: StratumSample;
  readonly baseline: StratumSample;
}

export interface SideSummary {
  readonly requests: number;
  readonly events: number;
  /** events / requests; NaN without requests. */
  readonly rate: number;
}

export interface MetricVerdict {
  readonly name: string;
  readonly kind: JudgeMetricKind;
  readonly classification: Classification;
  /** Current e-value of the side(s) tested (the larger when both); capped at e^700. */
  readonly eValue: number;
  readonly logEValue: number;
  /** Running maximum, the quantity compared with 1 / alpha. */
  readonly maxEValue: number;
  readonly maxLogEValue: number;
  /** The e-value at which this metric is flagged: 1 / (its share of alpha). */
  readonly rejectAt: number;
  readonly canary: SideSummary;
  readonly stable: SideSummary;
  readonly thresholdMs?: number;
  readonly quantile?: number;
  readonly canaryQuantileMs?: number;
  readonly stableQuantileMs?: number;
  readonly mannWhitney?: MannWhitneyResult;
}

export interface JudgeOutcome {
  readonly score: number;
  readonly phase: MeasurementPhase;
  readonly alpha: number;
  readonly metrics: readonly MetricVerdict[];
  /** Running maximum e-value per metric name. */
  readonly eValues: Readonly<Record<string, number>>;
  readonly strata: number;
  readonly reason: string;
}

interface MetricState {
  readonly spec: JudgeMetricSpec;
  readonly processes: readonly ShareEProcess[];
  readonly logRejectAt: number;
}

/**
 * The sequential core: feed strata oldest first, read the outcome at any point. The provider
 * rebuilds it from the store at every check (so the result is a function of the data); simulations
 * feed it directly.
 */
export class SequentialJudge {
  private readonly config: Pick<
    JudgeConfig,
    'alpha' | 'metrics' | 'passScore' | 'marginalScore' | 'onNoData'
  >;
  private readonly states: MetricState[];
  private runningBaseline: LatencyBuckets = EMPTY_BUCKETS;
  private canaryLatency: LatencyBuckets[] = [];
  private baselineLatency: LatencyBuckets[] = [];
  private strata = 0;

  constructor(config: Pick<JudgeConfig, 'alpha' | 'metrics' | 'passScore' | 'marginalScore' | 'onNoData'>) {
    this.config = config;
    const metricAlpha = config.alpha / Math.max(1, config.metrics.length);
    this.states = config.metrics.map((spec) => {
      const sides: Side[] =
        spec.direction === 'either'
          ? ['above', 'below']
          : [spec.direction === 'increase' ? 'above' : 'below'];
      return {
        spec,
        processes: sides.map((side) => new ShareEProcess(side)),
        logRejectAt: Math.log(sides.length / metricAlpha),
      };
    });
  }

  observe(stratum: Stratum): void {
    this.strata += 1;
    for (const state of this.states) {
      let canaryEvents: number;
      let baselineEvents: number;
      if (state.spec.kind === 'error-rate') {
        canaryEvents = stratum.canary.errors;
        baselineEvents = stratum.baseline.errors;
      } else {
        const thresholdUs =
          state.spec.thresholdMs !== undefined
            ? state.spec.thresholdMs * 1000
            : quantileUs(this.runningBaseline, state.spec.quantile);
        // No stable history yet: no predictable threshold, so this stratum carries no evidence.
        if (Number.isNaN(thresholdUs)) continue;
        canaryEvents = countAbove(stratum.canary.buckets, thresholdUs);
        baselineEvents = countAbove(stratum.baseline.buckets, thresholdUs);
      }
      for (const process of state.processes) {
        process.update({
          canaryEvents,
          baselineEvents,
          canaryRequests:
            state.spec.kind === 'error-rate' ? stratum.canary.requests : stratum.canary.buckets.total,
          baselineRequests:
            state.spec.kind === 'error-rate' ? stratum.baseline.requests : stratum.baseline.buckets.total,
        });
      }
    }
    if (stratum.baseline.buckets.total > 0) {
      this.runningBaseline = mergeBuckets(this.runningBaseline, stratum.baseline.buckets);
      this.baselineLatency.push(stratum.baseline.buckets);
    }
    if (stratum.canary.buckets.total > 0) this.canaryLatency.push(stratum.canary.buckets);
  }

  /** Cheap check for simulations: has any metric crossed its threshold (in the failing direction)? */
  flagged(): Classification[] {
    return this.states.map((s) => classify(s));
  }

  outcome(options: { withReport?: boolean } = {}): JudgeOutcome {
    const withReport = options.withReport ?? true;
    const canaryAll = withReport ? mergeAllBuckets(this.canaryLatency) : EMPTY_BUCKETS;
    const baselineAll = withReport ? this.runningBaseline : EMPTY_BUCKETS;
    const metrics = this.states.map((state) => verdictOf(state, canaryAll, baselineAll, withReport));
    const eValues: Record<string, number> = {};
    for (const m of metrics) eValues[m.name] = m.maxEValue;
    const { score, phase, reason } = scoreOf(metrics, this.config);
    return { score, phase, alpha: this.config.alpha, metrics, eValues, strata: this.strata, reason };
  }
}

function classify(state: MetricState): Classification {
  const first = state.processes[0] as ShareEProcess;
  const snap = first.snapshot();
  if (snap.canaryRequests === 0 || snap.baselineRequests === 0) return 'NoData';
  for (const p of state.processes) {
    if (p.snapshot().maxLogE >= state.logRejectAt) return p.side === 'above' ? 'High' : 'Low';
  }
  return 'Pass';
}

function verdictOf(
  state: MetricState,
  canaryAll: LatencyBuckets,
  baselineAll: LatencyBuckets,
  withReport: boolean,
): MetricVerdict {
  const snaps = state.processes.map((p) => p.snapshot());
  let logE = Number.NEGATIVE_INFINITY;
  let maxLogE = Number.NEGATIVE_INFINITY;
  for (const s of snaps) {
    logE = Math.max(logE, s.logE);
    maxLogE = Math.max(maxLogE, s.maxLogE);
  }
  const s = snaps[0] as (typeof snaps)[number];
  const side = (requests: number, events: number): SideSummary => ({
    requests,
    events,
    rate: requests === 0 ? Number.NaN : events / requests,
  });
  const spec = state.spec;
  const base = {
    name: spec.label,
    kind: spec.kind,
    classification: classify(state),
    eValue: Math.exp(Math.min(logE, MAX_LOG_E)),
    logEValue: logE,
    maxEValue: Math.exp(Math.min(maxLogE, MAX_LOG_E)),
    maxLogEValue: maxLogE,
    rejectAt: Math.exp(state.logRejectAt),
    canary: side(s.canaryRequests, s.canaryEvents),
    stable: side(s.baselineRequests, s.baselineEvents),
  };
  if (spec.kind === 'error-rate' || !withReport) return base;
  return {
    ...base,
    ...(spec.thresholdMs !== undefined ? { thresholdMs: spec.thresholdMs } : { quantile: spec.quantile }),
    canaryQuantileMs: quantileUs(canaryAll, spec.quantile) / 1000,
    stableQuantileMs: quantileUs(baselineAll, spec.quantile) / 1000,
    mannWhitney: mannWhitney(canaryAll, baselineAll),
  };
}

/** Kayenta's scoring (section 2.4 of the peers reference), with NoData mapped by onNoData when no metric fails. */
export function scoreOf(
  metrics: readonly Pick<MetricVerdict, 'name' | 'classification'>[],
  config: Pick<JudgeConfig, 'metrics' | 'passScore' | 'marginalScore' | 'onNoData'>,
): { score: number; phase: MeasurementPhase; reason: string } {
  let passWeight = 0;
  let countedWeight = 0;
  let noData = 0;
  const failing: string[] = [];
  const criticalFailing: string[] = [];
  metrics.forEach((m, i) => {
    const spec = config.metrics[i] as JudgeMetricSpec;
    if (m.classification === 'NoData') {
      noData += 1;
      return;
    }
    countedWeight += spec.weight;
    if (m.classification === 'Pass') passWeight += spec.weight;
    else {
      failing.push(`${m.name} ${m.classification}`);
      if (spec.critical) criticalFailing.push(m.name);
    }
  });
  // A regression found is a verdict even while other metrics have no data yet (e.g. the latency test's
  // stable threshold needs earlier strata): each metric's test holds its own share of alpha, so the
  // NoData rule only decides between "nothing found" outcomes.
  if (metrics.length > 0 && noData * 2 >= metrics.length && failing.length === 0) {
    const score = config.onNoData === 'Successful' ? 100 : 0;
    return { score, phase: config.onNoData, reason: `no data for ${noData} of ${metrics.length} metrics` };
  }
  if (criticalFailing.length > 0) {
    return { score: 0, phase: 'Failed', reason: `critical metric failed: ${criticalFailing.join(', ')}` };
  }
  const score = countedWeight === 0 ? 100 : Math.round((10_000 * passWeight) / countedWeight) / 100;
  const phase: MeasurementPhase =
    score >= config.passScore ? 'Successful' : score >= config.marginalScore ? 'Inconclusive' : 'Failed';
  const reason =
    failing.length === 0 ? 'no regression detected' : `regression detected: ${failing.join(', ')}`;
  return { score, phase, reason };
}

/**
 * Pairs the canary's and the stable's store intervals into strata: same proxy, same interval (the proxies'
 * intervals are aligned to their length on the epoch: 1 s by default, as short as 250 ms with a faster
 * report interval), oldest first. A stratum is complete when it is reported, so a verdict never rests on a
 * partly filled one. A side with no report in a stratum counts as zero requests.
 */
export function stratify(canary: readonly StoredInterval[], baseline: readonly StoredInterval[]): Stratum[] {
  const byKey = new Map<
    string,
    { order: number; proxyId: string; canary: StoredInterval[]; baseline: StoredInterval[] }
  >();
  const add = (interval: StoredInterval, which: 'canary' | 'baseline') => {
    const key = `${interval.endMs}\u0000${interval.proxyId}`;
    let entry = byKey.get(key);
    if (entry === undefined) {
      entry = { order: interval.endMs, proxyId: interval.proxyId, canary: [], baseline: [] };
      byKey.set(key, entry);
    }
    entry[which].push(interval);
  };
  for (const i of canary) add(i, 'canary');
  for (const i of baseline) add(i, 'baseline');
  const entries = [...byKey.values()].sort(
    (a, b) => a.order - b.order || (a.proxyId < b.proxyId ? -1 : a.proxyId > b.proxyId ? 1 : 0),
  );
  return entries.map((e) => ({ canary: sampleOf(e.canary), baseline: sampleOf(e.baseline) }));
}

function sampleOf(intervals: readonly StoredInterval[]): StratumSample {
  let requests = 0;
  let errors = 0;
  for (const i of intervals) {
    requests += i.requests;
    errors += i.errors;
  }
  return { requests, errors, buckets: mergeAllBuckets(intervals.map((i) => i.buckets)) };
}

export function parseJudgeConfig(provider: Readonly<Record<string, unknown>>): ConfigResult<JudgeConfig> {
  const found = routePluginConfig(provider, SLUICE_JUDGE_TYPE);
  if (!found.ok) return found;
  const { path, config, route, namespace } = found.value;
  const baseline = optionalString(config, 'baseline', path);
  if (!baseline.ok) return baseline;
  const canary = optionalString(config, 'canary', path);
  if (!canary.ok) return canary;
  const alpha = optionalNumber(config, 'alpha', path, DEFAULT_JUDGE_ALPHA);
  if (!alpha.ok) return alpha;
  if (!(alpha.value > 0 && alpha.value < 1))
    return { ok: false, field: `${path}.alpha`, message: 'must be in (0, 1), e.g. 0.05' };
  const passScore = optionalNumber(config, 'passScore', path, DEFAULT_PASS_SCORE);
  if (!passScore.ok) return passScore;
  const marginalScore = optionalNumber(config, 'marginalScore', path, DEFAULT_MARGINAL_SCORE);
  if (!marginalScore.ok) return marginalScore;
  if (passScore.value < 0 || passScore.value > 100)
    return { ok: false, field: `${path}.passScore`, message: 'must be in 0..100' };
  if (marginalScore.value < 0 || marginalScore.value > passScore.value) {
    return { ok: false, field: `${path}.marginalScore`, message: 'must be in 0..passScore' };
  }
  const lookback = optionalDuration(config, 'lookback', path, 0);
  if (!lookback.ok) return lookback;
  let sinceMs: number | undefined;
  if (config.since !== undefined && config.since !== '') {
    const v = config.since;
    sinceMs =
      typeof v === 'number'
        ? v
        : typeof v === 'string'
          ? /^\d+$/.test(v)
            ? Number(v)
            : Date.parse(v)
          : Number.NaN;
    if (!Number.isFinite(sinceMs)) {
      return {
        ok: false,
        field: `${path}.since`,
        message: 'must be an RFC 3339 timestamp or epoch milliseconds',
      };
    }
  }
  const onNoData = config.onNoData ?? 'Inconclusive';
  if (onNoData !== 'Inconclusive' && onNoData !== 'Successful' && onNoData !== 'Failed') {
    return { ok: false, field: `${path}.onNoData`, message: 'must be Inconclusive, Successful or Failed' };
  }
  const rawMetrics = config.metrics ?? [{ name: 'error-rate' }, { name: 'latency' }];
  if (!Array.isArray(rawMetrics) || rawMetrics.length === 0) {
    return {
      ok: false,
      field: `${path}.metrics`,
      message: 'must be a non-empty list, e.g. [{name: error-rate}, {name: latency}]',
    };
  }
  const metrics: JudgeMetricSpec[] = [];
  for (const [i, raw] of rawMetrics.entries()) {
    const parsed = parseMetricSpec(raw, `${path}.metrics[${i}]`);
    if (!parsed.ok) return parsed;
    if (metrics.some((m) => m.label === parsed.value.label)) {
      return {
        ok: false,
        field: `${path}.metrics[${i}]`,
        message: `duplicates metric "${parsed.value.label}"`,
      };
    }
    metrics.push(parsed.value);
  }
  return {
    ok: true,
    value: {
      route,
      namespace,
      baseline: baseline.value ?? 'stable',
      canary: canary.value ?? 'canary',
      alpha: alpha.value,
      metrics,
      passScore: passScore.value,
      marginalScore: marginalScore.value,
      sinceMs,
      lookbackMs: lookback.value.ms,
      onNoData,
    },
  };
}

function parseMetricSpec(raw: unknown, path: string): ConfigResult<JudgeMetricSpec> {
  if (!isRecord(raw))
    return { ok: false, field: path, message: 'must be an object such as {name: error-rate}' };
  const name = raw.name;
  if (name !== 'error-rate' && name !== 'latency')
    return { ok: false, field: `${path}.name`, message: 'must be error-rate or latency' };
  const weight = optionalNumber(raw, 'weight', path, 1);
  if (!weight.ok) return weight;
  if (!(weight.value > 0))
    return { ok: false, field: `${path}.weight`, message: 'must be a positive number' };
  const critical = raw.critical ?? false;
  if (typeof critical !== 'boolean')
    return { ok: false, field: `${path}.critical`, message: 'must be true or false' };
  const direction = raw.direction ?? 'increase';
  if (direction !== 'increase' && direction !== 'decrease' && direction !== 'either') {
    return { ok: false, field: `${path}.direction`, message: 'must be increase, decrease or either' };
  }
  const quantile = optionalNumber(raw, 'quantile', path, DEFAULT_JUDGE_QUANTILE);
  if (!quantile.ok) return quantile;
  if (!(quantile.value > 0 && quantile.value < 1))
    return { ok: false, field: `${path}.quantile`, message: 'must be in (0, 1), e.g. 0.95' };
  let thresholdMs: number | undefined;
  if (raw.thresholdMs !== undefined) {
    const t = optionalNumber(raw, 'thresholdMs', path, 0);
    if (!t.ok) return t;
    if (!(t.value > 0))
      return {
        ok: false,
        field: `${path}.thresholdMs`,
        message: 'must be a positive number of milliseconds',
      };
    thresholdMs = t.value;
  }
  if (name === 'error-rate' && (raw.quantile !== undefined || thresholdMs !== undefined)) {
    return {
      ok: false,
      field: `${path}.name`,
      message: 'error-rate takes no quantile or thresholdMs (did you mean latency?)',
    };
  }
  const label =
    name === 'error-rate'
      ? 'error-rate'
      : thresholdMs !== undefined
        ? `latency-${thresholdMs}ms`
        : `latency-p${+(quantile.value * 100).toFixed(3)}`;
  return {
    ok: true,
    value: {
      kind: name,
      label,
      weight: weight.value,
      critical,
      direction,
      quantile: quantile.value,
      thresholdMs,
    },
  };
}

export interface JudgeProviderOptions {
  readonly store: HistogramStore;
}

/**
 * The provider. Without `since`, the analysis start is the time of this run's first measurement of
 * the metric (minus `lookback`), remembered in memory: a fixed start is what makes repeated checks
 * one sequential test rather than many.
 */
export function createJudgeProvider(options: JudgeProviderOptions): MetricProvider {
  const starts = new Map<string, number>();
  return {
    type: SLUICE_JUDGE_TYPE,
    run: async (request) => {
      try {
        const parsed = parseJudgeConfig(request.provider);
        if (!parsed.ok) return errorResult(`${parsed.field} ${parsed.message}`, request.secrets);
        const config = parsed.value;
        let sinceMs = config.sinceMs;
        if (sinceMs === undefined) {
          const key = `${request.runNamespace ?? ''}/${request.runName ?? ''}/${request.metricName}`;
          let first = starts.get(key);
          if (first === undefined) {
            if (starts.size >= MAX_REMEMBERED_STARTS) starts.delete(starts.keys().next().value as string);
            first = request.nowMs;
            starts.set(key, first);
          }
          sinceMs = first - config.lookbackMs;
        }
        return judgeFromStore(options.store, config, sinceMs, request);
      } catch (error) {
        return errorResult(errorText(error), request.secrets);
      }
    },
  };
}

/** One judgment over (sinceMs, nowMs]: pure given the store's content. */
export function judgeFromStore(
  store: HistogramStore,
  config: JudgeConfig,
  sinceMs: number,
  request: Pick<ProviderRequest, 'nowMs' | 'runNamespace' | 'secrets'>,
): ProviderResult {
  const namespace = config.namespace ?? defaultNamespace(store, config.route, request.runNamespace);
  const query = { route: config.route, namespace, fromMs: sinceMs, toMs: request.nowMs };
  const canary = store.series({ ...query, revision: config.canary });
  if (!canary.ok) return errorResult(`${canary.error.field} ${canary.error.message}`, request.secrets);
  const baseline = store.series({ ...query, revision: config.baseline });
  if (!baseline.ok) return errorResult(`${baseline.error.field} ${baseline.error.message}`, request.secrets);
  if (canary.value.revision !== undefined && canary.value.revision === baseline.value.revision) {
    return errorResult(
      `canary and baseline both resolve to revision ${canary.value.revision} of route ${config.route}`,
      request.secrets,
    );
  }
  const judge = new SequentialJudge(config);
  for (const stratum of stratify(canary.value.intervals, baseline.value.intervals)) judge.observe(stratum);
  const outcome = judge.outcome();
  const truncated = sinceMs < request.nowMs - store.retentionMs;
  const value = [
    `score=${outcome.score}`,
    ...outcome.metrics.map((m) => `${m.name}=${m.classification}(e=${formatE(m.maxEValue)})`),
  ].join(' ');
  return {
    phase: outcome.phase,
    result: outcome,
    value,
    message: `${outcome.reason}${truncated ? ' (the analysis is longer than the store retention: the oldest data is gone)' : ''}`,
    metadata: {
      route: config.route,
      namespace: canary.value.namespace,
      canaryRevision: canary.value.revision ?? '',
      stableRevision: baseline.value.revision ?? '',
      since: new Date(sinceMs).toISOString(),
      strata: String(outcome.strata),
      alpha: String(config.alpha),
    },
  };
}

function formatE(e: number): string {
  return e >= 1000 || (e > 0 && e < 0.01) ? e.toExponential(1) : String(Math.round(e * 100) / 100);
}

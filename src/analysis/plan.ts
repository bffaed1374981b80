// The AnalysisRun reconcile core, pure and clock-injected (Argo's reconcileAnalysisRun split at its one
// side effect, running the providers):
//   planReconcile(run, ctx)            -> run Error / nothing to do / the measurement tasks to execute
//   applyOutcomes(plan, outcomes, ctx) -> new status (counters, retention, phases, messages) + requeue time
// The caller (runner.ts, or the cluster controller) runs each task's provider between the two and turns
// its ProviderResult into a Measurement with completeMeasurement(). Rules cite Argo's generateMetricTasks,
// runMeasurements, assessRunStatus, garbageCollectMeasurements and calculateNextReconcileTime.

import {
  type AnalysisPhase,
  type AnalysisRun,
  type AnalysisRunStatus,
  DEFAULT_ERROR_RETRY_INTERVAL_MS,
  DEFAULT_MEASUREMENT_RETENTION_LIMIT,
  isCompletedPhase,
  type Measurement,
  type MetricResult,
  type MetricSettings,
  metricSettings,
} from '../api/analysis-run.ts';
import type { Metric } from '../api/analysis-template.ts';
import type { ArgsResult, ResolvedArgs } from './args.ts';
import { substituteMetricArgs } from './args.ts';
import { assessRunStatus, emptyResult, type MetricTransition } from './assess.ts';
import { evaluateConditions } from './evaluate.ts';
import { compileRegex } from './expr/re2.ts';
import type { ProviderResult } from './providers/provider.ts';
import { providerType } from './providers/registry.ts';
import { redact, redactRecord } from './redact.ts';

export interface ReconcileContext {
  readonly nowMs: number;
  /** Args resolved for this reconcile (secrets read at measurement time, as Argo does). */
  readonly args: ArgsResult<ResolvedArgs>;
  /** Multiplies every interval, initialDelay and the 10 s error retry (the CLI's --interval-scale). */
  readonly intervalScale?: number;
  /**
   * From this time on, metrics without a count take no new measurements and are judged as Argo judges
   * a terminated run (the CLI's --duration). Metrics with a count are unaffected.
   */
  readonly stopUnboundedAtMs?: number;
}

export interface PreparedMetric {
  readonly settings: MetricSettings;
  /** The metric after {{args.x}} substitution, secrets included: only for providers, never stored. */
  readonly resolved: Metric;
  readonly dryRun: boolean;
  readonly retentionLimit: number;
  /** Whether this metric is stopping (run terminating, or stopUnboundedAtMs reached for an unbounded metric). */
  readonly terminating: boolean;
}

/**
 * `probe`: a measurement before it is due, kept only when it Fails (earlyVerdict below); otherwise dropped
 * without a trace, so counts and schedules stay Argo's.
 */
export type TaskAction = 'run' | 'resume' | 'terminate' | 'probe';

/**
 * Providers whose verdict stays valid when it is asked for at any time (an anytime-valid sequential test):
 * the engine may ask them between intervals, whenever it is reconciled (the controller reconciles a run
 * when new proxy reports for its route arrive), and records the answer only when it is Failed. That stops
 * a failing canary after a handful of requests instead of at the next interval tick. Threshold providers
 * (Prometheus, sluice/proxy) are not probed: a threshold on a small early window would raise false alarms.
 */
export const EARLY_VERDICT_PROVIDERS: ReadonlySet<string> = new Set(['sluice/judge']);

export interface MeasurementTask {
  readonly metricName: string;
  readonly action: TaskAction;
  readonly provider: Readonly<Record<string, unknown>>;
  readonly settings: MetricSettings;
  /** The in-flight measurement being resumed or terminated. */
  readonly incomplete?: Measurement;
}

export type ReconcilePlan =
  | { readonly kind: 'complete'; readonly run: AnalysisRun }
  | { readonly kind: 'invalid'; readonly run: AnalysisRun; readonly message: string }
  | {
      readonly kind: 'measure';
      readonly run: AnalysisRun;
      readonly metrics: readonly PreparedMetric[];
      readonly tasks: readonly MeasurementTask[];
      readonly secrets: readonly string[];
      readonly runTerminating: boolean;
    };

export interface TaskOutcome {
  readonly metricName: string;
  readonly measurement: Measurement;
  /** Metric-level metadata (e.g. ResolvedPrometheusQuery), set on the MetricResult. */
  readonly metricMetadata?: Readonly<Record<string, string>>;
}

export interface ReconcileEvent {
  readonly reason: string;
  readonly message: string;
}

export interface ReconcileOutput {
  readonly run: AnalysisRun;
  /** When to reconcile next (ms since epoch); undefined when complete or nothing is scheduled. */
  readonly requeueAtMs?: number;
  readonly transitions: readonly MetricTransition[];
  readonly events: readonly ReconcileEvent[];
}

export function toTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

function parseTimestamp(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function scaled(ms: number, ctx: ReconcileContext): number {
  return ms * (ctx.intervalScale ?? 1);
}

/**
 * Go regexp MatchString on RE2 (re2.ts): unanchored, Go's syntax (`(?i)`, `\pL`). An invalid pattern matches
 * nothing (as Argo ignores the error).
 */
function regexMatches(pattern: string, name: string): boolean {
  const compiled = compileRegex(pattern);
  return compiled.ok && compiled.re.test(name);
}

export function isRunTerminating(run: AnalysisRun): boolean {
  if (run.spec.terminate === true) return true;
  return (run.status?.metricResults ?? []).some(
    (r) => (r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive') && r.dryRun !== true,
  );
}

function withStatus(run: AnalysisRun, status: AnalysisRunStatus): AnalysisRun {
  return { ...run, status };
}

function invalid(
  run: AnalysisRun,
  message: string,
  ctx: ReconcileContext,
  secrets: readonly string[],
): ReconcilePlan {
  const safe = redact(message, secrets);
  const now = toTimestamp(ctx.nowMs);
  return {
    kind: 'invalid',
    message: safe,
    run: withStatus(run, {
      ...run.status,
      phase: 'Error',
      message: safe,
      startedAt: run.status?.startedAt ?? now,
      completedAt: run.status?.completedAt ?? now,
    }),
  };
}

/**
 * Applies each metricName-pattern rule (dryRun, measurementRetention) to the metrics it matches; returns
 * the index of the first rule that matches none (Argo rejects the spec), else undefined.
 */
function applyNameRules<R extends { readonly metricName: string }>(
  rules: readonly R[] | undefined,
  metrics: readonly { readonly name: string }[],
  apply: (metricName: string, rule: R) => void,
): number | undefined {
  for (const [i, rule] of (rules ?? []).entries()) {
    const matched = metrics.filter((m) => regexMatches(rule.metricName, m.name));
    if (matched.length === 0) return i;
    for (const m of matched) apply(m.name, rule);
  }
  return undefined;
}

/** First half of a reconcile: validates, resolves args, decides which measurements to take now. */
export function planReconcile(run: AnalysisRun, ctx: ReconcileContext): ReconcilePlan {
  if (isCompletedPhase(run.status?.phase)) return { kind: 'complete', run };
  const metrics = run.spec.metrics;
  if (metrics.length === 0)
    return invalid(run, 'Analysis spec invalid: metrics: no metrics specified', ctx, []);
  const names = new Set<string>();
  for (const [i, m] of metrics.entries()) {
    if (names.has(m.name)) {
      return invalid(run, `Analysis spec invalid: metrics[${i}].name: duplicate name '${m.name}'`, ctx, []);
    }
    names.add(m.name);
  }
  const unmatched = (field: string, index: number) =>
    invalid(run, `Analysis spec invalid: ${field}[${index}]: Rule didn't match any metric name(s)`, ctx, []);
  const dryRunNames = new Set<string>();
  const badDryRun = applyNameRules(run.spec.dryRun, metrics, (name) => dryRunNames.add(name));
  if (badDryRun !== undefined) return unmatched('dryRun', badDryRun);
  const retention = new Map<string, number>();
  const badRetention = applyNameRules(run.spec.measurementRetention, metrics, (name, rule) =>
    retention.set(name, rule.limit),
  );
  if (badRetention !== undefined) return unmatched('measurementRetention', badRetention);
  if (!ctx.args.ok) return invalid(run, `Unable to resolve metric arguments: ${ctx.args.error}`, ctx, []);
  const { values, secrets } = ctx.args.value;
  const runTerminating = isRunTerminating(run);
  const prepared: PreparedMetric[] = [];
  for (const [i, metric] of metrics.entries()) {
    const resolved = substituteMetricArgs(metric, values);
    if (!resolved.ok)
      return invalid(run, `Unable to resolve metric arguments: ${resolved.error}`, ctx, secrets);
    const settings = metricSettings(resolved.value, i);
    if (!settings.ok) return invalid(run, `Analysis spec invalid: ${settings.error}`, ctx, secrets);
    const unbounded = settings.settings.effectiveCount === undefined;
    const stopped = unbounded && ctx.stopUnboundedAtMs !== undefined && ctx.nowMs >= ctx.stopUnboundedAtMs;
    prepared.push({
      settings: settings.settings,
      resolved: resolved.value,
      dryRun: dryRunNames.has(metric.name),
      retentionLimit: retention.get(metric.name) ?? DEFAULT_MEASUREMENT_RETENTION_LIMIT,
      terminating: runTerminating || stopped,
    });
  }
  const status = run.status ?? {};
  const startedAtMs = parseTimestamp(status.startedAt);
  const results = new Map((status.metricResults ?? []).map((r) => [r.name, r]));
  const tasks: MeasurementTask[] = [];
  for (const m of prepared) {
    const result = results.get(m.settings.name);
    if (result !== undefined && isCompletedPhase(result.phase)) continue;
    const last = result?.measurements[result.measurements.length - 1];
    const base = { metricName: m.settings.name, provider: m.resolved.provider, settings: m.settings };
    if (last !== undefined && last.finishedAt === undefined) {
      // In flight: resume when due, or terminate when stopping.
      const resumeAtMs = parseTimestamp(last.resumeAt);
      if (m.terminating) tasks.push({ ...base, action: 'terminate', incomplete: last });
      else if (resumeAtMs === undefined || resumeAtMs <= ctx.nowMs) {
        tasks.push({ ...base, action: 'resume', incomplete: last });
      }
      continue;
    }
    if (m.terminating) continue;
    if (last === undefined) {
      if (m.settings.initialDelayMs !== undefined) {
        if (startedAtMs === undefined) continue;
        if (startedAtMs + scaled(m.settings.initialDelayMs, ctx) > ctx.nowMs) continue;
      }
      tasks.push({ ...base, action: 'run' });
      continue;
    }
    if (m.settings.effectiveCount !== undefined && result!.count >= m.settings.effectiveCount) continue;
    // The next measurement is due one interval after the last one finished; after an Error, after the
    // 10 s retry interval when that is shorter than the metric's interval (generateMetricTasks).
    const errorRetryMs = scaled(DEFAULT_ERROR_RETRY_INTERVAL_MS, ctx);
    let intervalMs = errorRetryMs;
    if (m.settings.intervalMs !== undefined) {
      const metricIntervalMs = scaled(m.settings.intervalMs, ctx);
      intervalMs =
        last.phase === 'Error' && metricIntervalMs > errorRetryMs ? errorRetryMs : metricIntervalMs;
    }
    const finishedAtMs = parseTimestamp(last.finishedAt) ?? ctx.nowMs;
    if (ctx.nowMs >= finishedAtMs + intervalMs) tasks.push({ ...base, action: 'run' });
    else if (last.phase !== 'Error' && EARLY_VERDICT_PROVIDERS.has(providerType(m.resolved.provider) ?? ''))
      tasks.push({ ...base, action: 'probe' });
  }
  return { kind: 'measure', run, metrics: prepared, tasks, secrets, runTerminating };
}

export interface ProviderCallTiming {
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

/**
 * Turns a provider's answer into a Measurement: Error/Running are taken as given; otherwise the metric's
 * conditions decide (a provider's own verdict stands only when the metric has no conditions).
 * Every string is redacted. Never throws.
 */
export function completeMeasurement(
  settings: MetricSettings,
  answer: ProviderResult,
  timing: ProviderCallTiming,
  secrets: readonly string[],
  incomplete?: Measurement,
): Measurement {
  const hasConditions = Boolean(settings.successCondition || settings.failureCondition);
  let phase: AnalysisPhase;
  let message = answer.message;
  const decidedByProvider =
    answer.phase === 'Error' || answer.phase === 'Running' || (answer.phase !== undefined && !hasConditions);
  if (decidedByProvider && answer.phase !== undefined) {
    phase = answer.phase;
  } else {
    const verdict = evaluateConditions(settings, answer.result);
    phase = verdict.phase;
    if (verdict.message !== undefined) message = message ? `${message}: ${verdict.message}` : verdict.message;
  }
  const value = answer.value ?? formatValue(answer.result);
  const metadata = redactRecord(answer.metadata, secrets);
  const startedAt = incomplete?.startedAt ?? toTimestamp(timing.startedAtMs);
  return {
    phase,
    startedAt,
    ...(message ? { message: redact(message, secrets) } : {}),
    ...(value !== undefined ? { value: redact(value, secrets) } : {}),
    ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    ...(isCompletedPhase(phase) ? { finishedAt: toTimestamp(timing.finishedAtMs) } : {}),
    ...(phase === 'Running' && answer.resumeAtMs !== undefined
      ? { resumeAt: toTimestamp(answer.resumeAtMs) }
      : {}),
  };
}

/** Measurement.value as Argo prints it: numbers plainly, arrays as `[0.99,0.5]`, strings raw. */
export function formatValue(result: unknown): string | undefined {
  if (result === undefined) return undefined;
  if (typeof result === 'string') return result;
  if (typeof result === 'number') return formatNumber(result);
  if (Array.isArray(result) && result.every((x) => typeof x === 'number')) {
    return `[${result.map((x) => formatNumber(x as number)).join(',')}]`;
  }
  try {
    return JSON.stringify(result);
  } catch {
    return String(result);
  }
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

/** The MetricResult counter each measurement phase increments (Argo's analysis.go). */
const PHASE_COUNTER: Partial<Record<AnalysisPhase, 'successful' | 'failed' | 'inconclusive' | 'error'>> = {
  Successful: 'successful',
  Failed: 'failed',
  Inconclusive: 'inconclusive',
  Error: 'error',
};

function applyMeasurement(
  result: MetricResult,
  measurement: Measurement,
  replaceLast: boolean,
): MetricResult {
  const measurements = replaceLast
    ? [...result.measurements.slice(0, -1), measurement]
    : [...result.measurements, measurement];
  const next = { ...result, measurements };
  const counter = PHASE_COUNTER[measurement.phase];
  if (counter === undefined) return next;
  const isError = measurement.phase === 'Error';
  return {
    ...next,
    [counter]: next[counter] + 1,
    // Errors do not count toward `count`; they alone extend the consecutive-error streak.
    count: isError ? next.count : next.count + 1,
    consecutiveError: isError ? next.consecutiveError + 1 : 0,
    consecutiveSuccess: measurement.phase === 'Successful' ? next.consecutiveSuccess + 1 : 0,
  };
}

/** Second half of a reconcile: records the measurements taken, assesses, trims, schedules. */
export function applyOutcomes(
  plan: ReconcilePlan,
  outcomes: readonly TaskOutcome[],
  ctx: ReconcileContext,
): ReconcileOutput {
  if (plan.kind === 'complete') return { run: plan.run, transitions: [], events: [] };
  if (plan.kind === 'invalid') {
    return {
      run: plan.run,
      transitions: [],
      events: [{ reason: 'AnalysisRunError', message: `Analysis Completed. Result: Error: ${plan.message}` }],
    };
  }
  const run = plan.run;
  const status = run.status ?? {};
  const results = new Map((status.metricResults ?? []).map((r) => [r.name, r]));
  const prepared = new Map(plan.metrics.map((m) => [m.settings.name, m]));
  for (const outcome of outcomes) {
    const m = prepared.get(outcome.metricName);
    if (m === undefined) continue;
    const task = plan.tasks.find((t) => t.metricName === outcome.metricName);
    let measurement = outcome.measurement;
    if (task?.action === 'terminate' && measurement.phase === 'Successful') {
      measurement = { ...measurement, message: 'Metric Terminated' };
    }
    if (isCompletedPhase(measurement.phase) && measurement.finishedAt === undefined) {
      measurement = { ...measurement, finishedAt: toTimestamp(ctx.nowMs) };
    }
    let result = results.get(outcome.metricName) ?? emptyResult(outcome.metricName, m.dryRun);
    if (outcome.metricMetadata !== undefined && result.metadata === undefined) {
      result = { ...result, metadata: redactRecord(outcome.metricMetadata, plan.secrets)! };
    }
    const replaceLast = task?.incomplete !== undefined && result.measurements.length > 0;
    results.set(outcome.metricName, applyMeasurement(result, measurement, replaceLast));
  }
  const startedAt = status.startedAt ?? toTimestamp(ctx.nowMs);
  const assessment = assessRunStatus(
    plan.metrics.map((m) => ({ settings: m.settings, dryRun: m.dryRun, terminating: m.terminating })),
    plan.metrics.map((m) => results.get(m.settings.name)).filter((r): r is MetricResult => r !== undefined),
    plan.runTerminating,
    run.spec.terminate === true,
  );
  // Retention (garbageCollectMeasurements): keep the last N; at least the last one, which drives scheduling.
  const metricResults = assessment.metricResults.map((r) => {
    const limit = Math.max(1, prepared.get(r.name)?.retentionLimit ?? DEFAULT_MEASUREMENT_RETENTION_LIMIT);
    const trimmed = r.measurements.length > limit ? { ...r, measurements: r.measurements.slice(-limit) } : r;
    return trimmed.message !== undefined
      ? { ...trimmed, message: redact(trimmed.message, plan.secrets) }
      : trimmed;
  });
  const events: ReconcileEvent[] = assessment.transitions
    .filter((t) => isCompletedPhase(t.to))
    .map((t) => ({
      reason: `Metric${t.to}`,
      message: `Metric '${t.metricName}' Completed. Result: ${t.to}`,
    }));
  let phase: AnalysisPhase = status.phase ?? 'Running';
  let message = status.message;
  let completedAt = status.completedAt;
  const newPhase = assessment.phase;
  if (newPhase !== status.phase) {
    phase = newPhase;
    message = redact(assessment.message, plan.secrets);
    if (isCompletedPhase(newPhase)) {
      completedAt ??= toTimestamp(ctx.nowMs);
      events.push({
        reason: `AnalysisRun${newPhase}`,
        message: `Analysis Completed. Result: ${newPhase}${message ? `: ${message}` : ''}`,
      });
    }
  }
  const newStatus: AnalysisRunStatus = {
    phase,
    ...(message ? { message } : {}),
    metricResults,
    startedAt,
    ...(completedAt ? { completedAt } : {}),
    runSummary: assessment.runSummary,
    ...(plan.metrics.some((m) => m.dryRun) ? { dryRunSummary: assessment.dryRunSummary } : {}),
  };
  const nextRun = withStatus(run, newStatus);
  const requeueAtMs = isCompletedPhase(phase) ? undefined : nextReconcileAt(nextRun, plan.metrics, ctx);
  return {
    run: nextRun,
    ...(requeueAtMs !== undefined ? { requeueAtMs } : {}),
    transitions: assessment.transitions,
    events,
  };
}

/**
 * Argo's calculateNextReconcileTime: earliest of each incomplete metric's initialDelay end, resumeAt,
 * or last finish + interval (+ the 10 s retry after an Error). With stopUnboundedAtMs set, that time too.
 */
export function nextReconcileAt(
  run: AnalysisRun,
  metrics: readonly PreparedMetric[],
  ctx: ReconcileContext,
): number | undefined {
  let at: number | undefined;
  const consider = (t: number): void => {
    if (at === undefined || t < at) at = t;
  };
  const results = new Map((run.status?.metricResults ?? []).map((r) => [r.name, r]));
  const startedAtMs = parseTimestamp(run.status?.startedAt) ?? ctx.nowMs;
  let anyUnboundedRunning = false;
  for (const m of metrics) {
    const result = results.get(m.settings.name);
    if (result !== undefined && isCompletedPhase(result.phase)) continue;
    if (m.settings.effectiveCount === undefined) anyUnboundedRunning = true;
    const last = result?.measurements[result.measurements.length - 1];
    if (last === undefined) {
      if (m.settings.initialDelayMs !== undefined)
        consider(startedAtMs + scaled(m.settings.initialDelayMs, ctx));
      continue;
    }
    if (last.finishedAt === undefined) {
      const resumeAtMs = parseTimestamp(last.resumeAt);
      if (resumeAtMs !== undefined) consider(resumeAtMs);
      continue;
    }
    if (m.settings.effectiveCount !== undefined && result!.count >= m.settings.effectiveCount) continue;
    let intervalMs: number;
    if (last.phase === 'Error') intervalMs = scaled(DEFAULT_ERROR_RETRY_INTERVAL_MS, ctx);
    else if (m.settings.intervalMs !== undefined) intervalMs = scaled(m.settings.intervalMs, ctx);
    else continue;
    consider((parseTimestamp(last.finishedAt) ?? ctx.nowMs) + intervalMs);
  }
  if (anyUnboundedRunning && ctx.stopUnboundedAtMs !== undefined && ctx.stopUnboundedAtMs > ctx.nowMs) {
    consider(ctx.stopUnboundedAtMs);
  }
  return at;
}

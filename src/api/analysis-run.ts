// AnalysisRun (argoproj.io/v1alpha1): types, defaults and validation. validateMetrics mirrors Argo's
// analysisutil.ValidateMetrics / ValidateMetric and runs on metrics after {{args.x}} substitution, so
// int-or-string fields filled from args are checked as numbers. Timestamps are RFC 3339 strings with
// millisecond precision (metav1.Time parses them; sub-second precision matters for scaled intervals).

import {
  ANALYSIS_API_VERSION,
  type Argument,
  type DryRun,
  fail,
  METRIC_COUNT_FIELDS,
  type MeasurementRetention,
  type Metric,
  type Parsed,
  parseArgs,
  parseDryRun,
  parseMeasurementRetention,
  parseMetadata,
  parseMetrics,
  parseWith,
  requireRecord,
} from './analysis-template.ts';
import { parseDuration } from './duration.ts';
import type { IntOrString, ManifestMeta } from './meta.ts';

export type AnalysisPhase = 'Pending' | 'Running' | 'Successful' | 'Failed' | 'Error' | 'Inconclusive';

export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
export const DEFAULT_MEASUREMENT_RETENTION_LIMIT = 10;
export const DEFAULT_ERROR_RETRY_INTERVAL_MS = 10_000;

export interface Measurement {
  readonly phase: AnalysisPhase;
  readonly message?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly value?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly resumeAt?: string;
}

export interface MetricResult {
  readonly name: string;
  readonly phase: AnalysisPhase;
  readonly measurements: readonly Measurement[];
  readonly message?: string;
  readonly count: number;
  readonly successful: number;
  readonly failed: number;
  readonly inconclusive: number;
  readonly error: number;
  readonly consecutiveError: number;
  readonly consecutiveSuccess: number;
  readonly dryRun?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface RunSummary {
  readonly count: number;
  readonly successful: number;
  readonly failed: number;
  readonly inconclusive: number;
  readonly error: number;
}

export interface AnalysisRunStatus {
  readonly phase?: AnalysisPhase;
  readonly message?: string;
  readonly metricResults?: readonly MetricResult[];
  readonly startedAt?: string;
  readonly completedAt?: string;
  readonly runSummary?: RunSummary;
  readonly dryRunSummary?: RunSummary;
}

export interface TtlStrategy {
  readonly secondsAfterCompletion?: number;
  readonly secondsAfterFailure?: number;
  readonly secondsAfterSuccess?: number;
}

export interface AnalysisRunSpec {
  readonly metrics: readonly Metric[];
  readonly args?: readonly Argument[];
  readonly terminate?: boolean;
  readonly dryRun?: readonly DryRun[];
  readonly measurementRetention?: readonly MeasurementRetention[];
  readonly ttlStrategy?: TtlStrategy;
}

export interface AnalysisRun {
  readonly apiVersion: string;
  readonly kind: 'AnalysisRun';
  readonly metadata: ManifestMeta;
  readonly spec: AnalysisRunSpec;
  readonly status?: AnalysisRunStatus;
}

export function isCompletedPhase(phase: AnalysisPhase | undefined): boolean {
  return phase === 'Successful' || phase === 'Failed' || phase === 'Error' || phase === 'Inconclusive';
}

/** Parses an AnalysisRun manifest. The status, if present, is taken as is (it is our own output). */
export function parseAnalysisRun(manifest: unknown): Parsed<AnalysisRun> {
  return parseWith(() => {
    const obj = requireRecord(manifest, '');
    if (obj.kind !== 'AnalysisRun') fail('kind', `must be AnalysisRun, got ${JSON.stringify(obj.kind)}`);
    const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : ANALYSIS_API_VERSION;
    if (apiVersion !== ANALYSIS_API_VERSION) fail('apiVersion', `must be ${ANALYSIS_API_VERSION}`);
    const metadata = parseMetadata(obj.metadata, 'metadata');
    const spec = requireRecord(obj.spec, 'spec');
    const metrics = parseMetrics(spec, 'spec', true);
    const args = parseArgs(spec, 'spec');
    const dryRun = parseDryRun(spec, 'spec');
    const measurementRetention = parseMeasurementRetention(spec, 'spec');
    const terminate = spec.terminate;
    if (terminate !== undefined && terminate !== null && typeof terminate !== 'boolean') {
      fail('spec.terminate', 'must be a boolean');
    }
    let ttlStrategy: TtlStrategy | undefined;
    if (spec.ttlStrategy !== undefined && spec.ttlStrategy !== null) {
      const ttl = requireRecord(spec.ttlStrategy, 'spec.ttlStrategy');
      const out: Record<string, number> = {};
      for (const key of ['secondsAfterCompletion', 'secondsAfterFailure', 'secondsAfterSuccess']) {
        const v = ttl[key];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
          fail(`spec.ttlStrategy.${key}`, 'must be a non-negative integer');
        }
        out[key] = v;
      }
      ttlStrategy = out;
    }
    const status =
      obj.status === undefined || obj.status === null ? undefined : requireRecord(obj.status, 'status');
    return {
      apiVersion,
      kind: 'AnalysisRun',
      metadata,
      spec: {
        metrics,
        ...(args ? { args } : {}),
        ...(terminate === true ? { terminate: true } : {}),
        ...(dryRun ? { dryRun } : {}),
        ...(measurementRetention ? { measurementRetention } : {}),
        ...(ttlStrategy ? { ttlStrategy } : {}),
      },
      ...(status ? { status: status as AnalysisRunStatus } : {}),
    };
  });
}

// ---- metric settings: defaults applied, int-or-strings and durations parsed ----

export interface MetricSettings {
  readonly name: string;
  readonly intervalMs?: number;
  readonly initialDelayMs?: number;
  /** Effective count; undefined means unbounded (interval set, no count): runs until terminated. */
  readonly effectiveCount?: number;
  readonly failureLimit: number;
  readonly inconclusiveLimit: number;
  readonly consecutiveErrorLimit: number;
  readonly consecutiveSuccessLimit: number;
  readonly successCondition?: string;
  readonly failureCondition?: string;
}

export type SettingsResult = { ok: true; settings: MetricSettings } | { ok: false; error: string };

function intOf(value: IntOrString | undefined, field: string): number | string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const trimmed = value.trim();
  if (!/^[-+]?\d+$/.test(trimmed)) return `${field}: "${value}" is not an integer`;
  return Number(trimmed);
}

const PROVIDER_KEYS = [
  'prometheus',
  'kayenta',
  'web',
  'datadog',
  'wavefront',
  'newRelic',
  'job',
  'cloudWatch',
  'graphite',
  'influxdb',
  'skywalking',
  'plugin',
];

/**
 * Argo's ValidateMetric plus defaults: returns the parsed settings or the first error, prefixed with the
 * field name. `index` is used in messages (`metrics[1].count: ...`).
 */
export function metricSettings(metric: Metric, index: number): SettingsResult {
  const p = `metrics[${index}]`;
  const ints: Record<string, number> = {};
  for (const key of METRIC_COUNT_FIELDS) {
    const v = intOf(metric[key], `${p}.${key}`);
    if (typeof v === 'string') return { ok: false, error: v };
    if (v !== undefined) ints[key] = v;
  }
  const count = ints.count ?? 0;
  const failureLimit = ints.failureLimit ?? 0;
  const inconclusiveLimit = ints.inconclusiveLimit ?? 0;
  const consecutiveErrorLimit = ints.consecutiveErrorLimit ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
  const consecutiveSuccessLimit = ints.consecutiveSuccessLimit ?? 0;
  if (count < 0) return { ok: false, error: `${p}.count: must be >= 0` };
  if (failureLimit < -1) return { ok: false, error: `${p}.failureLimit: must be >= 0, or -1 to disable` };
  if (failureLimit === -1 && consecutiveSuccessLimit <= 0) {
    return { ok: false, error: `${p}.failureLimit: -1 is only allowed when consecutiveSuccessLimit > 0` };
  }
  if (inconclusiveLimit < 0) return { ok: false, error: `${p}.inconclusiveLimit: must be >= 0` };
  if (consecutiveErrorLimit < 0) return { ok: false, error: `${p}.consecutiveErrorLimit: must be >= 0` };
  if (consecutiveSuccessLimit < 0) return { ok: false, error: `${p}.consecutiveSuccessLimit: must be >= 0` };
  if (count > 0) {
    if (count < failureLimit) return { ok: false, error: `${p}.count: must be >= failureLimit` };
    if (count < inconclusiveLimit) return { ok: false, error: `${p}.count: must be >= inconclusiveLimit` };
    if (consecutiveSuccessLimit > 0 && count < Math.max(failureLimit, 0) + consecutiveSuccessLimit) {
      return { ok: false, error: `${p}.count: must be >= failureLimit + consecutiveSuccessLimit` };
    }
  }
  let intervalMs: number | undefined;
  if (metric.interval !== undefined && metric.interval !== '') {
    const d = parseDuration(metric.interval);
    if (!d.ok) return { ok: false, error: `${p}.interval: ${d.error}` };
    if (d.ms <= 0) return { ok: false, error: `${p}.interval: must be positive` };
    intervalMs = d.ms;
  }
  if (count > 1 && intervalMs === undefined) {
    return { ok: false, error: `${p}.interval: must be specified when count > 1` };
  }
  let initialDelayMs: number | undefined;
  if (metric.initialDelay !== undefined && metric.initialDelay !== '') {
    const d = parseDuration(metric.initialDelay);
    if (!d.ok) return { ok: false, error: `${p}.initialDelay: ${d.error}` };
    if (d.ms < 0) return { ok: false, error: `${p}.initialDelay: must not be negative` };
    initialDelayMs = d.ms;
  }
  const providerKeys = Object.keys(metric.provider).filter((k) => metric.provider[k] !== undefined);
  if (providerKeys.length === 0) return { ok: false, error: `${p}.provider: no provider specified` };
  if (providerKeys.length > 1) {
    return { ok: false, error: `${p}.provider: multiple providers specified (${providerKeys.join(', ')})` };
  }
  const key = providerKeys[0]!;
  if (!PROVIDER_KEYS.includes(key)) return { ok: false, error: `${p}.provider.${key}: unknown provider` };
  if (key === 'plugin') {
    const plugin = metric.provider.plugin;
    if (typeof plugin !== 'object' || plugin === null || Object.keys(plugin).length !== 1) {
      return { ok: false, error: `${p}.provider.plugin: must hold exactly one plugin` };
    }
  }
  // Effective count (Argo Metric.EffectiveCount): unset/0 and no interval -> 1; unset/0 with interval ->
  // unbounded; otherwise count.
  let effectiveCount: number | undefined;
  if (count > 0) effectiveCount = count;
  else if (intervalMs === undefined) effectiveCount = 1;
  return {
    ok: true,
    settings: {
      name: metric.name,
      ...(intervalMs !== undefined ? { intervalMs } : {}),
      ...(initialDelayMs !== undefined ? { initialDelayMs } : {}),
      ...(effectiveCount !== undefined ? { effectiveCount } : {}),
      failureLimit,
      inconclusiveLimit,
      consecutiveErrorLimit,
      consecutiveSuccessLimit,
      ...(metric.successCondition ? { successCondition: metric.successCondition } : {}),
      ...(metric.failureCondition ? { failureCondition: metric.failureCondition } : {}),
    },
  };
}

export type ValidatedMetrics = { ok: true; settings: MetricSettings[] } | { ok: false; error: string };

/** Argo's ValidateMetrics: non-empty, unique names, each metric valid. */
export function validateMetrics(metrics: readonly Metric[]): ValidatedMetrics {
  if (metrics.length === 0) return { ok: false, error: 'metrics: no metrics specified' };
  const names = new Set<string>();
  const settings: MetricSettings[] = [];
  for (const [i, metric] of metrics.entries()) {
    if (names.has(metric.name)) {
      return { ok: false, error: `metrics[${i}].name: duplicate name '${metric.name}'` };
    }
    names.add(metric.name);
    const s = metricSettings(metric, i);
    if (!s.ok) return s;
    settings.push(s.settings);
  }
  return { ok: true, settings };
}

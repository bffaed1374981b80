// Drives an AnalysisRun to completion with real providers: plan -> run the providers (concurrently, a
// provider that throws or is missing becomes an Error measurement) -> apply -> sleep until the requeue
// time. Clock and timers are injected, so tests run hours of schedule in milliseconds. After any status
// change the run is reconciled again at once, as Argo's informer re-queues an updated run.

import {
  type AnalysisRun,
  isCompletedPhase,
  type Measurement,
  type MetricResult,
} from '../api/analysis-run.ts';
import { errorText, SluiceError } from '../api/errors.ts';
import { resolveRunArgs, type SecretResolver } from './args.ts';
import type { MetricTransition } from './assess.ts';
import {
  applyOutcomes,
  completeMeasurement,
  type MeasurementTask,
  planReconcile,
  type ReconcileContext,
  type ReconcileEvent,
  type ReconcileOutput,
  type TaskOutcome,
} from './plan.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './providers/provider.ts';
import { type ProviderRegistry, providerType } from './providers/registry.ts';

export interface RunnerClock {
  now(): number;
  /** Resolves after `ms` (or early when `signal` aborts); never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: RunnerClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface MeasurementEvent {
  readonly metricName: string;
  readonly measurement: Measurement;
  /** The metric's result after this measurement (counters, phase). */
  readonly result: MetricResult | undefined;
  readonly action: MeasurementTask['action'];
}

export interface RunnerOptions {
  readonly providers: ProviderRegistry;
  readonly clock?: RunnerClock;
  readonly resolveSecret?: SecretResolver;
  readonly intervalScale?: number;
  /** Stop metrics without a count this long after the runner starts (judged as a terminated run). */
  readonly durationMs?: number;
  /** Aborting requests termination (spec.terminate = true); the run then finishes as Argo finishes it. */
  readonly terminateSignal?: AbortSignal;
  readonly onMeasurement?: (event: MeasurementEvent) => void;
  readonly onTransition?: (transition: MetricTransition) => void;
  readonly onEvent?: (event: ReconcileEvent) => void;
  /** Called after each reconcile with the new run (e.g. to persist status). */
  readonly onUpdate?: (run: AnalysisRun) => void;
  /** Structured log sink (pino-compatible). Everything logged is already redacted. */
  readonly logger?: AnalysisLogger;
}

export interface AnalysisLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Wait used when nothing is scheduled but the run is not complete (should not happen; defensive). */
const IDLE_POLL_MS = 1_000;
/** Immediate re-reconciles after a status change before waiting for the requeue time. */
const MAX_IMMEDIATE_PASSES = 5;

function errorResult(message: string): ProviderResult {
  return { phase: 'Error', message };
}

async function callProvider(
  provider: MetricProvider | undefined,
  type: string | undefined,
  task: MeasurementTask,
  request: ProviderRequest,
): Promise<ProviderResult> {
  if (provider === undefined) {
    // Argo's words for a plugin name that argo-rollouts-config does not list (utils/plugin/plugin.go).
    const plugin = task.provider.plugin;
    if (type !== undefined && typeof plugin === 'object' && plugin !== null && !type.startsWith('sluice/')) {
      return errorResult(`plugin ${type} not configured in configmap`);
    }
    return errorResult(`no provider registered for ${type === undefined ? 'this metric' : `"${type}"`}`);
  }
  const previous: ProviderResult = {
    phase: 'Running',
    ...(task.incomplete?.value !== undefined ? { value: task.incomplete.value } : {}),
    ...(task.incomplete?.metadata !== undefined ? { metadata: task.incomplete.metadata } : {}),
  };
  try {
    if (task.action === 'run' || task.action === 'probe') return await provider.run(request);
    if (task.action === 'resume') {
      return provider.resume ? await provider.resume(request, previous) : await provider.run(request);
    }
    if (provider.terminate) return await provider.terminate(request, previous);
    return { phase: 'Successful', message: 'Metric Terminated' };
  } catch (error) {
    // Providers must not throw; if one does, the engine still gets a measurement.
    const failure = new SluiceError(
      'SLUICE_PROVIDER_FAILED',
      `provider ${provider.type} failed: ${errorText(error)}`,
      {
        cause: error,
      },
    );
    return errorResult(failure.message);
  }
}

function safeMetadata(provider: MetricProvider | undefined, request: ProviderRequest) {
  try {
    return provider?.metricMetadata?.(request);
  } catch {
    return undefined;
  }
}

/** One reconcile: plan, run the due measurements, apply. Never throws for bad specs or providers. */
export async function reconcileOnce(
  run: AnalysisRun,
  options: RunnerOptions,
  extra: { stopUnboundedAtMs?: number; signal?: AbortSignal } = {},
): Promise<{ output: ReconcileOutput; measurements: MeasurementEvent[] }> {
  const clock = options.clock ?? systemClock;
  const args = await resolveRunArgs(run.spec.args, run.metadata.namespace, options.resolveSecret);
  const ctxAt = (nowMs: number): ReconcileContext => ({
    nowMs,
    args,
    ...(options.intervalScale !== undefined ? { intervalScale: options.intervalScale } : {}),
    ...(extra.stopUnboundedAtMs !== undefined ? { stopUnboundedAtMs: extra.stopUnboundedAtMs } : {}),
  });
  const plan = planReconcile(run, ctxAt(clock.now()));
  if (plan.kind !== 'measure')
    return { output: applyOutcomes(plan, [], ctxAt(clock.now())), measurements: [] };
  const signal = extra.signal ?? new AbortController().signal;
  const outcomes = await Promise.all(
    plan.tasks.map(async (task): Promise<TaskOutcome> => {
      const type = providerType(task.provider);
      const provider = type === undefined ? undefined : options.providers.get(type);
      const startedAtMs = clock.now();
      const request: ProviderRequest = {
        metricName: task.metricName,
        provider: task.provider,
        nowMs: startedAtMs,
        signal,
        secrets: plan.secrets,
        ...(options.resolveSecret !== undefined ? { resolveSecret: options.resolveSecret } : {}),
        ...(run.metadata.name !== undefined ? { runName: run.metadata.name } : {}),
        ...(run.metadata.namespace !== undefined ? { runNamespace: run.metadata.namespace } : {}),
      };
      const answer = await callProvider(provider, type, task, request);
      const measurement = completeMeasurement(
        task.settings,
        answer,
        { startedAtMs, finishedAtMs: clock.now() },
        plan.secrets,
        task.incomplete,
      );
      const metricMetadata = safeMetadata(provider, request);
      return { metricName: task.metricName, measurement, ...(metricMetadata ? { metricMetadata } : {}) };
    }),
  );
  // A probe counts only when it fails (plan.ts EARLY_VERDICT_PROVIDERS); the others leave no trace.
  const kept = outcomes.filter(
    (o, i) => plan.tasks[i]!.action !== 'probe' || o.measurement.phase === 'Failed',
  );
  const output = applyOutcomes(plan, kept, ctxAt(clock.now()));
  const results = new Map((output.run.status?.metricResults ?? []).map((r) => [r.name, r]));
  const measurements = kept.map((o): MeasurementEvent => {
    const result = results.get(o.metricName);
    const task = plan.tasks.find((t) => t.metricName === o.metricName)!;
    const stored = result?.measurements[result.measurements.length - 1];
    return { metricName: o.metricName, measurement: stored ?? o.measurement, result, action: task.action };
  });
  return { output, measurements };
}

function statusKey(run: AnalysisRun): string {
  return JSON.stringify(run.status ?? {});
}

/** Runs until the run completes. Returns the final run (status.phase is the verdict). */
export async function runAnalysis(run: AnalysisRun, options: RunnerOptions): Promise<AnalysisRun> {
  const clock = options.clock ?? systemClock;
  const startMs = clock.now();
  const stopUnboundedAtMs = options.durationMs !== undefined ? startMs + options.durationMs : undefined;
  const providerAbort = new AbortController();
  let current = run;
  try {
    for (;;) {
      if (options.terminateSignal?.aborted && current.spec.terminate !== true) {
        current = { ...current, spec: { ...current.spec, terminate: true } };
      }
      let requeueAtMs: number | undefined;
      for (let pass = 0; pass < MAX_IMMEDIATE_PASSES; pass++) {
        const before = statusKey(current);
        const { output, measurements } = await reconcileOnce(current, options, {
          ...(stopUnboundedAtMs !== undefined ? { stopUnboundedAtMs } : {}),
          signal: providerAbort.signal,
        });
        current = output.run;
        for (const m of measurements) {
          options.onMeasurement?.(m);
          // Measurement messages and values are redacted when the measurement is built.
          const fields = { run: current.metadata.name, metric: m.metricName, phase: m.measurement.phase };
          if (m.measurement.phase === 'Error') {
            options.logger?.warn({ ...fields, error: m.measurement.message }, 'Measurement had error');
          } else {
            options.logger?.info({ ...fields, value: m.measurement.value }, 'Measurement Completed');
          }
        }
        for (const t of output.transitions) {
          options.onTransition?.(t);
          options.logger?.info(
            { run: current.metadata.name, metric: t.metricName, from: t.from, to: t.to },
            'Metric transitioned',
          );
        }
        for (const e of output.events) {
          options.onEvent?.(e);
          options.logger?.info({ run: current.metadata.name, reason: e.reason }, e.message);
        }
        options.onUpdate?.(current);
        requeueAtMs = output.requeueAtMs;
        if (isCompletedPhase(current.status?.phase)) return current;
        if (statusKey(current) === before) break;
      }
      const waitMs = requeueAtMs === undefined ? IDLE_POLL_MS : Math.max(0, requeueAtMs - clock.now());
      if (options.terminateSignal?.aborted && current.spec.terminate !== true) continue;
      await clock.sleep(waitMs, options.terminateSignal);
    }
  } finally {
    providerAbort.abort();
  }
}

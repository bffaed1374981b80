// The AnalysisRun controller binding: reconciles one AnalysisRun object in the store with the analysis
// engine (runner.ts reconcileOnce: plan -> providers -> apply), writes the new status as a merge patch
// through the status subresource (only what changed), records Events, garbage-collects Jobs of the `job`
// provider beyond the retention limit, deletes completed runs after their ttlStrategy, and tells the
// caller when to reconcile again. Level-triggered: everything it needs is read from the run each time;
// a measurement started before a crash (e.g. a Job) is adopted, not duplicated.

import type { Logger } from 'pino';
import {
  type AnalysisRun,
  DEFAULT_MEASUREMENT_RETENTION_LIMIT,
  isCompletedPhase,
  parseAnalysisRun,
} from '../api/analysis-run.ts';
import { formatFieldError } from '../api/analysis-template.ts';
import { errorText } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import { type ReconcileResult, writeStatusAndEvents } from '../reconcile/result.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ArgsResult, SecretRef } from './args.ts';
import { createJobProvider, garbageCollectJobs, JOB_PROVIDER_TYPE } from './providers/job.ts';
import type { MetricProvider } from './providers/provider.ts';
import { createProviderRegistry, providerType } from './providers/registry.ts';
import { type RunnerClock, reconcileOnce } from './runner.ts';

export interface AnalysisControllerDeps {
  readonly store: ObjectStore;
  /** Providers shared by all runs (prometheus, web, sluice/proxy, sluice/judge); `job` is added per run. */
  readonly providers: readonly MetricProvider[];
  readonly now?: () => number;
  readonly log?: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

/** Reads one key of a Secret through an uncached read; values are base64 in `data` or plain in `stringData`. */
export function storeSecretResolver(store: ObjectStore, defaultNamespace: string) {
  return async (ref: SecretRef): Promise<ArgsResult<string>> => {
    const namespace = ref.namespace ?? defaultNamespace;
    let secret:
      | (KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> })
      | undefined;
    try {
      secret = await store.read('Secret', namespace, ref.name);
    } catch (error) {
      return {
        ok: false,
        error: `secret ${namespace}/${ref.name}: ${errorText(error)}`,
      };
    }
    if (secret === undefined) return { ok: false, error: `secret "${ref.name}" not found` };
    const encoded = secret.data?.[ref.key];
    if (encoded !== undefined) return { ok: true, value: Buffer.from(encoded, 'base64').toString('utf8') };
    const plain = secret.stringData?.[ref.key];
    if (plain !== undefined) return { ok: true, value: plain };
    return { ok: false, error: `key "${ref.key}" not found in secret "${ref.name}"` };
  };
}

function eventType(reason: string): 'Normal' | 'Warning' {
  return /Failed|Error|Inconclusive/.test(reason) ? 'Warning' : 'Normal';
}

/** The time a completed run should be deleted under its ttlStrategy (Argo's ttlStrategy semantics). */
export function ttlExpiryMs(run: AnalysisRun): number | undefined {
  const ttl = run.spec.ttlStrategy;
  const completedMs = Date.parse(run.status?.completedAt ?? '');
  if (ttl === undefined || Number.isNaN(completedMs)) return undefined;
  const phase = run.status?.phase;
  let seconds: number | undefined;
  if (phase === 'Successful' && ttl.secondsAfterSuccess !== undefined) seconds = ttl.secondsAfterSuccess;
  else if ((phase === 'Failed' || phase === 'Error') && ttl.secondsAfterFailure !== undefined) {
    seconds = ttl.secondsAfterFailure;
  } else seconds = ttl.secondsAfterCompletion;
  return seconds === undefined ? undefined : completedMs + seconds * 1000;
}

function retentionLimit(run: AnalysisRun, metricName: string): number {
  let limit = DEFAULT_MEASUREMENT_RETENTION_LIMIT;
  for (const rule of run.spec.measurementRetention ?? []) {
    try {
      if (new RegExp(rule.metricName, 'u').test(metricName)) limit = rule.limit;
    } catch {
      // invalid rules are reported by the engine
    }
  }
  return Math.max(1, limit);
}

export async function reconcileAnalysisRun(
  deps: AnalysisControllerDeps,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const raw = store.get('AnalysisRun', namespace, name);
  if (raw === undefined || raw.metadata.deletionTimestamp !== undefined) return {};
  const parsed = parseAnalysisRun(raw);
  if (!parsed.ok) {
    const status = (raw as { status?: { phase?: string } }).status;
    if (isCompletedPhase(status?.phase as never)) return {};
    const message = `Analysis spec invalid: ${formatFieldError(parsed.error)}`;
    const ts = new Date(now()).toISOString();
    await store.patchStatus('AnalysisRun', namespace, name, {
      status: { phase: 'Error', message, startedAt: ts, completedAt: ts },
    });
    store.recordEvent(raw, 'Warning', 'AnalysisRunError', `Analysis Completed. Result: Error: ${message}`);
    return {};
  }
  const run = {
    ...parsed.value,
    metadata: { ...parsed.value.metadata, uid: raw.metadata.uid },
  } as AnalysisRun;

  if (isCompletedPhase(run.status?.phase)) {
    const expiry = ttlExpiryMs(run);
    if (expiry === undefined) return {};
    if (expiry > now()) return { requeueAfterMs: expiry - now() };
    deps.log?.info({ namespace, name }, 'deleting AnalysisRun after its ttlStrategy');
    await store.delete('AnalysisRun', namespace, name);
    return {};
  }

  const providers = createProviderRegistry([...deps.providers, createJobProvider({ store, run, now })]);
  const clock: RunnerClock = {
    now,
    sleep: () => Promise.resolve(),
  };
  const { output } = await reconcileOnce(run, {
    providers,
    clock,
    resolveSecret: storeSecretResolver(store, namespace),
  });

  const events = output.events.map((e) => ({
    type: eventType(e.reason),
    reason: e.reason,
    message: e.message,
  }));
  const written = await writeStatusAndEvents(
    store,
    'AnalysisRun',
    // The diff is against the status as parsed (what the engine saw); events name the object as stored.
    { ...raw, status: run.status ?? {} },
    output.run.status ?? {},
    events,
    undefined,
  );
  if (written.error !== undefined) return written;

  for (const metric of run.spec.metrics) {
    if (providerType(metric.provider) !== JOB_PROVIDER_TYPE) continue;
    try {
      await garbageCollectJobs(store, run, metric.name, retentionLimit(run, metric.name));
    } catch (error) {
      deps.log?.warn(
        { namespace, name, metric: metric.name, err: errorText(error) },
        'job garbage collection failed',
      );
    }
  }

  if (isCompletedPhase(output.run.status?.phase)) {
    const expiry = ttlExpiryMs(output.run);
    return expiry === undefined ? {} : { requeueAfterMs: Math.max(0, expiry - now()) };
  }
  if (output.requeueAtMs === undefined) return {};
  return { requeueAfterMs: Math.max(0, output.requeueAtMs - now()) };
}

/** The run a Job belongs to (for enqueueing the run when its Job changes). */
export function runKeyOfJob(job: {
  metadata: {
    namespace?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
}): string | undefined {
  const owner = job.metadata.ownerReferences?.find((r) => r.kind === 'AnalysisRun' && r.controller);
  const name = owner?.name ?? job.metadata.annotations?.['analysisrun.argoproj.io/name'];
  const namespace = job.metadata.annotations?.['analysisrun.argoproj.io/namespace'] ?? job.metadata.namespace;
  return name && namespace ? `${namespace}/${name}` : undefined;
}

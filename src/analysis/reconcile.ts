// The AnalysisRun reconciler's binding: reconciles one AnalysisRun object in the store with the analysis
// engine (runner.ts reconcileOnce: plan.ts -> providers -> plan.ts's applyOutcomes), writes the new status
// as a merge patch through the status subresource (only what changed) with its Events, and has apply.ts
// make the other writes (an unparseable run's Error status, Job garbage collection), deletes a run after its
// ttlStrategy; then tells the caller when to reconcile again. Level-triggered: everything it needs is read
// from the run each time; a measurement started before a crash (e.g. a Job) is adopted, not duplicated.

import type { Logger } from 'pino';
import { type AnalysisRun, isCompletedPhase, parseAnalysisRun } from '../api/analysis-run.ts';
import { formatFieldError } from '../api/analysis-template.ts';
import { type ReconcileResult, writeStatusAndEvents } from '../reconcile/result.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { collectJobs, markInvalid, storeSecretResolver } from './apply.ts';
import { createJobProvider } from './providers/job.ts';
import type { MetricProvider } from './providers/provider.ts';
import { createProviderRegistry } from './providers/registry.ts';
import { type RunnerClock, reconcileOnce } from './runner.ts';

export interface AnalysisControllerDeps {
  readonly store: ObjectStore;
  /** Providers shared by all runs (prometheus, web, sluice/proxy, sluice/judge); `job` is added per run. */
  readonly providers: readonly MetricProvider[];
  readonly now?: () => number;
  readonly log?: Pick<Logger, 'info' | 'warn' | 'debug'>;
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
    await markInvalid(store, raw, `Analysis spec invalid: ${formatFieldError(parsed.error)}`, now());
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

  await collectJobs(store, run, deps.log);

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

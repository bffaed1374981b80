// The `job` metric provider (Argo's metricproviders/job): each measurement creates a batch/v1 Job named
// `<run-uid>.<metric>.<n>` (n = count + error + 1, the metric name shortened so the name fits the 63
// characters the Job controller copies into a pod label), labelled `analysisrun.argoproj.io/uid`,
// annotated with the run's name, namespace and metric, and owned by the run. The measurement stays Running
// (metadata job-name / job-namespace) until the Job reports Complete (Successful) or Failed (Failed); a pod
// that cannot pull its image makes it Inconclusive. Terminate deletes the Job (foreground) and, as Argo's
// provider does, reports Successful (the engine marks it "Metric Terminated"). A provider instance is
// bound to one run, because the Job name depends on the run's uid and counters.

import type { AnalysisRun } from '../../api/analysis-run.ts';
import { errorText } from '../../api/errors.ts';
import type { KubeObject } from '../../api/meta.ts';
import { type ObjectStore, StoreError } from '../../store/object-store.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';
import { providerConfig } from './registry.ts';

export const JOB_PROVIDER_TYPE = 'job';
export const JOB_NAME_KEY = 'job-name';
export const JOB_NAMESPACE_KEY = 'job-namespace';
export const RUN_UID_LABEL = 'analysisrun.argoproj.io/uid';
export const RUN_NAME_ANNOTATION = 'analysisrun.argoproj.io/name';
export const RUN_NAMESPACE_ANNOTATION = 'analysisrun.argoproj.io/namespace';
export const RUN_METRIC_ANNOTATION = 'analysisrun.argoproj.io/metric-name';
const MAX_NAME_LENGTH = 63;
const IMAGE_PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']);

export interface Job extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    active?: number;
    succeeded?: number;
    failed?: number;
  };
}

interface PodLike extends KubeObject {
  status?: {
    containerStatuses?: { name: string; state?: { waiting?: { reason?: string; message?: string } } }[];
    initContainerStatuses?: { name: string; state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

export interface JobProviderOptions {
  readonly store: ObjectStore;
  /** The run being reconciled (uid, name, namespace, metric counters). */
  readonly run: AnalysisRun;
  readonly now?: () => number;
}

/** Argo's newJobName, shortened to 63 characters by truncating the metric name. */
export function jobName(runUid: string, metricName: string, n: number): string {
  const suffix = String(n);
  const room = MAX_NAME_LENGTH - runUid.length - suffix.length - 2;
  const metric = metricName.length > room ? metricName.slice(0, Math.max(0, room)) : metricName;
  return `${runUid}.${metric}.${suffix}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Builds the Job for one measurement, or an error naming the field. */
export function buildMetricJob(
  run: AnalysisRun,
  request: ProviderRequest,
): { ok: true; job: Job } | { ok: false; error: string } {
  const config = providerConfig(request.provider);
  if (!isRecord(config))
    return { ok: false, error: `metrics[${request.metricName}].provider.job: must be an object` };
  if (!isRecord(config.spec))
    return { ok: false, error: `metrics[${request.metricName}].provider.job.spec: is required` };
  const metadata = isRecord(config.metadata) ? config.metadata : {};
  const labels = isRecord(metadata.labels) ? (metadata.labels as Record<string, string>) : {};
  const annotations = isRecord(metadata.annotations) ? (metadata.annotations as Record<string, string>) : {};
  const uid = run.metadata.uid;
  const name = run.metadata.name;
  const namespace = run.metadata.namespace;
  if (!uid || !name || !namespace)
    return { ok: false, error: 'job provider: the AnalysisRun has no uid, name or namespace' };
  const result = run.status?.metricResults?.find((r) => r.name === request.metricName);
  const n = (result?.count ?? 0) + (result?.error ?? 0) + 1;
  return {
    ok: true,
    job: {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName(uid, request.metricName, n),
        namespace,
        labels: { ...labels, [RUN_UID_LABEL]: uid },
        annotations: {
          ...annotations,
          [RUN_NAME_ANNOTATION]: name,
          [RUN_NAMESPACE_ANNOTATION]: namespace,
          [RUN_METRIC_ANNOTATION]: request.metricName,
        },
        ownerReferences: [
          {
            apiVersion: run.apiVersion,
            kind: 'AnalysisRun',
            name,
            uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(config.spec),
    },
  };
}

/** Resume back-off (Argo: sqrt(2 * elapsed) seconds), at least 1 s and at most 60 s. */
export function resumeDelayMs(elapsedMs: number): number {
  return Math.min(60_000, Math.max(1_000, Math.sqrt((2 * Math.max(0, elapsedMs)) / 1000) * 1000));
}

export function createJobProvider(options: JobProviderOptions): MetricProvider {
  const { store, run } = options;
  const now = options.now ?? Date.now;

  function running(job: Job, startedAtMs: number): ProviderResult {
    return {
      phase: 'Running',
      metadata: { [JOB_NAME_KEY]: job.metadata.name, [JOB_NAMESPACE_KEY]: job.metadata.namespace ?? '' },
      resumeAtMs: now() + resumeDelayMs(now() - startedAtMs),
    };
  }

  function jobRef(previous: ProviderResult): { name: string; namespace: string } | undefined {
    const name = previous.metadata?.[JOB_NAME_KEY];
    if (!name) return undefined;
    return { name, namespace: previous.metadata?.[JOB_NAMESPACE_KEY] || run.metadata.namespace || '' };
  }

  return {
    type: JOB_PROVIDER_TYPE,

    async run(request) {
      const built = buildMetricJob(run, request);
      if (!built.ok) return { phase: 'Error', message: built.error };
      const job = built.job;
      try {
        const created = await store.create<Job>(job);
        return running(created, request.nowMs);
      } catch (error) {
        if (!(error instanceof StoreError) || error.reason !== 'AlreadyExists') {
          return { phase: 'Error', message: `job create ${job.metadata.name} failed: ${errorText(error)}` };
        }
        // A previous reconcile created it but its status write was lost: adopt it if it is ours.
        const existing =
          store.get<Job>('Job', job.metadata.namespace!, job.metadata.name) ??
          (await store.read<Job>('Job', job.metadata.namespace!, job.metadata.name).catch(() => undefined));
        const owner = existing?.metadata.ownerReferences?.find((r) => r.controller);
        if (existing === undefined || owner?.uid !== run.metadata.uid) {
          return { phase: 'Error', message: `job create ${job.metadata.name} failed: ${errorText(error)}` };
        }
        return running(existing, request.nowMs);
      }
    },

    async resume(request, previous) {
      const ref = jobRef(previous);
      if (ref === undefined) return { phase: 'Error', message: 'job metadata reference missing' };
      let job = store.get<Job>('Job', ref.namespace, ref.name);
      if (job === undefined) {
        try {
          job = await store.read<Job>('Job', ref.namespace, ref.name);
        } catch (error) {
          return {
            phase: 'Error',
            message: `job ${ref.name}: ${errorText(error)}`,
            metadata: previous.metadata ?? {},
          };
        }
      }
      if (job === undefined) {
        return {
          phase: 'Error',
          message: `job.batch "${ref.name}" not found`,
          metadata: previous.metadata ?? {},
        };
      }
      let phase: ProviderResult['phase'];
      let message: string | undefined;
      for (const c of job.status?.conditions ?? []) {
        if (c.status !== 'True') continue;
        if (c.type === 'Complete') phase = 'Successful';
        else if (c.type === 'Failed') {
          phase = 'Failed';
          message = c.message ?? c.reason;
        }
      }
      if (phase !== undefined)
        return { phase, ...(message ? { message } : {}), metadata: previous.metadata ?? {} };
      for (const pod of store.list<PodLike>('Pod', ref.namespace, { 'job-name': ref.name })) {
        for (const cs of [
          ...(pod.status?.initContainerStatuses ?? []),
          ...(pod.status?.containerStatuses ?? []),
        ]) {
          const reason = cs.state?.waiting?.reason;
          if (reason !== undefined && IMAGE_PULL_FAILURES.has(reason)) {
            return {
              phase: 'Inconclusive',
              message: `job ${ref.name}: pod ${pod.metadata.name} container ${cs.name}: ${reason}${cs.state?.waiting?.message ? `: ${cs.state.waiting.message}` : ''}`,
              metadata: previous.metadata ?? {},
            };
          }
        }
      }
      const createdMs = Date.parse(job.metadata.creationTimestamp ?? '');
      const startedAtMs = Number.isNaN(createdMs) ? request.nowMs : createdMs;
      return { ...running(job, startedAtMs), ...(previous.metadata ? { metadata: previous.metadata } : {}) };
    },

    async terminate(_request, previous) {
      const ref = jobRef(previous);
      if (ref === undefined) return { phase: 'Error', message: 'job metadata reference missing' };
      try {
        await store.delete('Job', ref.namespace, ref.name, { propagation: 'Foreground' });
      } catch (error) {
        if (!(error instanceof StoreError) || error.reason !== 'NotFound') {
          return {
            phase: 'Error',
            message: `job delete ${ref.name} failed: ${errorText(error)}`,
            metadata: previous.metadata ?? {},
          };
        }
      }
      return { phase: 'Successful', metadata: previous.metadata ?? {} };
    },
  };
}

/** Argo's GarbageCollect: keeps the newest `limit` Jobs of one metric of a run, deleting older ones. */
export async function garbageCollectJobs(
  store: ObjectStore,
  run: AnalysisRun,
  metricName: string,
  limit: number,
): Promise<string[]> {
  const uid = run.metadata.uid;
  const namespace = run.metadata.namespace;
  if (!uid || !namespace) return [];
  const jobs = store
    .list<Job>('Job', namespace, { [RUN_UID_LABEL]: uid })
    .filter(
      (j) => j.metadata.annotations?.[RUN_METRIC_ANNOTATION] === metricName && !j.metadata.deletionTimestamp,
    )
    .sort(
      (a, b) =>
        (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name, 'en', { numeric: true }),
    );
  const deleted: string[] = [];
  for (const job of jobs.slice(0, Math.max(0, jobs.length - limit))) {
    try {
      await store.delete('Job', namespace, job.metadata.name, { propagation: 'Foreground' });
      deleted.push(job.metadata.name);
    } catch (error) {
      if (!(error instanceof StoreError) || error.reason !== 'NotFound') throw error;
    }
  }
  return deleted;
}

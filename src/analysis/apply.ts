// The AnalysisRun reconciler's writes and reads besides the status tail (reconcile.ts binds them): the Error
// status of a run that does not parse, Job garbage collection beyond each metric's retention limit, and
// Secret values read uncached for the providers.

import type { Logger } from 'pino';
import { type AnalysisRun, DEFAULT_MEASUREMENT_RETENTION_LIMIT } from '../api/analysis-run.ts';
import { errorText } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ArgsResult, SecretRef } from './args.ts';
import { compileRegex } from './expr/re2.ts';
import { garbageCollectJobs, JOB_PROVIDER_TYPE } from './providers/job.ts';
import { providerType } from './providers/registry.ts';

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

/** An AnalysisRun that does not parse ends in Error at once, with a Warning event naming the field. */
export async function markInvalid(
  store: ObjectStore,
  raw: KubeObject,
  message: string,
  nowMs: number,
): Promise<void> {
  const ts = new Date(nowMs).toISOString();
  await store.patchStatus('AnalysisRun', raw.metadata.namespace ?? '', raw.metadata.name, {
    status: { phase: 'Error', message, startedAt: ts, completedAt: ts },
  });
  store.recordEvent(raw, 'Warning', 'AnalysisRunError', `Analysis Completed. Result: Error: ${message}`);
}

function retentionLimit(run: AnalysisRun, metricName: string): number {
  let limit = DEFAULT_MEASUREMENT_RETENTION_LIMIT;
  for (const rule of run.spec.measurementRetention ?? []) {
    // Go regexp on RE2, as Argo matches; invalid rules are reported by the engine.
    const compiled = compileRegex(rule.metricName);
    if (compiled.ok && compiled.re.test(metricName)) limit = rule.limit;
  }
  return Math.max(1, limit);
}

/** Deletes the `job` provider's Jobs beyond each metric's retention limit; failures are logged, not fatal. */
export async function collectJobs(
  store: ObjectStore,
  run: AnalysisRun,
  log: Pick<Logger, 'warn'> | undefined,
): Promise<void> {
  for (const metric of run.spec.metrics) {
    if (providerType(metric.provider) !== JOB_PROVIDER_TYPE) continue;
    try {
      await garbageCollectJobs(store, run, metric.name, retentionLimit(run, metric.name));
    } catch (error) {
      log?.warn(
        {
          namespace: run.metadata.namespace,
          name: run.metadata.name,
          metric: metric.name,
          err: errorText(error),
        },
        'job garbage collection failed',
      );
    }
  }
}

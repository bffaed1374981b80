// A work-queue worker: takes keys, runs the reconciler, records metrics, and requeues. A reconcile that
// fails (thrown, or reported in ReconcileResult.error) is retried as its error's catalogue code says
// (src/api/errors.ts): a resourceVersion Conflict at once (the informer cache had not yet seen the newer
// object), everything else with the queue's per-key exponential back-off.
import type { Logger } from 'pino';
import { BOUNDED_RETRY_MAX_MS, errorCode, errorText, retryPolicy } from '../api/errors.ts';
import type { ReconcileResult } from '../reconcile/result.ts';
import type { WorkQueue } from './work-queue.ts';

export type WorkerKind = 'rollout' | 'analysisrun' | 'experiment';

export interface WorkerHooks {
  readonly log: Logger;
  /** After a failed reconcile (metrics). */
  readonly onError?: (kind: WorkerKind, labels: { namespace: string; name: string }) => void;
  /** After every reconcile, failed or not, with its duration (metrics). */
  readonly onDone?: (kind: WorkerKind, labels: { namespace: string; name: string }, seconds: number) => void;
  /** The cap of `bounded-backoff` retries (default BOUNDED_RETRY_MAX_MS; tests shorten it). */
  readonly boundedRetryMaxMs?: number;
}

/** Runs until the queue shuts down. */
export async function runWorker(
  queue: WorkQueue,
  kind: WorkerKind,
  reconcile: (namespace: string, name: string) => Promise<ReconcileResult>,
  hooks: WorkerHooks,
): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    const slash = key.indexOf('/');
    const labels = { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
    const startedMs = performance.now();
    try {
      const result = await reconcile(labels.namespace, labels.name);
      // A reconciler may report a failed write instead of throwing: same retry as a throw.
      if (result.error !== undefined) throw result.error;
      queue.forget(key);
      if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
    } catch (error) {
      hooks.onError?.(kind, labels);
      const immediate = retryPolicy(error) === 'immediate';
      (immediate ? hooks.log.debug : hooks.log.warn).call(
        hooks.log,
        { [kind]: key, err: errorText(error), code: errorCode(error), requeues: queue.numRequeues(key) },
        immediate
          ? 'reconcile lost a write race; retrying at once'
          : 'reconcile failed; requeued with backoff',
      );
      if (immediate) queue.addImmediate(key);
      else if (retryPolicy(error) === 'bounded-backoff')
        queue.addAfter(key, Math.min(queue.when(key), hooks.boundedRetryMaxMs ?? BOUNDED_RETRY_MAX_MS));
      else queue.addRateLimited(key);
    } finally {
      hooks.onDone?.(kind, labels, (performance.now() - startedMs) / 1000);
      queue.done(key);
    }
  }
}

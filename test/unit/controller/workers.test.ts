// The worker's retry policy (src/controller/workers.ts): a reconcile that lost a resourceVersion race is
// retried at once, a bounded number of times; any other failure goes through the per-key back-off. The
// error keeps its type from the store, through the reconciler's result, to the worker.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SluiceError, withContext } from '../../../src/api/errors.ts';
import { WorkQueue } from '../../../src/controller/work-queue.ts';
import { runWorker } from '../../../src/controller/workers.ts';
import type { ReconcileResult } from '../../../src/reconcile/result.ts';
import { StoreError } from '../../../src/store/object-store.ts';

const log = pino({ level: 'silent' });

/** Runs one worker over `queue` until `calls` reconciles happened; returns when each started (ms). */
async function drive(
  queue: WorkQueue,
  outcomes: readonly (ReconcileResult | Error)[],
  boundedRetryMaxMs?: number,
): Promise<{ startedMs: number[]; errors: number }> {
  const startedMs: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = runWorker(
    queue,
    'rollout',
    async () => {
      const i = startedMs.length;
      startedMs.push(performance.now() - t0);
      if (i + 1 >= outcomes.length) finish();
      const outcome = outcomes[Math.min(i, outcomes.length - 1)]!;
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    { log, onError: () => errors++, ...(boundedRetryMaxMs !== undefined ? { boundedRetryMaxMs } : {}) },
  );
  queue.add('ns/ro');
  await finished;
  queue.shutDown();
  await worker;
  return { startedMs, errors };
}

describe('reconcile worker retries', () => {
  it('retries a Conflict reported in the result at once, without the back-off delay', async () => {
    // Back-off base of 10 s: only an immediate retry can finish within the test timeout.
    const queue = new WorkQueue({ baseDelayMs: 10_000 });
    const conflict = withContext(
      'patchStatus',
      new StoreError('Conflict', 409, 'the object has been modified'),
    );
    const { startedMs, errors } = await drive(queue, [{ error: conflict }, {}]);
    expect(startedMs).toHaveLength(2);
    expect(errors).toBe(1);
    expect(conflict.code).toBe('SLUICE_STORE_CONFLICT');
    expect(conflict.message).toBe('patchStatus: Conflict: the object has been modified');
  });

  it('retries a thrown Conflict at once too', async () => {
    const queue = new WorkQueue({ baseDelayMs: 10_000 });
    const { startedMs } = await drive(queue, [new StoreError('Conflict', 409, 'modified'), {}]);
    expect(startedMs).toHaveLength(2);
  });

  it('falls back to the back-off after three conflicts in a row', async () => {
    const queue = new WorkQueue({ baseDelayMs: 200 });
    const conflict = { error: new StoreError('Conflict', 409, 'modified') };
    const { startedMs } = await drive(queue, [conflict, conflict, conflict, conflict, {}]);
    expect(startedMs).toHaveLength(5);
    // Three immediate retries, then the rate-limited one waits 200 ms * 2^3.
    expect(startedMs[3]! - startedMs[0]!).toBeLessThan(1_000);
    expect(startedMs[4]! - startedMs[3]!).toBeGreaterThanOrEqual(1_500);
  });

  it('backs off on any other failure', async () => {
    const queue = new WorkQueue({ baseDelayMs: 300 });
    const forbidden = withContext('createReplicaSet', new StoreError('Forbidden', 403, 'rbac says no'));
    expect(forbidden.code).toBe('SLUICE_STORE_FORBIDDEN');
    const { startedMs } = await drive(queue, [{ error: forbidden }, {}]);
    expect(startedMs[1]! - startedMs[0]!).toBeGreaterThanOrEqual(250);
  });

  it('backs off on an error from outside the catalogue (a planner bug)', async () => {
    const queue = new WorkQueue({ baseDelayMs: 300 });
    const bug = withContext('plan', new TypeError('x is undefined'), 'SLUICE_PLAN_FAILED');
    expect(bug).toBeInstanceOf(SluiceError);
    expect(bug.code).toBe('SLUICE_PLAN_FAILED');
    const { startedMs } = await drive(queue, [{ error: bug }, {}]);
    expect(startedMs[1]! - startedMs[0]!).toBeGreaterThanOrEqual(250);
  });

  it('retries a failing traffic router within the bounded back-off, however many failures came before', async () => {
    // A 100 s base: the plain back-off would never come back within the test; the router's is capped.
    const queue = new WorkQueue({ baseDelayMs: 100_000 });
    const failed = {
      error: new SluiceError('SLUICE_TRAFFIC_ROUTER', 'Nginx router setWeight: ingress not found'),
    };
    const { startedMs } = await drive(queue, [failed, failed, failed, {}], 150);
    expect(startedMs).toHaveLength(4);
    for (let i = 1; i < 4; i++) {
      expect(startedMs[i]! - startedMs[i - 1]!).toBeGreaterThanOrEqual(100);
      expect(startedMs[i]! - startedMs[i - 1]!).toBeLessThan(5_000);
    }
  });

  it('forgets the failures after a success, so the next conflict is retried at once again', async () => {
    const queue = new WorkQueue({ baseDelayMs: 10_000 });
    const conflict = { error: new StoreError('Conflict', 409, 'modified') };
    await drive(queue, [conflict, conflict, {}]);
    expect(queue.numRequeues('ns/ro')).toBe(0);
  });
});

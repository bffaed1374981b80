// A reconcile that finds nothing new writes nothing: Argo's SetRolloutCondition keeps a condition whose
// status, reason and message are unchanged (lastUpdateTime included). Rewriting lastUpdateTime on every
// reconcile turned each status patch into the trigger of the next one, and at 200+ Rollouts (reconciles
// more than a second apart under the client's qps) the controller never went quiet.

import { describe, expect, it } from 'vitest';
import { guideCanaryHarness } from '../../fixtures/rollout-harness.ts';

describe('status churn', () => {
  it('a Healthy rollout reconciled seconds later keeps its status (no write, same resourceVersion)', async () => {
    const h = await guideCanaryHarness();
    expect(h.ro().status?.phase).toBe('Healthy');
    const before = h.ro();
    h.nowMs += 5_000;
    const res = await h.reconcile();
    expect(res.error).toBeUndefined();
    expect(h.ro().metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(h.ro().status?.conditions).toEqual(before.status?.conditions);
  });

  it('a paused rollout reconciled seconds later keeps its Progressing condition', async () => {
    const h = await guideCanaryHarness();
    await h.setImage('nginx:next');
    await h.converge();
    const run = h
      .runs()
      .find((r) => r.metadata.name === h.ro().status?.canary?.currentStepAnalysisRunStatus?.name);
    await h.setRunPhase(run!.metadata.name, 'Successful');
    await h.converge();
    expect(h.ro().status?.phase).toBe('Paused');
    const before = h.ro().status?.conditions?.find((c) => c.type === 'Progressing');
    h.nowMs += 5_000;
    await h.reconcile();
    expect(h.ro().status?.conditions?.find((c) => c.type === 'Progressing')).toEqual(before);
  });

  it('sends no status patch when the API server dropped the empty message of a Healthy rollout', async () => {
    const h = await guideCanaryHarness();
    expect(h.ro().status?.phase).toBe('Healthy');
    // The API server stores no "" in a custom resource (Argo's omitempty strings); the memory store does.
    await h.patchStatus({ message: null });
    expect(h.ro().status?.message).toBeUndefined();
    const before = h.store.writes.get('patchStatus Rollout') ?? 0;
    h.nowMs += 5_000;
    const res = await h.reconcile();
    expect(res.error).toBeUndefined();
    expect(h.store.writes.get('patchStatus Rollout') ?? 0).toBe(before);
  });
});

// Events of a canary Rollout's first deploy (Argo emits RolloutCompleted as soon as the Completed
// condition turns True, which for the initial deploy is the first reconcile).

import { describe, expect, it } from 'vitest';
import { Harness, load } from '../fixtures/rollout-harness.ts';

describe('canary initial deploy events', () => {
  it('announces RolloutUpdated, NewReplicaSetCreated, then RolloutCompleted (Initial deploy), once', async () => {
    const h = new Harness('payment-service-rollout');
    h.seed(load('canary-services-ingress.yaml'));
    h.seed(load('canary-nginx-rollout.yaml'));
    await h.converge();
    const reasons = h.eventReasons();
    expect(reasons.slice(0, 2)).toEqual(['RolloutUpdated', 'NewReplicaSetCreated']);
    expect(reasons.filter((r) => r === 'RolloutCompleted')).toHaveLength(1);
    expect(reasons.indexOf('RolloutCompleted')).toBeGreaterThan(reasons.indexOf('NewReplicaSetCreated'));
  });
});

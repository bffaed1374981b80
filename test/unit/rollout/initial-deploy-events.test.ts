// Events of a canary Rollout's first deploy (Argo emits RolloutCompleted as soon as the Completed
// condition turns True, which for the initial deploy is the first reconcile).

import { describe, expect, it } from 'vitest';
import { Harness, load } from '../../fixtures/rollout-harness.ts';

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

  it('announces RolloutResumed when the user promotes past a pause step (the CLI clears pauseConditions)', async () => {
    const h = new Harness('payment-service-rollout');
    h.seed(load('canary-services-ingress.yaml'));
    h.seed(load('canary-nginx-rollout.yaml'));
    await h.converge();
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.2.0');
    await h.converge();
    expect(h.ro().status?.pauseConditions?.[0]?.reason).toBe('CanaryPauseStep');
    expect(h.eventReasons()).not.toContain('RolloutResumed');
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.eventReasons().filter((r) => r === 'RolloutResumed')).toHaveLength(1);
  });
});

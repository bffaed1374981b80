// Plan tests: observed state at a given time in, the exact actions and status out (no store, no sleeps),
// in the style of Argo's controller_test fixture. They also show that a restarted controller needs
// nothing but what the API holds: the plan is computed from status alone.

import { describe, expect, it } from 'vitest';
import { computePodTemplateHash } from '../../../src/api/pod-template/hash.ts';
import type { Rollout, RolloutStatus } from '../../../src/api/rollout.ts';
import type { ReplicaSet, Service } from '../../../src/api/workloads.ts';
import type { Observed } from '../../../src/rollout/context.ts';
import { planRollout } from '../../../src/rollout/plan.ts';
import { webReplicaSet } from '../../fixtures/rollout-objects.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const tpl = (image: string) => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image }] },
});
const H1 = computePodTemplateHash(tpl('web:1'));
const H2 = computePodTemplateHash(tpl('web:2'));

function rs(
  hash: string,
  image: string,
  replicas: number,
  revision: number,
  available = replicas,
): ReplicaSet {
  const template = {
    ...tpl(image),
    metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': hash } },
  };
  return webReplicaSet(hash, { replicas, revision, available, template });
}

function service(name: string, hash?: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name,
      namespace: 'ns',
      annotations: { 'argo-rollouts.argoproj.io/managed-by-rollouts': 'web' },
    },
    spec: { selector: { app: 'web', ...(hash ? { 'rollouts-pod-template-hash': hash } : {}) } },
  };
}

function rollout(image: string, status: RolloutStatus): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'u1',
      generation: 2,
      annotations: { 'rollout.argoproj.io/revision': '1' },
    },
    spec: {
      replicas: 10,
      selector: { matchLabels: { app: 'web' } },
      template: tpl(image),
      strategy: {
        canary: {
          stableService: 'stable',
          canaryService: 'canary',
          trafficRouting: { nginx: { stableIngress: 'ing' } },
          steps: [{ setWeight: 10 }, { pause: { duration: '10m' } }, { setWeight: 50 }, { pause: {} }],
        },
      },
    },
    status,
  };
}

function observed(ro: Rollout, rss: ReplicaSet[], nowMs: number): Observed {
  return {
    rollout: ro,
    replicaSets: rss,
    services: { stable: service('stable', H1), canary: service('canary', H1) },
    analysisRuns: [],
    lookupTemplate: () => undefined,
    nowMs,
  };
}

const stableStatus: RolloutStatus = {
  stableRS: H1,
  currentPodHash: H1,
  currentStepIndex: 4,
  observedGeneration: '1',
  canary: {
    weights: { canary: { weight: 0, podTemplateHash: H1 }, stable: { weight: 100, podTemplateHash: H1 } },
  },
};

describe('plan: canary update with nginx traffic routing', () => {
  it('a new image creates the revision-2 ReplicaSet at ceil(10% of 10) = 1 and keeps traffic at 0 until it is available', () => {
    const plan = planRollout(observed(rollout('web:2', stableStatus), [rs(H1, 'web:1', 10, 1)], T0));
    expect(plan.actions.map((a) => a.kind)).toEqual([
      'createReplicaSet',
      'patchRolloutAnnotations',
      'traffic',
    ]);
    const create = plan.actions[0] as { rs: ReplicaSet };
    expect(create.rs.metadata.name).toBe(`web-${H2}`);
    expect(create.rs.spec.replicas).toBe(1);
    expect(create.rs.metadata.annotations).toEqual({ 'rollout.argoproj.io/revision': '2' });
    expect(plan.actions[2]).toEqual({
      kind: 'traffic',
      canaryHash: H2,
      stableHash: H1,
      canaryService: 'canary',
      stableService: 'stable',
      weight: 0,
      additional: [],
      removeManagedRoutes: true,
      resetWeightFirst: false,
    });
    expect(plan.status).toMatchObject({
      currentPodHash: H2,
      currentStepIndex: 0,
      stableRS: H1,
      observedGeneration: '2',
      phase: 'Progressing',
      message: 'more replicas need to be updated',
    });
    expect(plan.events.map((e) => e.reason)).toEqual(['RolloutUpdated', 'NewReplicaSetCreated']);
  });

  it('once the canary pod is available: weight 10, canary service switched, step 0 completes', () => {
    const status: RolloutStatus = { ...stableStatus, currentPodHash: H2, currentStepIndex: 0 };
    const rss = [rs(H1, 'web:1', 10, 1), rs(H2, 'web:2', 1, 2)];
    const ro = rollout('web:2', status);
    ro.metadata.annotations = { 'rollout.argoproj.io/revision': '2' };
    const plan = planRollout(observed(ro, rss, T0));
    expect(plan.actions.map((a) => a.kind)).toEqual(['switchService', 'traffic']);
    expect(plan.actions[0]).toMatchObject({ service: 'canary', hash: H2 });
    expect(plan.actions[1]).toMatchObject({ weight: 10, canaryHash: H2, stableHash: H1 });
    // as in Argo, traffic is set before the step check in the same pass, so step 0 completes now
    expect(plan.status.currentStepIndex).toBe(1);
    expect(plan.status.canary?.weights?.canary.weight).toBe(10);
    expect(plan.events.map((e) => e.message)).toContain('Rollout step 1/4 completed (setWeight: 10)');
    expect(plan.requeueAfterMs).toBe(0);
    // the next pass starts the timed pause
    const next = planRollout(observed({ ...ro, status: plan.status }, rss, T0 + 1000));
    expect(next.status.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(next.requeueAfterMs).toBe(600_000);
  });

  it('a controller restarted during a timed pause resumes from status alone: waits, then moves on', () => {
    const start = '2026-03-01T12:00:00Z';
    const status: RolloutStatus = {
      ...stableStatus,
      currentPodHash: H2,
      currentStepIndex: 1,
      controllerPause: true,
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: start }],
      canary: {
        weights: { canary: { weight: 10, podTemplateHash: H2 }, stable: { weight: 90, podTemplateHash: H1 } },
      },
    };
    const ro = rollout('web:2', status);
    ro.metadata.annotations = { 'rollout.argoproj.io/revision': '2' };
    const rss = [rs(H1, 'web:1', 10, 1), rs(H2, 'web:2', 1, 2)];
    const waiting = planRollout(observed(ro, rss, T0 + 5 * 60_000));
    expect(waiting.actions.map((a) => a.kind)).toEqual(['switchService', 'traffic']);
    expect(waiting.status.currentStepIndex).toBe(1);
    expect(waiting.status.phase).toBe('Paused');
    expect(waiting.requeueAfterMs).toBe(5 * 60_000);
    const done = planRollout(observed(ro, rss, T0 + 10 * 60_000));
    expect(done.status.currentStepIndex).toBe(2);
    expect(done.status.pauseConditions).toBeUndefined();
    expect(done.status.controllerPause).toBeUndefined();
    expect(done.events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['RolloutStepCompleted', 'RolloutResumed']),
    );
  });

  it('an indefinite pause completes only on the handshake: controllerPause && no pause conditions', () => {
    const status: RolloutStatus = {
      ...stableStatus,
      currentPodHash: H2,
      currentStepIndex: 3,
      canary: {
        weights: { canary: { weight: 50, podTemplateHash: H2 }, stable: { weight: 50, podTemplateHash: H1 } },
      },
    };
    const ro = rollout('web:2', status);
    ro.metadata.annotations = { 'rollout.argoproj.io/revision': '2' };
    const rss = [rs(H1, 'web:1', 10, 1), rs(H2, 'web:2', 5, 2)];
    const paused = planRollout(observed(ro, rss, T0));
    expect(paused.status).toMatchObject({
      controllerPause: true,
      phase: 'Paused',
      message: 'CanaryPauseStep',
    });
    expect(paused.status.pauseConditions).toEqual([
      { reason: 'CanaryPauseStep', startTime: '2026-03-01T12:00:00Z' },
    ]);
    expect(paused.requeueAfterMs).toBeUndefined();
    // still paused an hour later
    const later = planRollout(observed({ ...ro, status: paused.status }, rss, T0 + 3_600_000));
    expect(later.status.currentStepIndex).toBe(3);
    // the user (CLI promote) clears pauseConditions
    const resumed = planRollout(
      observed({ ...ro, status: { ...paused.status, pauseConditions: undefined } }, rss, T0 + 3_600_000),
    );
    expect(resumed.status.currentStepIndex).toBe(4);
    expect(resumed.status.controllerPause).toBeUndefined();
  });
});

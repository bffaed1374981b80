// Ports of Argo's FunctionalSuite on the real test cluster (fixture.ts): abort/retry/promote with the
// ordered event list, promote --full, restart, invalid spec fixed, good/bad revisions, workloadRef with
// scale-down on success, pauses longer than the progress deadline, spec and replica changes together,
// and the controller's metrics. One namespace and one in-process controller per scenario.

import { afterEach, describe, expect, it } from 'vitest';
import { waitOut } from '../cluster/wait.ts';
import { canaryRollout, E2e, scrapeMetrics } from './fixture.ts';

/** How long a rollout is watched for a change that must not come (a revision that can never be ready). */
const HOLD_WINDOW_MS = 2_000;

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

/** Reasons of `all` from the first occurrence of `from` on (the events of one phase of a test). */
function after(all: string[], count: number): string[] {
  return all.slice(count);
}

describe('FunctionalSuite', () => {
  it('TestRolloutAbortRetryPromote: abort, retry and promote emit the expected events in order', async () => {
    const name = 'abort-retry-promote';
    e = await E2e.create(name);
    await e.healthyRollout(canaryRollout(name, { steps: [{ setWeight: 50 }, { pause: {} }] }), name);
    await e.waitForEvent(name, 'RolloutCompleted', 1);
    const initial = e.eventReasons(name);
    expect(initial).toEqual(['RolloutUpdated', 'NewReplicaSetCreated', 'RolloutCompleted']);

    await e.setImage(name, 'example.com/app:v2');
    await e.waitForPhase(name, 'Paused');
    await e.waitForPodCounts(name, { '1': 1, '2': 1 });
    await e.sluiceOk('abort', name);
    await e.waitForPhase(name, 'Degraded');
    await e.waitForPodCounts(name, { '1': 1, '2': 0 });
    await e.sluiceOk('retry', 'rollout', name);
    await e.waitForRollout(
      name,
      'retried and paused again',
      (r) => !r.status?.abort && r.status?.phase === 'Paused',
    );
    await e.waitForPodCounts(name, { '1': 1, '2': 1 });
    await e.sluiceOk('promote', name);
    const done = await e.waitForPhase(name, 'Healthy');
    expect(done.status?.stableRS).toBe(done.status?.currentPodHash);
    await e.waitForPodCounts(name, { '1': 0, '2': 1 });
    await e.waitForEvent(name, 'RolloutCompleted', 2);
    expect(after(e.eventReasons(name), initial.length)).toEqual([
      'RolloutUpdated', // revision 2
      'NewReplicaSetCreated', // created at its step size (1 canary + 1 stable), so no separate scale-up
      'RolloutStepCompleted', // 1/2 setWeight: 50
      'RolloutPaused', // CanaryPauseStep
      'RolloutAborted',
      'ScalingReplicaSet', // canary 1 -> 0
      'RolloutRetry',
      'ScalingReplicaSet', // canary 0 -> 1
      'RolloutStepCompleted', // 1/2 setWeight: 50 again
      'RolloutPaused',
      'RolloutStepCompleted', // 2/2 pause (the same reconcile as the resume)
      'RolloutResumed', // promote
      'ScalingReplicaSet', // stable 1 -> 0
      'RolloutCompleted',
    ]);
  });

  it('TestCanaryPromoteFull: promote --full skips the remaining steps and pauses', async () => {
    e = await E2e.create('promote-full');
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 4,
        steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: {} }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 4, '2': 1 });
    await e.sluiceOk('promote', 'ro', '--full');
    const ro = await e.waitForPhase('ro', 'Healthy');
    expect(ro.status?.stableRS).toBe(ro.status?.currentPodHash);
    expect(ro.status?.currentStepIndex).toBe(4);
    expect(ro.status?.promoteFull).toBeUndefined();
    await e.waitForPodCounts('ro', { '1': 0, '2': 4 });
  });

  it('TestRolloutRestart: restart replaces every pod and records restartedAt', async () => {
    e = await E2e.create('restart');
    await e.healthyRollout(canaryRollout('ro', { replicas: 2 }), 'ro');
    const before = await e.pods();
    expect(before).toHaveLength(2);
    await e.waitPastCreationSecond(before);
    await e.sluiceOk('restart', 'ro');
    const restarted = await e.waitForRollout(
      'ro',
      'restartedAt recorded',
      (r) => r.spec.restartAt !== undefined && r.status?.restartedAt === r.spec.restartAt,
    );
    await e.waitForPhase('ro', 'Healthy');
    const restartAtMs = Date.parse(restarted.spec.restartAt ?? '');
    const after = await e.waitFor('two fresh ready pods', async () => {
      const pods = (await e!.pods()).filter((p) => !p.deleting);
      return pods.length === 2 && pods.every((p) => p.ready) ? pods : undefined;
    });
    const oldNames = new Set(before.map((p) => p.name));
    expect(after.every((p) => !oldNames.has(p.name))).toBe(true);
    // creationTimestamp has second resolution; restartAt is rounded to the second too.
    expect(after.every((p) => p.createdMs >= restartAtMs - 1_000)).toBe(true);
    expect((await e.replicaSets('ro')).length).toBe(1);
  });

  it('TestFixInvalidSpec: an invalid spec degrades the rollout until it is fixed', async () => {
    e = await E2e.create('invalid-spec');
    const bad = canaryRollout('ro', { steps: [{ setWeight: 150 }] });
    await e.apply(bad);
    const degraded = await e.waitForCondition('ro', 'InvalidSpec', { status: 'True' });
    expect(degraded.status?.phase).toBe('Degraded');
    expect(degraded.status?.message).toMatch(/InvalidSpec/);
    expect(await e.replicaSets('ro')).toHaveLength(0);
    await e.patchRollout('ro', {
      spec: { strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } },
    });
    const healthy = await e.waitForPhase('ro', 'Healthy');
    expect(healthy.status?.conditions?.some((c) => c.type === 'InvalidSpec')).toBe(false);
    await e.waitForPodCounts('ro', { '1': 1 });
  });

  it('TestRolloutGoodToBadUpdate: a crash-looping revision never becomes stable and holds at its step', async () => {
    e = await E2e.create('good-to-bad');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 4, steps: [{ setWeight: 50 }, { pause: {} }] }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:crash');
    // The stable may only shrink to replicas - maxUnavailable (3 of 4) while the canary is unavailable.
    await e.waitForPodCounts('ro', { '1': 3, '2': 2 });
    await waitOut(HOLD_WINDOW_MS, 'the crash-looping canary must not complete step 0 or become stable');
    const ro = await e.rollout('ro');
    expect(ro.status?.phase).toBe('Progressing');
    expect(ro.status?.currentStepIndex).toBe(0);
    expect((await e.replicaSetOfRevision('ro', 2))?.availableReplicas).toBe(0);
    expect((await e.replicaSetOfRevision('ro', 1))?.availableReplicas).toBe(3);
    expect(ro.status?.stableRS).toBe((await e.replicaSetOfRevision('ro', 1))?.hash);
  });

  it('TestRolloutBadToGoodUpdate: a good revision replaces a bad one in progress', async () => {
    e = await E2e.create('bad-to-good');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 4, steps: [{ setWeight: 50 }, { pause: {} }] }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:crash');
    // The stable may only shrink to replicas - maxUnavailable (3 of 4) while the canary is unavailable.
    await e.waitForPodCounts('ro', { '1': 3, '2': 2 });
    await e.setImage('ro', 'example.com/app:v3');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 2, '2': 0, '3': 2 });
    await e.sluiceOk('promote', 'ro');
    await e.waitForPhase('ro', 'Healthy');
    await e.waitForPodCounts('ro', { '1': 0, '2': 0, '3': 4 });
    expect((await e.replicaSets('ro')).map((rs) => rs.replicas)).toEqual([0, 0, 4]);
  });

  it('TestRolloutBadToBadUpdate: a second bad revision replaces the first, stable keeps serving', async () => {
    e = await E2e.create('bad-to-bad');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 4, steps: [{ setWeight: 50 }, { pause: {} }] }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:crash');
    // The stable may only shrink to replicas - maxUnavailable (3 of 4) while the canary is unavailable.
    await e.waitForPodCounts('ro', { '1': 3, '2': 2 });
    await e.setImage('ro', 'example.com/app:bad');
    await e.waitForPodCounts('ro', { '1': 3, '2': 0, '3': 2 });
    // The first bad revision is drained; the second never becomes available or stable.
    await waitOut(HOLD_WINDOW_MS, 'the second bad revision must not become available or stable');
    const ro = await e.rollout('ro');
    expect(ro.status?.phase).not.toBe('Healthy');
    expect(ro.status?.stableRS).toBe((await e.replicaSetOfRevision('ro', 1))?.hash);
    expect((await e.replicaSetOfRevision('ro', 1))?.availableReplicas).toBe(3);
    expect((await e.replicaSetOfRevision('ro', 3))?.availableReplicas).toBe(0);
    expect((await e.replicaSetOfRevision('ro', 2))?.replicas).toBe(0);
  });

  it('TestWorkloadRef: a Rollout takes its template from a Deployment and follows its changes', async () => {
    e = await E2e.create('workload-ref');
    await e.apply(deployment('app', 'example.com/app:v1', 0));
    await e.apply(workloadRefRollout('ro', 'app', 'never'));
    const healthy = await e.waitForPhase('ro', 'Healthy');
    expect(healthy.status?.workloadObservedGeneration).toBe('1');
    await e.waitForPodCounts('ro', { '1': 2 });
    const [rs] = await e.replicaSets('ro');
    expect(rs?.image).toBe('example.com/app:v1');
    await e.sluiceOk('set', 'image', 'ro', 'app=example.com/app:v2');
    const dep = await e.client.get(`/apis/apps/v1/namespaces/${e.namespace}/deployments/app`);
    expect(JSON.stringify(dep.spec)).toContain('example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.sluiceOk('promote', 'ro');
    const done = await e.waitForPhase('ro', 'Healthy');
    expect(done.status?.workloadObservedGeneration).toBe('2');
    expect((await e.replicaSetOfRevision('ro', 2))?.image).toBe('example.com/app:v2');
    await e.waitForPodCounts('ro', { '1': 0, '2': 2 });
  });

  it('TestScaleDownOnSuccess: workloadRef scaleDown onsuccess scales the Deployment to 0 once Healthy', async () => {
    e = await E2e.create('scale-down-success');
    await e.apply(deployment('app', 'example.com/app:v1', 2));
    await e.apply(workloadRefRollout('ro', 'app', 'onsuccess'));
    await e.waitForPhase('ro', 'Healthy');
    const dep = await e.waitFor('the Deployment scaled to 0', async () => {
      const d = await e!.client.get(`/apis/apps/v1/namespaces/${e!.namespace}/deployments/app`);
      return (d.spec as { replicas?: number }).replicas === 0 ? d : undefined;
    });
    expect((dep.spec as { replicas?: number }).replicas).toBe(0);
    await e.waitForPodCounts('ro', { '1': 2 });
  });

  it('TestRolloutPauseDurationGreaterThanProgressDeadlineSeconds: a timed pause is not a stalled rollout', async () => {
    e = await E2e.create('pause-deadline');
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        spec: { progressDeadlineSeconds: 2 },
        steps: [{ setWeight: 50 }, { pause: { duration: '6s' } }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    let degraded = false;
    const done = await e.waitFor('Healthy after the 6 s pause', async () => {
      const ro = await e!.rollout('ro');
      if (ro.status?.phase === 'Degraded') degraded = true;
      return ro.status?.phase === 'Healthy' && ro.status.stableRS === ro.status.currentPodHash
        ? ro
        : undefined;
    });
    expect(degraded).toBe(false);
    expect(
      done.status?.conditions?.some(
        (c) => c.reason === 'ProgressDeadlineExceeded' || c.reason === 'RolloutAborted',
      ),
    ).toBe(false);
  });

  it('TestSpecAndReplicaChangeSameTime: a template and replica change in one patch both take effect', async () => {
    e = await E2e.create('spec-and-replicas');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] }),
      'ro',
    );
    await e.patchRollout('ro', {
      spec: {
        replicas: 4,
        template: { spec: { containers: [{ name: 'app', image: 'example.com/app:v2' }] } },
      },
    });
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 2, '2': 2 });
    await e.sluiceOk('promote', 'ro');
    const ro = await e.waitForPhase('ro', 'Healthy');
    expect(ro.status?.replicas).toBe(4);
    await e.waitForPodCounts('ro', { '1': 0, '2': 4 });
  });

  it('TestControllerMetrics: the controller exposes rollout, reconcile and client metrics', async () => {
    e = await E2e.create('controller-metrics');
    await e.healthyRollout(canaryRollout('ro', { steps: [{ setWeight: 50 }, { pause: {} }] }), 'ro');
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    const ns = e.namespace;
    const text = await e.waitFor('rollout_info shows the paused rollout', async () => {
      const t = await scrapeMetrics(e!.controller);
      return t.includes(`rollout_info{namespace="${ns}",name="ro",strategy="canary"`) ? t : undefined;
    });
    expect(text).toMatch(
      new RegExp(
        `rollout_info\\{namespace="${ns}",name="ro",strategy="canary",[^}]*phase="Paused"[^}]*\\} 1`,
      ),
    );
    expect(text).toMatch(new RegExp(`rollout_reconcile_count\\{namespace="${ns}",name="ro"\\} \\d+`));
    expect(text).toMatch(
      new RegExp(
        `rollout_events_total\\{namespace="${ns}",name="ro",type="Normal",reason="RolloutUpdated"\\} 2`,
      ),
    );
    expect(text).toMatch(
      /controller_clientset_k8s_request_total\{kind="replicasets",[^}]*verb="Create",status_code="201"\} \d+/,
    );
    expect(text).toMatch(/workqueue_depth\{name="rollouts"\} \d+/);
    const healthz = await fetch(`http://127.0.0.1:${e.controller.healthzPort}/healthz`);
    expect(healthz.status).toBe(200);
  });
});

function deployment(name: string, image: string, replicas: number): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name }, annotations: { 'sluice.test/ready-delay-ms': '300' } },
        spec: { containers: [{ name: 'app', image }] },
      },
    },
  };
}

function workloadRefRollout(
  name: string,
  deploymentName: string,
  scaleDown: string,
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: deploymentName } },
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: deploymentName, scaleDown },
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
    },
  };
}

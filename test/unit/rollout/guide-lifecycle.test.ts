// Reconcile tests over the in-memory ObjectStore: the guides' canary (nginx-routed, analysis step) and
// blue-green (order-processor, manual promotion) manifests through their lifecycle. A tiny "ReplicaSet
// controller" marks every RS's pods available so each step can complete; the clock is injected.

import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/store/object-store.ts';
import { guideCanaryHarness, HASH, Harness, load } from '../../fixtures/rollout-harness.ts';

describe('canary lifecycle (guide: payment-service, nginx-routed, analysis step)', () => {
  it('first deploy skips the steps, creates one ReplicaSet with all replicas and becomes Healthy', async () => {
    const h = await guideCanaryHarness();
    const ro = h.ro();
    const rss = h.rss();
    expect(rss).toHaveLength(1);
    const rs = rss[0]!;
    expect(rs.metadata.name).toBe(`payment-service-rollout-${ro.status?.currentPodHash}`);
    expect(rs.spec.replicas).toBe(10);
    expect(rs.metadata.annotations?.['rollout.argoproj.io/revision']).toBe('1');
    expect(rs.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Rollout',
      controller: true,
      uid: ro.metadata.uid,
    });
    expect(rs.spec.selector.matchLabels).toEqual({
      app: 'payment-service',
      [HASH]: ro.status?.currentPodHash,
    });
    // No message: Argo's omitempty "" is never written (the API server would drop it anyway).
    expect(ro.status?.message).toBeUndefined();
    expect(ro.status).toMatchObject({
      phase: 'Healthy',
      stableRS: ro.status?.currentPodHash,
      currentStepIndex: 6,
      observedGeneration: '1',
      replicas: 10,
      updatedReplicas: 10,
      availableReplicas: 10,
      HPAReplicas: 10,
      selector: 'app=payment-service',
    });
    expect(h.svcHash('payment-service-stable')).toBe(ro.status?.currentPodHash);
    expect(h.svcHash('payment-service-canary')).toBe(ro.status?.currentPodHash);
    const conds = Object.fromEntries(
      (ro.status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]),
    );
    expect(conds).toMatchObject({
      Progressing: ['True', 'NewReplicaSetAvailable'],
      Available: ['True', 'AvailableReason'],
      Healthy: ['True', 'RolloutHealthy'],
      Completed: ['True', 'RolloutCompleted'],
      Paused: ['False', 'RolloutPaused'],
    });
  });

  it('update -> setWeight 10 -> analysis -> pause 10m -> setWeight 50 -> promote -> fully promoted, old RS kept 30 s', async () => {
    const h = await guideCanaryHarness();
    const stable = h.ro().status!.currentPodHash!;
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.3.0');
    await h.converge();
    let ro = h.ro();
    const canary = ro.status!.currentPodHash!;
    expect(canary).not.toBe(stable);
    // setWeight 10 completed, now on the analysis step with its run created
    expect(ro.status?.currentStepIndex).toBe(1);
    expect(h.rsByHash(canary)?.spec.replicas).toBe(1);
    expect(h.rsByHash(stable)?.spec.replicas).toBe(10);
    expect(ro.status?.canary?.weights).toMatchObject({
      canary: { weight: 10, podTemplateHash: canary },
      stable: { weight: 90 },
    });
    const runName = `payment-service-rollout-${canary}-2-1`;
    expect(ro.status?.canary?.currentStepAnalysisRunStatus?.name).toBe(runName);
    const run = h.runs().find((r) => r.metadata.name === runName)!;
    expect(run.metadata.labels).toMatchObject({
      'rollout-type': 'Step',
      'step-index': '1',
      [HASH]: canary,
      app: 'payment-service',
    });
    expect(run.metadata.annotations?.['rollout.argoproj.io/revision']).toBe('2');
    expect(ro.status?.phase).toBe('Progressing');
    expect(ro.status?.message).toBe('more replicas need to be updated');
    expect(h.svcHash('payment-service-canary')).toBe(canary);
    expect(h.svcHash('payment-service-stable')).toBe(stable);

    await h.setRunPhase(runName, 'Successful');
    await h.converge();
    ro = h.ro();
    expect(ro.status?.currentStepIndex).toBe(2);
    expect(ro.status?.phase).toBe('Paused');
    expect(ro.status?.message).toBe('CanaryPauseStep');
    expect(ro.status?.controllerPause).toBe(true);
    expect(ro.status?.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(h.plans.at(-2)?.requeueAfterMs ?? h.plans.at(-1)?.requeueAfterMs).toBeLessThanOrEqual(600_000);

    h.nowMs += 600_000;
    await h.converge();
    ro = h.ro();
    expect(ro.status?.currentStepIndex).toBe(4); // setWeight 50 done, pause 15m
    expect(h.rsByHash(canary)?.spec.replicas).toBe(5);
    expect(ro.status?.canary?.weights?.canary.weight).toBe(50);

    // promote: the CLI clears pauseConditions; the controller sees controllerPause && no conditions
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    ro = h.ro();
    expect(ro.status?.stableRS).toBe(canary);
    expect(ro.status?.currentStepIndex).toBe(6);
    expect(ro.status?.controllerPause).toBeUndefined();
    expect(ro.status?.phase).toBe('Healthy');
    expect(h.svcHash('payment-service-stable')).toBe(canary);
    const old = h.rsByHash(stable)!;
    expect(old.spec.replicas).toBe(10);
    expect(old.metadata.annotations?.['scale-down-deadline']).toBeDefined();
    h.nowMs += 31_000;
    await h.converge();
    expect(h.rsByHash(stable)?.spec.replicas).toBe(0);
    const reasons = h.eventReasons();
    for (const r of [
      'RolloutUpdated',
      'RolloutStepCompleted',
      'RolloutPaused',
      'RolloutResumed',
      'RolloutCompleted',
      'ScalingReplicaSet',
      'SwitchService',
      'AnalysisRunCreated',
    ]) {
      expect(reasons).toContain(r);
    }
  });

  it('a failed analysis aborts back to stable (Degraded), retry starts over with a new AnalysisRun', async () => {
    const h = await guideCanaryHarness();
    const stable = h.ro().status!.currentPodHash!;
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.3.0');
    await h.converge();
    const canary = h.ro().status!.currentPodHash!;
    const runName = `payment-service-rollout-${canary}-2-1`;
    await h.setRunPhase(
      runName,
      'Failed',
      'Metric "error-rate" assessed Failed due to failed (3) > failureLimit (2)',
    );
    await h.converge();
    let ro = h.ro();
    expect(ro.status?.abort).toBe(true);
    expect(ro.status?.abortedAt).toBeDefined();
    expect(ro.status?.phase).toBe('Degraded');
    expect(ro.status?.message).toBe(
      'RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: Metric "error-rate" assessed Failed due to failed (3) > failureLimit (2)',
    );
    expect(ro.status?.currentStepIndex).toBe(0);
    expect(ro.status?.canary?.weights?.canary).toMatchObject({ weight: 0, podTemplateHash: stable });
    expect(h.svcHash('payment-service-canary')).toBe(stable);
    // traffic-routed: the canary stays up for abortScaleDownDelaySeconds (30 s) after stable is available
    expect(h.rsByHash(canary)?.spec.replicas).toBe(1);
    h.nowMs += 31_000;
    await h.converge();
    expect(h.rsByHash(canary)?.spec.replicas).toBe(0);
    expect(h.eventReasons()).toContain('RolloutAborted');
    expect(h.eventReasons()).toContain('AnalysisRunFailed');

    // retry: status.abort=false
    await h.patchStatus({ abort: false });
    await h.converge();
    ro = h.ro();
    expect(ro.status?.abort).toBeUndefined();
    expect(ro.status?.abortedAt).toBeUndefined();
    expect(ro.status?.currentStepIndex).toBe(1);
    expect(ro.status?.canary?.currentStepAnalysisRunStatus?.name).toBe(`${runName}.1`);
    expect(
      h
        .runs()
        .map((r) => r.metadata.name)
        .sort(),
    ).toEqual([runName, `${runName}.1`]);
  });

  it('undo to the stable template is a fast rollback: steps skipped, no new ReplicaSet or AnalysisRun', async () => {
    const h = await guideCanaryHarness();
    const stable = h.ro().status!.currentPodHash!;
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.3.0');
    await h.converge();
    const runsBefore = h.runs().length;
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.2.0');
    await h.converge();
    const ro = h.ro();
    expect(ro.status?.currentPodHash).toBe(stable);
    expect(ro.status?.currentStepIndex).toBe(6);
    expect(ro.status?.phase).toBe('Healthy');
    expect(h.rss()).toHaveLength(2);
    expect(h.runs()).toHaveLength(runsBefore);
    expect(h.eventReasons()).toContain('SkipSteps');
    // the run of the abandoned revision is terminated
    expect(
      h.runs().every((r) => (r as unknown as { spec: { terminate?: boolean } }).spec.terminate === true),
    ).toBe(true);
  });

  it('a controller that dies after creating the AnalysisRun but before writing status adopts it (no duplicate)', async () => {
    const h = await guideCanaryHarness();
    const stable = h.ro().status?.currentPodHash;
    await h.setImage('internal-registry.enterprise.io/finance/payment-api:v2.3.0');
    // run until the setWeight step completes, then crash on every status write
    for (
      let i = 0;
      i < 10 && (h.ro().status?.currentPodHash === stable || h.ro().status?.currentStepIndex !== 1);
      i++
    ) {
      await h.reconcile();
      await h.settle();
    }
    h.store.injectFaults((a) =>
      a.verb === 'patchStatus' && a.kind === 'Rollout'
        ? new StoreError('Unavailable', 503, 'killed')
        : undefined,
    );
    const res = await h.reconcile();
    expect(res.error?.message).toContain('patchStatus');
    expect(h.runs()).toHaveLength(1);
    h.store.injectFaults(undefined);
    await h.converge();
    expect(h.runs()).toHaveLength(1);
    expect(h.ro().status?.canary?.currentStepAnalysisRunStatus?.name).toBe(h.runs()[0]?.metadata.name);
  });
});

describe('blue-green lifecycle (guide: order-processor, autoPromotionEnabled false)', () => {
  async function bgHarness(): Promise<Harness> {
    const h = new Harness('order-processor-rollout');
    h.seed(load('blue-green-services.yaml'));
    h.seed(load('blue-green-rollout.yaml'));
    await h.converge();
    return h;
  }

  it('first deploy points active and preview at the first ReplicaSet and becomes Healthy', async () => {
    const h = await bgHarness();
    const ro = h.ro();
    const hash = ro.status!.currentPodHash!;
    expect(h.svcHash('order-processor-active')).toBe(hash);
    expect(h.svcHash('order-processor-preview')).toBe(hash);
    expect(ro.status).toMatchObject({
      phase: 'Healthy',
      stableRS: hash,
      blueGreen: { activeSelector: hash, previewSelector: hash },
      selector: `app=order-processor,${HASH}=${hash}`,
      availableReplicas: 8,
    });
  });

  it('update -> preview -> BlueGreenPause -> promote -> active switch; old RS scaled down after 300 s', async () => {
    const h = await bgHarness();
    const blue = h.ro().status!.currentPodHash!;
    await h.setImage('internal-registry.enterprise.io/logistics/order-worker:v1.5.0');
    await h.converge();
    let ro = h.ro();
    const green = ro.status!.currentPodHash!;
    expect(h.svcHash('order-processor-preview')).toBe(green);
    expect(h.svcHash('order-processor-active')).toBe(blue);
    expect(h.rsByHash(green)?.spec.replicas).toBe(8);
    expect(ro.status?.phase).toBe('Paused');
    expect(ro.status?.message).toBe('BlueGreenPause');
    expect(ro.status?.controllerPause).toBe(true);

    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    ro = h.ro();
    expect(h.svcHash('order-processor-active')).toBe(green);
    expect(ro.status).toMatchObject({
      phase: 'Healthy',
      stableRS: green,
      blueGreen: { activeSelector: green },
    });
    expect(h.rsByHash(blue)?.spec.replicas).toBe(8);
    h.nowMs += 301_000;
    await h.converge();
    expect(h.rsByHash(blue)?.spec.replicas).toBe(0);
    expect(h.eventReasons()).toContain('SwitchService');
  });

  it('abort before promotion keeps active on stable and scales the preview down after 30 s', async () => {
    const h = await bgHarness();
    const blue = h.ro().status!.currentPodHash!;
    await h.setImage('internal-registry.enterprise.io/logistics/order-worker:v1.5.0');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    await h.patchStatus({ abort: true });
    await h.converge();
    const ro = h.ro();
    expect(ro.status?.phase).toBe('Degraded');
    expect(ro.status?.message).toBe('RolloutAborted: Rollout aborted update to revision 2');
    expect(h.svcHash('order-processor-active')).toBe(blue);
    expect(h.rsByHash(green)?.spec.replicas).toBe(8);
    h.nowMs += 31_000;
    await h.converge();
    expect(h.rsByHash(green)?.spec.replicas).toBe(0);
  });
});

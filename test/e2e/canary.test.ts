// Canary rollouts end to end on the real test cluster (fixture.ts): the guides' canary-with-analysis
// manifests applied with kubectl through a whole lifecycle, and ports of Argo's CanarySuite scenarios.
// Each scenario gets its own namespace and its own in-process controller scoped to it.
//
// The guides route with `trafficRouting.nginx`: the NGINX router writes the canary Ingress
// `<rollout>-<ingress>-canary` (canary-weight = the step's weight), which these tests read back. There is
// no NGINX ingress controller on the test cluster to act on it, so pod counts follow the traffic-routed
// math (canary = ceil(weight x replicas), stable kept at full size) and the stable/canary Services'
// selectors are switched by the controller, as Argo does.

import { afterEach, describe, expect, it } from 'vitest';
import { waitOut } from '../cluster/wait.ts';
import {
  canaryRollout,
  E2e,
  ingress,
  service,
  startWebMetric,
  type WebMetricServer,
  webMetricTemplate,
} from './fixture.ts';

let e: E2e | undefined;
let web: WebMetricServer | undefined;
afterEach(async () => {
  await e?.dispose();
  await web?.stop();
  e = undefined;
  web = undefined;
});

const HASH = 'rollouts-pod-template-hash';

/** A traffic-routed canary (the NGINX router, on the Ingress `<name>-ingress` of routedServices). */
function routedCanary(name: string, canary: Record<string, unknown>, replicas = 4) {
  return canaryRollout(name, {
    replicas,
    canary: {
      stableService: `${name}-stable`,
      canaryService: `${name}-canary`,
      trafficRouting: { nginx: { stableIngress: `${name}-ingress` } },
      ...canary,
    },
  });
}

function routedServices(name: string) {
  return [
    service(`${name}-stable`, name),
    service(`${name}-canary`, name),
    ingress(`${name}-ingress`, `${name}-stable`),
  ];
}

const NGINX_WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight';

/** The canary Ingress's canary-weight annotation, once it equals `weight`. */
async function waitForCanaryIngressWeight(name: string, weight: number): Promise<Record<string, unknown>> {
  return e!.waitForObject('networking.k8s.io/v1', 'ingresses', name, `canary-weight ${weight}`, (obj) => {
    const annotations = (obj.metadata as { annotations?: Record<string, string> }).annotations ?? {};
    return annotations[NGINX_WEIGHT] === String(weight);
  });
}

describe('the guide canary with analysis (test/fixtures/guides) through its whole lifecycle', () => {
  it('updates, analyses, pauses, promotes, aborts on a failed analysis, retries and undoes', async () => {
    const ro = 'payment-service-rollout';
    const CANARY_INGRESS = 'payment-service-rollout-payment-service-ingress-canary';
    e = await E2e.create('guide-canary');
    web = await startWebMetric(1);
    // The guide's http-kpi-analysis queries an in-cluster Prometheus that does not exist here; a template
    // of the same name asks a web endpoint the test controls (2 measurements, 1 s apart).
    await e.apply(webMetricTemplate('http-kpi-analysis', web.url, { count: 2, intervalS: 1 }));
    await e.applyGuide('canary-services-ingress.yaml');
    await e.applyGuide('canary-analysis-rollout.yaml');
    const initial = await e.waitForPhase(ro, 'Healthy');
    const rev1 = initial.status?.stableRS ?? '';
    expect(rev1).not.toBe('');
    await e.waitForPodCounts(ro, { '1': 10 });
    expect(await e.analysisRuns(ro)).toHaveLength(0); // the initial deploy skips steps
    await e.waitForServiceSelector('payment-service-stable', rev1);
    await e.waitForServiceSelector('payment-service-canary', rev1);

    // Update: setWeight 10 (1 canary pod of 10), step analysis passes, then the 10-minute pause.
    await e.sluiceOk(
      'set',
      'image',
      ro,
      'payment-api=internal-registry.enterprise.io/finance/payment-api:v2.3.0',
    );
    const paused = await e.waitForRollout(
      ro,
      'paused at the 10m pause (step 2)',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
    );
    const rev2 = paused.status?.currentPodHash ?? '';
    expect(rev2).not.toBe(rev1);
    expect(paused.status?.pauseConditions?.[0]?.reason).toBe('CanaryPauseStep');
    const runs = await e.analysisRuns(ro);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ phase: 'Successful', hash: rev2 });
    expect(web.requests).toBeGreaterThanOrEqual(2);
    await e.waitForPodCounts(ro, { '1': 10, '2': 1 });
    // The NGINX router: the canary Ingress built from the guide's Ingress, owned by the Rollout.
    const canaryIngress = await waitForCanaryIngressWeight(CANARY_INGRESS, 10);
    expect(canaryIngress.metadata).toMatchObject({
      annotations: {
        'kubernetes.io/ingress.class': 'nginx',
        'nginx.ingress.kubernetes.io/canary': 'true',
        [NGINX_WEIGHT]: '10',
      },
      ownerReferences: [{ kind: 'Rollout', name: ro, controller: true }],
    });
    expect(canaryIngress.spec).toEqual({
      rules: [
        {
          host: 'payment.enterprise.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'payment-service-canary', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    });
    expect(await e.serviceSelector('payment-service-stable')).toMatchObject({ [HASH]: rev1 });
    expect(await e.serviceSelector('payment-service-canary')).toMatchObject({ [HASH]: rev2 });

    // Promote past the 10m pause: setWeight 50 -> 5 canary pods, then the 15m pause.
    await e.sluiceOk('promote', ro);
    await e.waitForRollout(
      ro,
      'paused at step 4',
      (r) => r.status?.currentStepIndex === 4 && r.status.phase === 'Paused',
    );
    await e.waitForPodCounts(ro, { '1': 10, '2': 5 });
    await waitForCanaryIngressWeight(CANARY_INGRESS, 50);

    // Promote past the last pause: setWeight 100, the canary becomes stable, the old revision goes away.
    await e.sluiceOk('promote', ro);
    const promoted = await e.waitForRollout(
      ro,
      'rev 2 stable and Healthy',
      (r) => r.status?.stableRS === rev2 && r.status.phase === 'Healthy',
    );
    expect(promoted.status?.currentStepIndex).toBe(6);
    await e.waitForServiceSelector('payment-service-stable', rev2);
    await e.waitForPodCounts(ro, { '2': 10 }, 60_000);
    // Promoted: Argo leaves the canary Ingress in place with no weight.
    await waitForCanaryIngressWeight(CANARY_INGRESS, 0);

    // A bad revision: the analysis fails -> abort, traffic (Services) back to stable, Degraded.
    web.set(0);
    await e.sluiceOk(
      'set',
      'image',
      ro,
      'payment-api=internal-registry.enterprise.io/finance/payment-api:v2.4.0',
    );
    const aborted = await e.waitForRollout(
      ro,
      'aborted',
      (r) => r.status?.abort === true && r.status.phase === 'Degraded',
    );
    const rev3 = aborted.status?.currentPodHash ?? '';
    expect(rev3).not.toBe(rev2);
    expect(aborted.status?.stableRS).toBe(rev2);
    expect(aborted.status?.message).toMatch(/RolloutAborted/);
    // Argo resets the step index to 0 on abort (here it may take one more reconcile after the abort itself).
    await e.waitForStep(ro, 0);
    await e.waitForServiceSelector('payment-service-canary', rev2);
    await waitForCanaryIngressWeight(CANARY_INGRESS, 0);
    expect(await e.serviceSelector('payment-service-stable')).toMatchObject({ [HASH]: rev2 });
    const failedRuns = (await e.analysisRuns(ro)).filter((r) => r.hash === rev3);
    expect(failedRuns.map((r) => r.phase)).toEqual(['Failed']);

    // Retry once the metric is healthy again: a NEW AnalysisRun for the same revision, then the pause.
    web.set(1);
    await e.sluiceOk('retry', 'rollout', ro);
    await e.waitForRollout(
      ro,
      'retried to the 10m pause',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused' && !r.status.abort,
    );
    const rev3Runs = (await e.analysisRuns(ro)).filter((r) => r.hash === rev3);
    expect(rev3Runs.map((r) => r.phase)).toEqual(['Failed', 'Successful']);
    expect(new Set(rev3Runs.map((r) => r.name)).size).toBe(2);
    await e.waitForServiceSelector('payment-service-canary', rev3);

    // Undo: back to the stable template (revision 2) -> fast rollback, no steps, no new ReplicaSet.
    await e.sluiceOk('undo', ro);
    const rolledBack = await e.waitForRollout(
      ro,
      'rolled back to rev2 and Healthy',
      (r) => r.status?.currentPodHash === rev2 && r.status.phase === 'Healthy',
    );
    expect(rolledBack.status?.stableRS).toBe(rev2);
    await e.waitForServiceSelector('payment-service-canary', rev2);
    const rss = await e.replicaSets(ro);
    expect(rss.map((rs) => rs.hash).sort()).toEqual([rev1, rev2, rev3].sort());
    expect(rss.find((rs) => rs.hash === rev2)?.revision).toBe('4');
    expect((await e.analysisRuns(ro)).filter((r) => r.hash === rev2)).toHaveLength(1);
  }, 150_000);
});

describe('CanarySuite', () => {
  it('TestCanarySetCanaryScale: setCanaryScale sets the canary size apart from the traffic weight', async () => {
    e = await E2e.create('set-canary-scale');
    await e.apply(routedServices('scale'));
    await e.healthyRollout(
      routedCanary('scale', {
        scaleDownDelaySeconds: 1,
        steps: [
          { setCanaryScale: { replicas: 1 } },
          { pause: {} },
          { setWeight: 50 },
          { pause: {} },
          { setCanaryScale: { weight: 75 } },
          { pause: {} },
          { setCanaryScale: { matchTrafficWeight: true } },
          { pause: {} },
        ],
      }),
      'scale',
    );
    await e.setImage('scale', 'example.com/app:v2');
    await e.waitForStep('scale', 1);
    await e.waitForPodCounts('scale', { '1': 4, '2': 1 });
    await e.sluiceOk('promote', 'scale');
    await e.waitForStep('scale', 3);
    // setWeight 50 with an explicit canary scale still in force: traffic moves, pods do not.
    await e.waitForPodCounts('scale', { '1': 4, '2': 1 });
    await e.sluiceOk('promote', 'scale');
    await e.waitForStep('scale', 5);
    await e.waitForPodCounts('scale', { '1': 4, '2': 3 });
    await e.sluiceOk('promote', 'scale');
    await e.waitForStep('scale', 7);
    await e.waitForPodCounts('scale', { '1': 4, '2': 2 });
    await e.sluiceOk('promote', 'scale');
    await e.waitForPhase('scale', 'Healthy');
    await e.waitForPodCounts('scale', { '1': 0, '2': 4 });
  });

  it('TestRolloutScalingWhenPaused: scaling a paused canary keeps the step weight', async () => {
    e = await E2e.create('scaling-paused');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 4, steps: [{ setWeight: 25 }, { pause: {} }] }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 3, '2': 1 });
    await e.patchRollout('ro', { spec: { replicas: 8 } });
    await e.waitForPodCounts('ro', { '1': 6, '2': 2 });
    const ro = await e.waitForPhase('ro', 'Paused');
    expect(ro.status?.currentStepIndex).toBe(1);
    await e.sluiceOk('promote', 'ro');
    await e.waitForPhase('ro', 'Healthy');
    await e.waitForPodCounts('ro', { '1': 0, '2': 8 });
  });

  it('TestRolloutScalingDuringUpdate: scaling while pods of the update are still starting', async () => {
    e = await E2e.create('scaling-update');
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 2, readyDelayMs: 300, steps: [{ setWeight: 50 }, { pause: {} }] }),
      'ro',
    );
    // The new revision's pods take 3 s to become ready; scale up while they are starting.
    await e.patchRollout('ro', {
      spec: {
        template: {
          metadata: { annotations: { 'sluice.test/ready-delay-ms': '3000' } },
          spec: { containers: [{ name: 'app', image: 'example.com/app:v2' }] },
        },
      },
    });
    await e.waitForRollout(
      'ro',
      'a canary ReplicaSet exists',
      (r) => (r.status?.currentPodHash ?? '') !== r.status?.stableRS,
    );
    await e.patchRollout('ro', { spec: { replicas: 6 } });
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 3, '2': 3 });
    const ro = await e.rollout('ro');
    expect(ro.status?.replicas).toBe(6);
    expect(ro.status?.updatedReplicas).toBe(3);
    await e.sluiceOk('promote', 'ro');
    await e.waitForPhase('ro', 'Healthy');
    await e.waitForPodCounts('ro', { '1': 0, '2': 6 });
  });

  it('TestReduceWeightAndHonorMaxUnavailable: lowering the weight never drops below replicas - maxUnavailable', async () => {
    e = await E2e.create('reduce-weight');
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 4,
        canary: { maxSurge: 1, maxUnavailable: 0 },
        steps: [{ setWeight: 75 }, { pause: {} }, { setWeight: 25 }, { pause: {} }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForStep('ro', 1);
    await e.waitForPodCounts('ro', { '1': 1, '2': 3 });
    await e.waitForPhase('ro', 'Paused');
    await e.sluiceOk('promote', 'ro');
    // While the weight goes back down, ready pods never fall below 4 (maxUnavailable 0).
    let minReady = Number.POSITIVE_INFINITY;
    await e.waitFor('weight 25 reached with 1 canary and 3 stable pods', async () => {
      const pods = await e!.pods();
      minReady = Math.min(minReady, pods.filter((p) => p.ready && !p.deleting).length);
      const ro = await e!.rollout('ro');
      const counts = await e!.podCountsByRevision('ro');
      return ro.status?.currentStepIndex === 3 && counts['1'] === 3 && counts['2'] === 1 ? true : undefined;
    });
    expect(minReady).toBeGreaterThanOrEqual(4);
  });

  it('TestCanaryScaleDownDelay: the old stable keeps its pods for scaleDownDelaySeconds after promotion', async () => {
    e = await E2e.create('scale-down-delay');
    await e.apply(routedServices('ro'));
    await e.healthyRollout(
      routedCanary('ro', { scaleDownDelaySeconds: 4, steps: [{ setWeight: 50 }, { pause: {} }] }, 2),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.sluiceOk('promote', 'ro');
    const healthy = await e.waitForPhase('ro', 'Healthy');
    const stableHash = healthy.status?.stableRS ?? '';
    await e.waitForServiceSelector('ro-stable', stableHash);
    const old = await e.replicaSetOfRevision('ro', 1);
    expect(old?.replicas).toBe(2);
    expect(old?.annotations['scale-down-deadline']).toBeDefined();
    const promotedAt = Date.now();
    await e.waitForReplicaSetSpecs('ro', { '2': 2 }, 20_000);
    expect(Date.now() - promotedAt).toBeGreaterThanOrEqual(1_500);
    await e.waitForPodCounts('ro', { '1': 0, '2': 2 });
  });

  it('TestCanaryScaleDownOnAbort: an aborted routed canary is scaled down after abortScaleDownDelaySeconds', async () => {
    e = await E2e.create('scale-down-abort');
    await e.apply(routedServices('ro'));
    await e.healthyRollout(
      routedCanary('ro', { abortScaleDownDelaySeconds: 2, steps: [{ setWeight: 50 }, { pause: {} }] }, 2),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 2, '2': 1 });
    await e.sluiceOk('abort', 'ro');
    const aborted = await e.waitForPhase('ro', 'Degraded');
    await e.waitForServiceSelector('ro-canary', aborted.status?.stableRS ?? '');
    await e.waitForReplicaSetSpecs('ro', { '1': 2, '2': 0 }, 20_000);
    await e.waitForPodCounts('ro', { '1': 2, '2': 0 });
    expect((await e.rollout('ro')).status?.phase).toBe('Degraded');
  });

  it('TestCanaryUnScaleDownOnAbort: abortScaleDownDelaySeconds 0 keeps the aborted canary running', async () => {
    e = await E2e.create('unscale-down-abort');
    await e.apply(routedServices('ro'));
    await e.healthyRollout(
      routedCanary('ro', { abortScaleDownDelaySeconds: 0, steps: [{ setWeight: 50 }, { pause: {} }] }, 2),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 2, '2': 1 });
    await e.sluiceOk('abort', 'ro');
    const aborted = await e.waitForPhase('ro', 'Degraded');
    await e.waitForServiceSelector('ro-canary', aborted.status?.stableRS ?? '');
    // Well past any default delay the canary still has its pod (0 = never scale down).
    await waitOut(3_000, 'abortScaleDownDelaySeconds 0: the aborted canary must not be scaled down');
    expect(await e.podCountsByRevision('ro')).toEqual({ '1': 2, '2': 1 });
    expect((await e.replicaSetOfRevision('ro', 2))?.replicas).toBe(1);
  });

  it('progressDeadlineAbort: a canary that never becomes ready is aborted after progressDeadlineSeconds', async () => {
    e = await E2e.create('deadline-abort');
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        spec: { progressDeadlineSeconds: 3, progressDeadlineAbort: true },
        steps: [{ setWeight: 50 }, { pause: {} }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:unready');
    const ro = await e.waitForRollout(
      'ro',
      'aborted on the deadline',
      (r) => r.status?.abort === true && r.status.phase === 'Degraded',
      30_000,
    );
    expect(ro.status?.conditions?.find((c) => c.type === 'Progressing')?.reason).toMatch(
      /ProgressDeadlineExceeded|RolloutAborted/,
    );
    await e.waitForPodCounts('ro', { '1': 2, '2': 0 });
    await e.waitForEvent('ro', 'RolloutAborted');
  });
});

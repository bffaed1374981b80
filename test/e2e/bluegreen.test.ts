// BlueGreenSuite scenarios (Argo's test/e2e/bluegreen_test.go and functional_test.go) on the real test
// cluster: each test gets its own namespace and controller (fixture.ts), applies a blue-green Rollout with
// active and preview Services through kubectl, and drives it with the `sluice` verbs as a user would.

import { afterEach, describe, expect, it } from 'vitest';
import { waitOut } from '../cluster/wait.ts';
import { E2e, service } from './fixture.ts';

const HASH = 'rollouts-pod-template-hash';
const DEADLINE = 'scale-down-deadline';

interface BlueGreenOptions {
  replicas?: number;
  image?: string;
  readyDelayMs?: number;
  /** Fields merged into spec.strategy.blueGreen (activeService/previewService default to <name>-active/-preview). */
  blueGreen?: Record<string, unknown>;
  /** Fields merged into spec. */
  spec?: Record<string, unknown>;
}

/** A blue-green Rollout (container `app`) with `<name>-active` and `<name>-preview` Services. */
function blueGreen(name: string, options: BlueGreenOptions = {}): Record<string, unknown>[] {
  return [
    service(`${name}-active`, name),
    service(`${name}-preview`, name),
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name },
      spec: {
        replicas: options.replicas ?? 2,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: {
            labels: { app: name },
            annotations: { 'sluice.test/ready-delay-ms': String(options.readyDelayMs ?? 300) },
          },
          spec: { containers: [{ name: 'app', image: options.image ?? 'example.com/app:v1' }] },
        },
        strategy: {
          blueGreen: {
            activeService: `${name}-active`,
            previewService: `${name}-preview`,
            ...options.blueGreen,
          },
        },
        ...options.spec,
      },
    },
  ];
}

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

/** Waits until the controller has observed generation `gen` and reports the new revision stable and Healthy. */
function waitForStableGeneration(name: string, gen: number, timeoutMs?: number) {
  return e!.waitForRollout(
    name,
    `generation ${gen} observed, stable and Healthy`,
    (ro) =>
      ro.metadata.generation === gen &&
      ro.status?.observedGeneration === String(gen) &&
      ro.status.phase === 'Healthy' &&
      ro.status.stableRS === ro.status.currentPodHash,
    timeoutMs,
  );
}

async function selectors(name: string): Promise<{ active?: string; preview?: string }> {
  const active = (await e!.serviceSelector(`${name}-active`))[HASH];
  const preview = (await e!.serviceSelector(`${name}-preview`))[HASH];
  return { ...(active ? { active } : {}), ...(preview ? { preview } : {}) };
}

describe('BlueGreenSuite on the test cluster', { timeout: 150_000 }, () => {
  it('TestBlueGreenUpdate: the preview serves the new RS, promote switches active, the old RS goes after the delay', async () => {
    e = await E2e.create('bg-update');
    await e.apply(blueGreen('bg', { blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 3 } }));
    const v1 = await e.waitForPhase('bg', 'Healthy');
    const stable = v1.status!.stableRS!;
    expect(await selectors('bg')).toEqual({ active: stable, preview: stable });

    await e.setImage('bg', 'example.com/app:v2');
    const paused = await e.waitForPhase('bg', 'Paused');
    const next = paused.status!.currentPodHash!;
    expect(paused.status!.message).toBe('BlueGreenPause');
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['BlueGreenPause']);
    expect(paused.status!.controllerPause).toBe(true);
    expect(await selectors('bg')).toEqual({ active: stable, preview: next });
    await e.waitForPodCounts('bg', { '1': 2, '2': 2 });

    await e.sluiceOk('promote', 'bg');
    const healthy = await e.waitForPhase('bg', 'Healthy');
    expect(healthy.status!.stableRS).toBe(next);
    expect(healthy.status!.blueGreen).toMatchObject({ activeSelector: next, previewSelector: next });
    expect(await selectors('bg')).toEqual({ active: next, preview: next });
    // the old RS keeps its pods until its scale-down deadline, then goes to zero
    const old = (await e.replicaSetOfRevision('bg', 1))!;
    expect(old.replicas).toBe(2);
    expect(old.annotations[DEADLINE]).toBeDefined();
    await e.waitForPodCounts('bg', { '1': 0, '2': 2 }, 20_000);
    // Argo's ExpectRolloutEvents, as an ordered subsequence of what the API server stored
    const expected = [
      'RolloutUpdated',
      'NewReplicaSetCreated',
      'RolloutCompleted',
      'RolloutUpdated',
      'NewReplicaSetCreated',
      'SwitchService',
      'RolloutPaused',
      'SwitchService',
      'RolloutCompleted',
    ];
    const reasons = await e.waitFor('the promotion events', async () => {
      const seen = e!.eventReasons('bg');
      return seen.filter((r) => r === 'RolloutCompleted').length >= 2 && seen.includes('RolloutResumed')
        ? seen
        : undefined;
    });
    let at = 0;
    for (const reason of reasons) if (reason === expected[at]) at++;
    expect(at, `events: ${reasons.join(', ')}`).toBe(expected.length);
    expect(reasons.indexOf('RolloutResumed')).toBeGreaterThan(reasons.indexOf('RolloutPaused'));
  });

  it('TestBlueGreenPromoteFull: promote --full skips the pause, previewReplicaCount and the pre-promotion analysis', async () => {
    e = await E2e.create('bg-full');
    await e.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'never-ends' },
      spec: {
        metrics: [
          {
            name: 'sleep',
            provider: {
              job: {
                spec: {
                  backoffLimit: 0,
                  template: {
                    metadata: { annotations: { 'sluice.test/ready-delay-ms': '600000' } },
                    spec: {
                      restartPolicy: 'Never',
                      containers: [
                        { name: 'sleep', image: 'example.com/sleep:v1', command: ['sleep', '600'] },
                      ],
                    },
                  },
                },
              },
            },
          },
        ],
      },
    });
    await e.apply(
      blueGreen('full', {
        replicas: 3,
        blueGreen: {
          autoPromotionEnabled: false,
          previewReplicaCount: 1,
          prePromotionAnalysis: { templates: [{ templateName: 'never-ends' }] },
        },
      }),
    );
    const v1 = await e.waitForPhase('full', 'Healthy');
    await e.setImage('full', 'example.com/app:v2');
    const runs = await e.waitForAnalysisRuns('full', 'pre-promotion run Running', (r) =>
      r.some((x) => x.name.endsWith('-2-pre') && x.phase === 'Running'),
    );
    await e.waitForPodCounts('full', { '1': 3, '2': 1 });
    expect((await e.rollout('full')).status!.phase).toBe('Progressing');

    await e.sluiceOk('promote', 'full', '--full');
    const healthy = await e.waitForPhase('full', 'Healthy');
    expect(healthy.status!.stableRS).not.toBe(v1.status!.stableRS);
    expect(healthy.status!.promoteFull ?? false).toBe(false);
    expect(await selectors('full')).toEqual({
      active: healthy.status!.stableRS,
      preview: healthy.status!.stableRS,
    });
    await e.waitForPodCounts('full', { '2': 3, '1': 3 });
    const pre = runs.find((x) => x.name.endsWith('-2-pre'))!;
    await e.waitForAnalysisRuns('full', 'pre-promotion run terminated', (r) =>
      r.some((x) => x.name === pre.name && x.terminate && x.phase === 'Successful'),
    );
    // the job provider deletes the measurement's Job when the run is terminated
    await e.waitFor('the analysis Job deleted', async () => {
      const jobs = (await e!.client.get(`/apis/batch/v1/namespaces/${e!.namespace}/jobs`)) as {
        items: unknown[];
      };
      return jobs.items.length === 0 ? true : undefined;
    });
  });

  it('TestBlueGreenScaleDownDelay: the old RS keeps its pods for scaleDownDelaySeconds after the switch', async () => {
    e = await E2e.create('bg-delay');
    await e.apply(blueGreen('delay', { blueGreen: { scaleDownDelaySeconds: 4 } }));
    await e.waitForPhase('delay', 'Healthy');
    await e.setImage('delay', 'example.com/app:v2');
    const healthy = await waitForStableGeneration('delay', 2);
    const switchedMs = Date.now();
    expect(await selectors('delay')).toEqual({
      active: healthy.status!.stableRS,
      preview: healthy.status!.stableRS,
    });
    const old = (await e.replicaSetOfRevision('delay', 1))!;
    const deadlineMs = Date.parse(old.annotations[DEADLINE]!);
    expect(deadlineMs - switchedMs).toBeGreaterThan(1_000);
    expect(deadlineMs - switchedMs).toBeLessThanOrEqual(4_500);
    expect(old.replicas).toBe(2);
    await e.waitForPodCounts('delay', { '1': 0, '2': 2 }, 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(deadlineMs);
    const scaledDown = (await e.replicaSetOfRevision('delay', 1))!;
    expect(scaledDown.replicas).toBe(0);
    expect(scaledDown.annotations[DEADLINE]).toBeUndefined();
  });

  it('scaleDownDelayRevisionLimit: only the newest old RS waits out its delay; older ones go at once', async () => {
    e = await E2e.create('bg-revlimit');
    await e.apply(
      blueGreen('lim', {
        replicas: 1,
        blueGreen: { scaleDownDelaySeconds: 300, scaleDownDelayRevisionLimit: 1 },
      }),
    );
    await e.waitForPhase('lim', 'Healthy');
    await e.setImage('lim', 'example.com/app:v2');
    await waitForStableGeneration('lim', 2);
    await e.waitForReplicaSetSpecs('lim', { '1': 1, '2': 1 });
    await e.setImage('lim', 'example.com/app:v3');
    await waitForStableGeneration('lim', 3);
    const rss = await e.waitForReplicaSetSpecs('lim', { '1': 0, '2': 1, '3': 1 });
    expect(rss.find((rs) => rs.revision === '2')!.annotations[DEADLINE]).toBeDefined();
  });

  it('TestBlueGreenExceedProgressDeadlineAbort: a revision that never becomes ready times out and is aborted', async () => {
    e = await E2e.create('bg-deadline');
    await e.apply(
      blueGreen('pda', {
        blueGreen: { autoPromotionEnabled: false },
        spec: { progressDeadlineSeconds: 3, progressDeadlineAbort: true },
      }),
    );
    const v1 = await e.waitForPhase('pda', 'Healthy');
    const stable = v1.status!.stableRS!;
    await e.setImage('pda', 'example.com/app:unready');
    const degraded = await e.waitForRollout(
      'pda',
      'aborted after the progress deadline',
      (ro) => ro.status?.phase === 'Degraded' && ro.status.abort === true,
      30_000,
    );
    expect(degraded.status!.message).toMatch(/^RolloutAborted: Rollout aborted update to revision 2/);
    const progressing = degraded.status!.conditions!.find((c) => c.type === 'Progressing')!;
    expect(progressing.status).toBe('False');
    expect(progressing.reason).toBe('RolloutAborted');
    expect((await selectors('pda')).active).toBe(stable);
    // Events are recorded after the status write and reach the fixture's watch a little later.
    await e.waitForEvent('pda', 'ProgressDeadlineExceeded');
    await e.waitForEvent('pda', 'RolloutAborted');

    // a good image afterwards recovers: through the preview and the manual gate to Healthy
    await e.setImage('pda', 'example.com/app:v3');
    const paused = await e.waitForPhase('pda', 'Paused');
    expect(paused.status!.abort ?? false).toBe(false);
    await e.sluiceOk('promote', 'pda');
    const healthy = await e.waitForPhase('pda', 'Healthy');
    expect((await selectors('pda')).active).toBe(healthy.status!.stableRS);
    expect(healthy.status!.stableRS).not.toBe(stable);
  });

  it('a completed rollout is never aborted by progressDeadlineAbort', async () => {
    e = await E2e.create('bg-deadline-idle');
    const deadlineS = 2;
    await e.apply(
      blueGreen('idle', {
        blueGreen: {},
        spec: { progressDeadlineSeconds: deadlineS, progressDeadlineAbort: true },
      }),
    );
    await e.waitForPhase('idle', 'Healthy');
    await waitOut(
      deadlineS * 1_000 + 1_500,
      'the progress deadline passes; a completed rollout must not abort',
    );
    const ro = await e.rollout('idle');
    expect(ro.status!.phase).toBe('Healthy');
    expect(ro.status!.abort ?? false).toBe(false);
  });

  it('TestBlueGreenScaleDownOnAbort: after abort the preview RS is scaled down after abortScaleDownDelaySeconds', async () => {
    e = await E2e.create('bg-abort');
    await e.apply(
      blueGreen('abrt', { blueGreen: { autoPromotionEnabled: false, abortScaleDownDelaySeconds: 2 } }),
    );
    const v1 = await e.waitForPhase('abrt', 'Healthy');
    const stable = v1.status!.stableRS!;
    await e.setImage('abrt', 'example.com/app:v2');
    const paused = await e.waitForPhase('abrt', 'Paused');
    await e.waitForPodCounts('abrt', { '1': 2, '2': 2 });
    await e.sluiceOk('abort', 'abrt');
    const degraded = await e.waitForPhase('abrt', 'Degraded');
    expect(degraded.status!.message).toBe('RolloutAborted: Rollout aborted update to revision 2');
    expect(degraded.status!.pauseConditions ?? []).toEqual([]);
    expect(await selectors('abrt')).toEqual({ active: stable, preview: stable });
    expect(paused.status!.currentPodHash).not.toBe(stable);
    await e.waitForPodCounts('abrt', { '1': 2, '2': 0 }, 20_000);
    expect((await e.rollout('abrt')).status!.phase).toBe('Degraded');

    // retry: the update starts over and pauses at the gate again with the preview scaled back up
    await e.sluiceOk('retry', 'rollout', 'abrt');
    const again = await e.waitForPhase('abrt', 'Paused');
    expect(again.status!.abort ?? false).toBe(false);
    await e.waitForPodCounts('abrt', { '1': 2, '2': 2 });
    expect((await selectors('abrt')).preview).toBe(again.status!.currentPodHash);
  });

  it('abortScaleDownDelaySeconds 0 keeps the aborted preview RS running', async () => {
    e = await E2e.create('bg-abort0');
    await e.apply(
      blueGreen('keep', { blueGreen: { autoPromotionEnabled: false, abortScaleDownDelaySeconds: 0 } }),
    );
    await e.waitForPhase('keep', 'Healthy');
    await e.setImage('keep', 'example.com/app:v2');
    await e.waitForPhase('keep', 'Paused');
    await e.sluiceOk('abort', 'keep');
    await e.waitForPhase('keep', 'Degraded');
    await waitOut(2_500, 'abortScaleDownDelaySeconds 0: the aborted preview must not be scaled down');
    expect(await e.podCountsByRevision('keep')).toEqual({ '1': 2, '2': 2 });
  });

  it('TestBlueGreenPreviewReplicaCount: the preview runs previewReplicaCount pods until promote, then scales up before the switch', async () => {
    e = await E2e.create('bg-preview');
    await e.apply(
      blueGreen('prc', { replicas: 3, blueGreen: { autoPromotionEnabled: false, previewReplicaCount: 1 } }),
    );
    const v1 = await e.waitForPhase('prc', 'Healthy');
    await e.setImage('prc', 'example.com/app:v2');
    const paused = await e.waitForPhase('prc', 'Paused');
    await e.waitForPodCounts('prc', { '1': 3, '2': 1 });
    expect(paused.status!.blueGreen?.scaleUpPreviewCheckPoint ?? false).toBe(false);
    expect(await selectors('prc')).toEqual({
      active: v1.status!.stableRS,
      preview: paused.status!.currentPodHash,
    });

    await e.sluiceOk('promote', 'prc');
    const healthy = await e.waitForPhase('prc', 'Healthy');
    expect(healthy.status!.stableRS).toBe(paused.status!.currentPodHash);
    expect(healthy.status!.availableReplicas).toBe(3);
    expect((await selectors('prc')).active).toBe(healthy.status!.stableRS);
    expect((await e.replicaSetOfRevision('prc', 2))!.replicas).toBe(3);
  });

  it('TestBlueGreenProgressDeadlineExceededWithPause: the pause does not time out; a bad revision does, and a fix recovers', async () => {
    e = await E2e.create('bg-pdpause');
    const deadlineS = 2;
    await e.apply(
      blueGreen('pdp', {
        blueGreen: { autoPromotionEnabled: false },
        spec: { progressDeadlineSeconds: deadlineS },
      }),
    );
    await e.waitForPhase('pdp', 'Healthy');
    await e.setImage('pdp', 'example.com/app:v2');
    await e.waitForPhase('pdp', 'Paused');
    await waitOut(
      deadlineS * 1_000 + 1_500,
      'the progress deadline passes; a paused rollout must not time out',
    );
    const stillPaused = await e.rollout('pdp');
    expect(stillPaused.status!.phase).toBe('Paused');
    expect(stillPaused.status!.conditions!.find((c) => c.type === 'Progressing')!.reason).not.toBe(
      'ProgressDeadlineExceeded',
    );

    await e.setImage('pdp', 'example.com/app:unready');
    const degraded = await e.waitForCondition('pdp', 'Progressing', {
      status: 'False',
      reason: 'ProgressDeadlineExceeded',
    });
    expect(degraded.status!.phase).toBe('Degraded');
    expect(degraded.status!.message).toMatch(
      /^ProgressDeadlineExceeded: ReplicaSet ".*" has timed out progressing\.$/,
    );

    await e.setImage('pdp', 'example.com/app:v4');
    const paused = await e.waitForPhase('pdp', 'Paused');
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['BlueGreenPause']);
    await e.sluiceOk('promote', 'pdp');
    await e.waitForPhase('pdp', 'Healthy');
  });

  it('autoPromotionSeconds: pauses for the given seconds once the preview is ready, then promotes by itself', async () => {
    e = await E2e.create('bg-autosec');
    await e.apply(blueGreen('aps', { blueGreen: { autoPromotionSeconds: 3 } }));
    await e.waitForPhase('aps', 'Healthy');
    await e.setImage('aps', 'example.com/app:v2');
    const paused = await e.waitForPhase('aps', 'Paused');
    const pauseStartMs = Date.parse(paused.status!.pauseConditions![0]!.startTime);
    expect(paused.status!.pauseConditions![0]!.reason).toBe('BlueGreenPause');
    const healthy = await e.waitForRollout(
      'aps',
      'promoted by itself',
      (ro) => ro.status?.phase === 'Healthy' && ro.status.stableRS === paused.status!.currentPodHash,
      20_000,
    );
    expect(Date.now() - pauseStartMs).toBeGreaterThanOrEqual(3_000);
    expect((await selectors('aps')).active).toBe(healthy.status!.stableRS);
    expect(healthy.status!.pauseConditions ?? []).toEqual([]);
  });

  it('autoPromotionEnabled (default): switches active as soon as the preview is fully available', async () => {
    e = await E2e.create('bg-auto');
    await e.apply(blueGreen('auto', { blueGreen: { scaleDownDelaySeconds: 1 } }));
    await e.waitForPhase('auto', 'Healthy');
    await e.setImage('auto', 'example.com/app:v2');
    const healthy = await waitForStableGeneration('auto', 2);
    expect(e.eventReasons('auto')).not.toContain('RolloutPaused');
    expect(await selectors('auto')).toEqual({
      active: healthy.status!.stableRS,
      preview: healthy.status!.stableRS,
    });
    await e.waitForPodCounts('auto', { '1': 0, '2': 2 });
  });

  it('undo while the old RS is inside its scale-down delay is a fast rollback: no pause, immediate switch', async () => {
    e = await E2e.create('bg-fast');
    await e.apply(
      blueGreen('fast', { blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 300 } }),
    );
    const v1 = await e.waitForPhase('fast', 'Healthy');
    await e.setImage('fast', 'example.com/app:v2');
    await e.waitForPhase('fast', 'Paused');
    await e.sluiceOk('promote', 'fast');
    const v2 = await e.waitForPhase('fast', 'Healthy');
    expect(v2.status!.stableRS).not.toBe(v1.status!.stableRS);
    const pausesBefore = e.eventReasons('fast').filter((r) => r === 'RolloutPaused').length;
    expect(pausesBefore).toBe(1);
    await e.sluiceOk('undo', 'fast');
    const back = await e.waitForRollout(
      'fast',
      'back on revision 1 hash',
      (ro) => ro.status?.stableRS === v1.status!.stableRS && ro.status?.phase === 'Healthy',
    );
    expect(back.status!.pauseConditions ?? []).toEqual([]);
    expect(await selectors('fast')).toEqual({ active: v1.status!.stableRS, preview: v1.status!.stableRS });
    expect(e.eventReasons('fast').filter((r) => r === 'RolloutPaused')).toHaveLength(pausesBefore);
    expect((await e.replicaSets('fast')).find((rs) => rs.hash === v1.status!.stableRS)!.revision).toBe('3');
  });

  it('TestBlueGreenToCanary: switching the strategy keeps the running pods; the next update runs canary steps', async () => {
    e = await E2e.create('bg-to-canary');
    await e.apply(blueGreen('b2c', { replicas: 2 }));
    const v1 = await e.waitForPhase('b2c', 'Healthy');
    await e.patchRollout('b2c', {
      spec: { strategy: { blueGreen: null, canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } },
    });
    const switched = await e.waitForRollout(
      'b2c',
      'canary strategy observed',
      (ro) =>
        ro.status?.observedGeneration === String(ro.metadata.generation) && ro.metadata.generation === 2,
    );
    expect(switched.status!.phase).toBe('Healthy');
    expect(switched.status!.stableRS).toBe(v1.status!.stableRS);
    expect(await e.replicaSets('b2c')).toHaveLength(1);

    await e.setImage('b2c', 'example.com/app:v2');
    const paused = await e.waitForPhase('b2c', 'Paused');
    expect(paused.status!.currentStepIndex).toBe(1);
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    await e.waitForPodCounts('b2c', { '1': 1, '2': 1 });
    await e.sluiceOk('promote', 'b2c');
    const healthy = await e.waitForPhase('b2c', 'Healthy');
    expect(healthy.status!.stableRS).toBe(paused.status!.currentPodHash);
    await e.waitForPodCounts('b2c', { '1': 0, '2': 2 });
  });
});

// Scenario tests mirroring Argo's e2e list (reference section 7) over the in-memory store.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { HASH, Harness, NS, startHarness } from '../../fixtures/rollout-harness.ts';
import { webRollout, webService } from '../../fixtures/rollout-objects.ts';

const TEMPLATE: KubeObject = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'pass', namespace: NS },
  spec: {
    args: [{ name: 'hash' }, { name: 'image' }],
    metrics: [{ name: 'm', provider: { web: { url: 'http://127.0.0.1:1/{{args.hash}}' } } }],
  },
} as KubeObject;

/** The Rollout `web` with 4 replicas. */
const rollout = (strategy: Rollout['spec']['strategy'], extra: Partial<Rollout['spec']> = {}) =>
  webRollout(strategy, { replicas: 4, extra });

describe('basic canary (replica-count weights)', () => {
  it('approximates setWeight with replica counts within maxSurge/maxUnavailable and pauses', async () => {
    const h = await startHarness(
      rollout({ canary: { steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }, { pause: {} }] } }),
    );
    const v1 = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.reconcile();
    // first pass: canary created at 1 within surge; the stable may drop to 3 within maxUnavailable (1)
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(v2)?.spec.replicas).toBe(1);
    expect(h.rsByHash(v1)?.spec.replicas).toBe(3);
    await h.converge();
    expect(h.rsByHash(v2)?.spec.replicas).toBe(1);
    expect(h.rsByHash(v1)?.spec.replicas).toBe(3);
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Paused', message: 'CanaryPauseStep' });
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.rsByHash(v2)?.spec.replicas).toBe(3);
    expect(h.rsByHash(v1)?.spec.replicas).toBe(1);
    expect(h.ro().status?.currentStepIndex).toBe(3);
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.rsByHash(v2)?.spec.replicas).toBe(4);
    expect(h.rsByHash(v1)?.spec.replicas).toBe(0);
    expect(h.ro().status).toMatchObject({ stableRS: v2, phase: 'Healthy' });
  });

  it('spec.paused halts scaling and shows "manually paused"', async () => {
    const h = await startHarness(rollout({ canary: { steps: [{ setWeight: 50 }] } }));
    await h.store.patch('Rollout', NS, 'web', { spec: { paused: true } });
    await h.setImage('web:2');
    await h.converge();
    expect(h.ro().status).toMatchObject({ phase: 'Paused', message: 'manually paused' });
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(v2)?.spec.replicas).toBe(0);
    await h.store.patch('Rollout', NS, 'web', { spec: { paused: null } });
    await h.converge();
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', stableRS: v2 });
  });
});

describe('analysis', () => {
  it('creates step runs with args from podTemplateHashValue and fieldRef, resolved against the Rollout', async () => {
    const ro = rollout({
      canary: {
        steps: [
          {
            analysis: {
              templates: [{ templateName: 'pass' }],
              args: [
                { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
                {
                  name: 'image',
                  valueFrom: { fieldRef: { fieldPath: 'spec.template.spec.containers[0].image' } },
                },
              ],
            },
          },
        ],
      },
    });
    const h = await startHarness(ro, [TEMPLATE]);
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    const run = h.runs()[0] as KubeObject & {
      spec: { args: { name: string; value: string }[]; metrics: unknown[] };
    };
    expect(run.metadata.name).toBe(`web-${v2}-2-0`);
    expect(run.spec.args).toEqual([
      { name: 'hash', value: v2 },
      { name: 'image', value: 'web:2' },
    ]);
    expect(run.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Rollout',
      name: 'web',
      controller: true,
    });
  });

  it('an inconclusive step run pauses; promote skips the step', async () => {
    const h = await startHarness(
      rollout({
        canary: {
          steps: [
            {
              analysis: {
                templates: [{ templateName: 'pass' }],
                args: [
                  { name: 'hash', value: 'x' },
                  { name: 'image', value: 'y' },
                ],
              },
            },
            { setWeight: 50 },
          ],
        },
      }),
      [TEMPLATE],
    );
    await h.setImage('web:2');
    await h.converge();
    const run = h.runs()[0]!.metadata.name;
    await h.setRunPhase(run, 'Inconclusive');
    await h.converge();
    expect(h.ro().status).toMatchObject({
      phase: 'Paused',
      message: 'InconclusiveAnalysisRun',
      controllerPause: true,
    });
    // the CLI's promote on an inconclusive step
    await h.patchStatus({ pauseConditions: null, controllerPause: false, currentStepIndex: 1 });
    await h.converge();
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', stableRS: h.ro().status?.currentPodHash });
    expect(h.runs()).toHaveLength(1);
  });

  it('background analysis runs from startingStep, is terminated at promotion, and a failure aborts', async () => {
    const spec = {
      canary: {
        analysis: {
          templates: [{ templateName: 'pass' }],
          startingStep: 1,
          args: [
            { name: 'hash', value: 'x' },
            { name: 'image', value: 'y' },
          ],
        },
        steps: [{ setWeight: 25 }, { pause: {} }, { pause: {} }],
      },
    };
    const h = await startHarness(rollout(spec), [TEMPLATE]);
    await h.setImage('web:2');
    await h.converge();
    const v2 = h.ro().status!.currentPodHash!;
    expect(h.runs().map((r) => r.metadata.name)).toEqual([`web-${v2}-2`]);
    expect(h.runs()[0]!.metadata.labels?.['rollout-type']).toBe('Background');
    await h.setRunPhase(`web-${v2}-2`, 'Error', 'provider down');
    await h.converge();
    expect(h.ro().status?.message).toBe(
      'RolloutAborted: Rollout aborted update to revision 2: Background analysis phase error/failed: provider down',
    );
    expect(h.rsByHash(v2)?.spec.replicas).toBe(0); // basic canary: scaled down at once
  });

  it('promote --full skips remaining steps and terminates the running analysis', async () => {
    const h = await startHarness(
      rollout({
        canary: {
          steps: [
            { setWeight: 25 },
            {
              analysis: {
                templates: [{ templateName: 'pass' }],
                args: [
                  { name: 'hash', value: 'x' },
                  { name: 'image', value: 'y' },
                ],
              },
            },
            { pause: {} },
          ],
        },
      }),
      [TEMPLATE],
    );
    await h.setImage('web:2');
    await h.converge();
    await h.patchStatus({ promoteFull: true });
    await h.converge();
    const st = h.ro().status!;
    expect(st).toMatchObject({ phase: 'Healthy', stableRS: st.currentPodHash, currentStepIndex: 3 });
    expect(st.promoteFull).toBeUndefined();
    expect((h.runs()[0] as unknown as { spec: { terminate?: boolean } }).spec.terminate).toBe(true);
  });

  it('blue-green pre-promotion failure aborts with active still on stable', async () => {
    const h = await startHarness(
      rollout({
        blueGreen: {
          activeService: 'active',
          previewService: 'preview',
          prePromotionAnalysis: {
            templates: [{ templateName: 'pass' }],
            args: [
              { name: 'hash', value: 'x' },
              { name: 'image', value: 'y' },
            ],
          },
        },
      }),
      [webService('active'), webService('preview'), TEMPLATE],
    );
    const blue = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    expect(h.runs().map((r) => r.metadata.name)).toEqual([`web-${green}-2-pre`]);
    expect(h.ro().status?.blueGreen?.prePromotionAnalysisRunStatus?.name).toBe(`web-${green}-2-pre`);
    await h.setRunPhase(`web-${green}-2-pre`, 'Failed', 'bad');
    await h.converge();
    expect(h.ro().status?.phase).toBe('Degraded');
    expect(h.svcHash('active')).toBe(blue);
  });

  it('blue-green post-promotion failure switches active back to stable', async () => {
    const h = await startHarness(
      rollout({
        blueGreen: {
          activeService: 'active',
          postPromotionAnalysis: {
            templates: [{ templateName: 'pass' }],
            args: [
              { name: 'hash', value: 'x' },
              { name: 'image', value: 'y' },
            ],
          },
        },
      }),
      [webService('active'), TEMPLATE],
    );
    const blue = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    expect(h.svcHash('active')).toBe(green);
    expect(h.ro().status).toMatchObject({
      stableRS: blue,
      phase: 'Progressing',
      message: 'waiting for analysis to complete',
    });
    // old RS kept (no explicit scaleDownDelaySeconds) until post-analysis succeeds
    expect(h.rsByHash(blue)?.metadata.annotations?.['scale-down-deadline']).toBeUndefined();
    await h.setRunPhase(`web-${green}-2-post`, 'Failed', 'bad');
    await h.converge();
    expect(h.svcHash('active')).toBe(blue);
    expect(h.ro().status?.phase).toBe('Degraded');
  });
});

describe('blue-green options', () => {
  it('autoPromotionSeconds promotes after the pause has lasted that long', async () => {
    const h = await startHarness(
      rollout({ blueGreen: { activeService: 'active', autoPromotionSeconds: 60 } }),
      [webService('active')],
    );
    await h.setImage('web:2');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    expect(h.ro().status?.message).toBe('BlueGreenPause');
    expect(h.plans.at(-1)?.requeueAfterMs).toBeLessThanOrEqual(60_000);
    h.nowMs += 60_000;
    await h.converge();
    expect(h.svcHash('active')).toBe(green);
  });

  it('previewReplicaCount runs a small preview until promotion, then scales up before the switch', async () => {
    const h = await startHarness(
      rollout({
        blueGreen: { activeService: 'active', previewReplicaCount: 1, autoPromotionEnabled: false },
      }),
      [webService('active')],
    );
    const blue = h.ro().status!.currentPodHash!;
    await h.setImage('web:2');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    expect(h.rsByHash(green)?.spec.replicas).toBe(1);
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.rsByHash(green)?.spec.replicas).toBe(4);
    expect(h.svcHash('active')).toBe(green);
    expect(h.rsByHash(blue)?.spec.replicas).toBe(4);
  });
});

describe('progress deadline, invalid specs, restarts, history, workloadRef', () => {
  it('a canary that never becomes available times out (Degraded), and progressDeadlineAbort aborts it', async () => {
    const h = await startHarness(
      rollout(
        { canary: { steps: [{ setWeight: 50 }] } },
        { progressDeadlineSeconds: 60, progressDeadlineAbort: true },
      ),
    );
    await h.setImage('web:2');
    await h.reconcile();
    const v2 = h.ro().status!.currentPodHash!;
    h.broken.add(v2);
    await h.converge();
    expect(h.ro().status?.phase).toBe('Progressing');
    h.nowMs += 61_000;
    await h.converge();
    const st = h.ro().status!;
    expect(st.abort).toBe(true);
    expect(st.phase).toBe('Degraded');
    expect(h.eventReasons()).toContain('ProgressDeadlineExceeded');
  });

  it('an invalid spec gets InvalidSpec + Degraded naming the field, and fixing it recovers', async () => {
    const h = await startHarness(rollout({ canary: { steps: [{ setWeight: 150 }] } }));
    const st = h.ro().status!;
    expect(st.phase).toBe('Degraded');
    expect(st.message).toBe(
      'InvalidSpec: The Rollout "web" is invalid: spec.strategy.canary.steps[0].setWeight: Invalid value: 150: SetWeight must be between 0 and 100',
    );
    expect(h.plans.at(-1)?.requeueAfterMs).toBe(20_000);
    expect(h.rss()).toHaveLength(0);
    await h.store.patch('Rollout', NS, 'web', {
      spec: { strategy: { canary: { steps: [{ setWeight: 50 }] } } },
    });
    await h.converge();
    expect(h.ro().status?.phase).toBe('Healthy');
    expect(h.ro().status?.conditions?.some((c) => c.type === 'InvalidSpec')).toBe(false);
  });

  it('a missing referenced Service is InvalidSpec naming the field', async () => {
    const h = await startHarness(rollout({ blueGreen: { activeService: 'nope' } }));
    expect(h.ro().status?.message).toContain(
      'spec.strategy.blueGreen.activeService: Invalid value: "nope": service "nope" not found',
    );
  });

  it('writes spec.replicas=1 back when it is unset', async () => {
    const ro = rollout({ canary: {} });
    delete ro.spec.replicas;
    const h = await startHarness(ro);
    expect(h.ro().spec.replicas).toBe(1);
  });

  it('restartAt evicts pods created before it, one at a time within maxUnavailable, then records restartedAt', async () => {
    const h = new Harness('web');
    h.withPods = true;
    h.seed([rollout({ canary: { maxUnavailable: 1 } })]);
    await h.converge();
    const old = new Set(h.pods().map((p) => p.metadata.name));
    expect(old.size).toBe(4);
    h.nowMs += 1_000;
    const restartAt = new Date(h.nowMs).toISOString().replace('.000Z', 'Z');
    await h.store.patch('Rollout', NS, 'web', { spec: { restartAt } });
    h.nowMs += 1_000;
    await h.reconcile();
    expect(h.pods()).toHaveLength(3);
    // The replacement is not there yet: nothing more may go, and the rollout reports the restart.
    await h.reconcile();
    expect(h.pods()).toHaveLength(3);
    expect(h.ro().status?.phase).toBe('Progressing');
    expect(h.ro().status?.message).toBe('rollout is restarting');
    await h.converge();
    expect(h.pods().some((p) => old.has(p.metadata.name))).toBe(false);
    expect(h.pods()).toHaveLength(4);
    expect(h.ro().status?.restartedAt).toBe(restartAt);
    expect(h.store.writes.get('evict Pod')).toBe(4);
  });

  it('rollbackWindow fast-tracks a return to a recent older revision (no steps)', async () => {
    const h = await startHarness(
      rollout(
        { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
        { rollbackWindow: { revisions: 2 } },
      ),
    );
    await h.setImage('web:2');
    await h.converge();
    await h.patchStatus({ pauseConditions: null });
    await h.converge();
    expect(h.ro().status?.stableRS).toBe(h.ro().status?.currentPodHash);
    // roll back to web:1 (revision 1, older than the stable revision 2): within the window
    await h.setImage('web:1');
    await h.converge();
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', currentStepIndex: 2 });
    expect(h.eventReasons()).toContain('SkipSteps');
  });

  it('copies a ReplicaFailure condition from the new ReplicaSet', async () => {
    const h = await startHarness(rollout({ canary: {} }));
    const rs = h.rss()[0]!;
    await h.store.patchStatus('ReplicaSet', NS, rs.metadata.name, {
      status: {
        conditions: [
          { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'quota exceeded' },
        ],
      },
    });
    await h.reconcile();
    expect(h.ro().status?.conditions?.find((c) => c.type === 'ReplicaFailure')).toMatchObject({
      reason: 'FailedCreate',
      message: 'quota exceeded',
    });
  });

  it('revisionHistoryLimit deletes the oldest scaled-down ReplicaSets', async () => {
    const h = await startHarness(rollout({ canary: {} }, { revisionHistoryLimit: 1 }));
    for (const img of ['web:2', 'web:3', 'web:4']) {
      await h.setImage(img);
      await h.converge();
    }
    const revisions = h
      .rss()
      .map((rs) => rs.metadata.annotations?.['rollout.argoproj.io/revision'])
      .sort();
    expect(revisions).toEqual(['3', '4']);
  });

  it('workloadRef takes the template from a Deployment and scaleDown onsuccess scales it to 0 when healthy', async () => {
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web-deploy', namespace: NS, generation: 3 },
      spec: {
        replicas: 4,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'web:1' }] },
        },
      },
    } as KubeObject;
    const ro = rollout(
      { canary: {} },
      {
        workloadRef: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web-deploy',
          scaleDown: 'onsuccess',
        },
      },
    );
    delete ro.spec.template;
    delete ro.spec.selector;
    const h = await startHarness(ro, [deploy]);
    expect(h.rss()[0]?.spec.template.spec?.containers).toEqual([{ name: 'web', image: 'web:1' }]);
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', workloadObservedGeneration: '4' }); // scaling the Deployment bumped its generation;
    expect(
      (h.store.get('Deployment', NS, 'web-deploy') as unknown as { spec: { replicas: number } }).spec
        .replicas,
    ).toBe(0);
    expect(h.rss()[0]?.metadata.labels?.[HASH]).toBe(h.ro().status?.currentPodHash);
  });
});

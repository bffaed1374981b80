// The canary `experiment` step (Argo's rollout/experiment.go) over the in-memory store: the Experiment the
// Rollout creates (name, labels, owner, templates copied from the canary and stable ReplicaSets), the
// step's verdicts (Successful moves on, Failed/Error abort, Inconclusive pauses), termination when the
// step is left, aborted or fully promoted, adoption after a controller restart, the `-N` collision name,
// and history clean-up. The Experiment controller is not run: tests set status.phase themselves.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { CanaryStep, Rollout } from '../../../src/api/rollout.ts';
import { validateRolloutSpec } from '../../../src/api/rollout-validation.ts';
import { promotePatches } from '../../../src/cli/rollouts/patches.ts';
import { reconcileExperiment } from '../../../src/experiment/reconcile.ts';
import { buildStepExperiment } from '../../../src/rollout/experiment.ts';
import { HASH, type Harness, NS, startHarness } from '../../fixtures/rollout-harness.ts';
import { webReplicaSet, webRollout } from '../../fixtures/rollout-objects.ts';

const EXPERIMENT_STEP: CanaryStep = {
  experiment: {
    duration: '5m',
    templates: [
      { name: 'baseline', specRef: 'stable', metadata: { labels: { role: 'baseline' } } },
      {
        name: 'canary',
        specRef: 'canary',
        replicas: 2,
        metadata: { labels: { role: 'canary' }, annotations: { note: 'exp' } },
        service: { name: 'exp-canary' },
      },
    ],
    analyses: [
      {
        name: 'compare',
        templateName: 'compare-latency',
        args: [
          { name: 'stable-hash', valueFrom: { podTemplateHashValue: 'Stable' } },
          { name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } },
          { name: 'env', value: 'prod' },
        ],
        requiredForCompletion: true,
      },
    ],
    dryRun: [{ metricName: 'latency' }],
    analysisRunMetadata: { labels: { team: 'shop' } },
    scaleDownDelaySeconds: 10,
  },
};

const STEPS: CanaryStep[] = [{ setWeight: 20 }, EXPERIMENT_STEP, { setWeight: 60 }, { pause: {} }];

function rollout(steps: CanaryStep[] = STEPS, extra: Partial<Rollout['spec']> = {}): Rollout {
  const ro = webRollout(
    { canary: { steps } },
    { replicas: 5, extra: { progressDeadlineSeconds: 900, ...extra } },
  );
  ro.metadata.labels = { 'app.kubernetes.io/part-of': 'shop' };
  return ro;
}

/** Deploys revision 1, updates to web:2 and converges onto the experiment step; returns both hashes. */
async function atExperimentStep(steps?: CanaryStep[], extra?: Partial<Rollout['spec']>) {
  const h = await startHarness(rollout(steps, extra));
  const stable = h.ro().status!.currentPodHash!;
  await h.setImage('web:2');
  await h.converge();
  const canary = h.ro().status!.currentPodHash!;
  return { h, stable, canary, name: `web-${canary}-2-1` };
}

/** What `sluice promote [--full]` sends (patches.ts), applied to the store. */
async function promote(h: Harness, full = false): Promise<void> {
  const plan = promotePatches(h.ro(), { full });
  if (!plan.ok) throw new Error(plan.error);
  if (plan.patches.status) await h.patchStatus(JSON.parse(plan.patches.status).status);
  if (plan.patches.spec) await h.store.patch('Rollout', NS, h.name, JSON.parse(plan.patches.spec));
}

describe('canary experiment step', () => {
  it('creates one Experiment named <rollout>-<hash>-<revision>-<step>, owned by the Rollout, with templates copied from the canary and stable ReplicaSets', async () => {
    const { h, stable, canary, name } = await atExperimentStep();
    const ro = h.ro();
    expect(ro.status?.currentStepIndex).toBe(1);
    expect(ro.status?.canary?.currentExperiment).toBe(name);
    const exs = h.experiments();
    expect(exs.map((e) => e.metadata.name)).toEqual([name]);
    const ex = exs[0]!;
    expect(ex.metadata.labels).toEqual({ 'app.kubernetes.io/part-of': 'shop', [HASH]: canary });
    expect(ex.metadata.annotations).toEqual({ 'rollout.argoproj.io/revision': '2' });
    expect(ex.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'web',
        uid: ro.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    const stableRS = h.rsByHash(stable)!;
    const canaryRS = h.rsByHash(canary)!;
    const [baseline, cand] = ex.spec.templates;
    expect(baseline).toEqual({
      name: 'baseline',
      selector: { matchLabels: { app: 'web', [HASH]: stable, role: 'baseline' } },
      template: {
        ...stableRS.spec.template,
        metadata: { labels: { app: 'web', [HASH]: stable, role: 'baseline' } },
      },
    });
    expect(baseline!.template.spec).toEqual(stableRS.spec.template.spec);
    expect(cand).toEqual({
      name: 'canary',
      replicas: 2,
      selector: { matchLabels: { app: 'web', [HASH]: canary, role: 'canary' } },
      template: {
        ...canaryRS.spec.template,
        metadata: { labels: { app: 'web', [HASH]: canary, role: 'canary' }, annotations: { note: 'exp' } },
      },
      service: { name: 'exp-canary' },
    });
    expect((cand!.template.spec as { containers: { image: string }[] }).containers[0]!.image).toBe('web:2');
    expect((baseline!.template.spec as { containers: { image: string }[] }).containers[0]!.image).toBe(
      'web:1',
    );
    expect(ex.spec).toMatchObject({
      duration: '5m',
      progressDeadlineSeconds: 900,
      analyses: [
        {
          name: 'compare',
          templateName: 'compare-latency',
          args: [
            { name: 'stable-hash', value: stable },
            { name: 'canary-hash', value: canary },
            { name: 'env', value: 'prod' },
          ],
          requiredForCompletion: true,
        },
      ],
      dryRun: [{ metricName: 'latency' }],
      analysisRunMetadata: { labels: { team: 'shop' } },
      scaleDownDelaySeconds: 10,
    });
    expect(ex.spec.terminate).toBeUndefined();
    expect(h.eventReasons().filter((r) => r === 'ExperimentCreated')).toHaveLength(1);
  });

  it('blocks until the Experiment is Successful, then completes the step and moves on', async () => {
    const { h, name } = await atExperimentStep();
    h.nowMs += 3_600_000; // time alone never completes it, nor does the progress deadline fire
    await h.converge();
    await h.setExperimentPhase(name, 'Running');
    await h.converge();
    expect(h.ro().status).toMatchObject({ currentStepIndex: 1, phase: 'Progressing' });
    expect(h.experiments()).toHaveLength(1);

    await h.setExperimentPhase(name, 'Successful');
    await h.converge();
    const st = h.ro().status!;
    expect(st.currentStepIndex).toBe(3); // setWeight 60 done, now at the pause
    expect(st.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(st.canary?.currentExperiment).toBeUndefined();
    expect(h.experiments()).toHaveLength(1);
    // A finished Experiment needs no termination.
    expect(h.experiments()[0]!.spec.terminate).toBeUndefined();
    const completed = h.store
      .list<KubeObject & { reason: string; message: string }>('Event', NS)
      .filter((e) => e.reason === 'RolloutStepCompleted')
      .map((e) => e.message);
    expect(completed).toContain('Rollout step 2/4 completed (experiment)');
  });

  it.each([
    ['Failed', 'Metric "latency" assessed Failed', ': Metric "latency" assessed Failed'],
    ['Error', 'provider down', ': provider down'],
    ['Failed', undefined, ''],
  ] as const)(
    'an Experiment that ends %s (message %s) aborts the rollout (Degraded, canary scaled back to stable)',
    async (phase, message, suffix) => {
      const { h, stable, canary, name } = await atExperimentStep();
      await h.setExperimentPhase(name, phase, message);
      await h.converge();
      const st = h.ro().status!;
      expect(st).toMatchObject({ abort: true, phase: 'Degraded', currentStepIndex: 0, stableRS: stable });
      expect(st.message).toBe(`RolloutAborted: Rollout aborted update to revision 2${suffix}`);
      expect(st.canary?.currentExperiment).toBeUndefined();
      expect(h.rsByHash(canary)?.spec.replicas).toBe(0);
      expect(h.rsByHash(stable)?.spec.replicas).toBe(5);
      // Still one Experiment: the aborted rollout does not start another.
      expect(h.experiments().map((e) => e.metadata.name)).toEqual([name]);
    },
  );

  it('a user abort terminates the running Experiment; retry starts a new one under the -1 collision name', async () => {
    const { h, name } = await atExperimentStep();
    await h.setExperimentPhase(name, 'Running');
    await h.patchStatus({ abort: true });
    await h.converge();
    expect(h.ro().status).toMatchObject({ abort: true, phase: 'Degraded' });
    expect(h.experiments()[0]!.spec.terminate).toBe(true);
    expect(h.ro().status?.canary?.currentExperiment).toBeUndefined();

    // The Experiment controller ends the terminated Experiment; retry walks the steps again.
    await h.setExperimentPhase(name, 'Successful');
    await h.patchStatus({ abort: false });
    await h.converge();
    const st = h.ro().status!;
    expect(st.currentStepIndex).toBe(1);
    expect(h.experiments().map((e) => e.metadata.name)).toEqual([name, `${name}-1`]);
    expect(st.canary?.currentExperiment).toBe(`${name}-1`);
    expect(h.experiments()[1]!.spec.terminate).toBeUndefined();
  });

  it('Inconclusive pauses with InconclusiveExperiment; promote accepts it and the rollout moves on', async () => {
    const { h, name } = await atExperimentStep();
    await h.setExperimentPhase(name, 'Inconclusive');
    await h.converge();
    let st = h.ro().status!;
    expect(st.pauseConditions?.map((p) => p.reason)).toEqual(['InconclusiveExperiment']);
    expect(st).toMatchObject({ controllerPause: true, phase: 'Paused', currentStepIndex: 1 });
    expect(st.canary?.currentExperiment).toBe(name);
    h.nowMs += 600_000;
    await h.converge();
    expect(h.experiments()).toHaveLength(1); // paused: no second Experiment

    await promote(h);
    await h.converge();
    st = h.ro().status!;
    expect(st.currentStepIndex).toBe(3);
    expect(st.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(st.canary?.currentExperiment).toBeUndefined();
    expect(h.experiments()).toHaveLength(1);
  });

  it('promote on a running experiment step skips it and terminates the Experiment', async () => {
    const { h, name } = await atExperimentStep();
    await h.setExperimentPhase(name, 'Running');
    await promote(h);
    await h.converge();
    const st = h.ro().status!;
    expect(st.currentStepIndex).toBe(3);
    expect(st.canary?.currentExperiment).toBeUndefined();
    expect(h.experiments().map((e) => [e.metadata.name, e.spec.terminate])).toEqual([[name, true]]);
  });

  it('promote --full terminates the running Experiment and promotes the canary', async () => {
    const { h, canary, name } = await atExperimentStep();
    await h.setExperimentPhase(name, 'Running');
    await promote(h, true);
    await h.converge();
    const st = h.ro().status!;
    expect(st).toMatchObject({ phase: 'Healthy', stableRS: canary, currentStepIndex: 4 });
    expect(st.promoteFull).toBeUndefined();
    expect(st.canary?.currentExperiment).toBeUndefined();
    expect(h.experiments()[0]!.spec.terminate).toBe(true);
  });

  it('a controller restart that lost the status write adopts the existing Experiment instead of creating a second', async () => {
    const { h, name } = await atExperimentStep();
    await h.setExperimentPhase(name, 'Running');
    // The status as a controller that died between creating the Experiment and writing status left it.
    await h.patchStatus({ canary: { currentExperiment: null } });
    expect(h.ro().status?.canary?.currentExperiment).toBeUndefined();
    await h.converge();
    expect(h.experiments().map((e) => e.metadata.name)).toEqual([name]);
    expect(h.ro().status?.canary?.currentExperiment).toBe(name);
    expect(h.experiments()[0]!.spec.terminate).toBeUndefined();
    expect(h.eventReasons().filter((r) => r === 'ExperimentCreated')).toHaveLength(1);
  });

  it('an Experiment under the same name but of another revision is not adopted: the new one gets -1 and the stray is terminated', async () => {
    const { h, name } = await atExperimentStep();
    const stray = structuredClone(h.experiments()[0]!);
    await h.store.delete('Experiment', NS, name);
    stray.metadata.annotations = { 'rollout.argoproj.io/revision': '9' };
    delete stray.metadata.resourceVersion;
    delete stray.metadata.uid;
    h.store.seed(stray);
    await h.patchStatus({ canary: { currentExperiment: null } });
    await h.converge();
    expect(h.experiments().map((e) => [e.metadata.name, e.spec.terminate === true])).toEqual([
      [name, true],
      [`${name}-1`, false],
    ]);
    expect(h.ro().status?.canary?.currentExperiment).toBe(`${name}-1`);
  });

  it.each([
    [
      'revisionHistoryLimit deletes an old ReplicaSet together with its Experiments',
      { revisionHistoryLimit: 1 },
      [1, 2],
    ],
    [
      'unsuccessfulRunHistoryLimit keeps only the newest unsuccessful Experiments',
      { analysis: { unsuccessfulRunHistoryLimit: 1 } },
      [2],
    ],
  ] as const)('garbage collection: %s', async (_, extra, kept) => {
    const steps: CanaryStep[] = [EXPERIMENT_STEP, { pause: {} }];
    const h = await startHarness(rollout(steps, extra));
    const names: string[] = [];
    for (const image of ['web:2', 'web:3', 'web:4']) {
      await h.setImage(image);
      await h.converge();
      const name = h.ro().status?.canary?.currentExperiment;
      expect(name).toBeDefined();
      names.push(name!);
      await h.setExperimentPhase(name!, 'Inconclusive');
      await h.converge();
      await promote(h, true);
      await h.converge();
      expect(h.ro().status?.stableRS).toBe(h.ro().status?.currentPodHash);
    }
    // Three finished (Inconclusive) Experiments, for revisions 2, 3 and 4.
    expect(h.experiments().map((e) => e.metadata.name)).toEqual(kept.map((i) => names[i]).sort());
  });
});

describe('buildStepExperiment', () => {
  const ro = rollout();
  const stableRS = webReplicaSet('s1', { replicas: 5, revision: 1 });
  const newRS = webReplicaSet('c2', { replicas: 1, revision: 2 });
  const key = { podHash: 'c2', revision: 2, stepIndex: 1 };

  it('a template with a weight asks for a Service (weight itself is not routed yet)', () => {
    const built = buildStepExperiment(
      ro,
      { templates: [{ name: 'w', specRef: 'canary', weight: 10 }] },
      key,
      'web-c2-2-1',
      newRS,
      stableRS,
    );
    expect(built.ok && built.experiment.spec.templates[0]!.service).toEqual({});
  });

  it('a selector given in the step replaces the ReplicaSet selector, step labels are added to it', () => {
    const built = buildStepExperiment(
      ro,
      {
        templates: [
          {
            name: 's',
            specRef: 'stable',
            selector: { matchLabels: { exp: 's' } },
            metadata: { labels: { tier: 'x' } },
          },
        ],
      },
      key,
      'web-c2-2-1',
      newRS,
      stableRS,
    );
    expect(built.ok && built.experiment.spec.templates[0]!.selector).toEqual({
      matchLabels: { exp: 's', tier: 'x' },
    });
  });

  it('rejects a specRef that is neither canary nor stable', () => {
    const built = buildStepExperiment(
      ro,
      { templates: [{ name: 'x', specRef: 'preview' as 'canary' }] },
      key,
      'web-c2-2-1',
      newRS,
      stableRS,
    );
    expect(built).toEqual({ ok: false, error: 'templates[0].specRef: must be canary or stable' });
  });
});

describe('experiment step with the Experiment controller (src/experiment/) on the same store', () => {
  it('the Experiment runs its templates for the duration, ends Successful, and the rollout moves on', async () => {
    const steps: CanaryStep[] = [
      { setWeight: 20 },
      {
        experiment: {
          duration: '1m',
          templates: [
            { name: 'baseline', specRef: 'stable' },
            { name: 'canary', specRef: 'canary' },
          ],
        },
      },
      { pause: {} },
    ];
    const { h, name } = await atExperimentStep(steps);
    const both = async () => {
      for (let i = 0; i < 5; i++) {
        await h.converge();
        for (const ex of h.experiments()) {
          const res = await reconcileExperiment(h.store, NS, ex.metadata.name, h.nowMs);
          expect(res.error).toBeUndefined();
        }
        await h.settle();
      }
    };
    await both();
    expect(h.experiments()[0]!.status?.phase).toBe('Running');
    expect(h.rss().map((rs) => rs.metadata.name)).toEqual(
      expect.arrayContaining([`${name}-baseline`, `${name}-canary`]),
    );
    expect(h.ro().status?.currentStepIndex).toBe(1);
    h.nowMs += 61_000;
    await both();
    expect(h.experiments()[0]!.status?.phase).toBe('Successful');
    const st = h.ro().status!;
    expect(st.currentStepIndex).toBe(2);
    expect(st.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(st.canary?.currentExperiment).toBeUndefined();
  });
});

describe('experiment template weight validation (Argo ValidateRolloutStrategyCanary)', () => {
  const weighted: CanaryStep = {
    experiment: { templates: [{ name: 'c', specRef: 'canary', weight: 20 }] },
  };
  const path = 'spec.strategy.canary.steps[1].experiment.templates[0].weight: Invalid value: 20: ';
  it.each([
    [
      'no traffic routing',
      undefined,
      `${path}Experiment template weight cannot be set unless TrafficRouting is enabled`,
    ],
    [
      'nginx',
      { nginx: { stableIngress: 'web' } },
      `${path}Experiment template weight is only available for TrafficRouting with SMI, ALB, and Istio at this time`,
    ],
    ['istio', { istio: { virtualService: { name: 'web' } } }, undefined],
    ['smi', { smi: {} }, undefined],
  ] as const)('%s', (_, trafficRouting, expected) => {
    const ro = webRollout({
      canary: {
        steps: [{ setWeight: 10 }, weighted],
        ...(trafficRouting
          ? {
              trafficRouting: trafficRouting as Record<string, Record<string, unknown>>,
              canaryService: 'c',
              stableService: 's',
            }
          : {}),
      },
    });
    expect(validateRolloutSpec(ro)).toBe(expected);
  });

  it('an invalid weight makes the Rollout InvalidSpec (Degraded) and creates no Experiment', async () => {
    const h = await startHarness(rollout([{ setWeight: 20 }, weighted]));
    expect(h.ro().status?.phase).toBe('Degraded');
    expect(h.ro().status?.conditions?.find((c) => c.type === 'InvalidSpec')?.message).toContain(
      'Experiment template weight cannot be set unless TrafficRouting is enabled',
    );
    expect(h.experiments()).toEqual([]);
  });
});

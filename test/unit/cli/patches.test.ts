// The patches each user action sends, compared with the constants of Argo's kubectl plugin
// (pkg/kubectl-argo-rollouts/cmd/*), as the reference's section 2.4 describes them.

import { describe, expect, it } from 'vitest';
import { currentSetWeight, type Rollout } from '../../../src/api/rollout.ts';
import {
  ABORT_PATCH,
  deepDerivative,
  PAUSE_PATCH,
  parseContainerImage,
  pickRevision,
  promotePatches,
  RETRY_ROLLOUT_PATCH,
  restartPatch,
  setTemplateImage,
  templatesEqualIgnoringHash,
  undoPatch,
} from '../../../src/cli/rollouts/patches.ts';

function canary(status: Rollout['status'] = {}, extra: Partial<Rollout['spec']> = {}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'ro', namespace: 'ns', generation: 1 },
    spec: {
      strategy: {
        canary: {
          steps: [
            { setWeight: 20 },
            { pause: {} },
            { setWeight: 50 },
            { analysis: { templates: [{ templateName: 't' }] } },
          ],
        },
      },
      ...extra,
    },
    status,
  };
}

function blueGreen(status: Rollout['status'] = {}, paused = false): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'bg', namespace: 'ns' },
    spec: { paused, strategy: { blueGreen: { activeService: 'a', previewService: 'p' } } },
    status,
  };
}

describe('simple action patches are byte-for-byte Argo’s', () => {
  it('pause, abort and retry', () => {
    expect(PAUSE_PATCH).toBe('{"spec":{"paused":true}}');
    expect(ABORT_PATCH).toBe('{"status":{"abort":true}}');
    expect(RETRY_ROLLOUT_PATCH).toBe('{"status":{"abort":false}}');
  });

  it('restart sets spec.restartAt to the second in UTC, in Argo’s patch layout', () => {
    const text = restartPatch(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)));
    expect(text).toBe('{\n\t"spec": {\n\t\t"restartAt": "2026-01-02T03:04:05Z"\n\t}\n}');
    expect(JSON.parse(text)).toEqual({ spec: { restartAt: '2026-01-02T03:04:05Z' } });
  });
});

describe('promote sends the patch for the rollout’s state (Argo getPatches)', () => {
  it('a canary paused at a pause step: clears the pause conditions only', () => {
    const ro = canary({
      currentStepIndex: 1,
      controllerPause: true,
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: 't' }],
    });
    const plan = promotePatches(ro);
    expect(plan).toEqual({
      ok: true,
      patches: {
        status: '{"status":{"pauseConditions":null}}',
        unified: '{"spec":{"paused":false},"status":{"pauseConditions":null}}',
      },
    });
  });

  it('a manually paused rollout also gets spec.paused=false on the main resource', () => {
    const ro = canary(
      { currentStepIndex: 1, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: 't' }] },
      { paused: true },
    );
    const plan = promotePatches(ro);
    expect(plan.ok && plan.patches.spec).toBe('{"spec":{"paused":false}}');
    expect(plan.ok && plan.patches.status).toBe('{"status":{"pauseConditions":null}}');
  });

  it('a canary mid analysis step (no pause condition): skips to the next step', () => {
    const plan = promotePatches(canary({ currentStepIndex: 3 }));
    expect(plan).toEqual({
      ok: true,
      patches: {
        status: '{"status":{"pauseConditions":null, "currentStepIndex":4}}',
        unified: '{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":4}}',
      },
    });
  });

  it('an unset step index counts as step 0, and the index never passes len(steps)', () => {
    const unset = promotePatches(canary({}));
    expect(unset.ok && unset.patches.status).toBe(
      '{"status":{"pauseConditions":null, "currentStepIndex":1}}',
    );
    const done = promotePatches(canary({ currentStepIndex: 4 }));
    expect(done.ok && done.patches.status).toBe('{"status":{"pauseConditions":null, "currentStepIndex":4}}');
  });

  it('a canary paused on an inconclusive step analysis: clears controllerPause and moves on', () => {
    const ro = canary({
      currentStepIndex: 3,
      controllerPause: true,
      pauseConditions: [{ reason: 'InconclusiveAnalysisRun', startTime: 't' }],
      canary: { currentStepAnalysisRunStatus: { name: 'r', status: 'Inconclusive' } },
    });
    const plan = promotePatches(ro);
    expect(plan.ok && plan.patches.status).toBe(
      '{"status":{"pauseConditions":null, "controllerPause":false, "currentStepIndex":4}}',
    );
  });

  it('a blue-green paused before promotion: clears the pause conditions', () => {
    const plan = promotePatches(
      blueGreen({ controllerPause: true, pauseConditions: [{ reason: 'BlueGreenPause', startTime: 't' }] }),
    );
    expect(plan.ok && plan.patches).toEqual({
      status: '{"status":{"pauseConditions":null}}',
      unified: '{"spec":{"paused":false},"status":{"pauseConditions":null}}',
    });
  });

  it('a blue-green that is not paused sends no status patch (nothing to skip)', () => {
    const plan = promotePatches(blueGreen({}));
    expect(plan.ok && plan.patches.status).toBeUndefined();
    expect(plan.ok && plan.patches.spec).toBeUndefined();
  });

  it('--full sets status.promoteFull only while an update is in progress', () => {
    const updating = promotePatches(canary({ currentPodHash: 'new', stableRS: 'old' }), { full: true });
    expect(updating.ok && updating.patches.status).toBe('{"status":{"promoteFull":true}}');
    const settled = promotePatches(canary({ currentPodHash: 'same', stableRS: 'same' }), { full: true });
    expect(settled.ok && settled.patches.status).toBeUndefined();
  });

  it('--full on a manually paused rollout also unpauses it', () => {
    const plan = promotePatches(blueGreen({ currentPodHash: 'n', stableRS: 'o' }, true), { full: true });
    expect(plan.ok && plan.patches).toEqual({
      status: '{"status":{"promoteFull":true}}',
      spec: '{"spec":{"paused":false}}',
      unified: '{"spec":{"paused":false}}',
    });
  });

  it('the deprecated skip flags set the step index, and are refused where Argo refuses them', () => {
    const skipOne = promotePatches(canary({ currentStepIndex: 1 }), { skipCurrentStep: true });
    expect(skipOne.ok && skipOne.patches.status).toBe('{"status":{"currentStepIndex":2}}');
    const skipAll = promotePatches(canary({ currentStepIndex: 1 }), { skipAllSteps: true });
    expect(skipAll.ok && skipAll.patches.status).toBe('{"status":{"currentStepIndex":4}}');
    expect(promotePatches(blueGreen(), { skipAllSteps: true })).toEqual({
      ok: false,
      error: 'Cannot skip steps of a bluegreen rollout. Run without a flags',
    });
    expect(promotePatches(canary(), { skipAllSteps: true, skipCurrentStep: true })).toEqual({
      ok: false,
      error: 'Cannot use skip-current-step and skip-all-steps flags at the same time',
    });
    const noSteps = canary();
    noSteps.spec.strategy.canary!.steps = [];
    expect(promotePatches(noSteps, { skipCurrentStep: true })).toEqual({
      ok: false,
      error: 'Cannot skip steps of a rollout without steps',
    });
  });
});

describe('set weight as shown by get/list (Argo GetCurrentSetWeight)', () => {
  it.each([
    [0, 20],
    [1, 20],
    [2, 50],
    [3, 50],
    [4, 100],
  ])('at step %i the set weight is %i', (index, weight) => {
    expect(currentSetWeight(canary({ currentStepIndex: index }))).toBe(weight);
  });

  it('is 0 while aborted', () => {
    expect(currentSetWeight(canary({ currentStepIndex: 2, abort: true }))).toBe(0);
  });
});

describe('undo', () => {
  const t = (image: string, hash?: string) => ({
    metadata: { labels: { app: 'x', ...(hash ? { 'rollouts-pod-template-hash': hash } : {}) } },
    spec: { containers: [{ name: 'app', image }] },
  });

  it('picks the previous revision by default, or the one asked for', () => {
    const candidates = [
      { name: 'rs1', revision: 1, template: t('v1') },
      { name: 'rs3', revision: 3, template: t('v3') },
      { name: 'rs2', revision: 2, template: t('v2') },
    ];
    expect(pickRevision('ro', candidates, 0)).toMatchObject({ ok: true, candidate: { name: 'rs2' } });
    expect(pickRevision('ro', candidates, 1)).toMatchObject({ ok: true, candidate: { name: 'rs1' } });
    expect(pickRevision('ro', candidates, 7)).toEqual({
      ok: false,
      error: 'unable to find specified revision 7 in history',
    });
    expect(pickRevision('ro', [candidates[0]!], 0)).toEqual({
      ok: false,
      error: 'no revision found for rollout "ro"',
    });
  });

  it('restores the template without the pod-template-hash label, as a JSON patch on /spec/template', () => {
    expect(undoPatch(t('v1', 'abc'))).toEqual([{ op: 'replace', path: '/spec/template', value: t('v1') }]);
  });

  it('treats a template equal but for the hash label and defaulted fields as already in place', () => {
    const rsTemplate = {
      metadata: { labels: { app: 'x', 'rollouts-pod-template-hash': 'abc' }, creationTimestamp: null },
      spec: {
        containers: [{ name: 'app', image: 'v1', imagePullPolicy: 'IfNotPresent' }],
        restartPolicy: 'Always',
      },
    };
    expect(templatesEqualIgnoringHash(t('v1'), rsTemplate)).toBe(true);
    expect(templatesEqualIgnoringHash(t('v2'), rsTemplate)).toBe(false);
    expect(deepDerivative({ a: [1, 2] }, { a: [1] })).toBe(false);
  });
});

describe('set image', () => {
  const template = {
    spec: {
      initContainers: [{ name: 'init', image: 'i:1' }],
      containers: [
        { name: 'app', image: 'a:1' },
        { name: 'side', image: 's:1' },
      ],
    },
  };

  it('sets the named container’s image and leaves the input untouched', () => {
    const result = setTemplateImage(template, 'app', 'a:2');
    expect(result.ok && result.value.spec?.containers).toEqual([
      { name: 'app', image: 'a:2' },
      { name: 'side', image: 's:1' },
    ]);
    expect(template.spec.containers[0]!.image).toBe('a:1');
  });

  it('sets every container, init containers included, for *', () => {
    const result = setTemplateImage(template, '*', 'x:9');
    expect(result.ok && JSON.stringify(result.value).match(/x:9/g)?.length).toBe(3);
  });

  it('names the missing container', () => {
    expect(setTemplateImage(template, 'nope', 'x')).toEqual({
      ok: false,
      error: 'unable to find container named "nope"',
    });
  });

  it('parses CONTAINER=IMAGE and rejects anything else', () => {
    expect(parseContainerImage('app=nginx:1.2')).toEqual({ container: 'app', image: 'nginx:1.2' });
    expect(parseContainerImage('nginx')).toBeUndefined();
    expect(parseContainerImage('a=b=c')).toBeUndefined();
  });
});

// Regression tests for controller bugs found by the blue-green and analysis e2e suites (test/e2e/), replayed
// over the in-memory store so they need no cluster.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { Harness, NS } from '../../fixtures/rollout-harness.ts';
import { webRollout, webService } from '../../fixtures/rollout-objects.ts';

const TEMPLATE: KubeObject = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'check', namespace: NS },
  spec: { metrics: [{ name: 'm', provider: { web: { url: 'http://127.0.0.1:1/' } } }] },
} as KubeObject;

/** A blue-green Rollout `web` with Services `active` and `preview`. */
function blueGreen(extra: Record<string, unknown>): Rollout {
  return webRollout({
    blueGreen: { activeService: 'active', previewService: 'preview', ...extra },
  } as Rollout['spec']['strategy']);
}

function terminated(h: Harness, name: string): boolean {
  const run = h.runs().find((r) => r.metadata.name === name) as
    | { spec?: { terminate?: boolean } }
    | undefined;
  return run?.spec?.terminate === true;
}

describe('blue-green promote --full', () => {
  it('terminates the running pre-promotion analysis it skips', async () => {
    const h = new Harness('web');
    h.seed([webService('active'), webService('preview'), TEMPLATE]);
    h.seed([
      blueGreen({
        autoPromotionEnabled: false,
        prePromotionAnalysis: { templates: [{ templateName: 'check' }] },
      }),
    ]);
    await h.converge();
    await h.setImage('web:2');
    await h.converge();
    const green = h.ro().status!.currentPodHash!;
    const pre = `web-${green}-2-pre`;
    await h.setRunPhase(pre, 'Running');
    await h.converge();
    expect(terminated(h, pre)).toBe(false);

    await h.patchStatus({ promoteFull: true });
    await h.converge();
    expect(h.ro().status).toMatchObject({ phase: 'Healthy', stableRS: green });
    expect(terminated(h, pre)).toBe(true);
  });
});

describe('canary background analysis', () => {
  it('after the user resumes from an inconclusive background run, a new run starts and the old one no longer pauses', async () => {
    const h = new Harness('web');
    h.seed([TEMPLATE]);
    h.seed([
      webRollout({
        canary: {
          analysis: { templates: [{ templateName: 'check' }] },
          steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }, { pause: {} }],
        },
      }),
    ]);
    await h.converge();
    await h.setImage('web:2');
    await h.converge();
    const hash = h.ro().status!.currentPodHash!;
    const first = `web-${hash}-2`;
    await h.setRunPhase(first, 'Inconclusive');
    await h.converge();
    expect(
      h
        .ro()
        .status!.pauseConditions?.map((p) => p.reason)
        .sort(),
    ).toEqual(['CanaryPauseStep', 'InconclusiveAnalysisRun']);

    await h.patchStatus({ pauseConditions: null }); // sluice promote
    await h.converge();
    const st = h.ro().status!;
    expect(st.currentStepIndex).toBe(3);
    expect(st.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(h.runs().map((r) => r.metadata.name)).toEqual([first, `${first}.1`]);
    expect(st.canary?.currentBackgroundAnalysisRunStatus?.name).toBe(`${first}.1`);
  });
});

describe('canary step analysis', () => {
  it('a running step run is terminated when promote moves the rollout past its step', async () => {
    const h = new Harness('web');
    h.seed([TEMPLATE]);
    h.seed([
      webRollout({
        canary: {
          steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }] } }, { pause: {} }],
        },
      }),
    ]);
    await h.converge();
    await h.setImage('web:2');
    await h.converge();
    const run = `web-${h.ro().status!.currentPodHash}-2-1`;
    await h.setRunPhase(run, 'Running');
    await h.converge();
    expect(h.ro().status!.canary?.currentStepAnalysisRunStatus?.name).toBe(run);

    await h.patchStatus({ pauseConditions: null, currentStepIndex: 2 }); // sluice promote mid-analysis
    await h.converge();
    expect(h.ro().status!.pauseConditions?.map((p) => p.reason)).toEqual(['CanaryPauseStep']);
    expect(h.ro().status!.canary?.currentStepAnalysisRunStatus).toBeUndefined();
    expect(terminated(h, run)).toBe(true);
  });
});

describe('blue-green initial deploy', () => {
  it('announces RolloutCompleted (Initial deploy) once, as the canary does', async () => {
    const h = new Harness('web');
    h.seed([webService('active'), webService('preview')]);
    h.seed([blueGreen({})]);
    await h.converge();
    const hash = h.ro().status!.currentPodHash!;
    const completed = h.store
      .list<KubeObject & { reason: string; message: string }>('Event', NS)
      .filter((ev) => ev.reason === 'RolloutCompleted');
    expect(completed.map((ev) => ev.message)).toEqual([
      `Rollout completed update to revision 1 (${hash}): Initial deploy`,
    ]);
  });
});

// Controller restarts on the real test cluster: a `sluice controller` subprocess is SIGKILLed (no drain, no
// lease release, writes in flight cut off) during a pause step, during a step analysis and during an abort,
// then a new process is started on the same namespace. The rollout must carry on from the state stored in
// the API (status, ReplicaSets, AnalysisRuns, annotations): same step, same ReplicaSets and AnalysisRuns by
// name, none duplicated.

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

// How long a restarted controller is watched for a change it must not make. It reconciles every Rollout as
// soon as its caches sync (the fixture waits for that), but a reconcile that correctly changes nothing
// leaves no trace to wait for, so the check is a window.
const SETTLE_MS = 2_500;

function names(list: { name: string }[]): string[] {
  return list.map((x) => x.name).sort();
}

describe('controller killed and restarted', () => {
  it('during a pause step: resumes at the same step with the same ReplicaSets, and promotes', async () => {
    e = await E2e.create('restart-pause', { controller: 'subprocess' });
    await e.healthyRollout(
      canaryRollout('ro', { replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }] }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    const paused = await e.waitForRollout('ro', 'paused at step 1', (r) => r.status?.phase === 'Paused');
    expect(paused.status?.currentStepIndex).toBe(1);
    await e.waitForPodCounts('ro', { '1': 1, '2': 1 });
    const rsBefore = await e.replicaSets('ro');
    expect(rsBefore).toHaveLength(2);

    await e.killController();
    await e.startController('subprocess');
    await waitOut(SETTLE_MS, 'the new controller must resume the pause step as it stands, changing nothing');
    const after = await e.waitForPhase('ro', 'Paused');
    expect(after.status?.currentStepIndex).toBe(1);
    expect(after.status?.pauseConditions).toHaveLength(1);
    expect(after.status?.pauseConditions?.[0]?.startTime).toBe(
      paused.status?.pauseConditions?.[0]?.startTime,
    );
    expect(names(await e.replicaSets('ro'))).toEqual(names(rsBefore));
    expect(await e.podCountsByRevision('ro')).toEqual({ '1': 1, '2': 1 });

    await e.sluiceOk('promote', 'ro');
    const done = await e.waitForPhase('ro', 'Healthy');
    expect(done.status?.currentStepIndex).toBe(3);
    expect(names(await e.replicaSets('ro'))).toEqual(names(rsBefore));
    await e.waitForPodCounts('ro', { '1': 0, '2': 2 });
  });

  it('while down, a promote is picked up by the next controller', async () => {
    e = await E2e.create('restart-promote-down', { controller: 'subprocess' });
    await e.healthyRollout(canaryRollout('ro', { replicas: 2 }), 'ro');
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.killController();
    await e.sluiceOk('promote', 'ro');
    await e.startController('subprocess');
    await e.waitForPhase('ro', 'Healthy');
    expect(await e.replicaSets('ro')).toHaveLength(2);
    await e.waitForPodCounts('ro', { '1': 0, '2': 2 });
  });

  it('during a step analysis: the same AnalysisRun finishes, none is created twice', async () => {
    e = await E2e.create('restart-analysis', { controller: 'subprocess' });
    web = await startWebMetric(1);
    await e.apply(webMetricTemplate('check', web.url, { count: 4, intervalS: 1 }));
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }] } }, { pause: {} }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    const running = await e.waitForAnalysisRuns('ro', 'one Running run', (runs) =>
      runs.some((r) => r.phase === 'Running'),
    );
    expect(running).toHaveLength(1);
    const rsBefore = await e.replicaSets('ro');

    await e.killController();
    const requestsWhileDown = web.requests;
    await e.startController('subprocess');
    const paused = await e.waitForRollout(
      'ro',
      'analysis done, paused at step 2',
      (r) => r.status?.currentStepIndex === 2 && r.status.phase === 'Paused',
    );
    // The step analysis status is cleared once the step moves on, as in Argo.
    expect(paused.status?.canary?.currentStepAnalysisRunStatus).toBeUndefined();
    const runs = await e.analysisRuns('ro');
    expect(names(runs)).toEqual(names(running));
    expect(runs[0]?.phase).toBe('Successful');
    expect(web.requests).toBeGreaterThan(requestsWhileDown);
    expect(names(await e.replicaSets('ro'))).toEqual(names(rsBefore));
  });

  it('right after an abort request: the next controller performs the abort once', async () => {
    e = await E2e.create('restart-abort', { controller: 'subprocess' });
    await e.healthyRollout(canaryRollout('ro', { replicas: 2 }), 'ro');
    await e.setImage('ro', 'example.com/app:v2');
    await e.waitForPhase('ro', 'Paused');
    await e.waitForPodCounts('ro', { '1': 1, '2': 1 });
    const rsBefore = await e.replicaSets('ro');
    await e.sluiceOk('abort', 'ro');
    await e.killController();
    await e.startController('subprocess');
    const aborted = await e.waitForRollout(
      'ro',
      'aborted and Degraded at step 0',
      (r) => r.status?.phase === 'Degraded' && r.status.currentStepIndex === 0,
    );
    expect(aborted.status?.abort).toBe(true);
    await e.waitForPodCounts('ro', { '1': 2, '2': 0 });
    expect(names(await e.replicaSets('ro'))).toEqual(names(rsBefore));
    await waitOut(SETTLE_MS, 'the abort must be performed once: no second RolloutAborted event');
    expect(e.eventReasons('ro').filter((r) => r === 'RolloutAborted')).toHaveLength(1);
  });

  it('during an abort on a failed analysis with a delayed canary scale-down: finishes the scale-down once', async () => {
    e = await E2e.create('restart-abort-analysis', { controller: 'subprocess' });
    web = await startWebMetric(0);
    await e.apply(webMetricTemplate('check', web.url, { count: 2, intervalS: 1 }));
    await e.apply([
      service('ro-stable', 'ro'),
      service('ro-canary', 'ro'),
      ingress('ro-ingress', 'ro-stable'),
    ]);
    await e.healthyRollout(
      canaryRollout('ro', {
        replicas: 2,
        canary: {
          stableService: 'ro-stable',
          canaryService: 'ro-canary',
          trafficRouting: { nginx: { stableIngress: 'ro-ingress' } },
          abortScaleDownDelaySeconds: 4,
        },
        steps: [{ setWeight: 50 }, { analysis: { templates: [{ templateName: 'check' }] } }, { pause: {} }],
      }),
      'ro',
    );
    await e.setImage('ro', 'example.com/app:v2');
    const aborted = await e.waitForRollout(
      'ro',
      'aborted',
      (r) => r.status?.abort === true && r.status.phase === 'Degraded',
    );
    const stable = aborted.status?.stableRS ?? '';
    // The canary is still up, waiting for its abort scale-down deadline.
    const canary = await e.waitFor('the canary annotated with its scale-down deadline', async () => {
      const rs = await e!.replicaSetOfRevision('ro', 2);
      return rs?.annotations['scale-down-deadline'] !== undefined && rs.replicas > 0 ? rs : undefined;
    });
    const runsBefore = await e.analysisRuns('ro');
    expect(runsBefore.map((r) => r.phase)).toEqual(['Failed']);

    await e.killController();
    await e.startController('subprocess');
    await e.waitForReplicaSetSpecs('ro', { '1': 2, '2': 0 }, 30_000);
    const after = await e.waitForPhase('ro', 'Degraded');
    expect(after.status?.abort).toBe(true);
    expect(after.status?.stableRS).toBe(stable);
    expect(await e.serviceSelector('ro-canary')).toMatchObject({ 'rollouts-pod-template-hash': stable });
    const rsAfter = await e.replicaSets('ro');
    expect(names(rsAfter)).toContain(canary.name);
    expect(rsAfter).toHaveLength(2);
    expect(names(await e.analysisRuns('ro'))).toEqual(names(runsBefore));
  });
});

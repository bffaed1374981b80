// The guides' examples applied with kubectl as written (only metadata.namespace becomes the test's own) and
// driven through their whole lifecycle by a real controller on the test cluster with the `sluice` verbs.

import { afterEach, describe, expect, it } from 'vitest';
import { E2e } from './fixture.ts';

const HASH = 'rollouts-pod-template-hash';
const DEADLINE = 'scale-down-deadline';
const RO = 'order-processor-rollout';
const ACTIVE = 'order-processor-active';
const PREVIEW = 'order-processor-preview';
const IMAGE = 'internal-registry.enterprise.io/logistics/order-worker';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

/** Moves an RS's scale-down deadline to `inMs` from now: time passing, without waiting 300 s. */
async function expireDeadline(rsName: string, inMs = 500): Promise<void> {
  await e!.client.mergePatch(`/apis/apps/v1/namespaces/${e!.namespace}/replicasets/${rsName}`, {
    metadata: { annotations: { [DEADLINE]: new Date(Date.now() + inMs).toISOString() } },
  });
}

async function selectors(): Promise<{ active?: string; preview?: string }> {
  return {
    active: (await e!.serviceSelector(ACTIVE))[HASH],
    preview: (await e!.serviceSelector(PREVIEW))[HASH],
  };
}

describe('the guides on the test cluster', () => {
  it('blue-green order-processor: update, preview, manual promote, active switch, delayed scale-down, abort, undo', async () => {
    e = await E2e.create('guide-bg');
    await e.applyGuide('blue-green-services.yaml');
    await e.applyGuide('blue-green-rollout.yaml');
    const v1 = await e.waitForPhase(RO, 'Healthy', 60_000);
    const blue = v1.status!.stableRS!;
    expect(await selectors()).toEqual({ active: blue, preview: blue });
    await e.waitForPodCounts(RO, { '1': 8 });

    // update image -> the preview stack comes up at full size; the rollout pauses at the manual gate
    await e.sluiceOk('set', 'image', RO, `order-worker=${IMAGE}:v1.5.0`);
    const paused = await e.waitForPhase(RO, 'Paused');
    const green = paused.status!.currentPodHash!;
    expect(green).not.toBe(blue);
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['BlueGreenPause']);
    expect(await selectors()).toEqual({ active: blue, preview: green });
    await e.waitForPodCounts(RO, { '1': 8, '2': 8 });

    // promote -> active switched; the old RS keeps its pods for scaleDownDelaySeconds (300 s)
    await e.sluiceOk('promote', RO);
    const switchedMs = Date.now();
    const healthy = await e.waitForPhase(RO, 'Healthy');
    expect(healthy.status!.stableRS).toBe(green);
    expect(await selectors()).toEqual({ active: green, preview: green });
    const old = (await e.replicaSetOfRevision(RO, 1))!;
    expect(old.replicas).toBe(8);
    const deadlineMs = Date.parse(old.annotations[DEADLINE]!);
    expect(deadlineMs - switchedMs).toBeGreaterThan(290_000);
    expect(deadlineMs - switchedMs).toBeLessThan(310_000);
    expect(e.eventReasons(RO)).toContain('RolloutCompleted');

    // time passes (the deadline is moved, not the clock): the old RS is scaled to zero at its deadline
    await expireDeadline(old.name);
    await e.waitForPodCounts(RO, { '1': 0, '2': 8 });
    expect((await e.replicaSetOfRevision(RO, 1))!.annotations[DEADLINE]).toBeUndefined();

    // a third revision is aborted at the gate: active stays, preview goes back to stable, the new RS goes
    await e.sluiceOk('set', 'image', RO, `order-worker=${IMAGE}:v1.6.0`);
    const paused3 = await e.waitForPhase(RO, 'Paused');
    const bad = paused3.status!.currentPodHash!;
    expect(await selectors()).toEqual({ active: green, preview: bad });
    await e.sluiceOk('abort', RO);
    const degraded = await e.waitForPhase(RO, 'Degraded');
    expect(degraded.status!.message).toBe('RolloutAborted: Rollout aborted update to revision 3');
    expect(degraded.status!.stableRS).toBe(green);
    await e.waitForServiceSelector(PREVIEW, green);
    expect((await selectors()).active).toBe(green);
    const badRS = await e.waitFor('the abort scale-down deadline on revision 3', async () => {
      const rs = await e!.replicaSetOfRevision(RO, 3);
      return rs?.annotations[DEADLINE] ? rs : undefined;
    });
    expect(badRS.replicas).toBe(8);
    await expireDeadline(badRS.name);
    await e.waitForPodCounts(RO, { '2': 8, '3': 0 });
    expect((await e.rollout(RO)).status!.phase).toBe('Degraded');

    // undo to revision 1: an ordinary update through the preview and the gate, then promoted
    await e.sluiceOk('undo', RO, '--to-revision', '1');
    const paused4 = await e.waitForPhase(RO, 'Paused');
    expect(paused4.status!.currentPodHash).toBe(blue);
    expect(paused4.status!.abort ?? false).toBe(false);
    expect(await selectors()).toEqual({ active: green, preview: blue });
    await e.sluiceOk('promote', RO);
    const back = await e.waitForPhase(RO, 'Healthy');
    expect(back.status!.stableRS).toBe(blue);
    expect(await selectors()).toEqual({ active: blue, preview: blue });
    // the RS of revision 1 is reused (no new pods template) and renumbered as revision 4
    const rss = await e.replicaSets(RO);
    expect(rss.map((rs) => [rs.revision, rs.hash])).toEqual([
      ['2', green],
      ['3', bad],
      ['4', blue],
    ]);
    const reasons = e.eventReasons(RO);
    expect(reasons.filter((r) => r === 'RolloutCompleted').length).toBeGreaterThanOrEqual(2);
    expect(reasons).toContain('RolloutAborted');
  });
});

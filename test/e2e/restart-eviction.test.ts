// restartAt through the eviction API on the real test cluster (Kubernetes 1.20: policy/v1beta1
// Eviction): a PodDisruptionBudget that allows no disruption makes the API server answer 429, the
// controller leaves the pods alone and keeps the Rollout "restarting" without an error; once the budget
// is gone the 30 s re-check evicts every old pod and records restartedAt. (The test control plane runs no
// disruption controller, so a budget's status is never computed and it refuses every eviction: exactly
// a budget with no disruptions allowed.)

import { afterEach, describe, expect, it } from 'vitest';
import { waitOut } from '../cluster/wait.ts';
import { canaryRollout, E2e } from './fixture.ts';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

const RECHECK_WAIT_MS = 45_000;

describe('restart by eviction', () => {
  it('honours a PodDisruptionBudget (429 = retry later), then evicts every old pod', async () => {
    e = await E2e.create('restart-evict');
    const t = e;
    await t.healthyRollout(canaryRollout('ro', { replicas: 2 }), 'ro');
    const before = await t.waitFor('two ready pods', async () => {
      const pods = (await t.pods()).filter((p) => !p.deleting && p.ready);
      return pods.length === 2 ? pods : undefined;
    });
    await t.apply({
      apiVersion: 'policy/v1beta1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'ro' },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'ro' } } },
    });
    await t.waitPastCreationSecond(before);
    await t.sluiceOk('restart', 'ro');
    await t.waitForRollout('ro', 'restarting', (r) => r.status?.message === 'rollout is restarting');
    await waitOut(3_000, 'while the budget refuses every eviction no pod may go and restartedAt stays unset');
    const held = (await t.pods()).filter((p) => !p.deleting);
    expect(held.map((p) => p.name).sort()).toEqual(before.map((p) => p.name).sort());
    const ro = await t.rollout('ro');
    expect(ro.status?.restartedAt).toBeUndefined();
    expect(ro.status?.phase).toBe('Progressing');

    await t.kubectl('delete', 'pdb', 'ro');
    const restarted = await t.waitForRollout(
      'ro',
      'restartedAt recorded',
      (r) => r.spec.restartAt !== undefined && r.status?.restartedAt === r.spec.restartAt,
      RECHECK_WAIT_MS,
    );
    const restartAtMs = Date.parse(restarted.spec.restartAt ?? '');
    const after = await t.waitFor('two fresh ready pods', async () => {
      const pods = (await t.pods()).filter((p) => !p.deleting);
      return pods.length === 2 && pods.every((p) => p.ready) ? pods : undefined;
    });
    const oldNames = new Set(before.map((p) => p.name));
    expect(after.every((p) => !oldNames.has(p.name))).toBe(true);
    expect(after.every((p) => p.createdMs >= restartAtMs - 1_000)).toBe(true);
    await t.waitForPhase('ro', 'Healthy');
  }, 120_000);
});

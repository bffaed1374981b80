// spec.restartAt (Argo's restart.go): pods created before restartAt are evicted through the eviction API,
// stable ReplicaSet first, then the new one, then the others oldest first, at most max(maxUnavailable, 1)
// at a time within the availability floor; a PodDisruptionBudget's 429 leaves the pod for the 30 s
// re-check and is no error; status.restartedAt is written when none is left.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { computePodTemplateHash } from '../../../src/api/pod-template/hash.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import type { Pod, ReplicaSet } from '../../../src/api/workloads.ts';
import type { Observed } from '../../../src/rollout/context.ts';
import { planRollout } from '../../../src/rollout/plan.ts';
import { RESTART_RECHECK_MS } from '../../../src/rollout/restart.ts';
import { StoreError } from '../../../src/store/object-store.ts';
import { Harness, NS } from '../../fixtures/rollout-harness.ts';
import { webReplicaSet, webRollout } from '../../fixtures/rollout-objects.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const tpl = (image: string) => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image }] },
});
const NEW = computePodTemplateHash(tpl('web:new'));

const rs = (hash: string, replicas: number, createdMs: number, revision: number): ReplicaSet =>
  webReplicaSet(hash, { replicas, revision, creationTimestamp: iso(createdMs) });

function pod(owner: ReplicaSet, i: number, createdMs: number, ready = true): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${owner.metadata.name}-${i}`,
      namespace: 'ns',
      creationTimestamp: iso(createdMs),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner.metadata.name, uid: 'x' }],
    },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

/** A canary mid-update (paused): stable `sss`, new RS, and two older RSs still scaled up. */
function observed(maxUnavailable: number | string, podsReady = true): Observed {
  const ro: Rollout = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'ns', uid: 'u1', generation: 3 },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'web' } },
      template: tpl('web:new'),
      restartAt: iso(T0),
      strategy: {
        canary: {
          maxUnavailable,
          maxSurge: 1,
          steps: [{ setWeight: 25 }, { pause: {} }],
        },
      },
    },
    status: { stableRS: 'sss', currentPodHash: NEW, currentStepIndex: 1, currentStepHash: undefined },
  };
  const stable = rs('sss', 5, T0 - 50_000, 3);
  const fresh = rs(NEW, 1, T0 - 10_000, 4);
  const newer = rs('ccc', 1, T0 - 40_000, 2);
  const oldest = rs('ddd', 1, T0 - 90_000, 1);
  const pods = [
    ...[0, 1, 2, 3].map((i) => pod(stable, i, T0 - 50_000 + i * 1000, podsReady)),
    pod(fresh, 0, T0 - 9_000, podsReady),
    pod(newer, 0, T0 - 39_000, podsReady),
    pod(oldest, 0, T0 - 89_000, podsReady),
    // Created after restartAt: never restarted.
    pod(stable, 9, T0 + 1_000, podsReady),
  ];
  return {
    rollout: ro,
    replicaSets: [newer, stable, oldest, fresh],
    services: {},
    analysisRuns: [],
    lookupTemplate: () => undefined,
    pods,
    nowMs: T0 + 5_000,
  };
}

function restart(obs: Observed): { names: readonly string[]; limit: number } | undefined {
  const a = planRollout(obs).actions.find((x) => x.kind === 'evictPods');
  return a?.kind === 'evictPods' ? { names: a.names, limit: a.limit } : undefined;
}

describe('restart planning', () => {
  it('lists the candidates stable RS first, then the new RS, then the other ReplicaSets oldest first', () => {
    // Only pods created before restartAt; within an RS the oldest pod first.
    expect(restart(observed('100%'))).toEqual({
      names: ['web-sss-0', 'web-sss-1', 'web-sss-2', 'web-sss-3', `web-${NEW}-0`, 'web-ddd-0', 'web-ccc-0'],
      limit: 4,
    });
  });

  it('lets at most max(maxUnavailable, 1) go at a time and re-checks in 30 s', () => {
    for (const [maxUnavailable, n] of [
      [0, 1],
      [1, 1],
      [2, 2],
      ['50%', 2],
    ] as const) {
      const obs = observed(maxUnavailable);
      expect(restart(obs)?.limit, String(maxUnavailable)).toBe(n);
      expect(planRollout(obs).requeueAfterMs).toBe(RESTART_RECHECK_MS);
    }
  });

  it('evicts nothing while pods are already unavailable, and keeps restarting', () => {
    const plan = planRollout(observed(2, false));
    expect(plan.actions.filter((a) => a.kind === 'evictPods')).toHaveLength(0);
    expect(plan.status.restartedAt).toBeUndefined();
    expect(plan.requeueAfterMs).toBe(RESTART_RECHECK_MS);
  });

  it('is not done while an old pod is still terminating', () => {
    const obs = observed(1);
    const pods = obs
      .pods!.filter((p) => createdBefore(p, T0))
      .map((p, i) =>
        i === 0 ? { ...p, metadata: { ...p.metadata, deletionTimestamp: iso(T0 + 1_000) } } : p,
      );
    const terminatingOnly = { ...obs, pods: [pods[0]!, ...obs.pods!.filter((p) => !createdBefore(p, T0))] };
    const plan = planRollout(terminatingOnly);
    expect(plan.actions.filter((a) => a.kind === 'evictPods')).toHaveLength(0);
    expect(plan.status.restartedAt).toBeUndefined();
    const done = planRollout({ ...obs, pods: obs.pods!.filter((p) => !createdBefore(p, T0)) });
    expect(done.status.restartedAt).toBe(iso(T0));
  });

  it('a restartAt in the future is re-queued for that time', () => {
    const obs = observed(1);
    const plan = planRollout({ ...obs, nowMs: T0 - 7_000 });
    expect(plan.actions.filter((a) => a.kind === 'evictPods')).toHaveLength(0);
    expect(plan.requeueAfterMs).toBe(7_000);
  });
});

function createdBefore(p: Pod, ms: number): boolean {
  return Date.parse(p.metadata.creationTimestamp ?? '') < ms;
}

/** The Rollout `web` the store tests restart: 3 replicas, canary with maxUnavailable 1. */
const harnessRollout = (): Rollout => webRollout({ canary: { maxUnavailable: 1 } }, { replicas: 3 });

describe('restart through the store', () => {
  it('evicts (never deletes) each old pod once, replacements come up, then records restartedAt', async () => {
    const h = new Harness('web');
    h.withPods = true;
    h.seed([harnessRollout() as KubeObject]);
    await h.converge();
    const before = h.pods().map((p) => p.metadata.name);
    expect(before).toHaveLength(3);
    const evicted: string[] = [];
    h.store.injectFaults((w) => {
      if (w.verb === 'evict') evicted.push(w.name);
      return undefined;
    });
    h.nowMs += 2_000;
    const restartAt = iso(h.nowMs);
    await h.store.patch('Rollout', NS, 'web', { spec: { restartAt } });
    h.nowMs += 2_000;
    await h.converge();
    expect(h.ro().status?.restartedAt).toBe(restartAt);
    expect(evicted.sort()).toEqual([...before].sort());
    expect(h.store.writes.get('evict Pod')).toBe(3);
    expect(h.store.writes.get('delete Pod')).toBe(3);
    const after = h.pods().map((p) => p.metadata.name);
    expect(after).toHaveLength(3);
    expect(after.some((n) => before.includes(n))).toBe(false);
    expect(h.ro().status?.phase).toBe('Healthy');
  });

  it('a PodDisruptionBudget refusal (429) is no error: the pod stays, the rollout keeps restarting', async () => {
    const h = new Harness('web');
    h.withPods = true;
    h.seed([harnessRollout() as KubeObject]);
    await h.converge();
    let budget = false;
    h.store.injectFaults((w) =>
      w.verb === 'evict' && budget
        ? new StoreError(
            'TooManyRequests',
            429,
            "Cannot evict pod as it would violate the pod's disruption budget.",
          )
        : undefined,
    );
    budget = true;
    h.nowMs += 2_000;
    const restartAt = iso(h.nowMs);
    await h.store.patch('Rollout', NS, 'web', { spec: { restartAt } });
    h.nowMs += 2_000;
    const res = await h.reconcile();
    expect(res.error).toBeUndefined();
    expect(res.requeueAfterMs).toBe(RESTART_RECHECK_MS);
    expect(h.pods()).toHaveLength(3);
    expect(h.ro().status).toMatchObject({ phase: 'Progressing', message: 'rollout is restarting' });
    expect(h.ro().status?.restartedAt).toBeUndefined();
    // The budget allows it again: the next passes finish the restart.
    budget = false;
    await h.converge();
    expect(h.ro().status?.restartedAt).toBe(restartAt);
  });

  it('a pod its budget refuses is skipped for the next candidate, as Argo does', async () => {
    const h = new Harness('web');
    h.withPods = true;
    h.seed([harnessRollout() as KubeObject]);
    await h.converge();
    const [first, second] = h.pods().map((p) => p.metadata.name);
    h.store.injectFaults((w) =>
      w.verb === 'evict' && w.name === first ? new StoreError('TooManyRequests', 429, 'budget') : undefined,
    );
    h.nowMs += 2_000;
    await h.store.patch('Rollout', NS, 'web', { spec: { restartAt: iso(h.nowMs) } });
    h.nowMs += 2_000;
    expect((await h.reconcile()).error).toBeUndefined();
    const left = h.pods().map((p) => p.metadata.name);
    expect(left).toContain(first);
    expect(left).not.toContain(second);
    expect(h.store.writes.get('evict Pod')).toBe(1);
  });

  it('a canary reconcile that evicted pods stops there (no scaling, no status write); blue-green goes on', async () => {
    for (const strategy of ['canary', 'blueGreen'] as const) {
      const h = new Harness('web');
      h.withPods = true;
      const ro = harnessRollout();
      if (strategy === 'blueGreen')
        ro.spec.strategy = { blueGreen: { activeService: 'active', maxUnavailable: 1 } };
      h.seed([
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'active', namespace: NS },
          spec: { selector: { app: 'web' } },
        } as KubeObject,
        ro as KubeObject,
      ]);
      await h.converge();
      h.nowMs += 2_000;
      await h.store.patch('Rollout', NS, 'web', { spec: { restartAt: iso(h.nowMs), replicas: 2 } });
      h.nowMs += 2_000;
      const version = h.ro().metadata.resourceVersion;
      const res = await h.reconcile();
      expect(res.error).toBeUndefined();
      expect(h.store.writes.get('evict Pod'), strategy).toBe(1);
      if (strategy === 'canary') {
        expect(res.requeueAfterMs).toBe(RESTART_RECHECK_MS);
        expect(h.rss()[0]!.spec.replicas).toBe(3);
        expect(h.ro().metadata.resourceVersion).toBe(version);
      } else {
        expect(h.rss()[0]!.spec.replicas).toBe(2);
        expect(h.ro().metadata.resourceVersion).not.toBe(version);
      }
      await h.converge();
      expect(h.rss()[0]!.spec.replicas).toBe(2);
      expect(h.ro().status?.restartedAt).toBe(h.ro().spec.restartAt);
    }
  });

  it('other eviction failures are reported as errors and retried', async () => {
    const h = new Harness('web');
    h.withPods = true;
    h.seed([harnessRollout() as KubeObject]);
    await h.converge();
    h.store.injectFaults((w) =>
      w.verb === 'evict' ? new StoreError('Forbidden', 403, 'pods/eviction is forbidden') : undefined,
    );
    h.nowMs += 2_000;
    await h.store.patch('Rollout', NS, 'web', { spec: { restartAt: iso(h.nowMs) } });
    h.nowMs += 2_000;
    const res = await h.reconcile();
    expect(res.error?.message).toContain('evictPods: Forbidden');
  });
});

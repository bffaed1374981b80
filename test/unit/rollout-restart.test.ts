// spec.restartAt (Argo's restart.go): pods created before restartAt are evicted through the eviction API,
// stable ReplicaSet first, then the new one, then the others oldest first, at most max(maxUnavailable, 1)
// at a time within the availability floor; a PodDisruptionBudget's 429 leaves the pod for the 30 s
// re-check and is no error; status.restartedAt is written when none is left.

import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/api/rollout.ts';
import type { Pod, ReplicaSet } from '../../src/api/workloads.ts';
import type { Observed } from '../../src/rollout/context.ts';
import { computePodTemplateHash } from '../../src/rollout/hash.ts';
import { planRollout } from '../../src/rollout/plan.ts';
import { RESTART_RECHECK_MS } from '../../src/rollout/restart.ts';
import { type KubeObject, StoreError } from '../../src/store/object-store.ts';
import { Harness, NS } from '../fixtures/rollout-harness.ts';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const tpl = (image: string) => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'web', image }] },
});
const NEW = computePodTemplateHash(tpl('web:new'));

function rs(hash: string, replicas: number, createdMs: number, revision: number): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'ns',
      creationTimestamp: iso(createdMs),
      labels: { app: 'web', 'rollouts-pod-template-hash': hash },
      annotations: { 'rollout.argoproj.io/revision': String(revision) },
      ownerReferences: [
        { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'web', uid: 'u1', controller: true },
      ],
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web', 'rollouts-pod-template-hash': hash } },
      template: { metadata: { labels: { app: 'web', 'rollouts-pod-template-hash': hash } }, spec: {} },
    },
    status: { replicas, readyReplicas: replicas, availableReplicas: replicas },
  } as ReplicaSet;
}

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
  const stable = rs('sss', 4, T0 - 50_000, 3);
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

function evictions(obs: Observed): string[] {
  return planRollout(obs)
    .actions.filter((a) => a.kind === 'evictPod')
    .map((a) => (a as { name: string }).name);
}

describe('restart planning', () => {
  it('evicts stable pods first, then the new RS, then the other ReplicaSets oldest first', () => {
    const obs = observed('100%');
    // Only pods created before restartAt, in Argo's priority order (within an RS oldest pod first).
    expect(evictions(obs)).toEqual(['web-sss-0', 'web-sss-1', 'web-sss-2', 'web-sss-3']);
    // With the stable pods already replaced, the order continues with the new RS and the others.
    const rest = {
      ...obs,
      pods: obs.pods!.filter(
        (p) => !p.metadata.name.startsWith('web-sss-') || p.metadata.name === 'web-sss-9',
      ),
    };
    expect(evictions(rest)).toEqual([`web-${NEW}-0`, 'web-ddd-0', 'web-ccc-0']);
  });

  it('evicts at most max(maxUnavailable, 1) at a time and re-checks in 30 s', () => {
    for (const [maxUnavailable, n] of [
      [0, 1],
      [1, 1],
      [2, 2],
      ['50%', 2],
    ] as const) {
      const plan = planRollout(observed(maxUnavailable));
      expect(
        plan.actions.filter((a) => a.kind === 'evictPod'),
        String(maxUnavailable),
      ).toHaveLength(n);
      expect(plan.requeueAfterMs).toBe(RESTART_RECHECK_MS);
    }
  });

  it('waits while pods are already missing (replacements not ready) and keeps restarting', () => {
    const obs = observed(2, false);
    const plan = planRollout(obs);
    expect(plan.actions.filter((a) => a.kind === 'evictPod')).toHaveLength(0);
    expect(plan.status.restartedAt).toBeUndefined();
    expect(plan.requeueAfterMs).toBe(RESTART_RECHECK_MS);
  });

  it('a restartAt in the future is re-queued for that time', () => {
    const obs = observed(1);
    const plan = planRollout({ ...obs, nowMs: T0 - 7_000 });
    expect(plan.actions.filter((a) => a.kind === 'evictPod')).toHaveLength(0);
    expect(plan.requeueAfterMs).toBe(7_000);
  });
});

function harnessRollout(): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: NS },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'web:1' }] },
      },
      strategy: { canary: { maxUnavailable: 1 } },
    },
  };
}

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
    expect(res.error).toContain('evictPod: Forbidden');
  });
});

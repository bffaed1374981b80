import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../src/api/rollout.ts';
import type { ReplicaSet } from '../../../src/api/workloads.ts';
import {
  approximateWeightedCanaryStableReplicaCounts,
  basicCanaryReplicaCounts,
  blueGreenNewRSReplicas,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  trafficRoutedCanaryReplicaCounts,
  valueFromIntOrPercent,
} from '../../../src/rollout/replicas.ts';

function rs(name: string, replicas: number, available = replicas): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, labels: { 'rollouts-pod-template-hash': name } },
    spec: { replicas, selector: {}, template: {} },
    status: { replicas, availableReplicas: available, readyReplicas: available },
  };
}

function canary(opts: {
  replicas: number;
  weight: number;
  surge?: number | string;
  unavailable?: number | string;
  routed?: boolean;
  steps?: Rollout['spec']['strategy']['canary'] extends infer C
    ? C extends { steps?: infer S }
      ? S
      : never
    : never;
}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'ro' },
    spec: {
      replicas: opts.replicas,
      strategy: {
        canary: {
          ...(opts.surge !== undefined ? { maxSurge: opts.surge } : {}),
          ...(opts.unavailable !== undefined ? { maxUnavailable: opts.unavailable } : {}),
          ...(opts.routed ? { trafficRouting: { nginx: { stableIngress: 'x' } } } : {}),
          steps: opts.steps ?? [{ setWeight: opts.weight }, { pause: {} }],
        },
      },
    },
    status: { currentStepIndex: 0, currentPodHash: 'new', stableRS: 'stable' },
  };
}

describe('maxSurge / maxUnavailable parsing', () => {
  it.each([
    [5, 10, true, 5],
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['3', 100, true, 3], // quirk: any string is a percent
    ['3%', 10, false, 0],
    ['100%', 7, true, 7],
  ] as const)('value %j of %d (roundUp %s) is %d', (value, total, up, expected) => {
    expect(valueFromIntOrPercent(value, total, up)).toEqual({ ok: true, value: expected });
  });

  it('rejects a string that is neither an int nor a percent', () => {
    expect(valueFromIntOrPercent('abc', 10, true).ok).toBe(false);
  });

  it('forces maxUnavailable to 1 when both resolve to 0', () => {
    expect(resolveFenceposts(0, 0, 10)).toEqual({ surge: 0, unavailable: 1 });
    expect(resolveFenceposts('0%', '1%', 10)).toEqual({ surge: 0, unavailable: 1 });
  });

  it('defaults to 25% surge (rounded up) and 25% unavailable (rounded down)', () => {
    const ro = canary({ replicas: 10, weight: 10 });
    expect(maxSurge(ro)).toBe(3);
    expect(maxUnavailable(ro)).toBe(2);
  });

  it('caps maxUnavailable at spec.replicas and gives 0 for zero replicas', () => {
    expect(maxUnavailable(canary({ replicas: 3, weight: 10, unavailable: 10 }))).toBe(3);
    expect(maxUnavailable(canary({ replicas: 0, weight: 10 }))).toBe(0);
  });
});

describe('basic canary nearest-weight approximation', () => {
  it.each([
    // replicas, weight, surge, [canary, stable]
    [10, 10, 1, [1, 9]],
    [10, 0, 1, [0, 10]],
    [10, 100, 1, [10, 0]],
    [1, 10, 1, [1, 1]], // 1 replica + 10% + surge: 1 canary + 1 stable
    [1, 10, 0, [0, 1]], // sole exception: replicas=1, maxSurge=0 may round to 0 canaries
    [1, 90, 0, [1, 0]],
    [2, 70, 0, [1, 1]], // the #2281 complaint: ActualWeight 50
    [2, 70, 1, [2, 1]], // surge gives 66.7% instead
    [3, 50, 0, [2, 1]], // tie between 33% and 66%: the larger canary
    [4, 10, 0, [1, 3]], // never 0 canaries for 1..99%
    [10, 33, 0, [3, 7]],
    [10, 35, 0, [4, 6]], // 3.5 ties: the ceil option
    [5, 50, 1, [3, 3]], // 2.5 tie on 5; surge total 6 gives exactly 50%
    [0, 50, 1, [0, 0]],
  ] as const)('%d replicas at %d%% with surge %d -> %j', (replicas, weight, surge, expected) => {
    expect(approximateWeightedCanaryStableReplicaCounts(replicas, weight, surge)).toEqual(expected);
  });
});

describe('basic canary replica counts per reconcile', () => {
  it('scales the canary up within maxSurge while the stable keeps its pods', () => {
    const ro = canary({ replicas: 10, weight: 10, surge: 1, unavailable: 0 });
    expect(basicCanaryReplicaCounts(ro, rs('new', 0), rs('stable', 10), [])).toEqual([1, 10]);
  });

  it('then scales the stable down once the canary is available (maxUnavailable 0)', () => {
    const ro = canary({ replicas: 10, weight: 10, surge: 1, unavailable: 0 });
    expect(basicCanaryReplicaCounts(ro, rs('new', 1), rs('stable', 10), [])).toEqual([1, 9]);
  });

  it('with no surge first scales the stable down within maxUnavailable', () => {
    const ro = canary({ replicas: 10, weight: 30, surge: 0, unavailable: 5 });
    expect(basicCanaryReplicaCounts(ro, rs('new', 0), rs('stable', 10), [])).toEqual([0, 7]);
  });

  it('drains older ReplicaSets before touching canary or stable', () => {
    const ro = canary({ replicas: 10, weight: 50, surge: 0, unavailable: 2 });
    expect(basicCanaryReplicaCounts(ro, rs('new', 2), rs('stable', 6), [rs('old', 2)])).toEqual([2, 6]);
  });

  it('puts everything on the new RS when there is no stable RS', () => {
    const ro = canary({ replicas: 5, weight: 20 });
    expect(basicCanaryReplicaCounts(ro, rs('new', 0), undefined, [])).toEqual([5, 0]);
  });

  it('scales the canary down on abort without waiting for its availability', () => {
    const ro = canary({ replicas: 4, weight: 50, surge: 1, unavailable: 1 });
    ro.status = { ...ro.status, abort: true };
    // desired weight 0: canary 0, stable 4; canary pods are crash-looping (0 available)
    // stable grows within surge (2 -> 3), canary shrinks by what maxUnavailable allows (2 -> 1)
    expect(basicCanaryReplicaCounts(ro, rs('new', 2, 0), rs('stable', 2), [])).toEqual([1, 3]);
  });
});

describe('traffic-routed canary counts', () => {
  it('uses ceil(weight * replicas) for the canary and keeps the stable at 100%', () => {
    expect(
      trafficRoutedCanaryReplicaCounts(canary({ replicas: 10, weight: 15, routed: true }), undefined),
    ).toEqual([2, 10]);
    expect(
      trafficRoutedCanaryReplicaCounts(canary({ replicas: 3, weight: 1, routed: true }), undefined),
    ).toEqual([1, 3]);
  });

  it('honours setCanaryScale replicas and weight, and matchTrafficWeight cancels it', () => {
    const steps = [
      { setCanaryScale: { replicas: 4 } },
      { setWeight: 10 },
      { setCanaryScale: { weight: 50 } },
    ];
    const ro = canary({
      replicas: 10,
      weight: 0,
      routed: true,
      steps: [...steps, { setCanaryScale: { matchTrafficWeight: true } }],
    });
    ro.status = { ...ro.status, currentStepIndex: 1 };
    expect(trafficRoutedCanaryReplicaCounts(ro, undefined)).toEqual([4, 10]);
    ro.status = { ...ro.status, currentStepIndex: 2 };
    expect(trafficRoutedCanaryReplicaCounts(ro, undefined)).toEqual([5, 10]);
    ro.status = { ...ro.status, currentStepIndex: 3 };
    expect(trafficRoutedCanaryReplicaCounts(ro, undefined)).toEqual([1, 10]);
  });

  it('gives 100% to the new RS when promoted fully', () => {
    const ro = canary({ replicas: 10, weight: 10, routed: true });
    ro.status = { ...ro.status, promoteFull: true };
    expect(trafficRoutedCanaryReplicaCounts(ro, undefined)).toEqual([10, 10]);
  });
});

describe('blue-green previewReplicaCount', () => {
  const bg = (checkpoint: boolean): Rollout => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'ro' },
    spec: { replicas: 8, strategy: { blueGreen: { activeService: 'a', previewReplicaCount: 2 } } },
    status: { blueGreen: { scaleUpPreviewCheckPoint: checkpoint } },
  });
  it('runs the preview RS at previewReplicaCount until the checkpoint', () => {
    expect(blueGreenNewRSReplicas(bg(false), rs('new', 0), rs('old', 8))).toBe(2);
    expect(blueGreenNewRSReplicas(bg(true), rs('new', 2), rs('old', 8))).toBe(8);
  });
  it('uses full replicas on first deploy (no active RS)', () => {
    expect(blueGreenNewRSReplicas(bg(false), rs('new', 0), undefined)).toBe(8);
  });
});

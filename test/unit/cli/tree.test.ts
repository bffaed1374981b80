// `sluice get rollout` rendering from fixture objects: status icons, step, weights, images, and the
// NAME KIND STATUS AGE INFO tree aligned as Argo's plugin aligns it.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import type { ReplicaSet } from '../../../src/api/workloads.ts';
import { type AnalysisRunObject, buildRolloutInfo, podInfo } from '../../../src/cli/rollouts/info.ts';
import { headerLine, rolloutRow, rowLine } from '../../../src/cli/rollouts/list.ts';
import { humanDuration, renderRollout, tabulate } from '../../../src/cli/rollouts/tree.ts';
import { getRolloutPhase } from '../../../src/rollout/phase.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const ago = (s: number): string => new Date(NOW - s * 1000).toISOString();

const rollout: Rollout = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: {
    name: 'orders',
    namespace: 'shop',
    uid: 'ro-uid',
    generation: 3,
    creationTimestamp: ago(6 * 86400),
  },
  spec: {
    replicas: 3,
    strategy: {
      canary: {
        steps: [{ setWeight: 20 }, { pause: {} }, { analysis: { templates: [{ templateName: 't' }] } }],
      },
    },
  },
  status: {
    observedGeneration: '3',
    currentStepIndex: 1,
    currentPodHash: 'new',
    stableRS: 'old',
    replicas: 4,
    updatedReplicas: 1,
    readyReplicas: 4,
    availableReplicas: 4,
    controllerPause: true,
    pauseConditions: [{ reason: 'CanaryPauseStep', startTime: ago(60) }],
    phase: 'Paused',
    message: 'CanaryPauseStep',
  },
};

function rs(
  name: string,
  hash: string,
  revision: number,
  replicas: number,
  image: string,
  ageS: number,
): ReplicaSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      uid: `${name}-uid`,
      generation: 1,
      creationTimestamp: ago(ageS),
      labels: { 'rollouts-pod-template-hash': hash },
      annotations: { 'rollout.argoproj.io/revision': String(revision) },
      ownerReferences: [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          name: 'orders',
          uid: 'ro-uid',
          controller: true,
        },
      ],
    },
    spec: { replicas, selector: {}, template: { spec: { containers: [{ name: 'app', image }] } } },
    status: { replicas, availableReplicas: replicas, readyReplicas: replicas, observedGeneration: 1 },
  };
}

function pod(name: string, owner: string, ageS: number, state: 'running' | 'crash'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      creationTimestamp: ago(ageS),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: `${owner}-uid` }],
    },
    spec: { containers: [{ name: 'app' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        state === 'running'
          ? { name: 'app', ready: true, restartCount: 0, state: { running: {} } }
          : {
              name: 'app',
              ready: false,
              restartCount: 3,
              state: { waiting: { reason: 'CrashLoopBackOff' } },
            },
      ],
    },
  } as KubeObject;
}

const run: AnalysisRunObject = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AnalysisRun',
  metadata: {
    name: 'orders-new-3-2',
    creationTimestamp: ago(30),
    annotations: { 'rollout.argoproj.io/revision': '3' },
    ownerReferences: [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'orders', uid: 'ro-uid' }],
  },
  status: {
    phase: 'Running',
    metricResults: [
      {
        name: 'm',
        phase: 'Running',
        measurements: [],
        count: 3,
        successful: 2,
        failed: 1,
        inconclusive: 0,
        error: 0,
        consecutiveError: 0,
        consecutiveSuccess: 0,
      },
    ],
  },
};

const objects = {
  rss: [rs('orders-new', 'new', 3, 1, 'orders:v3', 120), rs('orders-old', 'old', 2, 3, 'orders:v2', 86400)],
  pods: [
    pod('orders-new-a', 'orders-new', 100, 'running'),
    pod('orders-old-b', 'orders-old', 80000, 'crash'),
    pod('orders-old-a', 'orders-old', 86000, 'running'),
  ],
};

describe('get rollout', () => {
  it('renders the header block and the tree with icons, step, weights and images', () => {
    const info = buildRolloutInfo(rollout, objects.rss, objects.pods, [run]);
    expect(renderRollout(info, { nowMs: NOW, color: false })).toBe(
      [
        'Name:            orders',
        'Namespace:       shop',
        'Status:          ॥ Paused',
        'Message:         CanaryPauseStep',
        'Strategy:        Canary',
        '  Step:          1/3',
        '  SetWeight:     20',
        '  ActualWeight:  25',
        'Images:          orders:v2 (stable)',
        '                 orders:v3 (canary)',
        'Replicas:',
        '  Desired:       3',
        '  Current:       4',
        '  Updated:       1',
        '  Ready:         4',
        '  Available:     4',
        '',
        'NAME                     KIND         STATUS              AGE   INFO',
        '⟳ orders                 Rollout      ॥ Paused            6d    ',
        '├──# revision:3                                                 ',
        '│  ├──⧉ orders-new       ReplicaSet   ✔ Healthy           2m    canary',
        '│  │  └──□ orders-new-a  Pod          ✔ Running           100s  ready:1/1',
        '│  └──α orders-new-3-2   AnalysisRun  ◌ Running           30s   ✔ 2,✖ 1',
        '└──# revision:2                                                 ',
        '   └──⧉ orders-old       ReplicaSet   ✔ Healthy           24h   stable',
        '      ├──□ orders-old-a  Pod          ✔ Running           23h   ready:1/1',
        '      └──□ orders-old-b  Pod          ✖ CrashLoopBackOff  22h   ready:0/1,restarts:3',
        '',
      ].join('\n'),
    );
  });

  it('colours icons and role tags only when asked', () => {
    const info = buildRolloutInfo(rollout, objects.rss, objects.pods, [run]);
    const colored = renderRollout(info, { nowMs: NOW, color: true });
    expect(colored).toContain('\x1b[33mcanary\x1b[0m');
    expect(colored).toContain('\x1b[32m✔\x1b[0m Healthy');
    expect(renderRollout(info, { nowMs: NOW, color: false })).not.toContain('\x1b[');
  });

  it('ignores ReplicaSets and runs owned by other rollouts', () => {
    const foreign = rs('other', 'zzz', 9, 1, 'x', 10);
    foreign.metadata.ownerReferences = [{ apiVersion: 'v', kind: 'Rollout', name: 'x', uid: 'other-uid' }];
    const info = buildRolloutInfo(rollout, [...objects.rss, foreign], [], []);
    expect(info.replicaSets.map((r) => r.name)).toEqual(['orders-new', 'orders-old']);
  });

  it('shows a traffic-routed canary’s actual weight from status.canary.weights', () => {
    const routed = structuredClone(rollout);
    routed.spec.strategy.canary!.trafficRouting = { smi: {} };
    routed.status!.canary = { weights: { canary: { weight: 10 }, stable: { weight: 90 } } };
    expect(buildRolloutInfo(routed, objects.rss, [], []).actualWeight).toBe('10');
  });
});

describe('status shown by the CLI (Argo GetRolloutPhase)', () => {
  it.each<[string, Partial<NonNullable<Rollout['status']>>, number, string, string]>([
    [
      'spec change not yet observed',
      { observedGeneration: '2', phase: 'Healthy' },
      3,
      'Progressing',
      'waiting for rollout spec update to be observed',
    ],
    [
      'user cleared the pause, controller not yet',
      { observedGeneration: '3', controllerPause: true, pauseConditions: [], phase: 'Paused' },
      3,
      'Progressing',
      'waiting for rollout to unpause',
    ],
    [
      'controller-computed phase is trusted',
      { observedGeneration: '3', phase: 'Degraded', message: 'RolloutAborted: x' },
      3,
      'Degraded',
      'RolloutAborted: x',
    ],
    [
      'non-numeric observedGeneration (old controllers) counts as observed',
      { observedGeneration: 'abc', phase: 'Healthy', message: '' },
      3,
      'Healthy',
      '',
    ],
  ])('%s', (_name, status, generation, phase, message) => {
    const ro: Rollout = {
      ...rollout,
      metadata: { ...rollout.metadata, generation },
      status: status as Rollout['status'],
    };
    expect(getRolloutPhase(ro)).toEqual({ phase, message });
  });
});

describe('pods', () => {
  it('reports the waiting reason and restarts as kubectl does', () => {
    expect(podInfo(objects.pods[1]!)).toMatchObject({
      status: 'CrashLoopBackOff',
      icon: '✖',
      ready: '0/1',
      restarts: 3,
    });
  });

  it('reports Terminating for a pod being deleted', () => {
    const p = structuredClone(objects.pods[0]!);
    p.metadata.deletionTimestamp = ago(1);
    expect(podInfo(p)).toMatchObject({ status: 'Terminating', icon: '◌' });
  });
});

describe('list rollouts', () => {
  it('prints Argo’s columns with their padding', () => {
    const lines = [
      headerLine({ namespace: false, timestamps: false }),
      rowLine(rolloutRow(rollout), { namespace: false }),
    ];
    expect(tabulate(lines)).toBe(
      'NAME        STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n' +
        'orders      Canary     Paused        1/3   20          4/4    3        1           4        \n',
    );
  });
});

describe('humanDuration (Kubernetes)', () => {
  it.each([
    [5_000, '5s'],
    [119_000, '119s'],
    [150_000, '2m30s'],
    [600_000, '10m'],
    [3 * 3_600_000 + 5 * 60_000, '3h5m'],
    [30 * 3_600_000, '30h'],
    [3 * 86_400_000 + 3_600_000, '3d1h'],
    [400 * 86_400_000, '400d'],
    [-5_000, '<invalid>'],
  ])('%i ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

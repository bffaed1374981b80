// What the pod-readiness simulator decides for a pod (pure: no cluster needed): the outcome from the pod
// template's annotations/labels, image tags, restart policy and command, and the kubelet-like status for it.

import { describe, expect, it } from 'vitest';
import { planPod, simulatedStatus } from '../../cluster/pod-simulator.ts';

type Json = Record<string, unknown>;

function pod(options: {
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  image?: string;
  restartPolicy?: string;
  command?: string[];
}): Json {
  return {
    metadata: {
      name: 'p',
      namespace: 'n',
      uid: '1234-5678',
      annotations: options.annotations ?? {},
      labels: options.labels ?? {},
    },
    spec: {
      ...(options.restartPolicy === undefined ? {} : { restartPolicy: options.restartPolicy }),
      containers: [
        {
          name: 'app',
          image: options.image ?? 'registry.example.com:5000/team/app:v1',
          command: options.command,
        },
      ],
    },
  };
}

describe('planPod', () => {
  const table: { name: string; input: Parameters<typeof pod>[0]; kind: string; exitCode?: number }[] = [
    { name: 'a plain pod becomes ready', input: {}, kind: 'ready' },
    {
      name: 'a registry port is not mistaken for a tag',
      input: { image: 'registry.example.com:5000/app' },
      kind: 'ready',
    },
    {
      name: 'sluice.test/fail "true" crash-loops',
      input: { annotations: { 'sluice.test/fail': 'true' } },
      kind: 'crash-loop',
    },
    {
      name: 'the fail key also works as a label',
      input: { labels: { 'sluice.test/fail': 'crash-loop' } },
      kind: 'crash-loop',
    },
    { name: 'image tag :crash crash-loops', input: { image: 'app:crash' }, kind: 'crash-loop' },
    { name: 'image tag :bad fails the pull', input: { image: 'app:bad' }, kind: 'image-pull' },
    {
      name: 'fail "image-pull" fails the pull',
      input: { annotations: { 'sluice.test/fail': 'image-pull' } },
      kind: 'image-pull',
    },
    {
      name: 'fail "never-ready" runs without readiness',
      input: { annotations: { 'sluice.test/fail': 'never-ready' } },
      kind: 'never-ready',
    },
    {
      name: 'image tag :unready runs without readiness',
      input: { image: 'app:unready' },
      kind: 'never-ready',
    },
    {
      name: 'a Never pod completes with 0',
      input: { restartPolicy: 'Never' },
      kind: 'complete',
      exitCode: 0,
    },
    {
      name: 'a Job pod whose command ends in exit 3 fails with 3',
      input: { restartPolicy: 'Never', command: ['sh', '-c', 'echo x; exit 3'] },
      kind: 'complete',
      exitCode: 3,
    },
    {
      name: 'the exit-code annotation wins',
      input: { restartPolicy: 'OnFailure', annotations: { 'sluice.test/exit-code': '2' } },
      kind: 'complete',
      exitCode: 2,
    },
    {
      name: 'a :fail image fails a Job pod',
      input: { restartPolicy: 'Never', image: 'checker:fail' },
      kind: 'complete',
      exitCode: 1,
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const plan = planPod(pod(row.input));
      expect(plan.outcome.kind).toBe(row.kind);
      if (row.exitCode !== undefined)
        expect(plan.outcome).toEqual({ kind: 'complete', exitCode: row.exitCode });
    });
  }

  it('takes the ready delay from the annotation, else the default; ignores a malformed one', () => {
    expect(planPod(pod({ annotations: { 'sluice.test/ready-delay-ms': '2500' } }), 1000).delayMs).toBe(2500);
    expect(planPod(pod({}), 1000).delayMs).toBe(1000);
    expect(planPod(pod({ annotations: { 'sluice.test/ready-delay-ms': 'soon' } }), 700).delayMs).toBe(700);
    expect(planPod(pod({ annotations: { 'sluice.test/ready-delay-ms': '-5' } }), 700).delayMs).toBe(700);
  });
});

describe('simulatedStatus', () => {
  const now = '2026-01-01T00:00:05.000Z';
  const start = '2026-01-01T00:00:00.000Z';

  it('reports a ready pod as Running with all four conditions True and a running container', () => {
    const status = simulatedStatus(pod({}), { kind: 'ready' }, '10.244.0.7', now, start);
    expect(status).toMatchObject({
      phase: 'Running',
      podIP: '10.244.0.7',
      podIPs: [{ ip: '10.244.0.7' }],
      startTime: start,
    });
    expect((status.conditions as Json[]).map((c) => `${c.type}=${c.status}`).sort()).toEqual([
      'ContainersReady=True',
      'Initialized=True',
      'PodScheduled=True',
      'Ready=True',
    ]);
    expect((status.containerStatuses as Json[])[0]).toMatchObject({
      name: 'app',
      ready: true,
      state: { running: { startedAt: start } },
    });
  });

  it('reports a failed Job pod as Failed with the exit code', () => {
    const status = simulatedStatus(
      pod({ restartPolicy: 'Never' }),
      { kind: 'complete', exitCode: 3 },
      '10.244.0.8',
      now,
      start,
    );
    expect(status.phase).toBe('Failed');
    expect((status.containerStatuses as Json[])[0]).toMatchObject({
      state: { terminated: { exitCode: 3, reason: 'Error' } },
    });
  });

  it('reports an image-pull failure as Pending and not Ready', () => {
    const status = simulatedStatus(
      pod({ image: 'app:bad' }),
      { kind: 'image-pull' },
      '10.244.0.9',
      now,
      start,
    );
    expect(status.phase).toBe('Pending');
    expect((status.conditions as Json[]).find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
    });
    expect((status.containerStatuses as Json[])[0]).toMatchObject({
      state: { waiting: { reason: 'ErrImagePull' } },
    });
  });
});

// The Experiment controller's lifecycle on the in-memory store with a virtual clock (reference §5):
// ReplicaSets and Services per template, Pending -> Running -> Successful, analysis verdicts,
// requiredForCompletion, terminate, the progress deadline, delayed scale-down and retry.

import { describe, expect, it } from 'vitest';
import { computePodTemplateHash } from '../../../src/api/pod-template/hash.ts';
import { POD_TEMPLATE_HASH_LABEL, SCALE_DOWN_DEADLINE_ANNOTATION } from '../../../src/api/rollout.ts';
import {
  analysisTemplate,
  EXP_NS,
  ExperimentHarness,
  experiment,
  expTemplate,
} from '../../fixtures/experiment-harness.ts';

const SECOND = 1_000;

describe('Experiment lifecycle', () => {
  it('creates one owned ReplicaSet per template, goes Pending -> Running -> Successful after its duration, then scales down after the delay', async () => {
    const h = new ExperimentHarness(experiment('exp', { duration: '60s' }));
    await h.reconcile();
    expect(h.ex().status?.phase).toBe('Pending');
    const rs = h.rs('baseline')!;
    const hash = computePodTemplateHash(expTemplate('baseline').template);
    expect(rs.metadata.labels).toEqual({ app: 'demo', variant: 'baseline', [POD_TEMPLATE_HASH_LABEL]: hash });
    expect(rs.spec.selector.matchLabels).toEqual({
      app: 'demo',
      variant: 'baseline',
      [POD_TEMPLATE_HASH_LABEL]: hash,
    });
    expect(rs.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'Experiment',
        name: 'exp',
        uid: h.ex().metadata.uid,
        controller: true,
      }),
    ]);
    expect(h.rs('canary')?.spec.replicas).toBe(1);
    expect(h.ex().status?.templateStatuses?.map((t) => t.status)).toEqual(['Progressing', 'Progressing']);

    await h.settle();
    await h.step();
    const running = h.ex().status!;
    expect(running.phase).toBe('Running');
    expect(running.availableAt).toBe('2026-03-01T12:00:00Z');
    expect(running.templateStatuses?.[0]).toMatchObject({
      status: 'Running',
      availableReplicas: 1,
      podTemplateHash: hash,
    });
    expect(h.plans.at(-1)?.requeueAfterMs).toBe(60 * SECOND);

    await h.advance(59 * SECOND);
    expect(h.ex().status?.phase).toBe('Running');
    await h.advance(1 * SECOND);
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.ex().status?.templateStatuses?.map((t) => t.status)).toEqual(['Successful', 'Successful']);
    // Still up during scaleDownDelaySeconds (30 s), with a deadline annotation.
    expect(h.rs('baseline')?.spec.replicas).toBe(1);
    expect(h.rs('baseline')?.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]).toBe(
      '2026-03-01T12:01:30Z',
    );
    expect(h.plans.at(-1)?.requeueAfterMs).toBe(30 * SECOND);
    await h.advance(29 * SECOND);
    expect(h.rs('baseline')?.spec.replicas).toBe(1);
    await h.advance(1 * SECOND);
    expect(h.rs('baseline')?.spec.replicas).toBe(0);
    expect(h.rs('canary')?.spec.replicas).toBe(0);
    expect(h.rs('canary')?.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]).toBeUndefined();
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.eventReasons()).toEqual(
      expect.arrayContaining([
        'ExperimentPending',
        'ExperimentRunning',
        'ExperimentSuccessful',
        'ScalingReplicaSet',
      ]),
    );
    // Nothing left to do: a further reconcile writes nothing.
    await h.step();
    expect(h.plans.at(-1)?.actions).toEqual([]);
  });

  it('creates AnalysisRuns only once Running, named <experiment>-<analysis>, owned by the experiment, with templated args', async () => {
    const h = new ExperimentHarness(
      experiment('exp', {
        duration: '5m',
        analyses: [
          {
            name: 'compare',
            templateName: 'cmp',
            args: [
              { name: 'baseline-hash', value: '{{templates.baseline.podTemplateHash}}' },
              { name: 'canary-rs', value: 'rs={{ templates.canary.replicaset.name }}' },
              { name: 'since', value: '{{experiment.availableAt}}' },
            ],
          },
        ],
        analysisRunMetadata: { labels: { team: 'a' }, annotations: { note: 'x' } },
      }),
      [analysisTemplate('cmp', ['baseline-hash', 'canary-rs', 'since'])],
    );
    await h.step();
    expect(h.runs()).toEqual([]);
    await h.step();
    const [run] = h.runs();
    expect(run?.metadata.name).toBe('exp-compare');
    expect(run?.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Experiment',
      name: 'exp',
      controller: true,
    });
    expect(run?.metadata.labels).toEqual({ team: 'a' });
    expect(run?.metadata.annotations).toEqual({ note: 'x' });
    expect(run?.spec.args).toEqual([
      { name: 'baseline-hash', value: h.rs('baseline')?.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] },
      { name: 'canary-rs', value: 'rs=exp-canary' },
      { name: 'since', value: '2026-03-01T12:00:00Z' },
    ]);
    expect(h.ex().status?.analysisRuns).toEqual([
      { name: 'compare', analysisRun: 'exp-compare', phase: 'Pending' },
    ]);
    await h.step(3);
    expect(h.runs()).toHaveLength(1);
  });

  it('an arg naming an unknown template ends the experiment in Error, naming the tag', async () => {
    const h = new ExperimentHarness(
      experiment('exp', {
        analyses: [
          {
            name: 'a',
            templateName: 'cmp',
            args: [{ name: 'x', value: '{{templates.nope.podTemplateHash}}' }],
          },
        ],
      }),
      [analysisTemplate('cmp', ['x'])],
    );
    await h.step(2);
    expect(h.ex().status?.phase).toBe('Error');
    expect(h.ex().status?.message).toBe('args.x: failed to resolve {{templates.nope.podTemplateHash}}');
    expect(h.runs()).toEqual([]);
  });

  it('a missing AnalysisTemplate ends the experiment in Error', async () => {
    const h = new ExperimentHarness(experiment('exp', { analyses: [{ name: 'a', templateName: 'ghost' }] }));
    await h.step(2);
    expect(h.ex().status).toMatchObject({ phase: 'Error', message: 'AnalysisTemplate "ghost" not found' });
  });

  it.each([
    ['Failed', 'Metric "check" assessed Failed'],
    ['Error', 'Metric "check" assessed Error'],
    ['Inconclusive', undefined],
  ] as const)(
    'an analysis ending %s ends the experiment early with that phase, terminates other runs and scales down after the delay',
    async (phase, message) => {
      const h = new ExperimentHarness(
        experiment('exp', {
          duration: '1h',
          analyses: [
            { name: 'a', templateName: 'cmp' },
            { name: 'b', templateName: 'cmp' },
          ],
        }),
        [analysisTemplate('cmp')],
      );
      await h.step(2);
      await h.setRunPhase('exp-a', 'Running');
      await h.setRunPhase('exp-b', 'Running');
      await h.step();
      expect(h.ex().status?.phase).toBe('Running');
      await h.setRunPhase('exp-a', phase, message);
      await h.step();
      const st = h.ex().status!;
      expect(st.phase).toBe(phase);
      expect(st.message).toBe(message ?? "AnalysisRun 'exp-a' Inconclusive");
      expect(h.runs().find((r) => r.metadata.name === 'exp-b')?.spec.terminate).toBe(true);
      expect(h.runs().find((r) => r.metadata.name === 'exp-a')?.spec.terminate).toBeUndefined();
      expect(h.rs('canary')?.spec.replicas).toBe(1);
      await h.advance(30 * SECOND);
      expect(h.rs('baseline')?.spec.replicas).toBe(0);
      expect(h.rs('canary')?.spec.replicas).toBe(0);
      expect(h.ex().status?.phase).toBe(phase);
    },
  );

  it('requiredForCompletion: Successful as soon as every required analysis succeeds, before the duration; the others are terminated', async () => {
    const h = new ExperimentHarness(
      experiment('exp', {
        duration: '1h',
        analyses: [
          { name: 'req', templateName: 'cmp', requiredForCompletion: true },
          { name: 'extra', templateName: 'cmp' },
        ],
      }),
      [analysisTemplate('cmp')],
    );
    await h.step(2);
    await h.setRunPhase('exp-req', 'Running');
    await h.setRunPhase('exp-extra', 'Running');
    await h.advance(10 * SECOND);
    expect(h.ex().status?.phase).toBe('Running');
    await h.setRunPhase('exp-req', 'Successful');
    await h.step();
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.runs().find((r) => r.metadata.name === 'exp-extra')?.spec.terminate).toBe(true);
  });

  it('requiredForCompletion without a duration: runs until the required analysis completes, whatever the time', async () => {
    const h = new ExperimentHarness(
      experiment('exp', { analyses: [{ name: 'req', templateName: 'cmp', requiredForCompletion: true }] }),
      [analysisTemplate('cmp')],
    );
    await h.step(2);
    await h.setRunPhase('exp-req', 'Running');
    await h.advance(3_600 * SECOND);
    expect(h.ex().status?.phase).toBe('Running');
    expect(h.rs('baseline')?.spec.replicas).toBe(1);
    await h.setRunPhase('exp-req', 'Successful');
    await h.step();
    expect(h.ex().status?.phase).toBe('Successful');
  });

  it('without a duration and without required analyses it runs until spec.terminate, even after its analyses finish', async () => {
    const h = new ExperimentHarness(experiment('exp', { analyses: [{ name: 'a', templateName: 'cmp' }] }), [
      analysisTemplate('cmp'),
    ]);
    await h.step(2);
    await h.setRunPhase('exp-a', 'Successful');
    await h.advance(24 * 3_600 * SECOND);
    expect(h.ex().status?.phase).toBe('Running');
    expect(h.plans.at(-1)?.requeueAfterMs).toBeUndefined();
    await h.patchSpec({ terminate: true });
    await h.step();
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.ex().status?.templateStatuses?.every((t) => t.status === 'Successful')).toBe(true);
    expect(h.rs('baseline')?.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION]).toBeDefined();
  });

  it('terminate while a required analysis runs: the run is terminated and the experiment ends with its verdict', async () => {
    const h = new ExperimentHarness(
      experiment('exp', { analyses: [{ name: 'req', templateName: 'cmp', requiredForCompletion: true }] }),
      [analysisTemplate('cmp')],
    );
    await h.step(2);
    await h.setRunPhase('exp-req', 'Running');
    await h.patchSpec({ terminate: true });
    await h.step();
    expect(h.runs()[0]?.spec.terminate).toBe(true);
    expect(h.ex().status?.phase).toBe('Running');
    await h.setRunPhase('exp-req', 'Successful');
    await h.step();
    expect(h.ex().status?.phase).toBe('Successful');
  });

  it('terminate before the templates are available ends it Successful without creating analyses', async () => {
    const h = new ExperimentHarness(experiment('exp', { analyses: [{ name: 'a', templateName: 'cmp' }] }), [
      analysisTemplate('cmp'),
    ]);
    h.broken.add('canary');
    await h.step(2);
    expect(h.ex().status?.phase).toBe('Pending');
    await h.patchSpec({ terminate: true });
    await h.step();
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.runs()).toEqual([]);
  });

  it('a template not available within progressDeadlineSeconds fails the experiment', async () => {
    const h = new ExperimentHarness(
      experiment('exp', { progressDeadlineSeconds: 120, scaleDownDelaySeconds: 0 }),
    );
    h.broken.add('canary');
    await h.step(2);
    expect(h.ex().status?.phase).toBe('Pending');
    expect(h.plans.at(-1)?.requeueAfterMs).toBe(120 * SECOND);
    await h.advance(119 * SECOND);
    expect(h.ex().status?.phase).toBe('Pending');
    await h.advance(1 * SECOND);
    const st = h.ex().status!;
    expect(st.phase).toBe('Failed');
    expect(st.message).toBe(
      'Template "canary" did not become available within progressDeadlineSeconds (120)',
    );
    expect(st.templateStatuses?.map((t) => t.status)).toEqual(['Successful', 'Failed']);
    expect(st.availableAt).toBeUndefined();
    // scaleDownDelaySeconds 0: scaled down at once.
    expect(h.rs('canary')?.spec.replicas).toBe(0);
    expect(h.rs('baseline')?.spec.replicas).toBe(0);
  });

  it('the default progress deadline is 600 s', async () => {
    const h = new ExperimentHarness(experiment('exp'));
    h.broken.add('baseline');
    await h.step();
    await h.advance(599 * SECOND);
    expect(h.ex().status?.phase).toBe('Pending');
    await h.advance(1 * SECOND);
    expect(h.ex().status?.phase).toBe('Failed');
  });

  it('creates a Service per template with `service` while it has replicas and deletes it when scaled to 0', async () => {
    const h = new ExperimentHarness(
      experiment('exp', {
        duration: '10s',
        scaleDownDelaySeconds: 5,
        templates: [
          expTemplate('baseline', { service: {} }),
          expTemplate('canary', { service: { name: 'canary-preview' } }),
        ],
      }),
    );
    await h.step();
    const svcs = h.services();
    expect(svcs.map((s) => s.metadata.name).sort()).toEqual(['canary-preview', 'exp-baseline']);
    const base = svcs.find((s) => s.metadata.name === 'exp-baseline')!;
    expect(base.spec.selector).toEqual(h.rs('baseline')?.spec.selector.matchLabels);
    expect(base.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }]);
    expect(base.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Experiment',
      name: 'exp',
      controller: true,
    });
    await h.step();
    expect(h.ex().status?.templateStatuses?.map((t) => t.serviceName)).toEqual([
      'exp-baseline',
      'canary-preview',
    ]);
    await h.advance(10 * SECOND);
    expect(h.ex().status?.phase).toBe('Successful');
    expect(h.services()).toHaveLength(2);
    await h.advance(5 * SECOND);
    expect(h.rs('baseline')?.spec.replicas).toBe(0);
    expect(h.services()).toEqual([]);
    expect(h.ex().status?.templateStatuses?.map((t) => t.serviceName)).toEqual([undefined, undefined]);
  });

  it('a template asking for a Service without container ports ends the experiment in Error', async () => {
    const noPorts = expTemplate('baseline', { service: {} });
    noPorts.template.spec = { containers: [{ name: 'app', image: 'demo:x' }] };
    const h = new ExperimentHarness(experiment('exp', { templates: [noPorts], scaleDownDelaySeconds: 0 }));
    await h.step();
    expect(h.ex().status).toMatchObject({
      phase: 'Error',
      message: 'Template "baseline" has a service but its containers declare no ports',
    });
    expect(h.services()).toEqual([]);
    await h.step();
    expect(h.rs('baseline')?.spec.replicas).toBe(0);
    expect(h.ex().status?.phase).toBe('Error');
  });

  it('a template with replicas 0 is Running once its ReplicaSet exists and gets no Service', async () => {
    const h = new ExperimentHarness(
      experiment('exp', { templates: [expTemplate('idle', { replicas: 0, service: {} })] }),
    );
    await h.step(2);
    expect(h.ex().status?.phase).toBe('Running');
    expect(h.services()).toEqual([]);
  });

  it('retry (status cleared) restarts a finished experiment: scaled up again and a new run under a collision name', async () => {
    const h = new ExperimentHarness(
      experiment('exp', {
        duration: '10s',
        scaleDownDelaySeconds: 0,
        analyses: [{ name: 'a', templateName: 'cmp' }],
      }),
      [analysisTemplate('cmp')],
    );
    await h.step(2);
    await h.setRunPhase('exp-a', 'Failed', 'bad');
    await h.step();
    expect(h.ex().status?.phase).toBe('Failed');
    expect(h.rs('baseline')?.spec.replicas).toBe(0);
    await h.store.patchStatus('Experiment', EXP_NS, 'exp', { status: null });
    await h.step();
    expect(h.ex().status?.phase).toBe('Pending');
    expect(h.rs('baseline')?.spec.replicas).toBe(1);
    await h.step();
    expect(h.ex().status?.phase).toBe('Running');
    expect(h.runs().map((r) => r.metadata.name)).toEqual(['exp-a', 'exp-a.1']);
    expect(h.ex().status?.analysisRuns?.[0]?.analysisRun).toBe('exp-a.1');
  });

  it('does not adopt a ReplicaSet of the same name it does not control', async () => {
    const h = new ExperimentHarness(experiment('exp', { templates: [expTemplate('baseline')] }));
    h.store.seed({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'exp-baseline', namespace: EXP_NS },
      spec: { replicas: 3, selector: { matchLabels: { x: 'y' } }, template: {} },
    });
    await h.step();
    expect(h.ex().status?.phase).toBe('Error');
    expect(h.ex().status?.message).toContain(
      'ReplicaSet "exp-baseline" exists and is not controlled by this experiment',
    );
    expect(h.rs('baseline')?.spec.replicas).toBe(3);
  });
});

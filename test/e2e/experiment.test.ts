// The Experiment controller on the real test cluster: an Experiment applied with kubectl gets one
// ReplicaSet per template (pods made ready by the cluster's simulator) and a Service for the template that
// asks for one, goes Running, runs its web analysis with args templated from the experiment, ends
// Successful after its duration, and scales its ReplicaSets to 0 after scaleDownDelaySeconds.

import { afterEach, describe, expect, it } from 'vitest';
import type { Experiment } from '../../src/api/experiment.ts';
import { ARGO_API, E2e, scrapeMetrics, startWebMetric } from './fixture.ts';

const HASH = 'rollouts-pod-template-hash';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

interface RsObject {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
  };
  spec: { replicas?: number };
  status?: { availableReplicas?: number };
}

function template(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    replicas: 1,
    selector: { matchLabels: { app: 'exp-demo', variant: name } },
    template: {
      metadata: {
        labels: { app: 'exp-demo', variant: name },
        annotations: { 'sluice.test/ready-delay-ms': '300' },
      },
      spec: {
        containers: [{ name: 'app', image: `example.com/app:${name}`, ports: [{ containerPort: 8080 }] }],
      },
    },
    ...extra,
  };
}

describe('Experiment', () => {
  it('two templates with a 4 s duration and a web analysis: Pending -> Running -> Successful, then scaled to 0', async () => {
    e = await E2e.create('experiment');
    const web = await startWebMetric(1);
    e.defer(() => web.stop());
    await e.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'web-ok' },
      spec: {
        args: [{ name: 'hash' }],
        metrics: [
          {
            name: 'web-check',
            count: 2,
            interval: '1s',
            successCondition: 'result == 1',
            provider: { web: { url: `${web.url}?hash={{args.hash}}`, jsonPath: '{$.value}' } },
          },
        ],
      },
    });
    await e.apply({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Experiment',
      metadata: { name: 'lab' },
      spec: {
        duration: '4s',
        scaleDownDelaySeconds: 2,
        templates: [template('baseline', { service: {} }), template('canary')],
        analyses: [
          {
            name: 'check',
            templateName: 'web-ok',
            args: [{ name: 'hash', value: '{{templates.canary.podTemplateHash}}' }],
          },
        ],
      },
    });
    const client = e.client;
    const ns = e.namespace;
    const get = async () =>
      (await client.get(`${ARGO_API}/namespaces/${ns}/experiments/lab`)) as unknown as Experiment;
    const rs = async (name: string) =>
      (await client.get(`/apis/apps/v1/namespaces/${ns}/replicasets/${name}`)) as unknown as RsObject;
    const describeState = async () => JSON.stringify((await get()).status ?? {}, null, 1);
    const waitPhase = (phase: string) =>
      e!.waitFor(
        `experiment phase ${phase}`,
        async () => {
          const ex = await get();
          return ex.status?.phase === phase ? ex : undefined;
        },
        60_000,
        describeState,
      );

    const running = await waitPhase('Running');
    expect(running.status?.availableAt).toBeDefined();
    expect(running.status?.templateStatuses?.map((t) => [t.name, t.status])).toEqual([
      ['baseline', 'Running'],
      ['canary', 'Running'],
    ]);
    const canaryRs = await rs('lab-canary');
    expect(canaryRs.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Experiment', name: 'lab' });
    expect(canaryRs.status?.availableReplicas).toBe(1);
    const svc = (await client.get(`/api/v1/namespaces/${ns}/services/lab-baseline`)) as unknown as {
      spec: { selector: Record<string, string> };
    };
    expect(svc.spec.selector).toMatchObject({ variant: 'baseline', [HASH]: expect.any(String) });

    const done = await waitPhase('Successful');
    expect(done.status?.analysisRuns).toEqual([
      expect.objectContaining({ name: 'check', analysisRun: 'lab-check', phase: 'Successful' }),
    ]);
    const run = (await client.get(`${ARGO_API}/namespaces/${ns}/analysisruns/lab-check`)) as unknown as {
      spec: { args: { name: string; value: string }[] };
    };
    expect(run.spec.args).toEqual([{ name: 'hash', value: canaryRs.metadata.labels?.[HASH] }]);
    expect(web.requests).toBeGreaterThanOrEqual(2);
    // Duration counted from availableAt.
    expect(Date.now() - Date.parse(done.status!.availableAt!)).toBeGreaterThanOrEqual(3_000);

    await e.waitFor(
      'both ReplicaSets scaled to 0 and the Service deleted',
      async () => {
        const [a, b] = [await rs('lab-baseline'), await rs('lab-canary')];
        if (a.spec.replicas !== 0 || b.spec.replicas !== 0) return undefined;
        const gone = await client
          .get(`/api/v1/namespaces/${ns}/services/lab-baseline`)
          .then(() => false)
          .catch(() => true);
        return gone ? true : undefined;
      },
      30_000,
      describeState,
    );
    expect((await get()).status?.phase).toBe('Successful');

    const metrics = await scrapeMetrics(e.controller);
    expect(metrics).toContain(`experiment_info{namespace="${ns}",name="lab",phase="Successful"} 1`);
    expect(metrics).toMatch(new RegExp(`experiment_reconcile_count\\{namespace="${ns}",name="lab"\\} [1-9]`));
    expect(metrics).toMatch(/workqueue_adds_total\{name="experiments"\} [1-9]/);
  });
});

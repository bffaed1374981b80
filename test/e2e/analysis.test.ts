// AnalysisSuite scenarios (Argo's test/e2e/analysis_test.go) on the real test cluster: AnalysisTemplates
// applied with kubectl, web metrics answered by a node:http server on 127.0.0.1 that the test controls, job
// metrics run as real batch/v1 Jobs whose pods the cluster's simulator completes or fails to pull, and the
// AnalysisRuns the controller creates checked for Argo's names, labels, annotations and owner.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ARGO_API,
  canaryRollout,
  E2e,
  scrapeMetrics,
  service,
  startWebMetric,
  type WebMetricServer,
} from './fixture.ts';

const HASH = 'rollouts-pod-template-hash';

let e: E2e | undefined;
afterEach(async () => {
  await e?.dispose();
  e = undefined;
});

interface RunObject {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: {
    args?: { name: string; value?: string; valueFrom?: unknown }[];
    terminate?: boolean;
    metrics: { name: string }[];
  };
  status?: {
    phase?: string;
    message?: string;
    metricResults?: {
      name: string;
      phase: string;
      count?: number;
      measurements?: { phase: string; value?: string; message?: string }[];
    }[];
  };
}

async function run(name: string): Promise<RunObject> {
  return (await e!.client.get(
    `${ARGO_API}/namespaces/${e!.namespace}/analysisruns/${name}`,
  )) as unknown as RunObject;
}

/** Waits for the run to reach `phase`; returns the full object. */
function waitForRunPhase(name: string, phase: string, timeoutMs?: number): Promise<RunObject> {
  return e!.waitFor(
    `analysis run ${name} ${phase}`,
    async () => {
      const r = await run(name).catch(() => undefined);
      return r?.status?.phase === phase ? r : undefined;
    },
    timeoutMs,
    async () => JSON.stringify((await run(name).catch(() => undefined))?.status ?? 'no run'),
  );
}

async function webServer(initial: unknown): Promise<WebMetricServer> {
  const web = await startWebMetric(initial);
  e!.defer(() => web.stop());
  return web;
}

/** One web metric: pass while `{$.value}` is 1 (failureCondition value 0, anything else Inconclusive). */
function webTemplate(
  name: string,
  url: string,
  metric: { name?: string; count?: number; intervalS?: number; failureCondition?: boolean } = {},
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name },
    spec: {
      metrics: [
        {
          name: metric.name ?? 'web-check',
          ...(metric.count === undefined ? {} : { count: metric.count }),
          interval: `${metric.intervalS ?? 1}s`,
          successCondition: 'result == 1',
          ...(metric.failureCondition ? { failureCondition: 'result == 0' } : {}),
          provider: { web: { url, jsonPath: '{$.value}' } },
        },
      ],
    },
  };
}

/** A job metric whose pod runs `image` (`:fail` exits 1, `:bad` cannot be pulled). */
function jobTemplate(name: string, image: string): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name },
    spec: {
      metrics: [
        {
          name: 'smoke-job',
          provider: {
            job: {
              metadata: { labels: { purpose: 'smoke' } },
              spec: {
                backoffLimit: 0,
                template: {
                  spec: { restartPolicy: 'Never', containers: [{ name: 'smoke', image, command: ['true'] }] },
                },
              },
            },
          },
        },
      ],
    },
  };
}

function blueGreenRollout(name: string, blueGreen: Record<string, unknown>): Record<string, unknown>[] {
  return [
    service(`${name}-active`, name),
    service(`${name}-preview`, name),
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name }, annotations: { 'sluice.test/ready-delay-ms': '300' } },
          spec: { containers: [{ name: 'app', image: 'example.com/app:v1' }] },
        },
        strategy: {
          blueGreen: { activeService: `${name}-active`, previewService: `${name}-preview`, ...blueGreen },
        },
      },
    },
  ];
}

/** Argo's run metadata: labels, the revision annotation and the controller ownerReference to the Rollout. */
function expectRunMetadata(
  r: RunObject,
  rollout: string,
  labels: Record<string, string>,
  revision: number,
): void {
  expect(r.metadata.labels).toEqual(labels);
  expect(r.metadata.annotations?.['rollout.argoproj.io/revision']).toBe(String(revision));
  expect(r.metadata.ownerReferences).toMatchObject([{ kind: 'Rollout', name: rollout, controller: true }]);
}

describe('AnalysisSuite on the test cluster', { timeout: 150_000 }, () => {
  it('TestCanaryBackgroundAnalysis: a background run measures while the canary is paused and is terminated at promotion', async () => {
    e = await E2e.create('an-background');
    const web = await webServer(1);
    await e.apply(webTemplate('bg-check', web.url));
    await e.healthyRollout(
      canaryRollout('bga', {
        replicas: 2,
        steps: [{ setWeight: 50 }, { pause: {} }],
        canary: { analysis: { templates: [{ templateName: 'bg-check' }] } },
      }),
      'bga',
    );
    expect(await e.analysisRuns('bga')).toEqual([]); // the initial deploy runs no analysis
    await e.setImage('bga', 'example.com/app:v2');
    const paused = await e.waitForPhase('bga', 'Paused');
    const hash = paused.status!.currentPodHash!;
    const name = `bga-${hash}-2`;
    const [view] = await e.waitForAnalysisRuns('bga', 'background run', (runs) => runs.length === 1);
    expect(view!.name).toBe(name);
    expect(view!.phase).toBe('Running');
    expectRunMetadata(await run(name), 'bga', { app: 'bga', [HASH]: hash, 'rollout-type': 'Background' }, 2);
    await e.waitFor('three measurements', async () => (web.requests >= 3 ? true : undefined));
    expect((await e.rollout('bga')).status!.canary?.currentBackgroundAnalysisRunStatus).toMatchObject({
      name,
      status: 'Running',
    });

    await e.sluiceOk('promote', 'bga');
    await e.waitForPhase('bga', 'Healthy');
    const done = await waitForRunPhase(name, 'Successful');
    expect(done.spec.terminate).toBe(true);
    expect(done.status!.message).toBe('Run Terminated');
    expect(done.status!.metricResults![0]!.count).toBeGreaterThanOrEqual(3);
    await e.waitForEvent('bga', 'AnalysisRunCreated');
  });

  it('TestCanaryInconclusiveBackgroundAnalysis: an inconclusive background run pauses; promote starts a new run', async () => {
    e = await E2e.create('an-inconclusive');
    const web = await webServer(1);
    await e.apply(webTemplate('bg-check', web.url, { failureCondition: true }));
    await e.healthyRollout(
      canaryRollout('inc', {
        replicas: 2,
        steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }, { pause: {} }],
        canary: { analysis: { templates: [{ templateName: 'bg-check' }] } },
      }),
      'inc',
    );
    web.set(2); // neither the success nor the failure condition holds: Inconclusive
    await e.setImage('inc', 'example.com/app:v2');
    const paused = await e.waitForRollout(
      'inc',
      'at the pause step, paused on the inconclusive run',
      (ro) =>
        ro.status?.currentStepIndex === 1 &&
        (ro.status.pauseConditions ?? []).some((p) => p.reason === 'InconclusiveAnalysisRun'),
    );
    const hash = paused.status!.currentPodHash!;
    const first = `inc-${hash}-2`;
    expect((await run(first)).status!.phase).toBe('Inconclusive');
    expect(paused.status!.phase).toBe('Paused');
    expect(paused.status!.canary?.currentBackgroundAnalysisRunStatus).toMatchObject({
      name: first,
      status: 'Inconclusive',
    });

    web.set(1);
    await e.sluiceOk('promote', 'inc');
    await e.waitForStep('inc', 3);
    const runs = await e.waitForAnalysisRuns('inc', 'a second background run Running', (rs) =>
      rs.some((r) => r.name !== first && r.phase === 'Running'),
    );
    const second = runs.find((r) => r.name !== first)!;
    expect(second.name).toBe(`${first}.1`);
    expect(second.labels['rollout-type']).toBe('Background');
    expect((await e.rollout('inc')).status!.phase).toBe('Paused');
    await e.sluiceOk('promote', 'inc');
    await e.waitForPhase('inc', 'Healthy');
    await waitForRunPhase(second.name, 'Successful');
  });

  it('TestCanaryInlineAnalysis: a step run with Step labels must succeed before the next step', async () => {
    e = await E2e.create('an-inline');
    const web = await webServer(1);
    await e.apply(webTemplate('inline', web.url, { count: 2 }));
    await e.healthyRollout(
      canaryRollout('inl', {
        replicas: 2,
        steps: [
          { setWeight: 50 },
          {
            analysis: {
              templates: [{ templateName: 'inline' }],
              analysisRunMetadata: { labels: { team: 'payments' }, annotations: { note: 'smoke' } },
            },
          },
          { pause: {} },
        ],
      }),
      'inl',
    );
    await e.setImage('inl', 'example.com/app:v2');
    const paused = await e.waitForRollout(
      'inl',
      'paused at step 2 after the analysis',
      (ro) => ro.status?.currentStepIndex === 2 && ro.status.phase === 'Paused',
    );
    const hash = paused.status!.currentPodHash!;
    const name = `inl-${hash}-2-1`;
    const done = await run(name);
    expect(done.status!.phase).toBe('Successful');
    expect(done.status!.metricResults![0]).toMatchObject({
      name: 'web-check',
      phase: 'Successful',
      count: 2,
    });
    expectRunMetadata(
      done,
      'inl',
      { app: 'inl', [HASH]: hash, 'rollout-type': 'Step', 'step-index': '1', team: 'payments' },
      2,
    );
    expect(done.metadata.annotations?.note).toBe('smoke');
    expect(paused.status!.canary?.currentStepAnalysisRunStatus).toBeUndefined();
    const completed = e
      .events('inl')
      .filter((ev) => ev.reason === 'RolloutStepCompleted')
      .map((ev) => ev.message);
    expect(completed).toContain('Rollout step 2/3 completed (analysis)');

    await e.sluiceOk('promote', 'inl');
    await e.waitForPhase('inl', 'Healthy');
  });

  it('TestCanaryFailInlineMultipleAnalysis: one failing template of two fails the step run and aborts', async () => {
    e = await E2e.create('an-multi');
    const good = await webServer(1);
    const bad = await webServer(1);
    await e.apply(webTemplate('good', good.url, { name: 'good-metric', count: 3 }));
    await e.apply(webTemplate('bad', bad.url, { name: 'bad-metric', count: 3 }));
    await e.healthyRollout(
      canaryRollout('multi', {
        replicas: 2,
        steps: [
          { setWeight: 50 },
          { analysis: { templates: [{ templateName: 'good' }, { templateName: 'bad' }] } },
        ],
      }),
      'multi',
    );
    bad.set(0);
    await e.setImage('multi', 'example.com/app:v2');
    const degraded = await e.waitForPhase('multi', 'Degraded');
    const hash = degraded.status!.currentPodHash!;
    const name = `multi-${hash}-2-1`;
    const failed = await run(name);
    expect(failed.status!.phase).toBe('Failed');
    expect(failed.spec.metrics.map((m) => m.name).sort()).toEqual(['bad-metric', 'good-metric']);
    expect(failed.status!.metricResults!.find((m) => m.name === 'bad-metric')!.phase).toBe('Failed');
    expect(degraded.status!.abort).toBe(true);
    expect(degraded.status!.message).toBe(
      'RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed: Metric "bad-metric" assessed Failed due to failed (1) > failureLimit (0)',
    );
    await e.waitForPodCounts('multi', { '1': 2, '2': 0 });
    await e.waitForEvent('multi', 'AnalysisRunFailed');
    await e.waitForEvent('multi', 'RolloutAborted');
    // the controller's metrics show the verdicts with Argo's names and labels
    const metrics = await e.waitFor('analysis metrics', async () => {
      const text = await scrapeMetrics(e!.controller);
      return text.includes(`analysis_run_info{namespace="${e!.namespace}",name="${name}",phase="Failed"} 1`)
        ? text
        : undefined;
    });
    expect(metrics).toContain(
      `analysis_run_metric_phase{namespace="${e.namespace}",name="${name}",metric="bad-metric",type="Web",dry_run="false",phase="Failed"} 1`,
    );
    expect(metrics).toContain(
      `analysis_run_metric_phase{namespace="${e.namespace}",name="${name}",metric="good-metric",type="Web",dry_run="false",phase="Failed"} 0`,
    );

    // retry with the metric fixed: a new run (Argo's collision counter: <name>.1) passes and the rollout completes
    bad.set(1);
    await e.sluiceOk('retry', 'rollout', 'multi');
    const healthy = await e.waitForPhase('multi', 'Healthy');
    expect(healthy.status!.stableRS).toBe(hash);
    const runs = await e.analysisRuns('multi');
    expect(runs.map((r) => [r.name, r.phase])).toEqual([
      [name, 'Failed'],
      [`${name}.1`, 'Successful'],
    ]);
    expect(runs[1]!.labels).toMatchObject({ 'rollout-type': 'Step', 'step-index': '1', [HASH]: hash });
  });

  it('TestBlueGreenPrePromotionFail: a failing pre-promotion run aborts with active still on stable', async () => {
    e = await E2e.create('an-prefail');
    const web = await webServer(0);
    await e.apply(webTemplate('pre', web.url, { count: 1 }));
    await e.apply(
      blueGreenRollout('pre', {
        autoPromotionEnabled: false,
        abortScaleDownDelaySeconds: 1,
        prePromotionAnalysis: { templates: [{ templateName: 'pre' }] },
      }),
    );
    const v1 = await e.waitForPhase('pre', 'Healthy');
    const stable = v1.status!.stableRS!;
    expect(await e.analysisRuns('pre')).toEqual([]);
    await e.setImage('pre', 'example.com/app:v2');
    const degraded = await e.waitForPhase('pre', 'Degraded');
    const hash = degraded.status!.currentPodHash!;
    const name = `pre-${hash}-2-pre`;
    const failed = await run(name);
    expect(failed.status!.phase).toBe('Failed');
    expectRunMetadata(failed, 'pre', { app: 'pre', [HASH]: hash, 'rollout-type': 'PrePromotion' }, 2);
    expect(degraded.status!.blueGreen?.prePromotionAnalysisRunStatus).toMatchObject({
      name,
      status: 'Failed',
    });
    expect(degraded.status!.message).toMatch(
      /^RolloutAborted: Rollout aborted update to revision 2: PrePromotion analysis phase error\/failed/,
    );
    expect(degraded.status!.pauseConditions ?? []).toEqual([]);
    expect((await e.serviceSelector('pre-active'))[HASH]).toBe(stable);
    await e.waitForServiceSelector('pre-preview', stable);
    await e.waitForPodCounts('pre', { '1': 2, '2': 0 });
  });

  it('a passing pre-promotion run gates the BlueGreenPause: the pause starts only after it succeeds', async () => {
    e = await E2e.create('an-prepass');
    const web = await webServer(1);
    await e.apply(webTemplate('pre', web.url, { count: 2 }));
    await e.apply(
      blueGreenRollout('prep', {
        autoPromotionEnabled: false,
        prePromotionAnalysis: { templates: [{ templateName: 'pre' }] },
      }),
    );
    await e.waitForPhase('prep', 'Healthy');
    await e.setImage('prep', 'example.com/app:v2');
    const paused = await e.waitForPhase('prep', 'Paused');
    const name = `prep-${paused.status!.currentPodHash}-2-pre`;
    const done = await run(name);
    expect(done.status!.phase).toBe('Successful');
    const pauseStartMs = Date.parse(paused.status!.pauseConditions![0]!.startTime);
    const runDone = Date.parse((done.status as { completedAt?: string }).completedAt ?? '');
    expect(pauseStartMs).toBeGreaterThanOrEqual(Math.floor(runDone / 1000) * 1000);
    await e.sluiceOk('promote', 'prep');
    await e.waitForPhase('prep', 'Healthy');
  });

  it('TestBlueGreenPostPromotionFail: a failing post-promotion run switches active back to stable', async () => {
    e = await E2e.create('an-postfail');
    const web = await webServer(1);
    await e.apply(webTemplate('post', web.url, { count: 2 }));
    await e.apply(
      blueGreenRollout('post', {
        abortScaleDownDelaySeconds: 1,
        postPromotionAnalysis: { templates: [{ templateName: 'post' }] },
      }),
    );
    const v1 = await e.waitForPhase('post', 'Healthy');
    const stable = v1.status!.stableRS!;
    web.set(0);
    await e.setImage('post', 'example.com/app:v2');
    const hash = (
      await e.waitForRollout('post', 'revision 2 observed', (ro) => ro.status?.observedGeneration === '2')
    ).status!.currentPodHash!;
    const degraded = await e.waitForPhase('post', 'Degraded');
    const name = `post-${hash}-2-post`;
    const failed = await run(name);
    expect(failed.status!.phase).toBe('Failed');
    expectRunMetadata(failed, 'post', { app: 'post', [HASH]: hash, 'rollout-type': 'PostPromotion' }, 2);
    expect(degraded.status!.stableRS).toBe(stable);
    expect(degraded.status!.message).toMatch(
      /^RolloutAborted: Rollout aborted update to revision 2: PostPromotion analysis phase error\/failed/,
    );
    await e.waitForServiceSelector('post-active', stable);
    // the switch came first (the run starts after it); the abort switched active back
    const activeSwitches = () =>
      e!
        .events('post')
        .filter((ev) => ev.reason === 'SwitchService' && ev.message.includes("'post-active'"))
        .map((ev) => ev.message);
    const switches = await e.waitFor('the switch-back event', async () =>
      activeSwitches().some((m) => m.endsWith(`to '${stable}'`) && !m.includes("from ''"))
        ? activeSwitches()
        : undefined,
    );
    expect(switches.slice(-2)).toEqual([
      `Switched selector for service 'post-active' from '${stable}' to '${hash}'`,
      `Switched selector for service 'post-active' from '${hash}' to '${stable}'`,
    ]);
    await e.waitForPodCounts('post', { '1': 2, '2': 0 });
  });

  it('TestAnalysisWithSecret: a secretKeyRef arg is read from a real Secret and redacted from what is stored', async () => {
    e = await E2e.create('an-secret');
    const secret = 'tok-3f9a1c77d2';
    let authorized = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      const auth = req.headers.authorization ?? '';
      const ok = auth === `Bearer ${secret}`;
      if (ok) authorized++;
      const body = JSON.stringify({ value: ok ? 1 : 0, echo: auth });
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    e.defer(
      () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/check`;
    await e.apply([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'api-token' }, stringData: { token: secret } },
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AnalysisTemplate',
        metadata: { name: 'with-secret' },
        spec: {
          args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 'api-token', key: 'token' } } }],
          metrics: [
            {
              name: 'authorized',
              count: 1,
              successCondition: 'result.value == 1',
              provider: {
                web: {
                  url,
                  headers: [{ key: 'Authorization', value: 'Bearer {{args.token}}' }],
                  jsonPath: '{$}',
                },
              },
            },
            {
              // a dry-run metric whose evaluation error quotes the echoed header (and so the secret)
              name: 'echo-int',
              count: 1,
              consecutiveErrorLimit: 0,
              successCondition: 'asInt(result) > 0',
              provider: {
                web: {
                  url,
                  headers: [{ key: 'Authorization', value: 'Bearer {{args.token}}' }],
                  jsonPath: '{$.echo}',
                },
              },
            },
          ],
        },
      },
    ]);
    await e.healthyRollout(
      canaryRollout('sec', {
        replicas: 1,
        steps: [
          { setWeight: 100 },
          {
            analysis: { templates: [{ templateName: 'with-secret' }], dryRun: [{ metricName: 'echo-int' }] },
          },
        ],
      }),
      'sec',
    );
    await e.setImage('sec', 'example.com/app:v2');
    const healthy = await e.waitForRollout(
      'sec',
      'revision 2 Healthy',
      (ro) => ro.status?.observedGeneration === '2' && ro.status.phase === 'Healthy',
    );
    const name = `sec-${healthy.status!.currentPodHash}-2-1`;
    const done = await run(name);
    expect(done.status!.phase).toBe('Successful');
    expect(authorized).toBe(2);
    // the run keeps the reference, never the value; the echoed header is redacted in the stored value
    expect(done.spec.args).toEqual([
      { name: 'token', valueFrom: { secretKeyRef: { name: 'api-token', key: 'token' } } },
    ]);
    const text = JSON.stringify(done);
    expect(text).not.toContain(secret);
    const results = done.status!.metricResults!;
    const value = results.find((m) => m.name === 'authorized')!.measurements![0]!.value!;
    expect(value).toContain('Bearer *****');
    const echo = results.find((m) => m.name === 'echo-int')!;
    expect(echo.phase).toBe('Error');
    expect(echo.measurements![0]!.message).toContain('"Bearer *****"');
  });

  it('TestCanaryInlineAnalysisInvalidImageJob: a job whose pod cannot pull its image is Inconclusive and pauses the rollout', async () => {
    e = await E2e.create('an-badimage');
    await e.apply(jobTemplate('bad-image', 'example.com/smoke:bad'));
    await e.healthyRollout(
      canaryRollout('bij', {
        replicas: 1,
        steps: [{ setWeight: 100 }, { analysis: { templates: [{ templateName: 'bad-image' }] } }],
      }),
      'bij',
    );
    await e.setImage('bij', 'example.com/app:v2');
    const paused = await e.waitForRollout('bij', 'paused on the inconclusive job', (ro) =>
      (ro.status?.pauseConditions ?? []).some((p) => p.reason === 'InconclusiveAnalysisRun'),
    );
    expect(paused.status!.phase).toBe('Paused');
    expect(paused.status!.message).toBe('InconclusiveAnalysisRun');
    const name = `bij-${paused.status!.currentPodHash}-2-1`;
    const r = await run(name);
    expect(r.status!.phase).toBe('Inconclusive');
    const measurement = r.status!.metricResults![0]!.measurements![0]!;
    expect(measurement.phase).toBe('Inconclusive');
    expect(measurement.message).toMatch(/ErrImagePull|ImagePullBackOff/);
    // the Job: Argo's name <run-uid>.<metric>.<n>, the run's uid label, the template's labels, owned by the run
    const jobs = (await e.client.get(`/apis/batch/v1/namespaces/${e.namespace}/jobs`)) as {
      items: {
        metadata: {
          name: string;
          labels: Record<string, string>;
          ownerReferences: { kind: string; name: string }[];
        };
      }[];
    };
    expect(jobs.items).toHaveLength(1);
    const job = jobs.items[0]!.metadata;
    const uid = (await e.client.get(`${ARGO_API}/namespaces/${e.namespace}/analysisruns/${name}`)) as {
      metadata: { uid: string };
    };
    expect(job.name).toBe(`${uid.metadata.uid}.smoke-job.1`);
    expect(job.labels).toMatchObject({ purpose: 'smoke', 'analysisrun.argoproj.io/uid': uid.metadata.uid });
    expect(job.ownerReferences).toMatchObject([{ kind: 'AnalysisRun', name }]);

    // promote skips the inconclusive step
    await e.sluiceOk('promote', 'bij');
    await e.waitForPhase('bij', 'Healthy');
  });

  it('a job metric whose pod succeeds passes the step; one whose pod exits non-zero fails and aborts', async () => {
    e = await E2e.create('an-job');
    await e.apply(jobTemplate('job-ok', 'example.com/smoke:v1'));
    await e.apply(jobTemplate('job-fail', 'example.com/smoke:fail'));
    await e.healthyRollout(
      canaryRollout('job', {
        replicas: 1,
        steps: [{ setWeight: 100 }, { analysis: { templates: [{ templateName: 'job-ok' }] } }],
      }),
      'job',
    );
    await e.setImage('job', 'example.com/app:v2');
    const healthy = await e.waitForRollout(
      'job',
      'revision 2 Healthy',
      (ro) => ro.status?.observedGeneration === '2' && ro.status.phase === 'Healthy',
    );
    expect((await run(`job-${healthy.status!.currentPodHash}-2-1`)).status!.phase).toBe('Successful');

    await e.patchRollout('job', {
      spec: {
        strategy: {
          canary: {
            steps: [{ setWeight: 100 }, { analysis: { templates: [{ templateName: 'job-fail' }] } }],
          },
        },
      },
    });
    await e.setImage('job', 'example.com/app:v3');
    const degraded = await e.waitForPhase('job', 'Degraded');
    const failed = await run(`job-${degraded.status!.currentPodHash}-3-1`);
    expect(failed.status!.phase).toBe('Failed');
    expect(degraded.status!.abort).toBe(true);
  });

  it('post-promotion analysis without scaleDownDelaySeconds keeps the old RS until the run succeeds', async () => {
    e = await E2e.create('an-postpass');
    const web = await webServer(1);
    await e.apply(webTemplate('post', web.url, { count: 4, intervalS: 1 }));
    await e.apply(
      blueGreenRollout('keep', { postPromotionAnalysis: { templates: [{ templateName: 'post' }] } }),
    );
    const v1 = await e.waitForPhase('keep', 'Healthy');
    await e.setImage('keep', 'example.com/app:v2');
    const running = await e.waitForAnalysisRuns('keep', 'post-promotion run Running', (runs) =>
      runs.some((r) => r.name.endsWith('-2-post') && r.phase === 'Running'),
    );
    const hash = running[0]!.hash;
    await e.waitForServiceSelector('keep-active', hash);
    // switched but not yet stable: waiting for the post-promotion verification; old pods stay
    const verifying = await e.rollout('keep');
    expect(verifying.status!.stableRS).toBe(v1.status!.stableRS);
    expect(verifying.status!.phase).toBe('Progressing');
    expect(await e.podCountsByRevision('keep')).toEqual({ '1': 2, '2': 2 });
    expect((await e.replicaSetOfRevision('keep', 1))!.annotations['scale-down-deadline']).toBeUndefined();

    const healthy = await e.waitForRollout(
      'keep',
      'revision 2 stable',
      (ro) => ro.status?.stableRS === hash && ro.status.phase === 'Healthy',
    );
    expect(healthy.status!.blueGreen?.postPromotionAnalysisRunStatus).toMatchObject({ status: 'Successful' });
    const old = (await e.replicaSetOfRevision('keep', 1))!;
    expect(old.annotations['scale-down-deadline']).toBeDefined(); // the default 30 s delay starts only now
    expect(old.replicas).toBe(2);
  });

  it('an inconclusive pre-promotion run pauses the blue-green rollout; promote goes on to the switch', async () => {
    e = await E2e.create('an-preinc');
    const web = await webServer(2);
    await e.apply(webTemplate('pre', web.url, { count: 1, failureCondition: true }));
    await e.apply(
      blueGreenRollout('pinc', {
        scaleDownDelaySeconds: 1,
        prePromotionAnalysis: { templates: [{ templateName: 'pre' }] },
      }),
    );
    const v1 = await e.waitForPhase('pinc', 'Healthy');
    await e.setImage('pinc', 'example.com/app:v2');
    const paused = await e.waitForPhase('pinc', 'Paused');
    expect(paused.status!.pauseConditions?.map((p) => p.reason)).toEqual(['InconclusiveAnalysisRun']);
    expect(paused.status!.blueGreen?.prePromotionAnalysisRunStatus).toMatchObject({
      name: `pinc-${paused.status!.currentPodHash}-2-pre`,
      status: 'Inconclusive',
    });
    expect((await e.serviceSelector('pinc-active'))[HASH]).toBe(v1.status!.stableRS);
    await e.sluiceOk('promote', 'pinc');
    const healthy = await e.waitForPhase('pinc', 'Healthy');
    expect(healthy.status!.stableRS).toBe(paused.status!.currentPodHash);
    expect((await e.serviceSelector('pinc-active'))[HASH]).toBe(healthy.status!.stableRS);
  });
});

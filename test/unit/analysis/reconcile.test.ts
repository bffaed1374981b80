import { describe, expect, it } from 'vitest';
import { jobName, RUN_UID_LABEL } from '../../../src/analysis/providers/job.ts';
import type { MetricProvider } from '../../../src/analysis/providers/provider.ts';
import { reconcileAnalysisRun, runKeyOfJob } from '../../../src/analysis/reconcile.ts';
import type { KubeObject } from '../../../src/api/meta.ts';
import { type CoreEvent, createMemoryStore } from '../../../src/store/memory.ts';

interface RunObject extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    message?: string;
    metricResults?: {
      name: string;
      phase: string;
      count: number;
      measurements: { phase: string; metadata?: Record<string, string> }[];
    }[];
  };
}

const T0 = Date.parse('2024-06-01T10:00:00Z');

function clock(start = T0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function jobRun(extra: Record<string, unknown> = {}): RunObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'web-6b8f-2-1', namespace: 'shop' },
    spec: {
      metrics: [
        {
          name: 'smoke-test',
          provider: {
            job: {
              metadata: { labels: { team: 'a' } },
              spec: {
                backoffLimit: 0,
                template: { spec: { restartPolicy: 'Never', containers: [{ name: 't', image: 'busybox' }] } },
              },
            },
          },
        },
      ],
      ...extra,
    },
  };
}

/** A provider answering from a list, for the binding's scheduling and secret handling. */
function scripted(type: string, answers: unknown[], seen: Record<string, unknown>[] = []): MetricProvider {
  return {
    type,
    run: async (request) => {
      seen.push(request.provider);
      return { result: answers.shift() };
    },
  };
}

describe('AnalysisRun controller binding', () => {
  it('creates one Job per measurement with Argo name, labels, annotations and owner, and reports Running', async () => {
    const store = createMemoryStore();
    const c = clock();
    const run = await store.create(jobRun());
    const result = await reconcileAnalysisRun(
      { store, providers: [], now: c.now },
      'shop',
      run.metadata.name,
    );
    const jobs = store.list<KubeObject & { spec: Record<string, unknown> }>('Job', 'shop');
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    expect(job.metadata.name).toBe(`${run.metadata.uid}.smoke-test.1`);
    expect(job.metadata.labels).toEqual({ team: 'a', [RUN_UID_LABEL]: run.metadata.uid });
    expect(job.metadata.annotations).toMatchObject({
      'analysisrun.argoproj.io/name': 'web-6b8f-2-1',
      'analysisrun.argoproj.io/namespace': 'shop',
      'analysisrun.argoproj.io/metric-name': 'smoke-test',
    });
    expect(job.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'AnalysisRun',
        name: 'web-6b8f-2-1',
        uid: run.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(job.spec).toMatchObject({ backoffLimit: 0 });
    const status = store.get<RunObject>('AnalysisRun', 'shop', run.metadata.name)!.status!;
    expect(status.phase).toBe('Running');
    expect(status.metricResults?.[0]?.measurements[0]).toMatchObject({
      phase: 'Running',
      metadata: { 'job-name': job.metadata.name, 'job-namespace': 'shop' },
    });
    expect(result.requeueAfterMs).toBeGreaterThanOrEqual(1_000);
    expect(runKeyOfJob(job)).toBe('shop/web-6b8f-2-1');
  });

  it('completes the run Successful when the Job completes, Failed when it fails, and records events', async () => {
    for (const [condition, verdict] of [
      ['Complete', 'Successful'],
      ['Failed', 'Failed'],
    ] as const) {
      const store = createMemoryStore();
      const c = clock();
      const deps = { store, providers: [], now: c.now };
      const run = await store.create(jobRun());
      await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
      // Nothing changes while the Job runs: no new Job, no status write.
      c.advance(5_000);
      await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
      expect(store.list('Job', 'shop')).toHaveLength(1);
      const job = store.list('Job', 'shop')[0]!;
      await store.patchStatus('Job', 'shop', job.metadata.name, {
        status: { conditions: [{ type: condition, status: 'True', message: 'BackoffLimitExceeded' }] },
      });
      c.advance(1_000);
      const result = await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
      const status = store.get<RunObject>('AnalysisRun', 'shop', run.metadata.name)!.status!;
      expect(status.phase).toBe(verdict);
      expect(result.requeueAfterMs).toBeUndefined();
      const reasons = store.list<CoreEvent>('Event', 'shop').map((e) => `${e.type} ${e.reason}`);
      expect(reasons).toContain(
        verdict === 'Successful' ? 'Normal AnalysisRunSuccessful' : 'Warning AnalysisRunFailed',
      );
    }
  });

  it('adopts the Job of a measurement whose status write was lost instead of creating a duplicate', async () => {
    const store = createMemoryStore();
    const c = clock();
    const run = await store.create(jobRun());
    await store.create({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: jobName(run.metadata.uid!, 'smoke-test', 1),
        namespace: 'shop',
        ownerReferences: [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'AnalysisRun',
            name: run.metadata.name,
            uid: run.metadata.uid!,
            controller: true,
          },
        ],
      },
    });
    await reconcileAnalysisRun({ store, providers: [], now: c.now }, 'shop', run.metadata.name);
    expect(store.list('Job', 'shop')).toHaveLength(1);
    expect(
      store.get<RunObject>('AnalysisRun', 'shop', run.metadata.name)!.status?.metricResults?.[0]
        ?.measurements[0]?.phase,
    ).toBe('Running');
  });

  it('deletes the Job and finishes the run when it is terminated', async () => {
    const store = createMemoryStore();
    const c = clock();
    const deps = { store, providers: [], now: c.now };
    const run = await store.create(jobRun());
    await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
    await store.patch('AnalysisRun', 'shop', run.metadata.name, { spec: { terminate: true } });
    await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
    expect(store.list('Job', 'shop')).toHaveLength(0);
    const status = store.get<RunObject>('AnalysisRun', 'shop', run.metadata.name)!.status!;
    expect(status.phase).toBe('Successful');
    expect(status.message).toBe('Run Terminated');
  });

  it('reads secret args on demand and schedules the next measurement at the interval', async () => {
    const store = createMemoryStore();
    const c = clock();
    store.seed({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'prom', namespace: 'shop' },
      data: { token: Buffer.from('s3cret').toString('base64') },
    } as KubeObject);
    const seen: Record<string, unknown>[] = [];
    const run = await store.create<RunObject>({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'r', namespace: 'shop' },
      spec: {
        args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 'prom', key: 'token' } } }],
        metrics: [
          {
            name: 'rate',
            interval: '30s',
            count: 2,
            successCondition: 'result > 0.9',
            provider: { prometheus: { address: 'http://127.0.0.1:1', query: 'q{t="{{args.token}}"}' } },
          },
        ],
      },
    });
    const deps = { store, providers: [scripted('prometheus', [0.95, 0.97], seen)], now: c.now };
    const first = await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
    expect(first.requeueAfterMs).toBe(30_000);
    expect(JSON.stringify(seen[0])).toContain('s3cret');
    // Re-reconciling early (e.g. after our own status write) takes no measurement.
    c.advance(10_000);
    expect((await reconcileAnalysisRun(deps, 'shop', run.metadata.name)).requeueAfterMs).toBe(20_000);
    expect(seen).toHaveLength(1);
    c.advance(20_000);
    await reconcileAnalysisRun(deps, 'shop', run.metadata.name);
    const status = store.get<RunObject>('AnalysisRun', 'shop', 'r')!.status!;
    expect(status.phase).toBe('Successful');
    expect(status.metricResults?.[0]?.count).toBe(2);
  });

  it('marks a run whose secret is missing as Error, naming the argument', async () => {
    const store = createMemoryStore();
    const run = await store.create<RunObject>({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'r', namespace: 'shop' },
      spec: {
        args: [{ name: 'token', valueFrom: { secretKeyRef: { name: 'nope', key: 'k' } } }],
        metrics: [{ name: 'm', provider: { prometheus: { address: 'http://x', query: 'q' } } }],
      },
    });
    await reconcileAnalysisRun({ store, providers: [] }, 'shop', run.metadata.name);
    const status = store.get<RunObject>('AnalysisRun', 'shop', 'r')!.status!;
    expect(status.phase).toBe('Error');
    expect(status.message).toContain('args.token');
  });

  it('marks a structurally invalid run Error with the field in the message, without throwing', async () => {
    const store = createMemoryStore();
    store.seed({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'bad', namespace: 'shop' },
      spec: { metrics: 'nope' },
    } as KubeObject);
    await reconcileAnalysisRun({ store, providers: [] }, 'shop', 'bad');
    const status = store.get<RunObject>('AnalysisRun', 'shop', 'bad')!.status!;
    expect(status.phase).toBe('Error');
    expect(status.message).toContain('spec.metrics');
  });

  it('deletes a completed run once its ttlStrategy expires', async () => {
    const store = createMemoryStore();
    const c = clock();
    store.seed({
      ...jobRun({ ttlStrategy: { secondsAfterSuccess: 60 } }),
      status: { phase: 'Successful', completedAt: new Date(T0).toISOString() },
    } as KubeObject);
    const deps = { store, providers: [], now: c.now };
    c.advance(20_000);
    expect((await reconcileAnalysisRun(deps, 'shop', 'web-6b8f-2-1')).requeueAfterMs).toBe(40_000);
    c.advance(40_000);
    await reconcileAnalysisRun(deps, 'shop', 'web-6b8f-2-1');
    expect(store.get('AnalysisRun', 'shop', 'web-6b8f-2-1')).toBeUndefined();
  });
});

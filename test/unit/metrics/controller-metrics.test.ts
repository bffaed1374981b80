import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { createControllerMetrics, rolloutInfoPhase } from '../../../src/metrics/controller-metrics.ts';
import { collectedGauge, Registry, Tally } from '../../../src/metrics/registry.ts';
import { type HttpEndpoint, startHealthServer, startMetricsServer } from '../../../src/metrics/server.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';

const endpoints: HttpEndpoint[] = [];
afterEach(async () => {
  for (const e of endpoints.splice(0)) await e.close();
});

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

async function seeded() {
  const store = createMemoryStore();
  store.seed({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { replicas: 5, strategy: { canary: { trafficRouting: { nginx: { stableIngress: 'web' } } } } },
    status: {
      replicas: 6,
      availableReplicas: 4,
      updatedReplicas: 2,
      phase: 'Paused',
      conditions: [{ type: 'Progressing', status: 'Unknown', reason: 'RolloutPaused' }],
    },
  } as KubeObject);
  store.seed({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'api', namespace: 'shop' },
    spec: { strategy: { blueGreen: { activeService: 'api' } } },
  } as KubeObject);
  store.seed({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'web-abc-2-1', namespace: 'shop' },
    spec: {
      metrics: [
        { name: 'success-rate', provider: { prometheus: { query: 'x' } } },
        { name: 'smoke', provider: { job: { spec: {} } } },
        { name: 'latency', provider: { plugin: { 'sluice/proxy': {} } } },
      ],
      dryRun: [{ metricName: 'lat.*' }],
    },
    status: { phase: 'Running', metricResults: [{ name: 'success-rate', phase: 'Successful' }] },
  } as KubeObject);
  return store;
}

describe('controller metrics', () => {
  it("labels rollout_info with strategy, traffic router and the Progressing reason's phase", async () => {
    const metrics = createControllerMetrics(await seeded(), { version: 'v0.1.0' });
    const text = await metrics.expose();
    expect(lines(text, 'rollout_info').sort()).toEqual([
      'rollout_info{namespace="shop",name="api",strategy="blueGreen",traffic_router="",phase="Progressing"} 1',
      'rollout_info{namespace="shop",name="web",strategy="canary",traffic_router="Nginx",phase="Paused"} 1',
    ]);
    expect(text).toContain('rollout_info_replicas_available{namespace="shop",name="web"} 4');
    expect(text).toContain('rollout_info_replicas_unavailable{namespace="shop",name="web"} 2');
    expect(text).toContain('rollout_info_replicas_desired{namespace="shop",name="web"} 5');
    expect(text).toContain('rollout_info_replicas_desired{namespace="shop",name="api"} 1');
    expect(text).toContain('rollout_info_replicas_updated{namespace="shop",name="web"} 2');
    expect(lines(text, 'rollout_phase').filter((l) => l.includes('name="web"') && l.endsWith(' 1'))).toEqual([
      'rollout_phase{namespace="shop",name="web",strategy="canary",phase="Paused"} 1',
    ]);
    // Argo's six calculatePhase values, then Healthy and Degraded from status.phase (Sluice's addition).
    expect(lines(text, 'rollout_phase').filter((l) => l.includes('name="web"'))).toHaveLength(8);
    expect(text).toContain('# TYPE rollout_info gauge');
  });

  it('derives the legacy phase from the Progressing reason, with InvalidSpec winning', () => {
    const table: [string | undefined, boolean, string][] = [
      ['NewReplicaSetAvailable', false, 'Completed'],
      ['RolloutPaused', false, 'Paused'],
      ['ReplicaSetCreateError', false, 'Error'],
      ['ProgressDeadlineExceeded', false, 'Timeout'],
      ['RolloutAborted', false, 'Abort'],
      ['ReplicaSetUpdated', false, 'Progressing'],
      [undefined, false, 'Progressing'],
      ['NewReplicaSetAvailable', true, 'InvalidSpec'],
    ];
    for (const [reason, invalid, phase] of table) {
      const conditions = [
        ...(reason ? [{ type: 'Progressing', reason }] : []),
        ...(invalid ? [{ type: 'InvalidSpec', reason: 'InvalidSpec' }] : []),
      ];
      expect(rolloutInfoPhase({ metadata: { name: 'x' }, status: { conditions } })).toBe(phase);
    }
  });

  it('exposes analysis run phase, metric types and per-metric phases with dry_run', async () => {
    const text = await createControllerMetrics(await seeded(), { version: 'v' }).expose();
    expect(text).toContain('analysis_run_info{namespace="shop",name="web-abc-2-1",phase="Running"} 1');
    expect(text).toContain('analysis_run_phase{namespace="shop",name="web-abc-2-1",phase="Running"} 1');
    expect(text).toContain('analysis_run_phase{namespace="shop",name="web-abc-2-1",phase="Failed"} 0');
    expect(lines(text, 'analysis_run_metric_type').sort()).toEqual([
      'analysis_run_metric_type{namespace="shop",name="web-abc-2-1",metric="latency",type="sluice/proxy"} 1',
      'analysis_run_metric_type{namespace="shop",name="web-abc-2-1",metric="smoke",type="Job"} 1',
      'analysis_run_metric_type{namespace="shop",name="web-abc-2-1",metric="success-rate",type="Prometheus"} 1',
    ]);
    const on = lines(text, 'analysis_run_metric_phase').filter((l) => l.endsWith(' 1'));
    expect(on.sort()).toEqual([
      'analysis_run_metric_phase{namespace="shop",name="web-abc-2-1",metric="latency",type="sluice/proxy",dry_run="true",phase="Pending"} 1',
      'analysis_run_metric_phase{namespace="shop",name="web-abc-2-1",metric="smoke",type="Job",dry_run="false",phase="Pending"} 1',
      'analysis_run_metric_phase{namespace="shop",name="web-abc-2-1",metric="success-rate",type="Prometheus",dry_run="false",phase="Successful"} 1',
    ]);
  });

  it('records reconcile durations in Argo buckets, errors, requests and process metrics', async () => {
    const metrics = createControllerMetrics(createMemoryStore(), { version: 'v1.2.3' });
    metrics.rolloutReconcile.observe({ namespace: 'a', name: 'b' }, 0.2);
    metrics.rolloutReconcileError.inc({ namespace: 'a', name: 'b' });
    metrics.k8sRequests.inc({
      kind: 'rollouts',
      namespace: 'a',
      name: 'N/A',
      verb: 'List',
      status_code: '200',
    });
    const text = await metrics.expose();
    // prom-client writes `le` first; label order carries no meaning in the exposition format.
    expect(text).toContain('rollout_reconcile_bucket{le="0.15",namespace="a",name="b"} 0');
    expect(text).toContain('rollout_reconcile_bucket{le="0.25",namespace="a",name="b"} 1');
    expect(text).toContain('rollout_reconcile_bucket{le="+Inf",namespace="a",name="b"} 1');
    expect(text).toContain('rollout_reconcile_sum{namespace="a",name="b"} 0.2');
    expect(text).toContain('rollout_reconcile_error{namespace="a",name="b"} 1');
    expect(text).toContain(
      'controller_clientset_k8s_request_total{kind="rollouts",namespace="a",name="N/A",verb="List",status_code="200"} 1',
    );
    expect(text).toContain('argo_rollouts_controller_info{version="v1.2.3"} 1');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m);
  });

  it('exposes API request latency, the rate limiter and dropped events', async () => {
    const metrics = createControllerMetrics(createMemoryStore(), { version: 'v' });
    metrics.k8sRequestDuration.observe({ verb: 'Patch' }, 0.012);
    metrics.eventsDropped.inc({});
    metrics.addRateLimiter({ waitedMs: 2_500, pending: { normal: 3, low: 7 } });
    const text = await metrics.expose();
    expect(text).toContain('sluice_k8s_request_duration_seconds_bucket{le="0.01",verb="Patch"} 0');
    expect(text).toContain('sluice_k8s_request_duration_seconds_bucket{le="0.015",verb="Patch"} 1');
    expect(text).toContain('sluice_events_dropped_total 1');
    expect(text).toContain('sluice_k8s_client_rate_limit_wait_seconds_total 2.5');
    expect(text).toContain('sluice_k8s_client_rate_limit_pending{lane="low"} 7');
  });

  it('escapes label values and refuses a sample missing a label', async () => {
    const registry = new Registry();
    const c = new Tally(registry, 'c_total', 'help', ['x']);
    c.inc({ x: 'a"b\\c\nd' });
    expect(await registry.expose()).toContain('c_total{x="a\\"b\\\\c\\nd"} 1');
    expect(c.get({ x: 'a"b\\c\nd' })).toBe(1);
    expect(() => c.inc({})).toThrow(/label "x"/);
  });

  it('leaves a family empty when its collector throws, and still serves the others', async () => {
    const registry = new Registry();
    collectedGauge(registry, 'broken', 'help', [], () => {
      throw new Error('cache gone');
    });
    collectedGauge(registry, 'fine', 'help', [], () => [{ labels: {}, value: 3 }]);
    const text = await registry.expose();
    expect(lines(text, 'broken')).toEqual([]);
    expect(text).toContain('fine 3');
  });

  it('counts reconcile errors per controller as controller-runtime does, starting at 0', async () => {
    const metrics = createControllerMetrics(createMemoryStore(), { version: 'v', defaultMetrics: false });
    expect(lines(await metrics.expose(), 'controller_runtime_reconcile_errors_total').sort()).toEqual([
      'controller_runtime_reconcile_errors_total{controller="analysisruns"} 0',
      'controller_runtime_reconcile_errors_total{controller="experiments"} 0',
      'controller_runtime_reconcile_errors_total{controller="rollouts"} 0',
    ]);
    metrics.reconcileError('rollout', { namespace: 'shop', name: 'web' });
    metrics.reconcileError('rollout', { namespace: 'shop', name: 'api' });
    metrics.reconcileError('experiment', { namespace: 'shop', name: 'exp' });
    const text = await metrics.expose();
    expect(text).toContain('# TYPE controller_runtime_reconcile_errors_total counter');
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="rollouts"} 2');
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="experiments"} 1');
    expect(text).toContain('controller_runtime_reconcile_errors_total{controller="analysisruns"} 0');
    expect(text).toContain('rollout_reconcile_error{namespace="shop",name="web"} 1');
    expect(text).toContain('experiment_reconcile_error{namespace="shop",name="exp"} 1');
  });

  it('sets rollout_phase{phase="Degraded"} to 1 only for a Rollout whose status.phase is Degraded', async () => {
    const store = createMemoryStore();
    for (const [name, phase] of [
      ['bad', 'Degraded'],
      ['good', 'Healthy'],
      ['new', undefined],
    ] as const) {
      store.seed({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        metadata: { name, namespace: 'shop' },
        spec: { strategy: { canary: {} } },
        ...(phase ? { status: { phase } } : {}),
      } as KubeObject);
    }
    const text = await createControllerMetrics(store, { version: 'v', defaultMetrics: false }).expose();
    const on = (p: string) =>
      lines(text, 'rollout_phase')
        .filter((l) => l.includes(`phase="${p}"`) && l.endsWith(' 1'))
        .map((l) => /name="([^"]+)"/.exec(l)?.[1]);
    expect(on('Degraded')).toEqual(['bad']);
    expect(on('Healthy')).toEqual(['good']);
  });

  it("exposes prom-client's default Node metrics under the names the hand-written ones had", async () => {
    const text = await createControllerMetrics(createMemoryStore(), { version: 'v' }).expose();
    for (const [name, type] of [
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['process_start_time_seconds', 'gauge'],
      ['process_open_fds', 'gauge'],
      ['process_max_fds', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
      ['nodejs_gc_duration_seconds', 'histogram'],
      ['nodejs_heap_space_size_used_bytes', 'gauge'],
    ]) {
      expect(text).toContain(`# TYPE ${name} ${type}`);
    }
    expect(lines(text, 'nodejs_heap_space_size_used_bytes').some((l) => l.includes('space="old"'))).toBe(
      true,
    );
  });

  it('serves /metrics and /healthz over HTTP', async () => {
    const metrics = createControllerMetrics(await seeded(), { version: 'v' });
    let healthy = false;
    const m = await startMetricsServer(() => metrics.expose(), '127.0.0.1', 0);
    const h = await startHealthServer(
      () => (healthy ? { ok: true } : { ok: false, reason: 'caches not synced' }),
      '127.0.0.1',
      0,
    );
    endpoints.push(m, h);
    const res = await fetch(`http://127.0.0.1:${m.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('version=0.0.4');
    expect(await res.text()).toContain('rollout_info{');
    expect((await fetch(`http://127.0.0.1:${m.port}/other`)).status).toBe(404);
    const sick = await fetch(`http://127.0.0.1:${h.port}/healthz`);
    expect(sick.status).toBe(503);
    expect(await sick.text()).toContain('caches not synced');
    healthy = true;
    expect((await fetch(`http://127.0.0.1:${h.port}/healthz`)).status).toBe(200);
  });
});

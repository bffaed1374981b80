import { afterEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { createControllerMetrics, rolloutInfoPhase } from '../../../src/metrics/controller-metrics.ts';
import { Counter, Histogram, Registry } from '../../../src/metrics/registry.ts';
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
    const text = metrics.expose();
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
    expect(lines(text, 'rollout_phase').filter((l) => l.includes('name="web"'))).toHaveLength(6);
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
    const text = createControllerMetrics(await seeded(), { version: 'v' }).expose();
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
    const text = metrics.expose();
    expect(text).toContain('rollout_reconcile_bucket{namespace="a",name="b",le="0.15"} 0');
    expect(text).toContain('rollout_reconcile_bucket{namespace="a",name="b",le="0.25"} 1');
    expect(text).toContain('rollout_reconcile_bucket{namespace="a",name="b",le="+Inf"} 1');
    expect(text).toContain('rollout_reconcile_sum{namespace="a",name="b"} 0.2');
    expect(text).toContain('rollout_reconcile_error{namespace="a",name="b"} 1');
    expect(text).toContain(
      'controller_clientset_k8s_request_total{kind="rollouts",namespace="a",name="N/A",verb="List",status_code="200"} 1',
    );
    expect(text).toContain('argo_rollouts_controller_info{version="v1.2.3"} 1');
    expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^process_cpu_seconds_total [\d.e-]+$/m);
  });

  it('exposes API request latency, the rate limiter and dropped events', () => {
    const metrics = createControllerMetrics(createMemoryStore(), { version: 'v' });
    metrics.k8sRequestDuration.observe({ verb: 'Patch' }, 0.012);
    metrics.eventsDropped.inc({});
    metrics.addRateLimiter({ waitedMs: 2_500, pending: { normal: 3, low: 7 } });
    const text = metrics.expose();
    expect(text).toContain('sluice_k8s_request_duration_seconds_bucket{verb="Patch",le="0.01"} 0');
    expect(text).toContain('sluice_k8s_request_duration_seconds_bucket{verb="Patch",le="0.015"} 1');
    expect(text).toContain('sluice_events_dropped_total 1');
    expect(text).toContain('sluice_k8s_client_rate_limit_wait_seconds_total 2.5');
    expect(text).toContain('sluice_k8s_client_rate_limit_pending{lane="low"} 7');
  });

  it('escapes label values and refuses a sample missing a label', () => {
    const registry = new Registry();
    const c = registry.register(new Counter('c_total', 'help', ['x']));
    c.inc({ x: 'a"b\\c\nd' });
    expect(registry.expose()).toContain('c_total{x="a\\"b\\\\c\\nd"} 1');
    expect(() => c.inc({})).toThrow(/label "x"/);
    const h = new Histogram('h', 'help', [], [1]);
    h.observe({}, 2);
    expect([...h.samples()].find((s) => s.labels.le === '1')?.value).toBe(0);
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

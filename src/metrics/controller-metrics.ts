// The controller's Prometheus metrics, with Argo Rollouts' names and labels (controller/metrics/*.go) so
// existing dashboards and alerts keep working. Object gauges (rollout_info, analysis_run_info, ...) are
// computed from the store's cache at each scrape, as Argo's collectors do; reconcile histograms, error
// and request counters are updated by the controller. Quirk kept: rollout_info's `phase` label is derived
// from the Progressing condition's reason, not from status.phase.

import { collectDefaultMetrics } from 'prom-client';
import type { ObjectStore } from '../store/object-store.ts';
import {
  type Counter,
  collectedCounter,
  collectedGauge,
  counter,
  type Histogram,
  histogram,
  type Labels,
  Registry,
} from './registry.ts';

export const RECONCILE_BUCKETS_S = [0.01, 0.15, 0.25, 0.5, 1];
/**
 * Sluice's own reconcile histogram, over all Rollouts (no per-object labels): Argo's buckets above cannot
 * tell whether a p99 is under 50 ms, so this one is fine enough to read percentiles from.
 */
export const RECONCILE_DURATION_BUCKETS_S = [
  0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1,
  2.5, 5,
];
const ANALYSIS_PHASES = ['Pending', 'Error', 'Failed', 'Successful', 'Running', 'Inconclusive'] as const;
const LEGACY_ROLLOUT_PHASES = ['Completed', 'Progressing', 'Paused', 'Timeout', 'Error', 'Abort'] as const;
/**
 * rollout_phase series Sluice adds (Argo has none): 1 when status.phase is Healthy or Degraded. The enterprise
 * guide's alert `rollout_phase{phase="Degraded"} == 1` never fires on Argo's six calculatePhase values.
 */
const STATUS_ROLLOUT_PHASES = ['Healthy', 'Degraded'] as const;
/** controller_runtime_reconcile_errors_total{controller}: the work queue names of workqueue_depth. */
export const RECONCILE_CONTROLLERS = {
  rollout: 'rollouts',
  analysisrun: 'analysisruns',
  experiment: 'experiments',
} as const;
export type ReconcileKind = keyof typeof RECONCILE_CONTROLLERS;

/** The fields of a Rollout the metrics read; everything optional, as on a freshly applied object. */
interface RolloutLike {
  metadata: { name: string; namespace?: string };
  spec?: {
    replicas?: number;
    strategy?: {
      canary?: { trafficRouting?: Record<string, unknown> } | null;
      blueGreen?: unknown;
    };
  };
  status?: {
    replicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    phase?: string;
    conditions?: { type: string; reason?: string; status?: string }[];
  };
}

interface MetricLike {
  name: string;
  provider?: Record<string, unknown>;
}

interface AnalysisRunLike {
  metadata: { name: string; namespace?: string };
  spec?: { metrics?: MetricLike[]; dryRun?: { metricName: string }[] };
  status?: { phase?: string; metricResults?: { name: string; phase?: string; dryRun?: boolean }[] };
}

interface TemplateLike {
  metadata: { name: string; namespace?: string };
  spec?: { metrics?: MetricLike[] };
}

/** namespace and name: the first labels of every per-object series, as in Argo's collectors. */
function objectLabels(obj: { metadata: { name: string; namespace?: string } }): Labels {
  return { namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}

export function rolloutStrategy(ro: RolloutLike): 'canary' | 'blueGreen' | 'none' {
  if (ro.spec?.strategy?.blueGreen) return 'blueGreen';
  if (ro.spec?.strategy?.canary) return 'canary';
  return 'none';
}

const ROUTERS: readonly [string, string][] = [
  ['alb', 'ALB'],
  ['ambassador', 'Ambassador'],
  ['istio', 'Istio'],
  ['nginx', 'Nginx'],
  ['smi', 'SMI'],
  ['appMesh', 'AppMesh'],
  ['traefik', 'Traefik'],
  ['apisix', 'Apisix'],
  ['plugins', 'Plugins'],
];

export function rolloutTrafficRouter(ro: RolloutLike): string {
  const tr = ro.spec?.strategy?.canary?.trafficRouting;
  if (tr === undefined || tr === null) return '';
  return ROUTERS.filter(([key]) => tr[key] !== undefined && tr[key] !== null)
    .map(([, label]) => label)
    .join(',');
}

/** rollout_info's `phase` label (Argo's controller/metrics calculatePhase). */
export type RolloutInfoPhase =
  | 'Completed'
  | 'Paused'
  | 'Error'
  | 'Timeout'
  | 'Abort'
  | 'InvalidSpec'
  | 'Progressing';

/** Argo's calculatePhase: from the Progressing condition's reason; InvalidSpec wins. The only copy. */
export function rolloutInfoPhase(ro: RolloutLike): RolloutInfoPhase {
  const conditions = ro.status?.conditions ?? [];
  if (conditions.some((c) => c.type === 'InvalidSpec')) return 'InvalidSpec';
  const reason = conditions.find((c) => c.type === 'Progressing')?.reason;
  switch (reason) {
    case 'NewReplicaSetAvailable':
      return 'Completed';
    case 'RolloutPaused':
      return 'Paused';
    case 'ServiceNotFound':
    case 'ReplicaSetCreateError':
      return 'Error';
    case 'ProgressDeadlineExceeded':
      return 'Timeout';
    case 'RolloutAborted':
      return 'Abort';
    default:
      return 'Progressing';
  }
}

const PROVIDER_TYPES: Readonly<Record<string, string>> = {
  prometheus: 'Prometheus',
  kayenta: 'Kayenta',
  web: 'Web',
  datadog: 'Datadog',
  wavefront: 'Wavefront',
  newRelic: 'NewRelic',
  job: 'Job',
  cloudWatch: 'CloudWatch',
  graphite: 'Graphite',
  influxdb: 'Influxdb',
  skywalking: 'SkyWalking',
};

/** Argo's metricproviders.Type: the provider's type name, or the plugin's name. */
export function metricType(metric: MetricLike): string {
  const provider = metric.provider ?? {};
  for (const [key, value] of Object.entries(provider)) {
    if (value === undefined || value === null) continue;
    if (key === 'plugin' && typeof value === 'object') return Object.keys(value)[0] ?? 'Unknown Provider';
    return PROVIDER_TYPES[key] ?? 'Unknown Provider';
  }
  return 'Unknown Provider';
}

function isDryRun(run: AnalysisRunLike, metricName: string): boolean {
  for (const rule of run.spec?.dryRun ?? []) {
    try {
      if (new RegExp(rule.metricName, 'u').test(metricName)) return true;
    } catch {
      // An invalid rule matches nothing (the run is marked Error elsewhere).
    }
  }
  return false;
}

export interface ControllerMetrics {
  readonly registry: Registry;
  readonly rolloutReconcile: Histogram;
  /** sluice_rollout_reconcile_duration_seconds: every Rollout reconcile, fine buckets, no labels. */
  readonly rolloutReconcileDuration: Histogram;
  readonly rolloutReconcileError: Counter;
  readonly rolloutEvents: Counter;
  readonly analysisRunReconcile: Histogram;
  readonly analysisRunReconcileError: Counter;
  readonly experimentReconcile: Histogram;
  readonly experimentReconcileError: Counter;
  readonly k8sRequests: Counter;
  /** sluice_k8s_request_duration_seconds{verb}: API request latency, rate-limiter wait excluded. */
  readonly k8sRequestDuration: Histogram;
  /** sluice_events_dropped_total: Events not written because the event queue was full. */
  readonly eventsDropped: Counter;
  /** controller_runtime_reconcile_errors_total{controller}, as controller-runtime names it. */
  readonly reconcileErrors: Counter;
  /** A failed reconcile: Argo's per-object *_reconcile_error and the per-controller total. */
  reconcileError(kind: ReconcileKind, labels: { namespace: string; name: string }): void;
  /** Exposes the API client's rate limiter: time spent waiting for a token, requests waiting per lane. */
  addRateLimiter(limiter: {
    readonly waitedMs: number;
    readonly pending: Readonly<Record<string, number>>;
  }): void;
  /** Registers a work queue's depth and adds (client-go's workqueue_depth / workqueue_adds_total). */
  addQueue(name: string, queue: { readonly length: number; readonly adds: number }): void;
  /** Text exposition format 0.0.4. */
  expose(): Promise<string>;
}

export interface ControllerMetricsOptions {
  readonly version: string;
  /** Whether this replica currently leads (exposed as sluice_controller_leader). */
  readonly isLeader?: () => boolean;
  /** prom-client's default Node metrics (process_*, nodejs_* incl. event-loop lag, GC, heap spaces); default true. */
  readonly defaultMetrics?: boolean;
}

export function createControllerMetrics(
  store: ObjectStore,
  options: ControllerMetricsOptions,
): ControllerMetrics {
  const registry = new Registry();
  const rollouts = () => store.list<RolloutLike & { apiVersion: string; kind: string }>('Rollout');
  const runs = () => store.list<AnalysisRunLike & { apiVersion: string; kind: string }>('AnalysisRun');

  /** Argo's `*_info` series: 1 per object, labelled namespace, name and `labels(obj)`. */
  const infoSeries = <T extends { metadata: { name: string; namespace?: string } }>(
    name: string,
    help: string,
    objects: () => Iterable<T>,
    labelNames: readonly string[] = [],
    labels: (obj: T) => Labels = () => ({}),
  ) =>
    collectedGauge(registry, name, help, ['namespace', 'name', ...labelNames], function* () {
      for (const obj of objects()) yield { labels: { ...objectLabels(obj), ...labels(obj) }, value: 1 };
    });

  infoSeries(
    'rollout_info',
    'Information about rollout.',
    rollouts,
    ['strategy', 'traffic_router', 'phase'],
    (ro) => ({
      strategy: rolloutStrategy(ro),
      traffic_router: rolloutTrafficRouter(ro),
      phase: rolloutInfoPhase(ro),
    }),
  );
  const replicaGauge = (suffix: string, help: string, value: (ro: RolloutLike) => number) =>
    collectedGauge(registry, `rollout_info_replicas_${suffix}`, help, ['namespace', 'name'], function* () {
      for (const ro of rollouts()) yield { labels: objectLabels(ro), value: value(ro) };
    });
  replicaGauge(
    'available',
    'The number of available replicas per rollout.',
    (ro) => ro.status?.availableReplicas ?? 0,
  );
  replicaGauge(
    'unavailable',
    'The number of unavailable replicas per rollout.',
    (ro) => (ro.status?.replicas ?? 0) - (ro.status?.availableReplicas ?? 0),
  );
  replicaGauge('desired', 'The number of desired replicas per rollout.', (ro) => ro.spec?.replicas ?? 1);
  replicaGauge(
    'updated',
    'The number of updated replicas per rollout.',
    (ro) => ro.status?.updatedReplicas ?? 0,
  );
  collectedGauge(
    registry,
    'rollout_phase',
    'Information on the state of the rollout (DEPRECATED - use rollout_info)',
    ['namespace', 'name', 'strategy', 'phase'],
    function* () {
      for (const ro of rollouts()) {
        const phase = rolloutInfoPhase(ro);
        const strategy = rolloutStrategy(ro);
        for (const p of LEGACY_ROLLOUT_PHASES) {
          yield { labels: { ...objectLabels(ro), strategy, phase: p }, value: phase === p ? 1 : 0 };
        }
        for (const p of STATUS_ROLLOUT_PHASES) {
          yield {
            labels: { ...objectLabels(ro), strategy, phase: p },
            value: ro.status?.phase === p ? 1 : 0,
          };
        }
      }
    },
  );
  const rolloutReconcile = histogram(
    registry,
    'rollout_reconcile',
    'Rollout reconciliation performance.',
    ['namespace', 'name'],
    RECONCILE_BUCKETS_S,
  );
  const rolloutReconcileDuration = histogram(
    registry,
    'sluice_rollout_reconcile_duration_seconds',
    'Duration of Rollout reconciles over all Rollouts, in finer buckets than rollout_reconcile.',
    [],
    RECONCILE_DURATION_BUCKETS_S,
  );
  const rolloutReconcileError = counter(
    registry,
    'rollout_reconcile_error',
    'Error occurring during the rollout',
    ['namespace', 'name'],
  );
  const rolloutEvents = counter(registry, 'rollout_events_total', 'Count of rollout events', [
    'namespace',
    'name',
    'type',
    'reason',
  ]);

  infoSeries('analysis_run_info', 'Information about analysis run.', runs, ['phase'], (run) => ({
    phase: run.status?.phase ?? '',
  }));
  collectedGauge(
    registry,
    'analysis_run_phase',
    'Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)',
    ['namespace', 'name', 'phase'],
    function* () {
      for (const run of runs()) {
        const phase = run.status?.phase ?? '';
        for (const p of ANALYSIS_PHASES) {
          yield {
            labels: { ...objectLabels(run), phase: p },
            value: phase === p || (p === 'Pending' && phase === '') ? 1 : 0,
          };
        }
      }
    },
  );
  /** Argo's per-metric info series: 1 per metric of each run or template, labelled namespace, name, `labels(m)`. */
  const metricInfoSeries = <
    T extends { metadata: { name: string; namespace?: string }; spec?: { metrics?: MetricLike[] } },
  >(
    name: string,
    help: string,
    objects: () => Iterable<T>,
    labelNames: readonly string[],
    labels: (metric: MetricLike) => Labels,
  ) =>
    collectedGauge(registry, name, help, ['namespace', 'name', ...labelNames], function* () {
      for (const obj of objects()) {
        for (const m of obj.spec?.metrics ?? [])
          yield { labels: { ...objectLabels(obj), ...labels(m) }, value: 1 };
      }
    });
  metricInfoSeries(
    'analysis_run_metric_type',
    'Information on the type of a specific metric in the Analysis Runs.',
    runs,
    ['metric', 'type'],
    (m) => ({ metric: m.name, type: metricType(m) }),
  );
  collectedGauge(
    registry,
    'analysis_run_metric_phase',
    'Information on the duration of a specific metric in the Analysis Run',
    ['namespace', 'name', 'metric', 'type', 'dry_run', 'phase'],
    function* () {
      for (const run of runs()) {
        const results = new Map((run.status?.metricResults ?? []).map((r) => [r.name, r]));
        for (const m of run.spec?.metrics ?? []) {
          const phase = results.get(m.name)?.phase ?? '';
          const dryRun = String(results.get(m.name)?.dryRun ?? isDryRun(run, m.name));
          for (const p of ANALYSIS_PHASES) {
            yield {
              labels: {
                ...objectLabels(run),
                metric: m.name,
                type: metricType(m),
                dry_run: dryRun,
                phase: p,
              },
              value: phase === p || (p === 'Pending' && phase === '') ? 1 : 0,
            };
          }
        }
      }
    },
  );
  const analysisRunReconcile = histogram(
    registry,
    'analysis_run_reconcile',
    'Analysis Run reconciliation performance.',
    ['namespace', 'name'],
    RECONCILE_BUCKETS_S,
  );
  const analysisRunReconcileError = counter(
    registry,
    'analysis_run_reconcile_error',
    'Error occurring during the analysis run',
    ['namespace', 'name'],
  );
  const templates = function* (): Iterable<TemplateLike> {
    yield* store.list<TemplateLike & { apiVersion: string; kind: string }>('AnalysisTemplate');
    yield* store.list<TemplateLike & { apiVersion: string; kind: string }>('ClusterAnalysisTemplate');
  };
  infoSeries('analysis_template_info', 'Information about analysis templates.', templates);
  // Argo's label order differs from analysis_run_metric_type's: type before metric.
  metricInfoSeries(
    'analysis_template_metric_info',
    'Information on metrics in analysis templates.',
    templates,
    ['type', 'metric'],
    (m) => ({
      type: metricType(m),
      metric: m.name,
    }),
  );
  infoSeries(
    'experiment_info',
    'Information about Experiment.',
    () =>
      store.list<{
        apiVersion: string;
        kind: string;
        metadata: { name: string; namespace?: string };
        status?: { phase?: string };
      }>('Experiment'),
    ['phase'],
    (e) => ({ phase: e.status?.phase ?? '' }),
  );
  const experimentReconcile = histogram(
    registry,
    'experiment_reconcile',
    'Experiments reconciliation performance.',
    ['namespace', 'name'],
    RECONCILE_BUCKETS_S,
  );
  const experimentReconcileError = counter(
    registry,
    'experiment_reconcile_error',
    'Error occurring during the experiment',
    ['namespace', 'name'],
  );
  const reconcileErrors = counter(
    registry,
    'controller_runtime_reconcile_errors_total',
    'Total number of reconciliation errors per controller',
    ['controller'],
  );
  // controller-runtime starts every controller's series at 0, so rate() and increase() see the first error.
  for (const controller of Object.values(RECONCILE_CONTROLLERS)) reconcileErrors.inc({ controller }, 0);
  const k8sRequests = counter(
    registry,
    'controller_clientset_k8s_request_total',
    'Number of kubernetes requests executed during application reconciliation.',
    ['kind', 'namespace', 'name', 'verb', 'status_code'],
  );
  collectedGauge(
    registry,
    'argo_rollouts_controller_info',
    'Running Argo-rollouts version',
    ['version'],
    () => [{ labels: { version: options.version }, value: 1 }],
  );
  collectedGauge(
    registry,
    'sluice_controller_leader',
    'Whether this controller replica holds the leader lease (1) or not (0).',
    [],
    () => [{ labels: {}, value: (options.isLeader?.() ?? true) ? 1 : 0 }],
  );
  const queues = new Map<string, { readonly length: number; readonly adds: number }>();
  collectedGauge(registry, 'workqueue_depth', 'Current depth of workqueue', ['name'], function* () {
    for (const [name, q] of queues) yield { labels: { name }, value: q.length };
  });
  collectedCounter(
    registry,
    'workqueue_adds_total',
    'Total number of adds handled by workqueue',
    ['name'],
    function* () {
      for (const [name, q] of queues) yield { labels: { name }, value: q.adds };
    },
  );
  const k8sRequestDuration = histogram(
    registry,
    'sluice_k8s_request_duration_seconds',
    'Kubernetes API request latency (client-go rest_client_request_duration_seconds), rate-limiter wait excluded.',
    ['verb'],
    RECONCILE_DURATION_BUCKETS_S,
  );
  const eventsDropped = counter(
    registry,
    'sluice_events_dropped_total',
    'Kubernetes Events dropped because the event queue was full.',
    [],
  );
  let limiter: { readonly waitedMs: number; readonly pending: Readonly<Record<string, number>> } | undefined;
  collectedCounter(
    registry,
    'sluice_k8s_client_rate_limit_wait_seconds_total',
    'Time API requests spent waiting for the client-side rate limiter (--qps/--burst).',
    [],
    () => (limiter ? [{ labels: {}, value: limiter.waitedMs / 1000 }] : []),
  );
  collectedGauge(
    registry,
    'sluice_k8s_client_rate_limit_pending',
    'API requests waiting for the client-side rate limiter, per lane (low: Events).',
    ['lane'],
    function* () {
      for (const [lane, n] of Object.entries(limiter?.pending ?? {})) yield { labels: { lane }, value: n };
    },
  );
  // process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds,
  // process_open_fds, process_max_fds and nodejs_heap_size_used_bytes keep the names the hand-written
  // versions had; the rest (event-loop lag, GC, heap spaces, handles) is new.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const perKindError = {
    rollout: rolloutReconcileError,
    analysisrun: analysisRunReconcileError,
    experiment: experimentReconcileError,
  } as const;

  return {
    registry,
    rolloutReconcile,
    rolloutReconcileDuration,
    rolloutReconcileError,
    rolloutEvents,
    analysisRunReconcile,
    analysisRunReconcileError,
    experimentReconcile,
    experimentReconcileError,
    k8sRequests,
    k8sRequestDuration,
    eventsDropped,
    reconcileErrors,
    reconcileError: (kind, labels) => {
      perKindError[kind].inc(labels);
      reconcileErrors.inc({ controller: RECONCILE_CONTROLLERS[kind] });
    },
    addRateLimiter: (l) => {
      limiter = l;
    },
    addQueue: (name, queue) => {
      queues.set(name, queue);
    },
    expose: () => registry.expose(),
  };
}

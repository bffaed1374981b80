// What the dashboard's JSON endpoints answer, computed from the watched objects: the Rollout list (one row
// per Rollout: phase, strategy, step, weights, replicas, images) and one Rollout's page (its steps, the
// revision tree of `sluice get rollout` from ../rollouts/info.ts, each AnalysisRun's metrics with their
// measurements and thresholds, the weights the status asks for, the proxy route when sluice/proxy routes
// it). Pure: objects in, plain JSON out; the browser only renders it.

import type { AnalysisRunSpec, Measurement } from '../../api/analysis-run.ts';
import type { KubeObject } from '../../api/meta.ts';
import { proxyRouterConfig, usesProxyRouter } from '../../api/proxy-router-config.ts';
import { type CanaryStep, currentStepIndex, type Rollout } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workloads.ts';
import {
  type AnalysisRunObject,
  buildRolloutInfo,
  type ReplicaSetInfo,
  type RolloutInfo,
  revisions,
  rolloutImages,
} from '../rollouts/info.ts';

export interface Objects {
  readonly rollouts: readonly Rollout[];
  readonly replicaSets: readonly ReplicaSet[];
  readonly pods: readonly KubeObject[];
  readonly analysisRuns: readonly AnalysisRunObject[];
}

export interface RolloutRow {
  readonly namespace: string;
  readonly name: string;
  readonly status: string;
  readonly message: string;
  readonly strategy: string;
  /** `i/n`, empty without steps. */
  readonly step: string;
  readonly setWeight: string;
  readonly actualWeight: string;
  readonly desired: number;
  readonly ready: number;
  readonly available: number;
  readonly updated: number;
  readonly images: readonly { image: string; tags: readonly string[] }[];
  readonly aborted: boolean;
  readonly paused: boolean;
}

export interface StepView {
  readonly index: number;
  /** e.g. `setWeight 20`, `pause 30s`, `pause (until promoted)`, `analysis: success-rate`. */
  readonly text: string;
  readonly state: 'done' | 'current' | 'pending';
}

export interface MeasurementView {
  readonly phase: string;
  readonly value: string;
  readonly message: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface MetricView {
  readonly name: string;
  readonly phase: string;
  readonly message: string;
  /** The metric's conditions and limits as the run's spec states them. */
  readonly successCondition: string;
  readonly failureCondition: string;
  readonly failureLimit: string;
  readonly count: string;
  readonly interval: string;
  readonly provider: string;
  readonly successful: number;
  readonly failed: number;
  readonly inconclusive: number;
  readonly error: number;
  readonly measurements: readonly MeasurementView[];
}

export interface AnalysisRunView {
  readonly name: string;
  readonly status: string;
  readonly message: string;
  readonly revision: number;
  readonly creationTimestamp: string;
  readonly metrics: readonly MetricView[];
}

export interface RevisionView {
  readonly revision: number;
  readonly replicaSets: readonly ReplicaSetInfo[];
  readonly analysisRuns: readonly AnalysisRunView[];
}

export interface RolloutPage {
  readonly row: RolloutRow;
  readonly creationTimestamp: string;
  readonly steps: readonly StepView[];
  readonly weights:
    | { readonly canary: number; readonly stable: number; readonly verified: boolean | undefined }
    | undefined;
  /** The sluice/proxy route (namespace/name) when the proxy router routes this Rollout. */
  readonly proxyRoute: { readonly namespace: string; readonly name: string } | undefined;
  /** Revision (pod-template hash) -> revision number, for the proxy's per-revision rows. */
  readonly hashes: Readonly<Record<string, number>>;
  readonly stableHash: string;
  readonly canaryHash: string;
  readonly revisions: readonly RevisionView[];
}

function row(ro: Rollout, info: RolloutInfo): RolloutRow {
  return {
    namespace: info.namespace,
    name: info.name,
    status: info.status,
    message: info.message,
    strategy: info.strategy,
    step: info.step,
    setWeight: info.setWeight,
    actualWeight: info.actualWeight,
    desired: info.desired,
    ready: info.ready,
    available: info.available,
    updated: info.updated,
    images: rolloutImages(info),
    aborted: ro.status?.abort === true,
    paused: ro.spec.paused === true || (ro.status?.pauseConditions ?? []).length > 0,
  };
}

function sameNamespace<T extends KubeObject>(objs: readonly T[], namespace: string): T[] {
  return objs.filter((o) => (o.metadata.namespace ?? '') === namespace);
}

function infoOf(ro: Rollout, objects: Objects): RolloutInfo {
  const ns = ro.metadata.namespace ?? '';
  return buildRolloutInfo(
    ro,
    sameNamespace(objects.replicaSets, ns),
    sameNamespace(objects.pods, ns),
    sameNamespace(objects.analysisRuns, ns),
  );
}

/** Every Rollout, sorted by namespace then name. */
export function rolloutList(objects: Objects): RolloutRow[] {
  return [...objects.rollouts]
    .sort(
      (a, b) =>
        (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    )
    .map((ro) => row(ro, infoOf(ro, objects)));
}

function str(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

/** One line per canary step, in Argo's words. */
export function stepText(step: CanaryStep): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}`;
  if (step.pause !== undefined)
    return step.pause.duration === undefined ? 'pause (until promoted)' : `pause ${str(step.pause.duration)}`;
  if (step.analysis !== undefined)
    return `analysis: ${(step.analysis.templates ?? []).map((t) => t.templateName).join(', ')}`;
  if (step.experiment !== undefined)
    return `experiment: ${step.experiment.templates.map((t) => t.name).join(', ')}`;
  if (step.setCanaryScale !== undefined) {
    const s = step.setCanaryScale;
    if (s.matchTrafficWeight) return 'setCanaryScale matchTrafficWeight';
    return s.replicas !== undefined
      ? `setCanaryScale ${s.replicas} replicas`
      : `setCanaryScale ${s.weight ?? 0}%`;
  }
  if (step.setHeaderRoute !== undefined) return `setHeaderRoute ${step.setHeaderRoute.name}`;
  if (step.setMirrorRoute !== undefined) return `setMirrorRoute ${step.setMirrorRoute.name}`;
  if (step.plugin !== undefined) return `plugin ${step.plugin.name}`;
  return 'step';
}

function steps(ro: Rollout): StepView[] {
  const list = ro.spec.strategy.canary?.steps ?? [];
  const current = currentStepIndex(ro) ?? 0;
  return list.map((step, index) => ({
    index,
    text: stepText(step),
    state: index < current ? 'done' : index === current ? 'current' : 'pending',
  }));
}

function providerName(provider: Readonly<Record<string, unknown>> | undefined): string {
  const key = Object.keys(provider ?? {})[0] ?? '';
  if (key !== 'plugin') return key;
  return Object.keys((provider?.plugin ?? {}) as Record<string, unknown>)[0] ?? 'plugin';
}

function measurement(m: Measurement): MeasurementView {
  return {
    phase: m.phase,
    value: m.value ?? '',
    message: m.message ?? '',
    startedAt: m.startedAt ?? '',
    finishedAt: m.finishedAt ?? '',
  };
}

function analysisRunView(run: AnalysisRunObject, revision: number): AnalysisRunView {
  const spec = (run as unknown as { spec?: AnalysisRunSpec }).spec;
  const results = run.status?.metricResults ?? [];
  const metrics = (spec?.metrics ?? []).map((metric): MetricView => {
    const r = results.find((x) => x.name === metric.name);
    return {
      name: metric.name,
      phase: r?.phase ?? 'Pending',
      message: r?.message ?? '',
      successCondition: metric.successCondition ?? '',
      failureCondition: metric.failureCondition ?? '',
      failureLimit: str(metric.failureLimit),
      count: str(metric.count),
      interval: metric.interval ?? '',
      provider: providerName(metric.provider),
      successful: r?.successful ?? 0,
      failed: r?.failed ?? 0,
      inconclusive: r?.inconclusive ?? 0,
      error: r?.error ?? 0,
      measurements: (r?.measurements ?? []).map(measurement),
    };
  });
  return {
    name: run.metadata.name,
    status: run.status?.phase ?? '',
    message: run.status?.message ?? '',
    revision,
    creationTimestamp: run.metadata.creationTimestamp ?? '',
    metrics,
  };
}

const HASH_LABEL = 'rollouts-pod-template-hash';

/** One Rollout's page, or undefined when it is not among the objects. */
export function rolloutPage(objects: Objects, namespace: string, name: string): RolloutPage | undefined {
  const ro = objects.rollouts.find(
    (r) => r.metadata.name === name && (r.metadata.namespace ?? '') === namespace,
  );
  if (ro === undefined) return undefined;
  const info = infoOf(ro, objects);
  const runs = new Map(sameNamespace(objects.analysisRuns, namespace).map((r) => [r.metadata.name, r]));
  const hashes: Record<string, number> = {};
  for (const rs of sameNamespace(objects.replicaSets, namespace)) {
    const mine = info.replicaSets.find((i) => i.name === rs.metadata.name);
    const hash = rs.metadata.labels?.[HASH_LABEL];
    if (mine !== undefined && hash !== undefined) hashes[hash] = mine.revision;
  }
  const weights = ro.status?.canary?.weights;
  let proxyRoute: RolloutPage['proxyRoute'];
  if (usesProxyRouter(ro)) {
    const parsed = proxyRouterConfig(ro);
    proxyRoute = { namespace, name: parsed?.ok ? parsed.config.route : name };
  }
  return {
    row: row(ro, info),
    creationTimestamp: ro.metadata.creationTimestamp ?? '',
    steps: steps(ro),
    weights:
      weights === undefined
        ? undefined
        : { canary: weights.canary.weight, stable: weights.stable.weight, verified: weights.verified },
    proxyRoute,
    hashes,
    stableHash: ro.status?.stableRS ?? '',
    canaryHash: ro.status?.currentPodHash ?? '',
    revisions: revisions(info).map((revision) => ({
      revision,
      replicaSets: info.replicaSets.filter((r) => r.revision === revision),
      analysisRuns: info.analysisRuns
        .filter((a) => a.revision === revision)
        .map((a) => runs.get(a.name))
        .filter((r): r is AnalysisRunObject => r !== undefined)
        .map((r) => analysisRunView(r, revision)),
    })),
  };
}

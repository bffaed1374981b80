// What `sluice get rollout` shows, computed from the Rollout and the ReplicaSets, Pods and AnalysisRuns
// it owns, as Argo's plugin does (pkg/kubectl-argo-rollouts/info: rollout_info.go, replicaset_info.go,
// pod_info.go, analysisrun_info.go; utils/rollout GetRolloutPhase). Pure: objects in, a view model out.

import type { AnalysisPhase, AnalysisRunStatus } from '../../api/analysis-run.ts';
import type { KubeObject, OwnerReference } from '../../api/meta.ts';
import {
  currentSetWeight,
  currentStepIndex,
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  type Rollout,
  replicasOrDefault,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workloads.ts';
import { getRolloutPhase } from '../../rollout/phase.ts';

export const ICON = {
  waiting: '◷',
  progressing: '◌',
  warning: '⚠',
  unknown: '?',
  ok: '✔',
  bad: '✖',
  paused: '॥',
  neutral: '•',
} as const;

export type InfoTag = 'canary' | 'stable' | 'active' | 'preview';

export interface PodInfo {
  name: string;
  creationTimestamp: string | undefined;
  status: string;
  icon: string;
  /** `ready/total` containers. */
  ready: string;
  restarts: number;
}

export interface ReplicaSetInfo {
  name: string;
  uid: string | undefined;
  creationTimestamp: string | undefined;
  status: string;
  icon: string;
  revision: number;
  /** status.replicas */
  replicas: number;
  available: number;
  stable: boolean;
  canary: boolean;
  active: boolean;
  preview: boolean;
  scaleDownDeadline: string;
  images: string[];
  pods: PodInfo[];
}

export interface JobInfo {
  name: string;
  status: string;
  icon: string;
  creationTimestamp: string | undefined;
}

export interface AnalysisRunInfo {
  name: string;
  creationTimestamp: string | undefined;
  status: string;
  icon: string;
  revision: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  jobs: JobInfo[];
}

export interface RolloutInfo {
  name: string;
  namespace: string;
  creationTimestamp: string | undefined;
  status: string;
  message: string;
  icon: string;
  strategy: 'Canary' | 'BlueGreen' | '';
  /** `i/n`, empty when not a canary with steps or no step index yet. */
  step: string;
  setWeight: string;
  actualWeight: string;
  desired: number;
  current: number;
  updated: number;
  ready: number;
  available: number;
  replicaSets: ReplicaSetInfo[];
  analysisRuns: AnalysisRunInfo[];
}

/** An AnalysisRun as listed from the API (full object metadata; analysis-run.ts types the spec side). */
export interface AnalysisRunObject extends KubeObject {
  status?: AnalysisRunStatus;
}

export interface ImageInfo {
  image: string;
  tags: InfoTag[];
}

/** Argo's status -> icon tables (pkg/kubectl-argo-rollouts/info); any other status shows a blank. */
function iconOf(table: Readonly<Record<string, string>>, status: string | undefined): string {
  return status !== undefined && Object.hasOwn(table, status) ? (table[status] as string) : ' ';
}

const ROLLOUT_ICONS: Readonly<Record<string, string>> = {
  Progressing: ICON.progressing,
  Error: ICON.warning,
  InvalidSpec: ICON.warning,
  Paused: ICON.paused,
  Healthy: ICON.ok,
  Degraded: ICON.bad,
  Unknown: ICON.unknown,
  ScaledDown: ICON.neutral,
};

export function rolloutIcon(status: string): string {
  return iconOf(ROLLOUT_ICONS, status);
}

const ANALYSIS_ICONS: Readonly<Record<AnalysisPhase, string>> = {
  Successful: ICON.ok,
  Inconclusive: ICON.unknown,
  Failed: ICON.bad,
  Error: ICON.warning,
  Running: ICON.progressing,
  Pending: ICON.waiting,
};

export function analysisIcon(phase: string | undefined): string {
  return iconOf(ANALYSIS_ICONS, phase);
}

function ownedBy(obj: KubeObject, uids: ReadonlySet<string>): OwnerReference | undefined {
  return (obj.metadata.ownerReferences ?? []).find((o) => uids.has(o.uid));
}

function parseRevision(annotations: Record<string, string> | undefined): number {
  const v = annotations?.[REVISION_ANNOTATION];
  return v !== undefined && /^-?\d+$/.test(v) ? Number(v) : 0;
}

function replicaSetHealth(rs: ReplicaSet): string {
  const generation = rs.metadata.generation ?? 0;
  const observed = rs.status?.observedGeneration ?? 0;
  if (generation > observed) return 'Progressing';
  const failure = (rs.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
  if (failure?.status === 'True') return 'ReplicaFailure';
  const specReplicas = rs.spec.replicas;
  if (specReplicas !== undefined && (rs.status?.availableReplicas ?? 0) < specReplicas) return 'Progressing';
  if (specReplicas === 0) return 'ScaledDown';
  return 'Healthy';
}

const REPLICA_SET_ICONS: Readonly<Record<string, string>> = {
  Progressing: ICON.progressing,
  Healthy: ICON.ok,
  ReplicaFailure: ICON.bad,
  ScaledDown: ICON.neutral,
};

function replicaSetIcon(status: string): string {
  return iconOf(REPLICA_SET_ICONS, status);
}

interface ContainerState {
  waiting?: { reason?: string };
  running?: Record<string, unknown>;
  terminated?: { reason?: string; exitCode?: number; signal?: number };
}

interface ContainerStatus {
  name?: string;
  ready?: boolean;
  started?: boolean;
  restartCount?: number;
  state?: ContainerState;
}

/** The Pod fields the plugin reads (workloads.ts types only what the controller needs). */
interface PodView extends KubeObject {
  spec?: { containers?: unknown[]; initContainers?: { name?: string; restartPolicy?: string }[] };
  status?: {
    phase?: string;
    reason?: string;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

function terminatedReason(t: NonNullable<ContainerState['terminated']>, prefix: string): string {
  if (t.reason) return `${prefix}${t.reason}`;
  if (t.signal) return `${prefix}Signal:${t.signal}`;
  return `${prefix}ExitCode:${t.exitCode ?? 0}`;
}

/** Argo's newPodInfo: kubectl's pod STATUS column logic. */
export function podInfo(pod: KubeObject): PodInfo {
  const p = pod as PodView;
  const initContainers = p.spec?.initContainers ?? [];
  const sidecar = new Map(initContainers.map((c) => [c.name ?? '', c.restartPolicy === 'Always']));
  const total = (p.spec?.containers ?? []).length;
  let ready = 0;
  let restarts = 0;
  let reason = p.status?.reason || p.status?.phase || '';
  let initializing = false;
  const initStatuses = p.status?.initContainerStatuses ?? [];
  for (const [i, c] of initStatuses.entries()) {
    restarts += c.restartCount ?? 0;
    const t = c.state?.terminated;
    if (t !== undefined && (t.exitCode ?? 0) === 0) continue;
    if (t !== undefined) {
      reason = terminatedReason(t, 'Init:');
      initializing = true;
    } else if (sidecar.get(c.name ?? '') && c.started) {
      if (c.ready) continue;
    } else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${c.state.waiting.reason}`;
      initializing = true;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
      initializing = true;
    }
    break;
  }
  if (!initializing) {
    restarts = 0;
    let hasRunning = false;
    const statuses = p.status?.containerStatuses ?? [];
    for (let i = statuses.length - 1; i >= 0; i--) {
      const c = statuses[i]!;
      restarts += c.restartCount ?? 0;
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated) reason = terminatedReason(c.state.terminated, '');
      else if (c.ready && c.state?.running !== undefined) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === 'Completed' && hasRunning) reason = 'Running';
  }
  if (pod.metadata.deletionTimestamp !== undefined) {
    reason = p.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  }
  return {
    name: pod.metadata.name,
    creationTimestamp: pod.metadata.creationTimestamp,
    status: reason,
    icon: podIcon(reason),
    ready: `${ready}/${total}`,
    restarts,
  };
}

const POD_ICONS: Readonly<Record<string, string>> = {
  Pending: ICON.progressing,
  Terminating: ICON.progressing,
  ContainerCreating: ICON.progressing,
  Running: ICON.ok,
  Completed: ICON.ok,
  Failed: ICON.bad,
  InvalidImageName: ICON.bad,
  CrashLoopBackOff: ICON.bad,
  ImagePullBackOff: ICON.warning,
  RegistryUnavailable: ICON.warning,
  Unknown: ICON.unknown,
};

export function podIcon(status: string): string {
  if (status.startsWith('Init:')) return ICON.progressing;
  if (status.startsWith('Signal:') || status.startsWith('ExitCode:')) return ICON.bad;
  if (status.endsWith('Error') || status.startsWith('Err')) return ICON.warning;
  return iconOf(POD_ICONS, status);
}

function byTimeThenName<T extends { creationTimestamp: string | undefined; name: string }>(
  a: T,
  b: T,
): number {
  const ta = a.creationTimestamp ?? '';
  const tb = b.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function containerImages(template: ReplicaSet['spec']['template']): string[] {
  const containers = template.spec?.containers;
  if (!Array.isArray(containers)) return [];
  return containers
    .map((c) => (typeof c === 'object' && c !== null ? (c as { image?: unknown }).image : undefined))
    .filter((i): i is string => typeof i === 'string');
}

export function replicaSetInfos(
  ro: Rollout,
  replicaSets: readonly ReplicaSet[],
  pods: readonly KubeObject[],
): ReplicaSetInfo[] {
  const owner = new Set([ro.metadata.uid ?? '']);
  const status = ro.status ?? {};
  const infos: ReplicaSetInfo[] = [];
  for (const rs of replicaSets) {
    if (ownedBy(rs, owner) === undefined) continue;
    const hash = rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] ?? '';
    const health = replicaSetHealth(rs);
    const info: ReplicaSetInfo = {
      name: rs.metadata.name,
      uid: rs.metadata.uid,
      creationTimestamp: rs.metadata.creationTimestamp,
      status: health,
      icon: replicaSetIcon(health),
      revision: parseRevision(rs.metadata.annotations),
      replicas: rs.status?.replicas ?? 0,
      available: rs.status?.availableReplicas ?? 0,
      stable: false,
      canary: false,
      active: false,
      preview: false,
      scaleDownDeadline: rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION] ?? '',
      images: containerImages(rs.spec.template),
      pods: [],
    };
    if (ro.spec.strategy.canary) {
      if (status.stableRS === hash) info.stable = true;
      else if (status.currentPodHash === hash) info.canary = true;
    }
    if (ro.spec.strategy.blueGreen) {
      if (status.stableRS === hash) info.stable = true;
      if (status.blueGreen?.activeSelector === hash) info.active = true;
      else if (status.blueGreen?.previewSelector === hash) info.preview = true;
    }
    infos.push(info);
  }
  infos.sort((a, b) => (a.revision !== b.revision ? b.revision - a.revision : a.name < b.name ? -1 : 1));
  const byUid = new Map(infos.map((i) => [i.uid ?? '', i]));
  const uids = new Set(byUid.keys());
  for (const pod of pods) {
    const ref = ownedBy(pod, uids);
    if (ref === undefined) continue;
    byUid.get(ref.uid)?.pods.push(podInfo(pod));
  }
  for (const info of infos) info.pods.sort(byTimeThenName);
  return infos;
}

const JOB_NAME_KEY = 'job-name';

export function analysisRunInfos(ro: Rollout, runs: readonly AnalysisRunObject[]): AnalysisRunInfo[] {
  const owner = new Set([ro.metadata.uid ?? '']);
  const infos: AnalysisRunInfo[] = [];
  for (const run of runs) {
    if (ownedBy(run, owner) === undefined) continue;
    const info: AnalysisRunInfo = {
      name: run.metadata.name,
      creationTimestamp: run.metadata.creationTimestamp,
      status: run.status?.phase ?? '',
      icon: analysisIcon(run.status?.phase),
      revision: parseRevision(run.metadata.annotations),
      successful: 0,
      failed: 0,
      inconclusive: 0,
      error: 0,
      jobs: [],
    };
    for (const mr of run.status?.metricResults ?? []) {
      info.successful += mr.successful ?? 0;
      info.failed += mr.failed ?? 0;
      info.inconclusive += mr.inconclusive ?? 0;
      info.error += mr.error ?? 0;
      for (const m of mr.measurements ?? []) {
        const jobName = m.metadata?.[JOB_NAME_KEY];
        if (jobName !== undefined) {
          info.jobs.push({
            name: jobName,
            status: m.phase,
            icon: analysisIcon(m.phase),
            creationTimestamp: m.startedAt,
          });
        }
      }
    }
    infos.push(info);
  }
  infos.sort((a, b) => {
    if (a.revision !== b.revision) return b.revision - a.revision;
    const ta = a.creationTimestamp ?? '';
    const tb = b.creationTimestamp ?? '';
    if (ta !== tb) return ta < tb ? -1 : 1;
    return a.name > b.name ? -1 : a.name < b.name ? 1 : 0;
  });
  return infos;
}

export function buildRolloutInfo(
  ro: Rollout,
  replicaSets: readonly ReplicaSet[],
  pods: readonly KubeObject[],
  analysisRuns: readonly AnalysisRunObject[],
): RolloutInfo {
  const status = ro.status ?? {};
  const rsInfos = replicaSetInfos(ro, replicaSets, pods);
  const { phase, message } = getRolloutPhase(ro);
  const info: RolloutInfo = {
    name: ro.metadata.name,
    namespace: ro.metadata.namespace ?? '',
    creationTimestamp: ro.metadata.creationTimestamp,
    status: phase,
    message,
    icon: rolloutIcon(phase),
    strategy: '',
    step: '',
    setWeight: '',
    actualWeight: '',
    desired: replicasOrDefault(ro),
    current: status.replicas ?? 0,
    updated: status.updatedReplicas ?? 0,
    ready: status.readyReplicas ?? 0,
    available: status.availableReplicas ?? 0,
    replicaSets: rsInfos,
    analysisRuns: analysisRunInfos(ro, analysisRuns),
  };
  const canary = ro.spec.strategy.canary;
  if (canary) {
    info.strategy = 'Canary';
    const steps = canary.steps ?? [];
    if (status.currentStepIndex !== undefined && steps.length > 0)
      info.step = `${status.currentStepIndex}/${steps.length}`;
    // Desired weight, not what traffic currently gets.
    info.setWeight = String(currentSetWeight(ro));
    info.actualWeight = '0';
    const index = currentStepIndex(ro);
    const onStep = index !== undefined && index < steps.length;
    if (!onStep) info.actualWeight = '100';
    else if (info.available > 0) {
      if (canary.trafficRouting === undefined) {
        for (const rs of rsInfos) {
          if (rs.canary) info.actualWeight = String(Math.trunc((rs.available * 100) / info.available));
        }
      } else if (status.canary?.weights !== undefined) {
        info.actualWeight = String(status.canary.weights.canary.weight);
      } else {
        info.actualWeight = info.setWeight;
      }
    }
  } else if (ro.spec.strategy.blueGreen) {
    info.strategy = 'BlueGreen';
  }
  return info;
}

const TAG_ORDER: readonly InfoTag[] = ['active', 'canary', 'preview', 'stable'];

/** Argo's Images(): images of ReplicaSets that have pods, tagged by role, merged and sorted by image. */
export function rolloutImages(info: RolloutInfo): ImageInfo[] {
  const byImage = new Map<string, Set<InfoTag>>();
  for (const rs of info.replicaSets) {
    if (rs.replicas <= 0) continue;
    for (const image of rs.images) {
      const tags = byImage.get(image) ?? new Set<InfoTag>();
      if (rs.canary) tags.add('canary');
      if (rs.stable) tags.add('stable');
      if (rs.active) tags.add('active');
      if (rs.preview) tags.add('preview');
      byImage.set(image, tags);
    }
  }
  return [...byImage.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([image, tags]) => ({ image, tags: TAG_ORDER.filter((t) => tags.has(t)) }));
}

/** Revisions that have a ReplicaSet or an AnalysisRun, newest first. */
export function revisions(info: RolloutInfo): number[] {
  const set = new Set<number>([
    ...info.replicaSets.map((r) => r.revision),
    ...info.analysisRuns.map((a) => a.revision),
  ]);
  return [...set].sort((a, b) => b - a);
}

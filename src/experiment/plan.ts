// The Experiment planner (Argo's experiments/experiment.go reconcile + calculateStatus), pure: from the
// Experiment, the ReplicaSets, Services and AnalysisRuns it controls, the template lookup and the clock,
// it decides the writes (actions), the new status, the events and when to look again.
//
// Lifecycle (reference §5): one ReplicaSet `<experiment>-<template>` per template and an optional Service;
// Pending until every template has available == desired, then `availableAt` and Running; AnalysisRuns
// `<experiment>-<analysis>` are created once Running. The experiment is *terminating* once spec.terminate
// is set, the duration has passed since availableAt, a template failed, an analysis ended
// Failed/Error/Inconclusive, or every requiredForCompletion analysis succeeded; then templates become
// Successful, unfinished runs are terminated, and the ReplicaSets are scaled to 0 after
// scaleDownDelaySeconds (a `scale-down-deadline` annotation, as Argo) and their Services deleted.

import type { TemplateLookup } from '../analysis/args.ts';
import { buildAnalysisRun } from '../analysis/args.ts';
import { isWorse } from '../analysis/assess.ts';
import { type AnalysisPhase, type AnalysisRun, isCompletedPhase } from '../api/analysis-run.ts';
import type { AnalysisTemplate, Argument } from '../api/analysis-template.ts';
import { parseDuration } from '../api/duration.ts';
import {
  DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS,
  DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS,
  type Experiment,
  type ExperimentAnalysisRunStatus,
  type ExperimentAnalysisTemplateRef,
  type ExperimentStatus,
  type TemplateSpec,
  type TemplateStatus,
  type TemplateStatusCode,
} from '../api/experiment.ts';
import {
  POD_TEMPLATE_HASH_LABEL,
  ROLLOUT_API_VERSION,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/rollout.ts';
import { APPS_V1, type ReplicaSet, type Service, type ServicePort } from '../api/workloads.ts';
import { freeRunName } from '../rollout/analysis.ts';
import { computePodTemplateHash } from '../rollout/hash.ts';
import type { OwnerReference } from '../store/object-store.ts';

export const EXPERIMENT_NAME_ANNOTATION = 'experiment.argoproj.io/name';
export const EXPERIMENT_TEMPLATE_NAME_ANNOTATION = 'experiment.argoproj.io/template-name';
export const INVALID_SPEC_CONDITION = 'InvalidSpec';

export interface ExperimentObserved {
  readonly experiment: Experiment;
  /** The ReplicaSet named `<experiment>-<template>` of each template, if it exists (owned or not). */
  readonly replicaSets: Readonly<Record<string, ReplicaSet | undefined>>;
  /** Services controlled by the experiment. */
  readonly services: readonly Service[];
  /** AnalysisRuns controlled by the experiment. */
  readonly analysisRuns: readonly AnalysisRun[];
  readonly lookupTemplate: TemplateLookup;
  readonly nowMs: number;
}

export type ExperimentAction =
  | { readonly kind: 'createReplicaSet'; readonly rs: ReplicaSet }
  | {
      readonly kind: 'scaleReplicaSet';
      readonly name: string;
      readonly replicas: number;
      readonly annotations?: Readonly<Record<string, string | null>>;
    }
  | {
      readonly kind: 'annotateReplicaSet';
      readonly name: string;
      readonly annotations: Record<string, string>;
    }
  | { readonly kind: 'createService'; readonly service: Service }
  | { readonly kind: 'deleteService'; readonly name: string }
  | { readonly kind: 'createAnalysisRun'; readonly run: AnalysisRun }
  | { readonly kind: 'terminateAnalysisRun'; readonly name: string };

export interface ExperimentEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface ExperimentPlan {
  readonly actions: ExperimentAction[];
  readonly status: ExperimentStatus;
  readonly events: ExperimentEvent[];
  readonly requeueAfterMs?: number;
}

/** Argo's time format in status (RFC 3339, whole seconds). */
function isoTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function experimentRsName(ex: Experiment, template: TemplateSpec): string {
  return `${ex.metadata.name}-${template.name}`;
}

export function experimentServiceName(ex: Experiment, template: TemplateSpec): string {
  return template.service?.name || experimentRsName(ex, template);
}

function ownerRef(ex: Experiment): OwnerReference {
  return {
    apiVersion: ROLLOUT_API_VERSION,
    kind: 'Experiment',
    name: ex.metadata.name,
    uid: ex.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

// ---- validation (Argo's ValidateExperiment; failures -> InvalidSpec condition, phase Error) ----

/** The first problem of the spec, naming the field; undefined when valid. */
export function validateExperiment(ex: Experiment): string | undefined {
  const spec = ex.spec as Partial<Experiment['spec']> | undefined;
  const templates = spec?.templates;
  if (!Array.isArray(templates) || templates.length === 0) {
    return 'spec.templates: must have at least one template';
  }
  const names = new Set<string>();
  for (const [i, t] of templates.entries()) {
    const field = `spec.templates[${i}]`;
    if (typeof t?.name !== 'string' || t.name === '') return `${field}.name: is required`;
    if (names.has(t.name)) return `${field}.name: duplicate template name "${t.name}"`;
    names.add(t.name);
    if (t.replicas !== undefined && (!Number.isInteger(t.replicas) || t.replicas < 0)) {
      return `${field}.replicas: must be a non-negative integer`;
    }
    const match = t.selector?.matchLabels ?? {};
    if (Object.keys(match).length === 0 && (t.selector?.matchExpressions ?? []).length === 0) {
      return `${field}.selector: is required and must not be empty`;
    }
    const labels = t.template?.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(match)) {
      if (labels[k] !== v) return `${field}.selector: does not match template labels (${k}=${v})`;
    }
  }
  if (spec?.duration !== undefined) {
    const d = parseDuration(spec.duration);
    if (!d.ok) return `spec.duration: ${d.error}`;
    if (d.ms < 0) return 'spec.duration: must not be negative';
  }
  for (const [key, v] of [
    ['progressDeadlineSeconds', spec?.progressDeadlineSeconds],
    ['scaleDownDelaySeconds', spec?.scaleDownDelaySeconds],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0))
      return `spec.${key}: must be a non-negative integer`;
  }
  const analysisNames = new Set<string>();
  for (const [i, a] of (spec?.analyses ?? []).entries()) {
    const field = `spec.analyses[${i}]`;
    if (typeof a?.name !== 'string' || a.name === '') return `${field}.name: is required`;
    if (analysisNames.has(a.name)) return `${field}.name: duplicate analysis name "${a.name}"`;
    analysisNames.add(a.name);
    if (typeof a.templateName !== 'string' || a.templateName === '')
      return `${field}.templateName: is required`;
  }
  return undefined;
}

// ---- building the children ----

export function buildExperimentReplicaSet(ex: Experiment, t: TemplateSpec, hash: string): ReplicaSet {
  const labels = { ...(t.template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
  return {
    apiVersion: APPS_V1,
    kind: 'ReplicaSet',
    metadata: {
      name: experimentRsName(ex, t),
      ...(ex.metadata.namespace ? { namespace: ex.metadata.namespace } : {}),
      labels,
      annotations: {
        [EXPERIMENT_NAME_ANNOTATION]: ex.metadata.name,
        [EXPERIMENT_TEMPLATE_NAME_ANNOTATION]: t.name,
      },
      ownerReferences: [ownerRef(ex)],
    },
    spec: {
      replicas: t.replicas ?? 1,
      ...(t.minReadySeconds !== undefined ? { minReadySeconds: t.minReadySeconds } : {}),
      selector: {
        ...(t.selector ?? {}),
        matchLabels: { ...(t.selector?.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash },
      },
      template: { ...t.template, metadata: { ...(t.template.metadata ?? {}), labels } },
    },
  };
}

/** The container ports of the template, as Service ports (Argo's experiment service). */
function servicePorts(t: TemplateSpec): ServicePort[] {
  const ports: ServicePort[] = [];
  const containers = (t.template.spec?.containers ?? []) as {
    ports?: { name?: string; containerPort?: number; protocol?: string }[];
  }[];
  for (const c of containers)
    for (const p of c.ports ?? []) {
      if (typeof p.containerPort !== 'number') continue;
      ports.push({
        ...(p.name ? { name: p.name } : {}),
        port: p.containerPort,
        targetPort: p.containerPort,
        protocol: p.protocol ?? 'TCP',
      });
    }
  return ports;
}

export function buildExperimentService(
  ex: Experiment,
  t: TemplateSpec,
  rs: ReplicaSet,
  ports: ServicePort[],
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: experimentServiceName(ex, t),
      ...(ex.metadata.namespace ? { namespace: ex.metadata.namespace } : {}),
      annotations: {
        [EXPERIMENT_NAME_ANNOTATION]: ex.metadata.name,
        [EXPERIMENT_TEMPLATE_NAME_ANNOTATION]: t.name,
      },
      ownerReferences: [ownerRef(ex)],
    },
    spec: { selector: { ...(rs.spec.selector.matchLabels ?? {}) }, ports },
  };
}

/**
 * Argo's ResolveExperimentArgsValue: `{{templates.<name>.podTemplateHash}}`,
 * `{{templates.<name>.replicaset.name}}`, `{{experiment.availableAt}}`, `{{experiment.finishedAt}}` in an
 * arg's value; any other tag is an error naming it.
 */
export function resolveExperimentArgs(
  args: readonly Argument[],
  values: Readonly<Record<string, string>>,
): { ok: true; args: Argument[] } | { ok: false; error: string } {
  const out: Argument[] = [];
  for (const arg of args) {
    if (arg.value === undefined) {
      out.push(arg);
      continue;
    }
    let unresolved: string | undefined;
    const value = arg.value.replace(/\{\{([\s\S]*?)\}\}/g, (_whole, tag: string) => {
      const key = tag.trim();
      if (Object.hasOwn(values, key)) return values[key]!;
      unresolved ??= key;
      return '';
    });
    if (unresolved !== undefined) {
      return { ok: false, error: `args.${arg.name}: failed to resolve {{${unresolved}}}` };
    }
    out.push({ ...arg, value });
  }
  return { ok: true, args: out };
}

function buildExperimentRun(
  ex: Experiment,
  a: ExperimentAnalysisTemplateRef,
  name: string,
  argValues: Readonly<Record<string, string>>,
  lookup: TemplateLookup,
): { ok: true; run: AnalysisRun } | { ok: false; error: string } {
  const template = lookup(a.templateName, a.clusterScope === true);
  if (!template) {
    const kind = a.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate';
    return { ok: false, error: `${kind} "${a.templateName}" not found` };
  }
  const args = resolveExperimentArgs(a.args ?? [], argValues);
  if (!args.ok) return args;
  const labels = { ...(ex.metadata.labels ?? {}), ...(ex.spec.analysisRunMetadata?.labels ?? {}) };
  const built = buildAnalysisRun({
    templates: [template as AnalysisTemplate],
    args: args.args,
    name,
    ...(ex.metadata.namespace ? { namespace: ex.metadata.namespace } : {}),
    lookup,
    fieldRefSource: ex,
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  });
  if (!built.ok) return built;
  const run = built.value;
  const dryRun = [...(run.spec.dryRun ?? []), ...(ex.spec.dryRun ?? [])];
  const retention = [...(run.spec.measurementRetention ?? []), ...(ex.spec.measurementRetention ?? [])];
  const annotations = ex.spec.analysisRunMetadata?.annotations;
  return {
    ok: true,
    run: {
      ...run,
      metadata: {
        ...run.metadata,
        ...(annotations ? { annotations: { ...annotations } } : {}),
        ownerReferences: [ownerRef(ex)],
      } as AnalysisRun['metadata'],
      spec: {
        ...run.spec,
        ...(dryRun.length > 0 ? { dryRun } : {}),
        ...(retention.length > 0 ? { measurementRetention: retention } : {}),
      },
    },
  };
}

// ---- the plan ----

function deadlineMs(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function controlledBy(obj: { metadata: { ownerReferences?: OwnerReference[] } }, ex: Experiment): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (o) =>
      o.controller === true &&
      o.kind === 'Experiment' &&
      (ex.metadata.uid ? o.uid === ex.metadata.uid : o.name === ex.metadata.name),
  );
}

function isCompletedTemplate(s: TemplateStatusCode | undefined): boolean {
  return s === 'Successful' || s === 'Failed' || s === 'Error';
}

/** The run serving analysis `a`: the one status records, else an unfinished, unterminated one by name. */
function currentRun(
  ex: Experiment,
  a: ExperimentAnalysisTemplateRef,
  runs: readonly AnalysisRun[],
  recorded: ExperimentAnalysisRunStatus | undefined,
): AnalysisRun | undefined {
  if (recorded?.analysisRun) {
    const run = runs.find((r) => r.metadata.name === recorded.analysisRun);
    if (run) return run;
  }
  const base = `${ex.metadata.name}-${a.name}`;
  return runs.find(
    (r) =>
      (r.metadata.name === base || r.metadata.name?.startsWith(`${base}.`)) &&
      !isCompletedPhase(r.status?.phase) &&
      r.spec.terminate !== true,
  );
}

export function planExperiment(obs: ExperimentObserved): ExperimentPlan {
  const ex = obs.experiment;
  const now = obs.nowMs;
  const prev: ExperimentStatus = ex.status ?? {};
  const status: ExperimentStatus = structuredClone(prev);
  const actions: ExperimentAction[] = [];
  const events: ExperimentEvent[] = [];
  let requeueAtMs: number | undefined;
  const requeueAt = (ms: number) => {
    requeueAtMs = requeueAtMs === undefined ? ms : Math.min(requeueAtMs, ms);
  };
  const withRequeue = (): ExperimentPlan => ({
    actions,
    status,
    events,
    ...(requeueAtMs !== undefined ? { requeueAfterMs: Math.max(0, requeueAtMs - now) } : {}),
  });
  // An Error from an invalid spec is not an end: the spec is checked again and a fix lets it start.
  const prevInvalid = prev.conditions?.some((c) => c.type === INVALID_SPEC_CONDITION && c.status === 'True');
  const prevCompleted = isCompletedPhase(prev.phase) && !prevInvalid;

  // -- validation: a finished experiment is left as it is --
  if (!prevCompleted) {
    const invalid = validateExperiment(ex);
    const others = (status.conditions ?? []).filter((c) => c.type !== INVALID_SPEC_CONDITION);
    if (invalid !== undefined) {
      const had = prev.conditions?.find((c) => c.type === INVALID_SPEC_CONDITION);
      status.conditions = [
        ...others,
        {
          type: INVALID_SPEC_CONDITION,
          status: 'True',
          reason: INVALID_SPEC_CONDITION,
          message: invalid,
          lastTransitionTime:
            had?.message === invalid ? (had.lastTransitionTime ?? isoTime(now)) : isoTime(now),
          lastUpdateTime: had?.message === invalid ? (had.lastUpdateTime ?? isoTime(now)) : isoTime(now),
        },
      ];
      status.phase = 'Error';
      status.message = `InvalidSpec: ${invalid}`;
      if (prev.message !== status.message) {
        events.push({
          type: 'Warning',
          reason: 'InvalidSpec',
          message: `Experiment spec is invalid: ${invalid}`,
        });
      }
      return withRequeue();
    }
    if (others.length > 0) status.conditions = others;
    else delete status.conditions;
  }

  const templates = ex.spec.templates;
  const analyses = ex.spec.analyses ?? [];
  const durationMs = ex.spec.duration !== undefined ? parseDuration(ex.spec.duration) : undefined;
  const availableAtMs = prev.availableAt ? Date.parse(prev.availableAt) : undefined;
  const deadlineSeconds = ex.spec.progressDeadlineSeconds ?? DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS;
  const delaySeconds = ex.spec.scaleDownDelaySeconds ?? DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS;

  // -- the analysis runs as they stand (created ones read from the store) --
  const runStatuses = new Map<string, ExperimentAnalysisRunStatus>();
  const runObjects = new Map<string, AnalysisRun>();
  for (const a of analyses) {
    const recorded = prev.analysisRuns?.find((r) => r.name === a.name);
    const run = currentRun(ex, a, obs.analysisRuns, recorded);
    if (run) {
      runObjects.set(a.name, run);
      runStatuses.set(a.name, {
        name: a.name,
        analysisRun: run.metadata.name ?? '',
        phase: run.status?.phase || 'Pending',
        ...(run.status?.message ? { message: run.status.message } : {}),
      });
    } else if (recorded && (isCompletedPhase(recorded.phase) || recorded.analysisRun === '')) {
      // A finished run that was deleted, or a run that could not be built: its verdict stands.
      runStatuses.set(a.name, recorded);
    }
  }

  // -- templates, first pass: what the ReplicaSets say --
  interface TemplateWork {
    readonly t: TemplateSpec;
    readonly desired: number;
    rs: ReplicaSet | undefined;
    readonly created: boolean;
    readonly hash: string;
    code: TemplateStatusCode;
    message?: string;
    readonly prev: TemplateStatus | undefined;
  }
  const work: TemplateWork[] = [];
  for (const t of templates) {
    const prevTs = prev.templateStatuses?.find((s) => s.name === t.name);
    const desired = t.replicas ?? 1;
    const existing = obs.replicaSets[t.name];
    const hash =
      existing?.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] ??
      computePodTemplateHash(t.template, prevTs?.collisionCount);
    const w: TemplateWork = {
      t,
      desired,
      rs: existing,
      created: false,
      hash,
      code: prevTs?.status ?? 'Progressing',
      prev: prevTs,
    };
    if (existing && !controlledBy(existing, ex)) {
      w.code = 'Error';
      w.message = `ReplicaSet "${existing.metadata.name}" exists and is not controlled by this experiment`;
      w.rs = undefined;
    } else if (!isCompletedTemplate(prevTs?.status)) {
      const available = existing?.status?.availableReplicas ?? 0;
      const specReplicas = existing?.spec.replicas ?? 1;
      if (existing && specReplicas === desired && available >= desired) {
        w.code = 'Running';
      } else {
        w.code = 'Progressing';
        // The deadline counts from when the template (re)entered Progressing.
        const sinceMs =
          prevTs?.status === 'Progressing' && prevTs.lastTransitionTime
            ? Date.parse(prevTs.lastTransitionTime)
            : now;
        const dueMs = sinceMs + deadlineSeconds * 1000;
        if (dueMs <= now) {
          w.code = 'Failed';
          w.message = `Template "${t.name}" did not become available within progressDeadlineSeconds (${deadlineSeconds})`;
        } else if (!prevCompleted && ex.spec.terminate !== true) requeueAt(dueMs);
      }
    } else if (prevTs?.message) w.message = prevTs.message;
    work.push(w);
  }

  // -- terminating? --
  const failedRun = [...runStatuses.values()].some(
    (r) => r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive',
  );
  const required = analyses.filter((a) => a.requiredForCompletion === true);
  const requiredSucceeded =
    required.length > 0 && required.every((a) => runStatuses.get(a.name)?.phase === 'Successful');
  const durationPassed =
    durationMs?.ok === true && availableAtMs !== undefined && now >= availableAtMs + durationMs.ms;
  const terminating =
    ex.spec.terminate === true ||
    prevCompleted ||
    work.some((w) => w.code === 'Failed' || w.code === 'Error') ||
    failedRun ||
    requiredSucceeded ||
    durationPassed;
  if (!terminating && durationMs?.ok === true && availableAtMs !== undefined)
    requeueAt(availableAtMs + durationMs.ms);

  // -- templates, second pass: writes --
  const templateStatuses: TemplateStatus[] = [];
  for (const w of work) {
    const { t } = w;
    if (terminating && !isCompletedTemplate(w.code)) w.code = 'Successful';
    if (!terminating) {
      if (!w.rs && w.code !== 'Error') {
        const rs = buildExperimentReplicaSet(ex, t, w.hash);
        actions.push({ kind: 'createReplicaSet', rs });
        events.push({
          type: 'Normal',
          reason: 'ScalingReplicaSet',
          message: `Scaled up ReplicaSet ${rs.metadata.name} from 0 to ${w.desired}`,
        });
        w.rs = rs;
      } else if (w.rs) {
        const current = w.rs.spec.replicas ?? 1;
        const hasDeadline = w.rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION] !== undefined;
        if (current !== w.desired || hasDeadline) {
          actions.push({
            kind: 'scaleReplicaSet',
            name: w.rs.metadata.name,
            replicas: w.desired,
            ...(hasDeadline ? { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } } : {}),
          });
          if (current !== w.desired) {
            events.push({
              type: 'Normal',
              reason: 'ScalingReplicaSet',
              message: `Scaled ${w.desired > current ? 'up' : 'down'} ReplicaSet ${w.rs.metadata.name} from ${current} to ${w.desired}`,
            });
          }
        }
      }
    }
    let replicasAfter = w.rs?.spec.replicas ?? 0;
    if (terminating && w.rs && replicasAfter > 0) {
      const due = deadlineMs(w.rs);
      if (due === undefined && delaySeconds > 0) {
        const at = now + delaySeconds * 1000;
        actions.push({
          kind: 'annotateReplicaSet',
          name: w.rs.metadata.name,
          annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(at) },
        });
        requeueAt(at);
      } else if (due !== undefined && due > now) {
        requeueAt(due);
      } else {
        actions.push({
          kind: 'scaleReplicaSet',
          name: w.rs.metadata.name,
          replicas: 0,
          ...(due !== undefined ? { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } } : {}),
        });
        events.push({
          type: 'Normal',
          reason: 'ScalingReplicaSet',
          message: `Scaled down ReplicaSet ${w.rs.metadata.name} from ${replicasAfter} to 0`,
        });
        replicasAfter = 0;
      }
    }

    // The Service exists while the ReplicaSet has replicas.
    let serviceName: string | undefined;
    if (t.service !== undefined && w.rs) {
      const name = experimentServiceName(ex, t);
      const svc = obs.services.find((s) => s.metadata.name === name);
      if (replicasAfter > 0) {
        serviceName = name;
        if (!svc) {
          const ports = servicePorts(t);
          if (ports.length === 0) {
            if (!isCompletedTemplate(w.code)) {
              w.code = 'Error';
              w.message = `Template "${t.name}" has a service but its containers declare no ports`;
            }
            serviceName = undefined;
          } else {
            actions.push({ kind: 'createService', service: buildExperimentService(ex, t, w.rs, ports) });
            events.push({ type: 'Normal', reason: 'CreatingService', message: `Created Service '${name}'` });
          }
        }
      } else if (svc) {
        actions.push({ kind: 'deleteService', name });
        events.push({ type: 'Normal', reason: 'DeletingService', message: `Deleted Service '${name}'` });
      }
    }

    const rsStatus = w.rs?.status ?? {};
    const ts: TemplateStatus = {
      name: t.name,
      replicas: rsStatus.replicas ?? 0,
      updatedReplicas: rsStatus.fullyLabeledReplicas ?? rsStatus.replicas ?? 0,
      readyReplicas: rsStatus.readyReplicas ?? 0,
      availableReplicas: rsStatus.availableReplicas ?? 0,
      ...(w.prev?.collisionCount !== undefined ? { collisionCount: w.prev.collisionCount } : {}),
      status: w.code,
      ...(w.message ? { message: w.message } : {}),
      lastTransitionTime:
        w.prev?.status === w.code && w.prev.lastTransitionTime ? w.prev.lastTransitionTime : isoTime(now),
      ...(serviceName ? { serviceName } : {}),
      ...(w.rs ? { podTemplateHash: w.hash } : {}),
    };
    if (w.prev?.status !== w.code) {
      events.push({
        type: w.code === 'Failed' || w.code === 'Error' ? 'Warning' : 'Normal',
        reason: `Template${w.code}`,
        message: `Template '${t.name}' transitioned from ${w.prev?.status ?? '""'} -> ${w.code}`,
      });
    }
    templateStatuses.push(ts);
  }
  status.templateStatuses = templateStatuses;

  // -- availableAt --
  const allRunning = work.every((w) => w.code === 'Running');
  if (!terminating && allRunning && !status.availableAt) status.availableAt = isoTime(now);
  if (!terminating && status.availableAt && durationMs?.ok === true && availableAtMs === undefined) {
    requeueAt(Date.parse(status.availableAt) + durationMs.ms);
  }

  // -- analysis runs: created once Running, terminated when the experiment ends --
  if (!terminating && status.availableAt) {
    const argValues: Record<string, string> = {
      'experiment.availableAt': status.availableAt,
      'experiment.finishedAt': '',
    };
    for (const w of work) {
      if (!w.rs) continue;
      argValues[`templates.${w.t.name}.replicaset.name`] = w.rs.metadata.name;
      argValues[`templates.${w.t.name}.podTemplateHash`] = w.hash;
    }
    const taken = [...obs.analysisRuns];
    for (const a of analyses) {
      if (runStatuses.has(a.name)) continue;
      const name = freeRunName(`${ex.metadata.name}-${a.name}`, taken);
      const built = buildExperimentRun(ex, a, name, argValues, obs.lookupTemplate);
      if (!built.ok) {
        runStatuses.set(a.name, { name: a.name, analysisRun: '', phase: 'Error', message: built.error });
        events.push({
          type: 'Warning',
          reason: 'AnalysisRunError',
          message: `Analysis '${a.name}' could not be created: ${built.error}`,
        });
        requeueAt(now); // the Error ends the experiment: the next reconcile scales it down
        continue;
      }
      actions.push({ kind: 'createAnalysisRun', run: built.run });
      taken.push(built.run);
      events.push({ type: 'Normal', reason: 'AnalysisRunCreated', message: `AnalysisRun '${name}' Created` });
      runStatuses.set(a.name, { name: a.name, analysisRun: name, phase: 'Pending' });
    }
  }
  const experimentEndsNow =
    terminating ||
    [...runStatuses.values()].some((r) => ['Failed', 'Error', 'Inconclusive'].includes(r.phase));
  if (experimentEndsNow) {
    for (const run of runObjects.values()) {
      if (!isCompletedPhase(run.status?.phase) && run.spec.terminate !== true) {
        actions.push({ kind: 'terminateAnalysisRun', name: run.metadata.name ?? '' });
      }
    }
  }
  const runList = analyses
    .map((a) => runStatuses.get(a.name))
    .filter((r): r is ExperimentAnalysisRunStatus => r !== undefined);
  if (runList.length > 0) status.analysisRuns = runList;
  else delete status.analysisRuns;

  // -- phase (Argo's calculateStatus) --
  const { phase, message } = experimentPhase(work, analyses, runStatuses, status.availableAt !== undefined);
  if (!prevCompleted) {
    status.phase = phase;
    if (message) status.message = message;
    else delete status.message;
  }
  if (prev.phase !== status.phase) {
    events.push({
      type: status.phase === 'Failed' || status.phase === 'Error' ? 'Warning' : 'Normal',
      reason: `Experiment${status.phase}`,
      message: `Experiment transitioned from ${prev.phase ?? '""'} -> ${status.phase}`,
    });
  }
  return withRequeue();
}

function experimentPhase(
  work: readonly { code: TemplateStatusCode; message?: string }[],
  analyses: readonly ExperimentAnalysisTemplateRef[],
  runs: ReadonlyMap<string, ExperimentAnalysisRunStatus>,
  available: boolean,
): { phase: AnalysisPhase; message?: string } {
  // Templates: the worst failure, else Pending while any is progressing, Running while any runs.
  let templatePhase: AnalysisPhase = 'Successful';
  let templateMessage: string | undefined;
  for (const w of work) {
    const p: AnalysisPhase = w.code === 'Progressing' ? 'Pending' : w.code === 'Running' ? 'Running' : w.code;
    if (isWorse(templatePhase, p)) {
      templatePhase = p;
      templateMessage = w.message;
    }
  }
  // Analyses: a failure of any ends it; otherwise the worst over the finished runs and the required ones.
  let failure: ExperimentAnalysisRunStatus | undefined;
  for (const r of runs.values()) {
    if (r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive') {
      if (failure === undefined || isWorse(failure.phase, r.phase)) failure = r;
    }
  }
  const runMessage = (r: ExperimentAnalysisRunStatus) =>
    r.message ?? `AnalysisRun '${r.analysisRun}' ${r.phase}`;
  if (failure) return { phase: failure.phase, message: runMessage(failure) };
  if (templatePhase === 'Failed' || templatePhase === 'Error') {
    return { phase: templatePhase, ...(templateMessage ? { message: templateMessage } : {}) };
  }
  if (templatePhase !== 'Successful') return { phase: templatePhase };
  // Templates done: required analyses still running (or, without required ones, nothing) keep it Running.
  const required = analyses.filter((a) => a.requiredForCompletion === true);
  if (available && required.some((a) => !isCompletedPhase(runs.get(a.name)?.phase))) {
    return { phase: 'Running' };
  }
  return { phase: 'Successful' };
}

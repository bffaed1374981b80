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
import { buildAnalysisRun, templateNotFound } from '../analysis/args.ts';
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
import type { OwnerReference } from '../api/meta.ts';
import { computePodTemplateHash } from '../api/pod-template/hash.ts';
import {
  POD_TEMPLATE_HASH_LABEL,
  ROLLOUT_API_VERSION,
  SCALE_DOWN_DEADLINE_ANNOTATION,
} from '../api/rollout.ts';
import { APPS_V1, type ReplicaSet, type Service, type ServicePort } from '../api/workloads.ts';
import type { ChildWrite } from '../reconcile/child-writes.ts';
import { freeRunName } from '../reconcile/names.ts';
import { controllerRef, isControlledBy } from '../reconcile/owners.ts';
import type { PlannedEvent } from '../reconcile/result.ts';

// Deliberately parallel constants: Argo's names, one each (experiments/experiment.go).
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

/** Every write an Experiment makes is one of the shared child writes. */
export type ExperimentAction = ChildWrite;

export interface ExperimentPlan {
  readonly actions: ExperimentAction[];
  readonly status: ExperimentStatus;
  readonly events: PlannedEvent[];
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
  return controllerRef(ROLLOUT_API_VERSION, 'Experiment', ex);
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
  if (!template) return { ok: false, error: templateNotFound(a) };
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
    annotations: ex.spec.analysisRunMetadata?.annotations,
    ownerReferences: [ownerRef(ex)],
    dryRun: ex.spec.dryRun,
    measurementRetention: ex.spec.measurementRetention,
  });
  return built.ok ? { ok: true, run: built.value } : built;
}

// ---- the plan ----

function deadlineMs(rs: ReplicaSet): number | undefined {
  const v = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
  if (!v) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
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

/** The planner's working state for one reconcile (Argo's experimentContext). */
interface Ctx {
  readonly ex: Experiment;
  readonly obs: ExperimentObserved;
  readonly now: number;
  readonly prev: ExperimentStatus;
  readonly status: ExperimentStatus;
  readonly actions: ExperimentAction[];
  readonly events: PlannedEvent[];
  requeueAtMs?: number;
}

function requeueAt(ctx: Ctx, ms: number): void {
  ctx.requeueAtMs = ctx.requeueAtMs === undefined ? ms : Math.min(ctx.requeueAtMs, ms);
}

function event(ctx: Ctx, type: 'Normal' | 'Warning', reason: string, message: string): void {
  ctx.events.push({ type, reason, message });
}

/** One template as this reconcile sees it; `code` and `rs` are updated as the plan decides. */
interface TemplateWork {
  readonly t: TemplateSpec;
  readonly desired: number;
  readonly hash: string;
  readonly prev: TemplateStatus | undefined;
  rs: ReplicaSet | undefined;
  code: TemplateStatusCode;
  message?: string;
}

/** Records an invalid spec (InvalidSpec condition, phase Error); false when the spec is invalid. */
function checkSpec(ctx: Ctx): boolean {
  const { prev, status, now } = ctx;
  const invalid = validateExperiment(ctx.ex);
  const others = (status.conditions ?? []).filter((c) => c.type !== INVALID_SPEC_CONDITION);
  if (invalid === undefined) {
    if (others.length > 0) status.conditions = others;
    else delete status.conditions;
    return true;
  }
  const had = prev.conditions?.find((c) => c.type === INVALID_SPEC_CONDITION);
  const since = had?.message === invalid ? had.lastTransitionTime : undefined;
  status.conditions = [
    ...others,
    {
      type: INVALID_SPEC_CONDITION,
      status: 'True',
      reason: INVALID_SPEC_CONDITION,
      message: invalid,
      lastTransitionTime: since ?? isoTime(now),
      lastUpdateTime: since ?? isoTime(now),
    },
  ];
  status.phase = 'Error';
  status.message = `InvalidSpec: ${invalid}`;
  if (prev.message !== status.message) {
    event(ctx, 'Warning', 'InvalidSpec', `Experiment spec is invalid: ${invalid}`);
  }
  return false;
}

/** The runs of the analyses as they stand: status entries by analysis name, and the run objects. */
function observeRuns(ctx: Ctx): {
  statuses: Map<string, ExperimentAnalysisRunStatus>;
  objects: AnalysisRun[];
} {
  const statuses = new Map<string, ExperimentAnalysisRunStatus>();
  const objects: AnalysisRun[] = [];
  for (const a of ctx.ex.spec.analyses ?? []) {
    const recorded = ctx.prev.analysisRuns?.find((r) => r.name === a.name);
    const run = currentRun(ctx.ex, a, ctx.obs.analysisRuns, recorded);
    if (run) {
      objects.push(run);
      statuses.set(a.name, {
        name: a.name,
        analysisRun: run.metadata.name ?? '',
        phase: run.status?.phase || 'Pending',
        ...(run.status?.message ? { message: run.status.message } : {}),
      });
    } else if (recorded && (isCompletedPhase(recorded.phase) || recorded.analysisRun === '')) {
      // A finished run that was deleted, or a run that could not be built: its verdict stands.
      statuses.set(a.name, recorded);
    }
  }
  return { statuses, objects };
}

/** What the template's ReplicaSet says: Running when available == desired, else Progressing until the deadline. */
function assessTemplate(ctx: Ctx, t: TemplateSpec, watchDeadline: boolean): TemplateWork {
  const { ex, now } = ctx;
  const prev = ctx.prev.templateStatuses?.find((s) => s.name === t.name);
  const existing = ctx.obs.replicaSets[t.name];
  const w: TemplateWork = {
    t,
    desired: t.replicas ?? 1,
    hash:
      existing?.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] ??
      computePodTemplateHash(t.template, prev?.collisionCount),
    prev,
    rs: existing,
    code: prev?.status ?? 'Progressing',
    ...(prev?.message ? { message: prev.message } : {}),
  };
  if (existing && !isControlledBy(existing, 'Experiment', ex)) {
    w.code = 'Error';
    w.message = `ReplicaSet "${existing.metadata.name}" exists and is not controlled by this experiment`;
    w.rs = undefined;
    return w;
  }
  if (isCompletedTemplate(prev?.status)) return w;
  delete w.message;
  const available = existing?.status?.availableReplicas ?? 0;
  if (existing && (existing.spec.replicas ?? 1) === w.desired && available >= w.desired) {
    w.code = 'Running';
    return w;
  }
  w.code = 'Progressing';
  // The deadline counts from when the template (re)entered Progressing.
  const sinceMs =
    prev?.status === 'Progressing' && prev.lastTransitionTime ? Date.parse(prev.lastTransitionTime) : now;
  const deadlineSeconds = ex.spec.progressDeadlineSeconds ?? DEFAULT_EXPERIMENT_PROGRESS_DEADLINE_SECONDS;
  const dueMs = sinceMs + deadlineSeconds * 1000;
  if (dueMs <= now) {
    w.code = 'Failed';
    w.message = `Template "${t.name}" did not become available within progressDeadlineSeconds (${deadlineSeconds})`;
  } else if (watchDeadline) requeueAt(ctx, dueMs);
  return w;
}

function isFailedRunPhase(phase: AnalysisPhase): boolean {
  return phase === 'Failed' || phase === 'Error' || phase === 'Inconclusive';
}

/** Keeps the ReplicaSet at the template's replicas (creating it, or undoing a pending scale-down). */
function scaleUp(ctx: Ctx, w: TemplateWork): void {
  if (!w.rs) {
    if (w.code === 'Error') return;
    w.rs = buildExperimentReplicaSet(ctx.ex, w.t, w.hash);
    ctx.actions.push({ kind: 'createReplicaSet', rs: w.rs });
    event(
      ctx,
      'Normal',
      'ScalingReplicaSet',
      `Scaled up ReplicaSet ${w.rs.metadata.name} from 0 to ${w.desired}`,
    );
    return;
  }
  const current = w.rs.spec.replicas ?? 1;
  const hasDeadline = w.rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION] !== undefined;
  if (current === w.desired && !hasDeadline) return;
  ctx.actions.push({
    kind: 'scaleReplicaSet',
    name: w.rs.metadata.name,
    replicas: w.desired,
    ...(hasDeadline ? { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } } : {}),
  });
  if (current !== w.desired) {
    const op = w.desired > current ? 'up' : 'down';
    event(
      ctx,
      'Normal',
      'ScalingReplicaSet',
      `Scaled ${op} ReplicaSet ${w.rs.metadata.name} from ${current} to ${w.desired}`,
    );
  }
}

/** Scales the ReplicaSet to 0 once its scale-down-deadline (now + scaleDownDelaySeconds) has passed. */
function scaleDownAfterDelay(ctx: Ctx, rs: ReplicaSet): number {
  const replicas = rs.spec.replicas ?? 1;
  if (replicas === 0) return 0;
  const due = deadlineMs(rs);
  const delaySeconds = ctx.ex.spec.scaleDownDelaySeconds ?? DEFAULT_EXPERIMENT_SCALE_DOWN_DELAY_SECONDS;
  if (due === undefined && delaySeconds > 0) {
    const at = ctx.now + delaySeconds * 1000;
    ctx.actions.push({
      kind: 'annotateReplicaSet',
      name: rs.metadata.name,
      annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: isoTime(at) },
    });
    requeueAt(ctx, at);
    return replicas;
  }
  if (due !== undefined && due > ctx.now) {
    requeueAt(ctx, due);
    return replicas;
  }
  ctx.actions.push({
    kind: 'scaleReplicaSet',
    name: rs.metadata.name,
    replicas: 0,
    ...(due !== undefined ? { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: null } } : {}),
  });
  event(
    ctx,
    'Normal',
    'ScalingReplicaSet',
    `Scaled down ReplicaSet ${rs.metadata.name} from ${replicas} to 0`,
  );
  return 0;
}

/** The template's Service exists while its ReplicaSet has replicas; returns its name while it does. */
function reconcileService(ctx: Ctx, w: TemplateWork, replicas: number): string | undefined {
  if (w.t.service === undefined || !w.rs) return undefined;
  const name = experimentServiceName(ctx.ex, w.t);
  const svc = ctx.obs.services.find((s) => s.metadata.name === name);
  if (replicas === 0) {
    if (svc) {
      ctx.actions.push({ kind: 'deleteService', name });
      event(ctx, 'Normal', 'DeletingService', `Deleted Service '${name}'`);
    }
    return undefined;
  }
  if (svc) return name;
  const ports = servicePorts(w.t);
  if (ports.length === 0) {
    if (!isCompletedTemplate(w.code)) {
      w.code = 'Error';
      w.message = `Template "${w.t.name}" has a service but its containers declare no ports`;
    }
    return undefined;
  }
  ctx.actions.push({ kind: 'createService', service: buildExperimentService(ctx.ex, w.t, w.rs, ports) });
  event(ctx, 'Normal', 'CreatingService', `Created Service '${name}'`);
  return name;
}

function templateStatus(ctx: Ctx, w: TemplateWork, serviceName: string | undefined): TemplateStatus {
  const rsStatus = w.rs?.status ?? {};
  if (w.prev?.status !== w.code) {
    event(
      ctx,
      w.code === 'Failed' || w.code === 'Error' ? 'Warning' : 'Normal',
      `Template${w.code}`,
      `Template '${w.t.name}' transitioned from ${w.prev?.status ?? '""'} -> ${w.code}`,
    );
  }
  return {
    name: w.t.name,
    replicas: rsStatus.replicas ?? 0,
    updatedReplicas: rsStatus.fullyLabeledReplicas ?? rsStatus.replicas ?? 0,
    readyReplicas: rsStatus.readyReplicas ?? 0,
    availableReplicas: rsStatus.availableReplicas ?? 0,
    ...(w.prev?.collisionCount !== undefined ? { collisionCount: w.prev.collisionCount } : {}),
    status: w.code,
    ...(w.message ? { message: w.message } : {}),
    lastTransitionTime:
      w.prev?.status === w.code && w.prev.lastTransitionTime ? w.prev.lastTransitionTime : isoTime(ctx.now),
    ...(serviceName ? { serviceName } : {}),
    ...(w.rs ? { podTemplateHash: w.hash } : {}),
  };
}

/** Creates the runs not created yet, with the experiment's args resolved (Argo's reconcileAnalysisRun). */
function createRuns(
  ctx: Ctx,
  work: readonly TemplateWork[],
  statuses: Map<string, ExperimentAnalysisRunStatus>,
): void {
  const { ex } = ctx;
  const argValues: Record<string, string> = {
    'experiment.availableAt': ctx.status.availableAt ?? '',
    'experiment.finishedAt': '',
  };
  for (const w of work) {
    if (!w.rs) continue;
    argValues[`templates.${w.t.name}.replicaset.name`] = w.rs.metadata.name;
    argValues[`templates.${w.t.name}.podTemplateHash`] = w.hash;
  }
  const taken = [...ctx.obs.analysisRuns];
  for (const a of ex.spec.analyses ?? []) {
    if (statuses.has(a.name)) continue;
    const name = freeRunName(`${ex.metadata.name}-${a.name}`, taken);
    const built = buildExperimentRun(ex, a, name, argValues, ctx.obs.lookupTemplate);
    if (!built.ok) {
      statuses.set(a.name, { name: a.name, analysisRun: '', phase: 'Error', message: built.error });
      event(ctx, 'Warning', 'AnalysisRunError', `Analysis '${a.name}' could not be created: ${built.error}`);
      requeueAt(ctx, ctx.now); // the Error ends the experiment: the next reconcile scales it down
      continue;
    }
    ctx.actions.push({ kind: 'createAnalysisRun', run: built.run });
    taken.push(built.run);
    event(ctx, 'Normal', 'AnalysisRunCreated', `AnalysisRun '${name}' Created`);
    statuses.set(a.name, { name: a.name, analysisRun: name, phase: 'Pending' });
  }
}

export function planExperiment(obs: ExperimentObserved): ExperimentPlan {
  const ex = obs.experiment;
  const now = obs.nowMs;
  const prev: ExperimentStatus = ex.status ?? {};
  const ctx: Ctx = { ex, obs, now, prev, status: structuredClone(prev), actions: [], events: [] };
  const { status } = ctx;
  const result = (): ExperimentPlan => ({
    actions: ctx.actions,
    status,
    events: ctx.events,
    ...(ctx.requeueAtMs !== undefined ? { requeueAfterMs: Math.max(0, ctx.requeueAtMs - now) } : {}),
  });
  // An Error from an invalid spec is not an end: the spec is checked again and a fix lets it start.
  const prevInvalid = prev.conditions?.some((c) => c.type === INVALID_SPEC_CONDITION && c.status === 'True');
  const prevCompleted = isCompletedPhase(prev.phase) && !prevInvalid;
  // A finished experiment is not validated again: it only finishes scaling down.
  if (!prevCompleted && !checkSpec(ctx)) return result();

  const analyses = ex.spec.analyses ?? [];
  const duration = ex.spec.duration !== undefined ? parseDuration(ex.spec.duration) : undefined;
  const durationMs = duration?.ok === true ? duration.ms : undefined;
  const availableAtMs = prev.availableAt ? Date.parse(prev.availableAt) : undefined;
  const runs = observeRuns(ctx);
  const work = ex.spec.templates.map((t) =>
    assessTemplate(ctx, t, !prevCompleted && ex.spec.terminate !== true),
  );

  // -- terminating (Argo's IsTerminating, plus the duration and the required analyses) --
  const required = analyses.filter((a) => a.requiredForCompletion === true);
  const terminating =
    ex.spec.terminate === true ||
    prevCompleted ||
    work.some((w) => w.code === 'Failed' || w.code === 'Error') ||
    [...runs.statuses.values()].some((r) => isFailedRunPhase(r.phase)) ||
    (required.length > 0 && required.every((a) => runs.statuses.get(a.name)?.phase === 'Successful')) ||
    (durationMs !== undefined && availableAtMs !== undefined && now >= availableAtMs + durationMs);

  // -- templates: ReplicaSets, Services, statuses --
  const templateStatuses: TemplateStatus[] = [];
  for (const w of work) {
    if (terminating && !isCompletedTemplate(w.code)) w.code = 'Successful';
    if (!terminating) scaleUp(ctx, w);
    const replicas = w.rs ? (terminating ? scaleDownAfterDelay(ctx, w.rs) : (w.rs.spec.replicas ?? 1)) : 0;
    const serviceName = reconcileService(ctx, w, replicas);
    templateStatuses.push(templateStatus(ctx, w, serviceName));
  }
  status.templateStatuses = templateStatuses;

  // -- availableAt, then the analyses --
  if (!terminating) {
    if (!status.availableAt && work.every((w) => w.code === 'Running')) status.availableAt = isoTime(now);
    if (status.availableAt) {
      if (durationMs !== undefined) requeueAt(ctx, Date.parse(status.availableAt) + durationMs);
      createRuns(ctx, work, runs.statuses);
    }
  }
  // Runs still measuring when the experiment ends are terminated (they then end Successful unless failed).
  if (terminating || [...runs.statuses.values()].some((r) => isFailedRunPhase(r.phase))) {
    for (const run of runs.objects) {
      if (!isCompletedPhase(run.status?.phase) && run.spec.terminate !== true) {
        ctx.actions.push({ kind: 'terminateAnalysisRun', name: run.metadata.name ?? '' });
      }
    }
  }
  const runList = analyses
    .map((a) => runs.statuses.get(a.name))
    .filter((r): r is ExperimentAnalysisRunStatus => r !== undefined);
  if (runList.length > 0) status.analysisRuns = runList;
  else delete status.analysisRuns;

  // -- phase (Argo's calculateStatus); a finished experiment keeps its verdict --
  if (!prevCompleted) {
    const { phase, message } = experimentPhase(
      work,
      analyses,
      runs.statuses,
      status.availableAt !== undefined,
    );
    status.phase = phase;
    if (message) status.message = message;
    else delete status.message;
  }
  if (prev.phase !== status.phase) {
    event(
      ctx,
      status.phase === 'Failed' || status.phase === 'Error' ? 'Warning' : 'Normal',
      `Experiment${status.phase}`,
      `Experiment transitioned from ${prev.phase ?? '""'} -> ${status.phase}`,
    );
  }
  return result();
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

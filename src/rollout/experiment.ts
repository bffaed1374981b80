// The canary `experiment` step (Argo's rollout/experiment.go, utils/experiment/filter.go): the Experiment
// built from the step (name `<rollout>-<podHash>-<revision>-<stepIndex>`, collision suffix `-N`, the
// Rollout's labels plus the pod hash, templates copied from the canary or stable ReplicaSet), the step's
// verdict (Successful completes, Failed/Error abort, Inconclusive pauses), and housekeeping: every
// Experiment that is not the current one is terminated, and finished ones are garbage-collected.
// Level-triggered like analysis.ts: the current Experiment is the one recorded in
// status.canary.currentExperiment, else an unfinished, unterminated one of this hash, revision and step
// (one created by a controller that died before writing status is adopted, never duplicated).
// Template `weight` is copied (it asks for a Service); planTraffic routes that share to the Service while
// the experiment runs (Argo's additional destinations).

import { isCompletedPhase } from '../api/analysis-run.ts';
import type { Experiment, ExperimentAnalysisTemplateRef, TemplateSpec } from '../api/experiment.ts';
import {
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  type Rollout,
  type RolloutExperimentStep,
} from '../api/rollout.ts';
import type { ReplicaSet } from '../api/workloads.ts';
import { controllerRef } from '../reconcile/owners.ts';
import { resolveRolloutArgs } from './analysis.ts';
import { type Ctx, createdMs, event, rsHash, runHistoryLimit } from './context.ts';

export const EXPERIMENT_API_VERSION = 'argoproj.io/v1alpha1';

export interface ExperimentKey {
  readonly podHash: string;
  readonly revision: number;
  readonly stepIndex: number;
}

export function experimentBaseName(ro: Rollout, key: ExperimentKey): string {
  return `${ro.metadata.name}-${key.podHash}-${key.revision}-${key.stepIndex}`;
}

/** `<base>` or `<base>-<N>`: Argo's createExperimentWithCollisionHandling suffix. */
function isNameFor(name: string, base: string): boolean {
  if (name === base) return true;
  if (!name.startsWith(`${base}-`)) return false;
  return /^[1-9][0-9]*$/.test(name.slice(base.length + 1));
}

function belongsTo(ex: Experiment, key: ExperimentKey): boolean {
  return (
    ex.metadata.labels?.[POD_TEMPLATE_HASH_LABEL] === key.podHash &&
    ex.metadata.annotations?.[REVISION_ANNOTATION] === String(key.revision)
  );
}

function isLive(ex: Experiment): boolean {
  return !isCompletedPhase(ex.status?.phase) && ex.spec.terminate !== true;
}

/**
 * The Experiment serving the step now: the one recorded in status (if it is still this step's), else an
 * unfinished, unterminated one under this step's name (Argo adopts exactly these on AlreadyExists).
 */
export function findCurrentExperiment(
  ro: Rollout,
  exs: readonly Experiment[],
  key: ExperimentKey,
  recorded: string | undefined,
): Experiment | undefined {
  const base = experimentBaseName(ro, key);
  if (recorded) {
    const ex = exs.find((e) => e.metadata.name === recorded);
    if (ex && isNameFor(recorded, base) && belongsTo(ex, key)) return ex;
  }
  return exs.find((e) => isNameFor(e.metadata.name, base) && belongsTo(e, key) && isLive(e));
}

/** The first free name of `<base>`, `<base>-1`, `<base>-2`, ... (the adoptable ones were found already). */
export function freeExperimentName(base: string, exs: readonly Experiment[]): string {
  const taken = new Set(exs.map((e) => e.metadata.name));
  if (!taken.has(base)) return base;
  for (let n = 1; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
}

export type ExperimentBuild = { ok: true; experiment: Experiment } | { ok: false; error: string };

/** Argo's GetExperimentFromTemplate. */
export function buildStepExperiment(
  ro: Rollout,
  step: RolloutExperimentStep,
  key: ExperimentKey,
  name: string,
  newRS: ReplicaSet,
  stableRS: ReplicaSet,
): ExperimentBuild {
  const templates: TemplateSpec[] = [];
  for (const [i, t] of step.templates.entries()) {
    const rs = t.specRef === 'canary' ? newRS : t.specRef === 'stable' ? stableRS : undefined;
    if (!rs) return { ok: false, error: `templates[${i}].specRef: must be canary or stable` };
    const template = structuredClone(rs.spec.template);
    const selector = structuredClone(t.selector ?? rs.spec.selector ?? {});
    const labels = t.metadata?.labels ?? {};
    if (Object.keys(labels).length > 0) {
      template.metadata = { ...(template.metadata ?? {}) };
      template.metadata.labels = { ...(template.metadata.labels ?? {}), ...labels };
      selector.matchLabels = { ...(selector.matchLabels ?? {}), ...labels };
    }
    const annotations = t.metadata?.annotations ?? {};
    if (Object.keys(annotations).length > 0) {
      template.metadata = { ...(template.metadata ?? {}) };
      template.metadata.annotations = { ...(template.metadata.annotations ?? {}), ...annotations };
    }
    const service =
      t.weight !== undefined || t.service !== undefined
        ? t.service?.name
          ? { name: t.service.name }
          : {}
        : undefined;
    templates.push({
      name: t.name,
      ...(t.replicas !== undefined ? { replicas: t.replicas } : {}),
      ...(rs.spec.minReadySeconds !== undefined ? { minReadySeconds: rs.spec.minReadySeconds } : {}),
      selector,
      template,
      ...(service ? { service } : {}),
    });
  }
  const analyses: ExperimentAnalysisTemplateRef[] = [];
  for (const a of step.analyses ?? []) {
    const args = resolveRolloutArgs(
      ro,
      { ...(a.args ? { args: a.args } : {}) },
      rsHash(stableRS) ?? '',
      key.podHash,
    );
    if (!args.ok) return { ok: false, error: `analyses.${a.name}.${args.error}` };
    analyses.push({
      name: a.name,
      templateName: a.templateName,
      ...(a.clusterScope !== undefined ? { clusterScope: a.clusterScope } : {}),
      ...(args.args.length > 0 ? { args: args.args } : {}),
      ...(a.requiredForCompletion !== undefined ? { requiredForCompletion: a.requiredForCompletion } : {}),
    });
  }
  return {
    ok: true,
    experiment: {
      apiVersion: EXPERIMENT_API_VERSION,
      kind: 'Experiment',
      metadata: {
        name,
        ...(ro.metadata.namespace ? { namespace: ro.metadata.namespace } : {}),
        labels: { ...(ro.metadata.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: key.podHash },
        annotations: { [REVISION_ANNOTATION]: String(key.revision) },
        ownerReferences: [controllerRef(ROLLOUT_API_VERSION, 'Rollout', ro)],
      },
      spec: {
        templates,
        ...(step.duration !== undefined ? { duration: step.duration } : {}),
        ...(ro.spec.progressDeadlineSeconds !== undefined
          ? { progressDeadlineSeconds: ro.spec.progressDeadlineSeconds }
          : {}),
        ...(analyses.length > 0 ? { analyses } : {}),
        ...(step.dryRun ? { dryRun: step.dryRun } : {}),
        ...(step.measurementRetention ? { measurementRetention: step.measurementRetention } : {}),
        ...(step.analysisRunMetadata ? { analysisRunMetadata: step.analysisRunMetadata } : {}),
        ...(step.scaleDownDelaySeconds !== undefined
          ? { scaleDownDelaySeconds: step.scaleDownDelaySeconds }
          : {}),
      },
    } as Experiment,
  };
}

export type ExperimentOutcome =
  | { kind: 'waiting' }
  | { kind: 'running'; name: string }
  | { kind: 'successful'; name: string }
  | { kind: 'failed'; name: string; message: string }
  | { kind: 'inconclusive'; name: string }
  | { kind: 'invalid'; error: string };

/**
 * Argo's reconcileExperiments for the current step: ensures the Experiment exists (adopting or creating,
 * never duplicating) and reads its phase. `mayCreate` false only reads an existing one (paused).
 */
export function reconcileExperimentStep(
  ctx: Ctx,
  step: RolloutExperimentStep,
  key: ExperimentKey,
  mayCreate = true,
): ExperimentOutcome {
  const exs = ctx.obs.experiments ?? [];
  let ex = findCurrentExperiment(ctx.ro, exs, key, ctx.status.canary?.currentExperiment);
  if (!ex) {
    // Argo: an Experiment cannot be created before the stable ReplicaSet exists.
    const stableRS = ctx.stableRS;
    if (!mayCreate || !stableRS) return { kind: 'waiting' };
    const name = freeExperimentName(experimentBaseName(ctx.ro, key), exs);
    const built = buildStepExperiment(ctx.ro, step, key, name, ctx.newRS, stableRS);
    if (!built.ok) return { kind: 'invalid', error: built.error };
    ctx.actions.push({ kind: 'createExperiment', experiment: built.experiment });
    event(ctx, 'Normal', 'ExperimentCreated', `Created Experiment '${name}'`);
    ex = built.experiment;
  }
  const name = ex.metadata.name;
  switch (ex.status?.phase) {
    case 'Successful':
      return { kind: 'successful', name };
    case 'Failed':
    case 'Error':
      // Argo's AddAbort(currentEx.Status.Message): no message, no suffix on "Rollout aborted ...".
      return { kind: 'failed', name, message: ex.status?.message ?? '' };
    case 'Inconclusive':
      return { kind: 'inconclusive', name };
    default:
      return { kind: 'running', name };
  }
}

/**
 * Argo's cancelExperiments + FilterExperimentsToDelete: on abort or promote-full (as the reconcile found
 * it) every Experiment is terminated; otherwise all but the current one. Non-current ones whose
 * ReplicaSet is gone (revisionHistoryLimit) are deleted, finished ones beyond the analysis history
 * limits (successful / unsuccessful = Failed, Error, Inconclusive) too, newest kept.
 */
export function planExperimentHousekeeping(ctx: Ctx): void {
  const exs = ctx.obs.experiments ?? [];
  if (exs.length === 0) return;
  const st = ctx.status;
  const cancelAll = st.abort === true || ctx.obs.rollout.status?.promoteFull === true;
  const current = cancelAll ? undefined : st.canary?.currentExperiment;
  for (const ex of exs) {
    if (ex.metadata.name !== current && isLive(ex))
      ctx.actions.push({ kind: 'terminateExperiment', name: ex.metadata.name });
  }
  const deletedRSs = new Set(ctx.actions.flatMap((a) => (a.kind === 'deleteReplicaSet' ? [a.name] : [])));
  const hashes = new Set(
    ctx.allRSs.filter((rs) => !deletedRSs.has(rs.metadata.name)).map((rs) => rsHash(rs)),
  );
  const others = exs
    .filter((ex) => ex.metadata.name !== st.canary?.currentExperiment && !ex.metadata.deletionTimestamp)
    .sort((a, b) => createdMs(b) - createdMs(a));
  const overLimit = runHistoryLimit(ctx.ro);
  for (const ex of others) {
    const hash = ex.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
    const phase = ex.status?.phase;
    let remove = hash === undefined || !hashes.has(hash);
    if (!remove && phase === 'Successful') remove = overLimit(true);
    else if (!remove && (phase === 'Failed' || phase === 'Error' || phase === 'Inconclusive'))
      remove = overLimit(false);
    if (remove) ctx.actions.push({ kind: 'deleteExperiment', name: ex.metadata.name });
  }
}

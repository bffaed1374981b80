// AnalysisRuns created by a Rollout (Argo's rollout/analysis.go): deterministic names
// `<rollout>-<podHash>-<revision>[-<stepIndex>|-pre|-post]` (background has no suffix), the collision
// counter `<name>.<N>` when a finished or terminated run already holds the name, labels, annotations,
// the controller ownerReference, and args resolved against the Rollout at creation
// (podTemplateHashValue Stable|Latest, fieldRef). Level-triggered: the current run is the one recorded
// in status, or else an unfinished, unterminated run with the same labels (a run created by a
// controller that died before writing status is adopted, never duplicated).

import {
  buildAnalysisRun,
  resolveFieldPath,
  type TemplateLookup,
  templateNotFound,
} from '../analysis/args.ts';
import type { AnalysisRun } from '../api/analysis-run.ts';
import { isCompletedPhase } from '../api/analysis-run.ts';
import type { Argument } from '../api/analysis-template.ts';
import {
  POD_TEMPLATE_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  ROLLOUT_TYPE_LABEL,
  type Rollout,
  type RolloutAnalysis,
  type RolloutAnalysisRunStatus,
  STEP_INDEX_LABEL,
} from '../api/rollout.ts';
import { freeRunName } from '../reconcile/names.ts';
import { controllerRef } from '../reconcile/owners.ts';
import { type Ctx, event } from './context.ts';

export type RunType = 'Step' | 'Background' | 'PrePromotion' | 'PostPromotion';

export interface RunKey {
  readonly type: RunType;
  readonly podHash: string;
  readonly revision: number;
  readonly stepIndex?: number;
}

export function runBaseName(ro: Rollout, key: RunKey): string {
  const base = `${ro.metadata.name}-${key.podHash}-${key.revision}`;
  switch (key.type) {
    case 'Step':
      return `${base}-${key.stepIndex ?? 0}`;
    case 'PrePromotion':
      return `${base}-pre`;
    case 'PostPromotion':
      return `${base}-post`;
    default:
      return base;
  }
}

function matchesKey(run: AnalysisRun, key: RunKey): boolean {
  const labels = run.metadata.labels ?? {};
  if (labels[ROLLOUT_TYPE_LABEL] !== key.type || labels[POD_TEMPLATE_HASH_LABEL] !== key.podHash)
    return false;
  if (key.type === 'Step' && labels[STEP_INDEX_LABEL] !== String(key.stepIndex ?? 0)) return false;
  return true;
}

/** The run serving `key` now: the one recorded in status, else an unfinished unterminated one to adopt. */
export function findCurrentRun(
  runs: readonly AnalysisRun[],
  key: RunKey,
  recorded: RolloutAnalysisRunStatus | undefined,
): AnalysisRun | undefined {
  if (recorded?.name) {
    const run = runs.find((r) => r.metadata.name === recorded.name);
    if (run && matchesKey(run, key)) return run;
  }
  return runs.find(
    (r) => matchesKey(r, key) && !isCompletedPhase(r.status?.phase) && r.spec.terminate !== true,
  );
}

export type BuildResult = { ok: true; run: AnalysisRun } | { ok: false; error: string };

/** Argo's BuildArgumentsForRolloutAnalysisRun: plain values for hash and fieldRef args. */
export function resolveRolloutArgs(
  ro: Rollout,
  analysis: RolloutAnalysis,
  stableHash: string,
  latestHash: string,
): { ok: true; args: Argument[] } | { ok: false; error: string } {
  const args: Argument[] = [];
  for (const arg of analysis.args ?? []) {
    if (arg.value !== undefined) args.push({ name: arg.name, value: arg.value });
    else if (arg.valueFrom?.podTemplateHashValue === 'Stable')
      args.push({ name: arg.name, value: stableHash });
    else if (arg.valueFrom?.podTemplateHashValue === 'Latest')
      args.push({ name: arg.name, value: latestHash });
    else if (arg.valueFrom?.fieldRef) {
      const v = resolveFieldPath(ro, arg.valueFrom.fieldRef.fieldPath);
      if (!v.ok) return { ok: false, error: `args.${arg.name}: ${v.error}` };
      args.push({ name: arg.name, value: v.value });
    } else args.push({ name: arg.name });
  }
  return { ok: true, args };
}

export function buildRolloutAnalysisRun(
  ro: Rollout,
  analysis: RolloutAnalysis,
  key: RunKey,
  name: string,
  stableHash: string,
  lookup: TemplateLookup,
): BuildResult {
  const templates = [];
  for (const ref of analysis.templates ?? []) {
    const t = lookup(ref.templateName, ref.clusterScope === true);
    if (!t) return { ok: false, error: templateNotFound(ref) };
    templates.push(t);
  }
  const args = resolveRolloutArgs(ro, analysis, stableHash, key.podHash);
  if (!args.ok) return args;
  const labels: Record<string, string> = {
    ...(ro.spec.selector?.matchLabels ?? {}),
    [POD_TEMPLATE_HASH_LABEL]: key.podHash,
    [ROLLOUT_TYPE_LABEL]: key.type,
    ...(key.type === 'Step' ? { [STEP_INDEX_LABEL]: String(key.stepIndex ?? 0) } : {}),
    ...(analysis.analysisRunMetadata?.labels ?? {}),
  };
  const built = buildAnalysisRun({
    templates,
    args: args.args,
    name,
    ...(ro.metadata.namespace ? { namespace: ro.metadata.namespace } : {}),
    lookup,
    fieldRefSource: ro,
    labels,
    annotations: {
      ...(analysis.analysisRunMetadata?.annotations ?? {}),
      [REVISION_ANNOTATION]: String(key.revision),
    },
    ownerReferences: [controllerRef(ROLLOUT_API_VERSION, 'Rollout', ro)],
    dryRun: analysis.dryRun,
    measurementRetention: analysis.measurementRetention,
  });
  return built.ok ? { ok: true, run: built.value } : built;
}

/**
 * The run as the Rollout's status records it. A run the analysis controller has not picked up yet has no
 * phase: it is recorded as Pending, because `status` is required by the CRD and the API server (1.20)
 * rejects the empty string our KubeStore omits (a persisted Rollout status would be refused forever).
 */
export function runStatusOf(run: AnalysisRun): RolloutAnalysisRunStatus {
  return {
    name: run.metadata.name ?? '',
    status: run.status?.phase || 'Pending',
    ...(run.status?.message ? { message: run.status.message } : {}),
  };
}

export type AnalysisOutcome =
  | { kind: 'running'; status: RolloutAnalysisRunStatus }
  | { kind: 'successful'; status: RolloutAnalysisRunStatus }
  | { kind: 'failed'; status: RolloutAnalysisRunStatus; message: string }
  | { kind: 'inconclusive'; status: RolloutAnalysisRunStatus }
  | { kind: 'invalid'; error: string };

const PREFIX: Record<RunType, string> = {
  Step: 'Step-based',
  Background: 'Background',
  PrePromotion: 'PrePromotion',
  PostPromotion: 'PostPromotion',
};

/**
 * Ensures the run for `key` exists (adopting or creating it, never duplicating) and reads its verdict.
 * `mayCreate` false only reads an existing run (e.g. while paused on an inconclusive verdict).
 */
export function reconcileAnalysis(
  ctx: Ctx,
  analysis: RolloutAnalysis,
  key: RunKey,
  recorded: RolloutAnalysisRunStatus | undefined,
  mayCreate = true,
): AnalysisOutcome | undefined {
  let run = findCurrentRun(ctx.obs.analysisRuns, key, recorded);
  if (!run) {
    if (!mayCreate) return undefined;
    const name = freeRunName(runBaseName(ctx.ro, key), ctx.obs.analysisRuns);
    const built = buildRolloutAnalysisRun(
      ctx.ro,
      analysis,
      key,
      name,
      ctx.status.stableRS ?? '',
      ctx.obs.lookupTemplate,
    );
    if (!built.ok) return { kind: 'invalid', error: built.error };
    ctx.actions.push({ kind: 'createAnalysisRun', run: built.run });
    event(ctx, 'Normal', 'AnalysisRunCreated', `${PREFIX[key.type]} Analysis Run '${name}' Created`);
    run = built.run;
  }
  const name = run.metadata.name ?? '';
  ctx.keepRuns.add(name);
  const status = runStatusOf(run);
  const phase = run.status?.phase;
  if (phase === 'Successful') return { kind: 'successful', status };
  if (phase === 'Failed' || phase === 'Error') {
    const detail = run.status?.message ? `: ${run.status.message}` : '';
    if (recorded?.status !== phase) {
      event(
        ctx,
        'Warning',
        `AnalysisRun${phase}`,
        `${PREFIX[key.type]} Analysis Run '${name}' Status New: '${phase}' Previous: '${recorded?.status || 'Running'}'`,
      );
    }
    return { kind: 'failed', status, message: `${PREFIX[key.type]} analysis phase error/failed${detail}` };
  }
  if (phase === 'Inconclusive') return { kind: 'inconclusive', status };
  return { kind: 'running', status };
}

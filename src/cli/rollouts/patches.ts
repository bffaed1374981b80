// The patches the user actions send, exactly as Argo's kubectl plugin sends them
// (pkg/kubectl-argo-rollouts/cmd/{pause,abort,retry,promote,restart,undo}), so `sluice` and
// `kubectl argo rollouts` can be used side by side on the same Rollout. The JSON texts are Argo's
// constants verbatim (including their odd spacing); a patch is sent as the object they parse to, with
// the same patch type (merge patch, JSON patch) and at the same place (main resource or `status`).
// Pure: no I/O, the clock is a parameter.

import { canarySteps, currentStepIndex, POD_TEMPLATE_HASH_LABEL, type Rollout } from '../../api/rollout.ts';
import type { PodTemplateSpec } from '../../api/workloads.ts';

export const PAUSE_PATCH = '{"spec":{"paused":true}}';
export const ABORT_PATCH = '{"status":{"abort":true}}';
export const RETRY_ROLLOUT_PATCH = '{"status":{"abort":false}}';
/** Argo's terminate analysisrun|experiment: the controller ends the run or Experiment. */
export const TERMINATE_PATCH = '{"spec":{"terminate":true}}';
/** Argo's RetryExperiment: the whole status cleared, so the Experiment controller starts it again. */
export const RETRY_EXPERIMENT_PATCH = '{"status":null}';
export const UNPAUSE_PATCH = '{"spec":{"paused":false}}';
export const CLEAR_PAUSE_CONDITIONS_PATCH = '{"status":{"pauseConditions":null}}';
export const UNPAUSE_AND_CLEAR_PAUSE_CONDITIONS_PATCH =
  '{"spec":{"paused":false},"status":{"pauseConditions":null}}';
export const PROMOTE_FULL_PATCH = '{"status":{"promoteFull":true}}';

export function setCurrentStepIndexPatch(index: number): string {
  return `{"status":{"currentStepIndex":${index}}}`;
}

export function clearPauseConditionsWithStepPatch(index: number): string {
  return `{"status":{"pauseConditions":null, "currentStepIndex":${index}}}`;
}

export function clearPauseConditionsAndControllerPausePatch(index: number): string {
  return `{"status":{"pauseConditions":null, "controllerPause":false, "currentStepIndex":${index}}}`;
}

export function unpauseAndClearPauseConditionsWithStepPatch(index: number): string {
  return `{"spec":{"paused":false},"status":{"pauseConditions":null, "currentStepIndex":${index}}}`;
}

/** Argo's restartPatch template, whitespace included; the time is RFC 3339 in UTC to the second. */
export function restartPatch(restartAt: Date): string {
  return `{\n\t"spec": {\n\t\t"restartAt": "${formatRfc3339Seconds(restartAt)}"\n\t}\n}`;
}

/** Go's time.RFC3339 for a UTC time: no fractional seconds, `Z`. */
export function formatRfc3339Seconds(at: Date): string {
  return `${at.toISOString().slice(0, 19)}Z`;
}

export interface PromoteOptions {
  full?: boolean;
  /** Deprecated `-c/--skip-current-step`. */
  skipCurrentStep?: boolean;
  /** Deprecated `-a/--skip-all-steps`. */
  skipAllSteps?: boolean;
}

/**
 * What promote sends, as Argo's getPatches: `status` goes to the status subresource first; `spec` to the
 * main resource; `unified` replaces `spec` when the status subresource is not served (Rollouts < v0.10).
 */
export interface PromotePatches {
  spec?: string;
  status?: string;
  unified?: string;
}

export type PromotePlan = { ok: true; patches: PromotePatches } | { ok: false; error: string };

export const USE_BOTH_SKIP_FLAGS_ERROR =
  'Cannot use skip-current-step and skip-all-steps flags at the same time';
export const SKIP_FLAGS_WITH_BLUE_GREEN_ERROR =
  'Cannot skip steps of a bluegreen rollout. Run without a flags';
export const SKIP_FLAG_WITH_NO_STEP_CANARY_ERROR = 'Cannot skip steps of a rollout without steps';

function nextIndex(ro: Rollout, index: number): number {
  return index < canarySteps(ro).length ? index + 1 : index;
}

/** Argo's PromoteRollout checks and getPatches for the rollout as read just before promoting. */
export function promotePatches(ro: Rollout, options: PromoteOptions = {}): PromotePlan {
  if (options.skipCurrentStep && options.skipAllSteps) return { ok: false, error: USE_BOTH_SKIP_FLAGS_ERROR };
  if (options.skipCurrentStep || options.skipAllSteps) {
    if (ro.spec.strategy.blueGreen) return { ok: false, error: SKIP_FLAGS_WITH_BLUE_GREEN_ERROR };
    if (ro.spec.strategy.canary && canarySteps(ro).length === 0) {
      return { ok: false, error: SKIP_FLAG_WITH_NO_STEP_CANARY_ERROR };
    }
  }
  const status = ro.status ?? {};
  const patches: PromotePatches = {};
  if (options.skipCurrentStep) {
    const index = currentStepIndex(ro);
    if (index !== undefined) {
      patches.status = setCurrentStepIndexPatch(nextIndex(ro, index));
      patches.unified = patches.status;
    }
  } else if (options.skipAllSteps) {
    patches.status = setCurrentStepIndexPatch(canarySteps(ro).length);
    patches.unified = patches.status;
  } else if (options.full) {
    if ((status.currentPodHash ?? '') !== (status.stableRS ?? '')) patches.status = PROMOTE_FULL_PATCH;
    // The reference (section 2.4): a full promotion also unpauses a manually paused rollout.
    if (ro.spec.paused) {
      patches.spec = UNPAUSE_PATCH;
      patches.unified = UNPAUSE_PATCH;
    }
  } else {
    patches.unified = UNPAUSE_AND_CLEAR_PAUSE_CONDITIONS_PATCH;
    if (ro.spec.paused) patches.spec = UNPAUSE_PATCH;
    const pauseConditions = status.pauseConditions ?? [];
    const inconclusive =
      ro.spec.strategy.canary !== undefined &&
      status.canary?.currentStepAnalysisRunStatus?.status === 'Inconclusive';
    if (inconclusive && pauseConditions.length > 0 && status.controllerPause) {
      // Argo: clear the controller pause too and move past the inconclusive step, or a following pause
      // step would leave the rollout stuck.
      const index = currentStepIndex(ro);
      if (index !== undefined)
        patches.status = clearPauseConditionsAndControllerPausePatch(nextIndex(ro, index));
    } else if (pauseConditions.length > 0) {
      patches.status = CLEAR_PAUSE_CONDITIONS_PATCH;
    } else if (ro.spec.strategy.canary) {
      // Mid analysis or experiment: skip the step (never both clear and increment).
      const index = currentStepIndex(ro);
      if (index !== undefined) {
        const next = nextIndex(ro, index);
        patches.status = clearPauseConditionsWithStepPatch(next);
        patches.unified = unpauseAndClearPauseConditionsWithStepPatch(next);
      }
    }
  }
  return { ok: true, patches };
}

// ---- undo ----

export interface RevisionCandidate {
  revision: number | undefined;
  template: PodTemplateSpec;
  name: string;
}

export type RevisionPick = { ok: true; candidate: RevisionCandidate } | { ok: false; error: string };

/** Argo's rolloutRevision: the RS of `toRevision`, or (toRevision 0) the second-highest revision. */
export function pickRevision(
  rolloutName: string,
  candidates: readonly RevisionCandidate[],
  toRevision: number,
): RevisionPick {
  let latest: RevisionCandidate | undefined;
  let latestRevision = -1;
  let previous: RevisionCandidate | undefined;
  let previousRevision = -1;
  for (const c of candidates) {
    const v = c.revision ?? 0;
    if (toRevision === 0) {
      if (latestRevision < v) {
        previousRevision = latestRevision;
        previous = latest;
        latestRevision = v;
        latest = c;
      } else if (previousRevision < v) {
        previousRevision = v;
        previous = c;
      }
    } else if (toRevision === v) {
      return { ok: true, candidate: c };
    }
  }
  if (toRevision > 0)
    return { ok: false, error: `unable to find specified revision ${toRevision} in history` };
  if (previous === undefined) return { ok: false, error: `no revision found for rollout "${rolloutName}"` };
  return { ok: true, candidate: previous };
}

/** A copy of the template without the pod-template-hash label (Argo deletes it before restoring). */
export function withoutHashLabel(template: PodTemplateSpec): PodTemplateSpec {
  const copy = structuredClone(template);
  if (copy.metadata?.labels) delete copy.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return copy;
}

/** Argo's getRolloutPatch: a JSON patch replacing /spec/template. */
export function undoPatch(template: PodTemplateSpec): unknown[] {
  return [{ op: 'replace', path: '/spec/template', value: withoutHashLabel(template) }];
}

function isZero(value: unknown): boolean {
  return value === undefined || value === null || value === '' || value === false || value === 0;
}

/**
 * apimachinery's Semantic.DeepDerivative over JSON: fields unset (or zero) in `a` are ignored; set
 * fields must match in `b`. Used, as Argo does, to skip an undo to the template already in place.
 */
export function deepDerivative(a: unknown, b: unknown): boolean {
  if (a === undefined || a === null) return true;
  if (typeof a === 'string') return a === '' || a === b;
  if (Array.isArray(a)) {
    if (a.length === 0) return true;
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepDerivative(item, b[i]));
  }
  if (typeof a === 'object') {
    const entries = Object.entries(a as Record<string, unknown>);
    if (entries.length === 0) return true;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return entries.every(([, v]) => isZero(v));
    const rb = b as Record<string, unknown>;
    return entries.every(([k, v]) => (rb[k] === undefined ? isZero(v) : deepDerivative(v, rb[k])));
  }
  if (b === undefined) return isZero(a);
  return a === b;
}

/** Argo's equalIgnoreHash. */
export function templatesEqualIgnoringHash(
  current: PodTemplateSpec | undefined,
  revision: PodTemplateSpec,
): boolean {
  return deepDerivative(withoutHashLabel(current ?? {}), withoutHashLabel(revision));
}

// ---- set image ----

export type SetImageResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Argo's newRolloutSetImage over a pod template: sets the image of every init, regular and ephemeral
 * container named `container` (or all of them for `*`). Returns a modified copy.
 */
export function setTemplateImage(
  template: PodTemplateSpec | undefined,
  container: string,
  image: string,
): SetImageResult<PodTemplateSpec> {
  const copy = structuredClone(template ?? {});
  let found = false;
  const spec = copy.spec ?? {};
  for (const field of ['initContainers', 'containers', 'ephemeralContainers']) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    for (const ctr of list) {
      if (typeof ctr !== 'object' || ctr === null) continue;
      const record = ctr as Record<string, unknown>;
      if (record.name === container || container === '*') {
        record.image = image;
        found = true;
      }
    }
  }
  if (!found) return { ok: false, error: `unable to find container named "${container}"` };
  return { ok: true, value: copy };
}

/** Splits `CONTAINER=IMAGE` as Argo does (exactly one `=`). */
export function parseContainerImage(arg: string): { container: string; image: string } | undefined {
  const parts = arg.split('=');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') return undefined;
  return { container: parts[0]!, image: parts[1]! };
}

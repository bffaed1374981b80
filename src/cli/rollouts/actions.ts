// The user actions on one Rollout as the verbs send them (promote, promote --full, abort, retry, restart,
// undo), written once for the CLI verbs and the dashboard: each takes the namespace explicitly (the verbs
// pass the CLI's, the dashboard the Rollout's) and returns what happened, or the error Argo's plugin
// prints, as a value. API failures propagate as CliApiError. The patches themselves are patches.ts.

import { errorText } from '../../api/errors.ts';
import { REVISION_ANNOTATION, type Rollout } from '../../api/rollout.ts';
import type { Deployment, LabelSelector, ReplicaSet } from '../../api/workloads.ts';
import { type CliApi, CliApiError } from '../kube.ts';
import {
  ABORT_PATCH,
  type PromoteOptions,
  pickRevision,
  promotePatches,
  RETRY_ROLLOUT_PATCH,
  type RevisionCandidate,
  restartPatch,
  templatesEqualIgnoringHash,
  undoPatch,
} from './patches.ts';

export type ActionResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Status patches as Argo's plugin sends them (abort, retry, promote): to the `status` subresource first,
 * and only when the server does not serve it (HTTP 404, Rollouts < v0.10) to the main resource.
 */
export async function patchRolloutStatusIn(
  api: CliApi,
  namespace: string,
  name: string,
  patch: string,
): Promise<Rollout> {
  try {
    return await api.patch<Rollout>('Rollout', namespace, name, JSON.parse(patch), 'merge', 'status');
  } catch (error) {
    if (!(error instanceof CliApiError) || error.status !== 404) throw error;
    return api.patch<Rollout>('Rollout', namespace, name, JSON.parse(patch), 'merge');
  }
}

export function abortRollout(api: CliApi, namespace: string, name: string): Promise<Rollout> {
  return patchRolloutStatusIn(api, namespace, name, ABORT_PATCH);
}

export function retryRollout(api: CliApi, namespace: string, name: string): Promise<Rollout> {
  return patchRolloutStatusIn(api, namespace, name, RETRY_ROLLOUT_PATCH);
}

/** Argo's PromoteRollout: reads the Rollout, then its status patch (subresource first) and spec patch. */
export async function promoteRollout(
  api: CliApi,
  namespace: string,
  name: string,
  options: PromoteOptions,
): Promise<ActionResult<Rollout>> {
  let ro = await api.get<Rollout>('Rollout', namespace, name);
  const plan = promotePatches(ro, options);
  if (!plan.ok) return plan;
  let specPatch = plan.patches.spec;
  if (plan.patches.status !== undefined) {
    try {
      ro = await api.patch<Rollout>(
        'Rollout',
        namespace,
        name,
        JSON.parse(plan.patches.status),
        'merge',
        'status',
      );
    } catch (error) {
      if (!(error instanceof CliApiError) || error.status !== 404) throw error;
      specPatch = plan.patches.unified;
    }
  }
  if (specPatch !== undefined) {
    ro = await api.patch<Rollout>('Rollout', namespace, name, JSON.parse(specPatch), 'merge');
  }
  return { ok: true, value: ro };
}

/** Argo's restart: spec.restartAt = `at` (RFC 3339 UTC to the second), with Argo's patch text. */
export function restartRollout(api: CliApi, namespace: string, name: string, at: Date): Promise<Rollout> {
  return api.patch<Rollout>('Rollout', namespace, name, JSON.parse(restartPatch(at)), 'merge');
}

/** matchLabels (and In/Exists expressions) as a label selector query string. */
export function selectorQuery(selector: LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

function parseRevision(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value);
}

export type UndoOutcome =
  | { readonly kind: 'undone'; readonly rollout: Rollout; readonly revision: number }
  | { readonly kind: 'skipped'; readonly revision: number };

/**
 * Argo's undo: finds the ReplicaSet of `toRevision` (0: the previous revision) among those the Rollout
 * controls and, unless the current template already matches it, restores its pod template (minus the
 * pod-template-hash label) with a JSON patch on the Rollout or its workloadRef Deployment.
 */
export async function undoRollout(
  api: CliApi,
  namespace: string,
  name: string,
  toRevision: number,
): Promise<ActionResult<UndoOutcome>> {
  const ro = await api.get<Rollout>('Rollout', namespace, name);
  const ref = ro.spec.workloadRef;
  let deploy: Deployment | undefined;
  if (ref !== undefined && ro.spec.template === undefined) {
    if (ref.kind !== 'Deployment' || ref.name === undefined) {
      return {
        ok: false,
        error: `undo: workloadRef kind "${ref.kind ?? ''}" is not supported (only Deployment)`,
      };
    }
    deploy = await api.get<Deployment>('Deployment', namespace, ref.name);
  }
  const selector = ro.spec.selector ?? deploy?.spec.selector;
  const listed = await api.list<ReplicaSet>('ReplicaSet', namespace, {
    labelSelector: selectorQuery(selector),
  });
  const owned = listed.items.filter((rs) =>
    (rs.metadata.ownerReferences ?? []).some((o) => o.controller === true && o.uid === ro.metadata.uid),
  );
  const candidates: RevisionCandidate[] = owned.map((rs) => ({
    name: rs.metadata.name,
    revision: parseRevision(rs.metadata.annotations?.[REVISION_ANNOTATION]),
    template: rs.spec.template,
  }));
  const picked = pickRevision(name, candidates, toRevision);
  if (!picked.ok) return picked;
  const current = deploy !== undefined ? deploy.spec.template : ro.spec.template;
  const revision = picked.candidate.revision ?? 0;
  if (templatesEqualIgnoringHash(current, picked.candidate.template)) {
    return { ok: true, value: { kind: 'skipped', revision } };
  }
  const patch = undoPatch(picked.candidate.template);
  try {
    if (deploy !== undefined) await api.patch('Deployment', namespace, deploy.metadata.name, patch, 'json');
    else await api.patch('Rollout', namespace, name, patch, 'json');
  } catch (error) {
    return { ok: false, error: `failed restoring revision ${revision}: ${errorText(error)}` };
  }
  return { ok: true, value: { kind: 'undone', rollout: ro, revision } };
}

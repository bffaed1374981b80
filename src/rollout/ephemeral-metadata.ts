// Ephemeral metadata (Argo's rollout/ephemeralmetadata.go and utils/replicaset SyncEphemeralPodMetadata):
// canaryMetadata/stableMetadata (blue-green: previewMetadata/activeMetadata) are labels and annotations
// that a ReplicaSet's pods carry only while the RS holds that role. They go into the RS pod template
// (new pods) and onto the RS's existing pods in place (no restart), and swap when the canary becomes
// stable. The RS records what was injected in rollout.argoproj.io/ephemeral-metadata so that exactly
// those keys can be removed later, leaving metadata other controllers added (sidecar injectors) alone.
//
// Invariant: injection happens after the pod-template hash is computed from the Rollout's template, and
// the semantic template comparison strips it again (templateWithoutEphemeralMetadata), so it never
// starts a new revision.

import { goJsonString } from '../api/pod-template/go-json.ts';
import { EPHEMERAL_METADATA_ANNOTATION, type PodTemplateMetadata, type Rollout } from '../api/rollout.ts';
import type { Pod, PodTemplateSpec, ReplicaSet } from '../api/workloads.ts';
import { type Ctx, findByHash, rsHash } from './context.ts';

/** Label and annotation changes as a merge patch: a value sets the key, null removes it. */
export interface MetadataChanges {
  readonly labels: Record<string, string | null>;
  readonly annotations: Record<string, string | null>;
}

interface Meta {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** [metadata of the new RS during an update, metadata of the stable RS], by strategy. */
function roleMetadata(ro: Rollout): [PodTemplateMetadata | undefined, PodTemplateMetadata | undefined] {
  const c = ro.spec.strategy?.canary;
  if (c) return [c.canaryMetadata, c.stableMetadata];
  const bg = ro.spec.strategy?.blueGreen;
  return [bg?.previewMetadata, bg?.activeMetadata];
}

export function hasEphemeralMetadata(ro: Rollout): boolean {
  const [next, stable] = roleMetadata(ro);
  return next !== undefined || stable !== undefined;
}

/** Argo's ParseExistingPodMetadata: what the RS says it injected; undefined when absent or unparseable. */
export function injectedMetadata(rs: ReplicaSet): PodTemplateMetadata | undefined {
  const raw = rs.metadata.annotations?.[EPHEMERAL_METADATA_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    const { labels, annotations } = v as Record<string, unknown>;
    const strings = (m: unknown): Record<string, string> | undefined =>
      typeof m === 'object' && m !== null && !Array.isArray(m)
        ? Object.fromEntries(Object.entries(m).filter((e): e is [string, string] => typeof e[1] === 'string'))
        : undefined;
    const l = strings(labels);
    const a = strings(annotations);
    return { ...(l ? { labels: l } : {}), ...(a ? { annotations: a } : {}) };
  } catch {
    return undefined;
  }
}

/** Go's json.Marshal of a PodTemplateMetadata (field order labels, annotations; keys sorted; omitempty). */
export function marshalPodMetadata(md: PodTemplateMetadata): string {
  const map = (m: Record<string, string>) =>
    `{${Object.keys(m)
      .sort()
      .map((k) => `${goJsonString(k)}:${goJsonString(m[k]!)}`)
      .join(',')}}`;
  const parts: string[] = [];
  if (md.labels && Object.keys(md.labels).length > 0) parts.push(`"labels":${map(md.labels)}`);
  if (md.annotations && Object.keys(md.annotations).length > 0)
    parts.push(`"annotations":${map(md.annotations)}`);
  return `{${parts.join(',')}}`;
}

/**
 * Argo's SyncEphemeralPodMetadata as a change set: desired keys set where they differ, keys injected
 * before (`existing`) and no longer desired removed. Undefined when nothing changes. As in Argo, a
 * no-longer-desired key counts as a change even when it is already gone (so the ReplicaSet's record is
 * rewritten), unless onlyReal (pods: no write for a removal that already happened).
 */
export function ephemeralChanges(
  meta: Meta,
  existing: PodTemplateMetadata | undefined,
  desired: PodTemplateMetadata | undefined,
  onlyReal = false,
): MetadataChanges | undefined {
  const out: MetadataChanges = { labels: {}, annotations: {} };
  let modified = false;
  for (const field of ['labels', 'annotations'] as const) {
    const current = meta[field] ?? {};
    const want = desired?.[field] ?? {};
    for (const [k, v] of Object.entries(want)) {
      if (current[k] !== v) {
        out[field][k] = v;
        modified = true;
      }
    }
    for (const k of Object.keys(existing?.[field] ?? {})) {
      if (Object.hasOwn(want, k) || meta[field] === undefined) continue;
      if (onlyReal && !Object.hasOwn(meta[field], k)) continue;
      out[field][k] = null;
      modified = true;
    }
  }
  return modified ? out : undefined;
}

function applyChanges(meta: Meta, changes: MetadataChanges): Meta {
  const apply = (m: Readonly<Record<string, string>> | undefined, c: Record<string, string | null>) => {
    const next: Record<string, string> = { ...(m ?? {}) };
    for (const [k, v] of Object.entries(c)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    return next;
  };
  return {
    labels: apply(meta.labels, changes.labels),
    annotations: apply(meta.annotations, changes.annotations),
  };
}

/** The RS's pod template with the metadata it recorded as injected removed (for template comparison). */
export function templateWithoutEphemeralMetadata(rs: ReplicaSet): PodTemplateSpec {
  const template = rs.spec.template;
  const existing = injectedMetadata(rs);
  const meta = template.metadata ?? {};
  const changes = ephemeralChanges(meta, existing, undefined);
  if (!changes) return template;
  const stripped = applyChanges(meta, changes);
  const metadata: PodTemplateSpec['metadata'] = { ...meta };
  if (meta.labels !== undefined) metadata.labels = stripped.labels as Record<string, string>;
  if (meta.annotations !== undefined) metadata.annotations = stripped.annotations as Record<string, string>;
  return { ...template, metadata };
}

function ownedPods(pods: readonly Pod[], rs: ReplicaSet): Pod[] {
  return pods.filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      (p.metadata.ownerReferences ?? []).some((o) => o.kind === 'ReplicaSet' && o.name === rs.metadata.name),
  );
}

/**
 * Argo's syncEphemeralMetadataInternal for one RS: its template (and the recorded annotation) first, so
 * pods created meanwhile already carry the metadata, then — when syncPods, the RS is scaled up and it
 * changed or has injected metadata — every pod the RS owns, relative to what the RS recorded before.
 */
function syncReplicaSet(
  ctx: Ctx,
  rs: ReplicaSet,
  desired: PodTemplateMetadata | undefined,
  syncPods: boolean,
) {
  const existing = injectedMetadata(rs);
  const template = rs.spec.template.metadata ?? {};
  const changes = ephemeralChanges(template, existing, desired);
  if (changes) {
    const recorded = desired === undefined ? null : marshalPodMetadata(desired);
    if (ctx.newRSCreated && rs.metadata.name === ctx.newRS.metadata.name) {
      // Not created yet: the create action carries this object.
      const next = applyChanges(template, changes);
      rs.spec.template = {
        ...rs.spec.template,
        metadata: { ...template, labels: { ...next.labels }, annotations: { ...next.annotations } },
      };
      if (Object.keys(next.annotations ?? {}).length === 0) delete rs.spec.template.metadata?.annotations;
      const ann = { ...(rs.metadata.annotations ?? {}) };
      if (recorded === null) delete ann[EPHEMERAL_METADATA_ANNOTATION];
      else ann[EPHEMERAL_METADATA_ANNOTATION] = recorded;
      rs.metadata.annotations = ann;
      return;
    }
    ctx.actions.push({
      kind: 'patchReplicaSetTemplate',
      name: rs.metadata.name,
      annotations: { [EPHEMERAL_METADATA_ANNOTATION]: recorded },
      templateMetadata: changes,
    });
  }
  if (!syncPods || (rs.spec.replicas ?? 1) === 0) return;
  if (!changes && existing === undefined) return;
  for (const pod of ownedPods(ctx.obs.pods ?? [], rs)) {
    const podChanges = ephemeralChanges(pod.metadata, existing, desired, true);
    if (!podChanges) continue;
    ctx.actions.push({
      kind: 'patchPodMetadata',
      name: pod.metadata.name,
      labels: podChanges.labels,
      annotations: podChanges.annotations,
    });
  }
}

/**
 * Argo's reconcileEphemeralMetadata: fully rolled out (no stable yet, or stable == new) → the new RS
 * carries the stable metadata; during an update the new RS carries the canary (preview) metadata and
 * the stable RS the stable (active) metadata. Every other RS has its template cleaned (pods left alone:
 * they are on their way out).
 */
export function planEphemeralMetadata(ctx: Ctx): void {
  if (!hasEphemeralMetadata(ctx.ro)) return;
  const [nextMeta, stableMeta] = roleMetadata(ctx.ro);
  const stableHash = ctx.status.stableRS;
  const stableRS = findByHash(ctx.allRSs, stableHash);
  const fullyRolledOut = !stableHash || stableHash === rsHash(ctx.newRS);
  if (fullyRolledOut) {
    syncReplicaSet(ctx, ctx.newRS, stableMeta, true);
  } else {
    syncReplicaSet(ctx, ctx.newRS, nextMeta, true);
    if (stableRS) syncReplicaSet(ctx, stableRS, stableMeta, true);
  }
  for (const rs of ctx.allRSs) {
    if (rs === ctx.newRS || (!fullyRolledOut && rs === stableRS)) continue;
    syncReplicaSet(ctx, rs, undefined, false);
  }
}

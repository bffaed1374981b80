// spec.strategy.{canary,blueGreen}.antiAffinity (Argo's utils/replicaset GenerateReplicaSetAffinity and
// friends): while an update is in progress (status.stableRS set and not the new RS's hash), the new
// ReplicaSet's pod template gets a pod anti-affinity term against the stable ReplicaSet's pods
// (`rollouts-pod-template-hash In [stableRS]`, topologyKey kubernetes.io/hostname, the Rollout's
// namespace), preferred with the configured weight or required. An existing new RS whose term points at
// an older stable hash is updated; the term is not removed after promotion (Argo leaves it).
//
// Invariant: the term is added after the pod-template hash is computed, and the semantic template
// comparison removes it again (templateWithoutAntiAffinity), so it never starts a new revision.

import { type AntiAffinity, POD_TEMPLATE_HASH_LABEL, type Rollout } from '../api/rollout.ts';
import type { PodTemplateSpec, ReplicaSet } from '../api/workloads.ts';
import { createMergePatch } from '../store/patch.ts';
import { type Ctx, rsHash } from './context.ts';

export const ANTI_AFFINITY_TOPOLOGY_KEY = 'kubernetes.io/hostname';

type Json = Record<string, unknown>;

interface PodAffinityTerm {
  labelSelector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  namespaces?: string[];
  topologyKey: string;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Argo's GetRolloutAffinity: the strategy's antiAffinity when one of its two kinds is set. */
export function rolloutAntiAffinity(ro: Rollout): AntiAffinity | undefined {
  const aa = ro.spec.strategy?.canary?.antiAffinity ?? ro.spec.strategy?.blueGreen?.antiAffinity;
  if (!aa) return undefined;
  const set =
    aa.preferredDuringSchedulingIgnoredDuringExecution !== undefined ||
    aa.requiredDuringSchedulingIgnoredDuringExecution !== undefined;
  return set ? aa : undefined;
}

/** Argo's CreateInjectedAntiAffinityRule. */
function injectedTerm(ro: Rollout, stableHash: string): PodAffinityTerm {
  return {
    labelSelector: {
      matchExpressions: [{ key: POD_TEMPLATE_HASH_LABEL, operator: 'In', values: [stableHash] }],
    },
    ...(ro.metadata.namespace ? { namespaces: [ro.metadata.namespace] } : {}),
    topologyKey: ANTI_AFFINITY_TOPOLOGY_KEY,
  };
}

/**
 * Argo's GenerateReplicaSetAffinity: the Rollout template's affinity, plus the injected term when the
 * RS with `podHash` is not the stable one. Undefined when the result is no affinity at all.
 */
export function generateAffinity(
  ro: Rollout,
  stableHash: string | undefined,
  podHash: string,
): Json | undefined {
  const own = ro.spec.template?.spec?.affinity;
  const affinity: Json | undefined = isObject(own) ? structuredClone(own) : undefined;
  const aa = rolloutAntiAffinity(ro);
  if (!aa || !stableHash || stableHash === podHash) return affinity;
  const out: Json = affinity ?? {};
  const anti: Json = isObject(out.podAntiAffinity) ? out.podAntiAffinity : {};
  out.podAntiAffinity = anti;
  const term = injectedTerm(ro, stableHash);
  if (aa.preferredDuringSchedulingIgnoredDuringExecution) {
    const list = Array.isArray(anti.preferredDuringSchedulingIgnoredDuringExecution)
      ? anti.preferredDuringSchedulingIgnoredDuringExecution
      : [];
    anti.preferredDuringSchedulingIgnoredDuringExecution = [
      ...list,
      { weight: aa.preferredDuringSchedulingIgnoredDuringExecution.weight, podAffinityTerm: term },
    ];
  } else {
    const list = Array.isArray(anti.requiredDuringSchedulingIgnoredDuringExecution)
      ? anti.requiredDuringSchedulingIgnoredDuringExecution
      : [];
    anti.requiredDuringSchedulingIgnoredDuringExecution = [...list, term];
  }
  return out;
}

function termsOf(affinity: unknown, aa: AntiAffinity): { list: unknown[]; term: (t: unknown) => unknown } {
  const anti = isObject(affinity) && isObject(affinity.podAntiAffinity) ? affinity.podAntiAffinity : {};
  if (aa.preferredDuringSchedulingIgnoredDuringExecution) {
    const list = anti.preferredDuringSchedulingIgnoredDuringExecution;
    return {
      list: Array.isArray(list) ? list : [],
      term: (t) => (isObject(t) ? t.podAffinityTerm : undefined),
    };
  }
  const list = anti.requiredDuringSchedulingIgnoredDuringExecution;
  return { list: Array.isArray(list) ? list : [], term: (t) => t };
}

/** Argo's HasInjectedAntiAffinityRule: the first term of the configured kind selecting on the hash label. */
function injectedIndex(affinity: unknown, ro: Rollout): { index: number; term?: PodAffinityTerm } {
  const aa = rolloutAntiAffinity(ro);
  if (!aa) return { index: -1 };
  const { list, term } = termsOf(affinity, aa);
  for (const [i, t] of list.entries()) {
    const pat = term(t);
    if (!isObject(pat) || !isObject(pat.labelSelector)) continue;
    const exprs = pat.labelSelector.matchExpressions;
    if (Array.isArray(exprs) && exprs.some((e) => isObject(e) && e.key === POD_TEMPLATE_HASH_LABEL)) {
      return { index: i, term: pat as unknown as PodAffinityTerm };
    }
  }
  return { index: -1 };
}

/** Argo's RemoveInjectedAntiAffinityRule: the affinity without the injected term (empty parts dropped). */
export function removeInjectedAntiAffinity(affinity: unknown, ro: Rollout): unknown {
  const { index } = injectedIndex(affinity, ro);
  if (index < 0 || !isObject(affinity)) return affinity;
  const out = structuredClone(affinity);
  const anti = out.podAntiAffinity as Json;
  const key = rolloutAntiAffinity(ro)?.preferredDuringSchedulingIgnoredDuringExecution
    ? 'preferredDuringSchedulingIgnoredDuringExecution'
    : 'requiredDuringSchedulingIgnoredDuringExecution';
  const list = (anti[key] as unknown[]).filter((_, i) => i !== index);
  if (list.length === 0) delete anti[key];
  else anti[key] = list;
  if (Object.keys(anti).length === 0) delete out.podAntiAffinity;
  return Object.keys(out).length === 0 ? undefined : out;
}

/** The RS's pod template without the injected anti-affinity term (for template comparison). */
export function templateWithoutAntiAffinity(template: PodTemplateSpec, ro: Rollout): PodTemplateSpec {
  const affinity = template.spec?.affinity;
  const stripped = removeInjectedAntiAffinity(affinity, ro);
  if (stripped === affinity) return template;
  const spec: Json = { ...(template.spec ?? {}) };
  if (stripped === undefined) delete spec.affinity;
  else spec.affinity = stripped;
  return { ...template, spec };
}

/**
 * Argo's IfInjectedAntiAffinityRuleNeedsUpdate, then syncReplicaSetRevision's fix: an existing new RS
 * whose injected term selects an older stable hash is re-pointed at status.stableRS.
 */
export function planAntiAffinity(ctx: Ctx): void {
  if (ctx.newRSCreated || !rolloutAntiAffinity(ctx.ro)) return;
  const rs: ReplicaSet = ctx.newRS;
  const podHash = rsHash(rs) ?? '';
  const stableHash = ctx.status.stableRS;
  const affinity = rs.spec.template.spec?.affinity;
  const { term } = injectedIndex(affinity, ctx.ro);
  if (!term || !stableHash || stableHash === podHash) return;
  const current = term.labelSelector?.matchExpressions?.find((e) => e.key === POD_TEMPLATE_HASH_LABEL);
  if (current?.values?.[0] === stableHash) return;
  const next = generateAffinity(ctx.ro, stableHash, podHash);
  const patch = next === undefined ? null : createMergePatch(affinity ?? {}, next);
  if (patch === undefined) return;
  ctx.actions.push({ kind: 'patchReplicaSetTemplate', name: rs.metadata.name, affinityPatch: patch });
}

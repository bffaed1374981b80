// What UpdateHash does to the DestinationRule of a subset-level split, as a pure function over its JSON
// (Argo's istio.go UpdateHash): the canary and stable subsets select their ReplicaSet by
// rollouts-pod-template-hash, an experiment's Services get subsets of their own, subsets that are none of
// these go (that is how a finished experiment's subset is cleaned up), and the DestinationRule is marked
// managed by the Rollout. Every other field (trafficPolicy, subsets' own trafficPolicy and labels, host,
// exportTo, metadata) is copied through untouched; the input is never modified.

import { MANAGED_BY_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../api/rollout.ts';
import type { IstioDestinationRule } from '../../api/routers/istio.ts';
import type { WeightDestinationSpec } from '../router.ts';
import type { JsonObject } from './virtual-service.ts';

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function labelsOf(subset: JsonObject): Record<string, string> {
  return isObject(subset.labels) ? (subset.labels as Record<string, string>) : {};
}

/** The subset with the hash label set to `hash`, or removed when `hash` is ''. */
function withHash(subset: JsonObject, hash: string): JsonObject {
  const { [POD_TEMPLATE_HASH_LABEL]: current, ...others } = labelsOf(subset);
  if (hash === '') {
    if (current === undefined) return subset;
    return { ...subset, labels: others };
  }
  if (current === hash) return subset;
  return { ...subset, labels: { ...others, [POD_TEMPLATE_HASH_LABEL]: hash } };
}

/** spec.host of a DestinationRule ('' when absent). */
export function destinationRuleHost(dr: JsonObject): string {
  const spec = isObject(dr.spec) ? dr.spec : {};
  return typeof spec.host === 'string' ? spec.host : '';
}

/**
 * The DestinationRule after UpdateHash. Kept subsets, in their order: canary, stable, the current
 * experiments' and additionalSubsetNames'; then new subsets for experiments that have none (by name).
 */
export function withSubsetHashes(
  dr: JsonObject,
  config: IstioDestinationRule,
  canaryHash: string,
  stableHash: string,
  additional: readonly WeightDestinationSpec[],
  rolloutName: string,
): JsonObject {
  const spec = isObject(dr.spec) ? dr.spec : {};
  const subsets = Array.isArray(spec.subsets) ? spec.subsets.filter(isObject) : [];
  const experiments = new Map(additional.map((a) => [a.serviceName, a]));
  const present = new Set<string>();
  const kept: JsonObject[] = [];
  for (const subset of subsets) {
    const name = typeof subset.name === 'string' ? subset.name : '';
    if (name === config.canarySubsetName) kept.push(withHash(subset, canaryHash));
    else if (name === config.stableSubsetName) kept.push(withHash(subset, stableHash));
    else if (experiments.has(name)) {
      kept.push(withHash(subset, (experiments.get(name) as WeightDestinationSpec).podTemplateHash));
      present.add(name);
    } else if (config.additionalSubsetNames.includes(name)) kept.push(subset);
    // else: not stable, canary, an experiment's or an additional subset: dropped.
  }
  const added = additional
    .filter((a) => !present.has(a.serviceName))
    .sort((a, b) => a.serviceName.localeCompare(b.serviceName))
    .map((a) => ({ name: a.serviceName, labels: { [POD_TEMPLATE_HASH_LABEL]: a.podTemplateHash } }));
  const metadata = isObject(dr.metadata) ? dr.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const unchanged =
    annotations[MANAGED_BY_ANNOTATION] === rolloutName &&
    added.length === 0 &&
    kept.length === subsets.length &&
    kept.every((s, i) => s === subsets[i]) &&
    (Array.isArray(spec.subsets) ? spec.subsets.length === subsets.length : subsets.length === 0);
  if (unchanged) return dr;
  return {
    ...dr,
    metadata: { ...metadata, annotations: { ...annotations, [MANAGED_BY_ANNOTATION]: rolloutName } },
    spec: { ...spec, subsets: [...kept, ...added] },
  };
}

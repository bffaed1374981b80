// What a TrafficSplit actually routes, read back from spec.backends: the canary's, the stable's and every
// other backend's weight. v1alpha1 writes weights as Kubernetes Quantities ("30", also "500m" by hand),
// v1alpha2/3 as integers; both are read. Pure: the TrafficSplit as fetched, in; numbers out.

import type { KubeObject } from '../../api/meta.ts';
import { parseQuantity } from '../../api/pod-template/quantity.ts';

export interface SmiOtherWeight {
  readonly service: string;
  readonly weight: number;
}

export type ObservedSplitWeights =
  | {
      readonly ok: true;
      /** Sum of the canary Service's backends; undefined when it has none. */
      readonly canary: number | undefined;
      readonly stable: number | undefined;
      readonly other: readonly SmiOtherWeight[];
      /** Sum of all backends' weights (SMI weights are relative to it). */
      readonly total: number;
      /** spec.service: the root Service clients address. */
      readonly rootService: string | undefined;
    }
  | { readonly ok: false; readonly error: string };

/** A backend weight: an integer (v1alpha2/3) or a Quantity string (v1alpha1). */
export function splitWeight(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const q = parseQuantity(raw);
  if (q === undefined) return undefined;
  return Number(q.unscaled) * 10 ** q.exp10;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function observedSplitWeights(
  trafficSplit: KubeObject,
  canaryService: string,
  stableService: string,
): ObservedSplitWeights {
  const spec = (trafficSplit as { spec?: unknown }).spec;
  const backends = isObject(spec) ? spec.backends : undefined;
  if (!Array.isArray(backends)) return { ok: false, error: 'spec.backends is missing' };
  let canary: number | undefined;
  let stable: number | undefined;
  let total = 0;
  const other: SmiOtherWeight[] = [];
  for (const [i, b] of backends.entries()) {
    if (!isObject(b) || typeof b.service !== 'string')
      return { ok: false, error: `spec.backends[${i}] names no service` };
    const weight = splitWeight(b.weight);
    if (weight === undefined)
      return { ok: false, error: `spec.backends[${i}].weight is not a weight: ${JSON.stringify(b.weight)}` };
    total += weight;
    if (b.service === canaryService) canary = (canary ?? 0) + weight;
    else if (b.service === stableService) stable = (stable ?? 0) + weight;
    else if (weight !== 0) other.push({ service: b.service, weight });
  }
  const rootService = isObject(spec) && typeof spec.service === 'string' ? spec.service : undefined;
  return { ok: true, canary, stable, other, total, rootService };
}

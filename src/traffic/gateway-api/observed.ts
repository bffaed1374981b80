// What a Gateway API route (HTTPRoute, GRPCRoute, TCPRoute: the same rules[].backendRefs[] shape)
// actually routes: for each rule that names the canary or the stable Service, outside the header rules
// the router added (the ConfigMap record's indices), the weight of each. A backendRef without a weight
// has weight 1 (the Gateway API default). Pure: the route as fetched, in; one entry per rule out.

import type { KubeObject } from '../../api/meta.ts';

export interface GatewayOtherWeight {
  readonly service: string;
  readonly weight: number;
}

export interface RuleWeight {
  /** Index in spec.rules. */
  readonly rule: number;
  /** Sum of the canary Service's backendRefs; undefined when the rule has none. */
  readonly canary: number | undefined;
  readonly stable: number | undefined;
  readonly other: readonly GatewayOtherWeight[];
}

export type ObservedRouteWeights =
  | { readonly ok: true; readonly rules: readonly RuleWeight[] }
  | { readonly ok: false; readonly error: string };

/** The Gateway API's default backendRef weight. */
export const DEFAULT_BACKEND_WEIGHT = 1;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The weights of `route`'s rules that name the canary or the stable Service (managed header rules skipped). */
export function observedRouteWeights(
  route: KubeObject,
  canaryService: string,
  stableService: string,
  managedIndices: ReadonlySet<number> = new Set(),
): ObservedRouteWeights {
  const spec = (route as { spec?: unknown }).spec;
  const rules = isObject(spec) ? (spec.rules ?? []) : [];
  if (!Array.isArray(rules)) return { ok: false, error: 'spec.rules must be a list' };
  const out: RuleWeight[] = [];
  for (const [index, rule] of rules.entries()) {
    if (managedIndices.has(index) || !isObject(rule) || !Array.isArray(rule.backendRefs)) continue;
    let canary: number | undefined;
    let stable: number | undefined;
    const other: GatewayOtherWeight[] = [];
    for (const ref of rule.backendRefs) {
      if (!isObject(ref) || typeof ref.name !== 'string') continue;
      const weight = typeof ref.weight === 'number' ? ref.weight : DEFAULT_BACKEND_WEIGHT;
      if (ref.name === canaryService) canary = (canary ?? 0) + weight;
      else if (ref.name === stableService) stable = (stable ?? 0) + weight;
      else if (weight !== 0) other.push({ service: ref.name, weight });
    }
    if (canary !== undefined || stable !== undefined) out.push({ rule: index, canary, stable, other });
  }
  if (out.length === 0)
    return {
      ok: false,
      error: `no rule routes to the canary Service "${canaryService}" or the stable Service "${stableService}"`,
    };
  return { ok: true, rules: out };
}

/** An HTTPRoute's weights (the same reading as any route kind). */
export const observedHttpRouteWeights = observedRouteWeights;

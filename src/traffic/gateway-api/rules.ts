// Pure decisions over a Gateway API route's rules (HTTPRoute, GRPCRoute and TCPRoute share the shape
// rules[].backendRefs[{name, port, weight, ...}]): the weights a step gives the canary, stable and
// experiment backends, and the plugin's record of the header rules it added (argoproj-labs
// rollouts-plugin-trafficrouter-gatewayapi, pkg/plugin/httproute.go). Everything a user wrote that is
// not a weight we own (other rules, matches, filters, timeouts, other backends, unknown fields) is
// copied through untouched.

import type { StringMatch } from '../../api/rollout.ts';
import type { WeightDestinationSpec } from '../router.ts';

export interface BackendRef {
  name?: string;
  namespace?: string;
  group?: string;
  kind?: string;
  port?: number;
  weight?: number;
  [field: string]: unknown;
}

export interface RouteRule {
  backendRefs?: BackendRef[];
  matches?: Record<string, unknown>[];
  [field: string]: unknown;
}

/** The plugin's ConfigMap record: managed route name -> route name -> index of the rule it added. */
export type ManagedRouteMap = Record<string, Record<string, number>>;

export interface WeightPlan {
  readonly canaryService: string;
  readonly stableService: string;
  readonly canaryWeight: number;
  /** The share of maxTrafficWeight all backends of a rule add up to. */
  readonly maxWeight: number;
  readonly additional: readonly WeightDestinationSpec[];
  /** Experiment Services the previous reconcile routed to (status.canary.weights.additional). */
  readonly previousAdditional: readonly string[];
  /** Rules the plugin added for header routes: their canary-only backends keep no weight. */
  readonly managedIndices: ReadonlySet<number>;
}

/**
 * The rules with the step's weights: every canary backendRef (outside managed header rules) gets w,
 * every stable backendRef max - w - Σadditional; in rules that hold the canary, experiment Services get
 * their weight (appended, shaped like the canary's backendRef, when missing) and experiment Services of
 * the previous reconcile that are no longer routed are dropped. A string is the error: the plugin's
 * "backendRef was not found" when the canary or the stable Service is in no rule.
 */
export function withWeights(
  rules: readonly RouteRule[],
  plan: WeightPlan,
  what: string,
): RouteRule[] | string {
  const next = structuredClone(rules) as RouteRule[];
  const additionalWeight = plan.additional.reduce((sum, d) => sum + d.weight, 0);
  const stableWeight = plan.maxWeight - plan.canaryWeight - additionalWeight;
  const current = new Set(plan.additional.map((d) => d.serviceName));
  const stale = new Set(plan.previousAdditional.filter((s) => !current.has(s)));
  let canaryFound = false;
  let stableFound = false;
  for (const [index, rule] of next.entries()) {
    if (plan.managedIndices.has(index) || rule.backendRefs === undefined) continue;
    const canaryRef = rule.backendRefs.find((r) => r.name === plan.canaryService);
    if (canaryRef !== undefined) {
      rule.backendRefs = rule.backendRefs.filter((r) => r.name === undefined || !stale.has(r.name));
      for (const dest of plan.additional) {
        const ref = rule.backendRefs.find((r) => r.name === dest.serviceName);
        if (ref !== undefined) ref.weight = dest.weight;
        else rule.backendRefs.push({ ...canaryRef, name: dest.serviceName, weight: dest.weight });
      }
    }
    for (const ref of rule.backendRefs) {
      if (ref.name === plan.canaryService) {
        ref.weight = plan.canaryWeight;
        canaryFound = true;
      } else if (ref.name === plan.stableService) {
        ref.weight = stableWeight;
        stableFound = true;
      }
    }
  }
  if (!canaryFound)
    return `backendRef was not found in ${what}: no backendRef names the canary Service "${plan.canaryService}"`;
  if (!stableFound)
    return `backendRef was not found in ${what}: no backendRef names the stable Service "${plan.stableService}"`;
  return next;
}

/** The header matches of a setHeaderRoute step, shared by HTTPRoute and GRPCRoute (the plugin's table). */
export interface HeaderMatch {
  readonly name: string;
  readonly type: 'Exact' | 'RegularExpression';
  readonly value: string;
}

export function headerMatches(
  match: readonly { headerName: string; headerValue: StringMatch }[],
): HeaderMatch[] | string {
  const out: HeaderMatch[] = [];
  for (const m of match) {
    const v = m.headerValue ?? {};
    if (v.exact) out.push({ name: m.headerName, type: 'Exact', value: v.exact });
    // The plugin turns a prefix into `<prefix>.*`; we also escape the prefix so its dots stay literal.
    else if (v.prefix)
      out.push({ name: m.headerName, type: 'RegularExpression', value: `${escapeRegex(v.prefix)}.*` });
    else if (v.regex) out.push({ name: m.headerName, type: 'RegularExpression', value: v.regex });
    else return 'invalid header match type';
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The rule a header route copies (the plugin's getRouteRule): the first rule, outside the managed ones,
 * whose backendRefs name both the canary and the stable Service.
 */
export function baseRule(
  rules: readonly RouteRule[],
  canaryService: string,
  stableService: string,
  managedIndices: ReadonlySet<number>,
): { rule: RouteRule; canaryRef: BackendRef } | undefined {
  for (const [index, rule] of rules.entries()) {
    if (managedIndices.has(index)) continue;
    const refs = rule.backendRefs ?? [];
    const canaryRef = refs.find((r) => r.name === canaryService);
    if (canaryRef !== undefined && refs.some((r) => r.name === stableService)) return { rule, canaryRef };
  }
  return undefined;
}

/** The single backendRef of a header rule: the canary Service, at the port the weighted rule uses. */
export function canaryOnlyRef(canaryRef: BackendRef): BackendRef {
  return {
    group: '',
    kind: 'Service',
    name: canaryRef.name,
    ...(canaryRef.namespace !== undefined ? { namespace: canaryRef.namespace } : {}),
    ...(canaryRef.port !== undefined ? { port: canaryRef.port } : {}),
  };
}

/**
 * The rule a setHeaderRoute step adds after `base` (the weighted rule): each of its matches (or one empty
 * match when it has none) keeping `matchFields` and its own header matches that the step does not
 * override, plus the step's headers; `ruleFields` of the rule copied; the canary alone as backend. So the
 * header route is never wider than the rule it copies.
 */
export function headerRuleOf(
  base: RouteRule,
  canaryRef: BackendRef,
  headers: readonly HeaderMatch[],
  matchFields: readonly string[],
  ruleFields: readonly string[],
): RouteRule {
  const matches = (base.matches?.length ? base.matches : [{}]).map((m) => {
    const own = ((m.headers as HeaderMatch[] | undefined) ?? []).filter(
      (h) => !headers.some((ours) => ours.name.toLowerCase() === h.name?.toLowerCase()),
    );
    const kept: Record<string, unknown> = {};
    for (const field of matchFields) if (m[field] !== undefined) kept[field] = m[field];
    return { ...kept, headers: [...own, ...headers.map((h) => ({ ...h }))] };
  });
  const rule: RouteRule = { matches };
  for (const field of ruleFields) if (base[field] !== undefined) rule[field] = structuredClone(base[field]);
  rule.backendRefs = [canaryOnlyRef(canaryRef)];
  return rule;
}

/** Whether a rule looks like one a header route added: exactly one backendRef, the canary Service. */
export function isCanaryOnlyRule(rule: RouteRule | undefined, canaryService: string): boolean {
  const refs = rule?.backendRefs ?? [];
  return refs.length === 1 && refs[0]!.name === canaryService;
}

/** Indices of `route`'s rules the record says the plugin added (for any managed route name). */
export function managedIndicesOf(record: ManagedRouteMap, route: string): Set<number> {
  const out = new Set<number>();
  for (const entry of Object.values(record)) {
    const index = entry[route];
    if (index !== undefined) out.add(index);
  }
  return out;
}

/**
 * Removes managed route `name`'s rule from `route`'s rules, shifting the record's later indices down (the
 * plugin's removeManagedHTTPRouteEntry). A recorded index whose rule is not canary-only (the route was
 * edited since) is dropped from the record but no rule is deleted: a user's rule is never removed.
 */
export function withoutManagedRule(
  rules: readonly RouteRule[],
  record: ManagedRouteMap,
  name: string,
  route: string,
  canaryService: string,
): { rules: RouteRule[]; record: ManagedRouteMap } {
  const nextRecord = structuredClone(record);
  const nextRules = [...rules];
  const index = nextRecord[name]?.[route];
  if (index === undefined) return { rules: nextRules, record: nextRecord };
  delete nextRecord[name]![route];
  if (Object.keys(nextRecord[name]!).length === 0) delete nextRecord[name];
  if (!isCanaryOnlyRule(nextRules[index], canaryService)) return { rules: nextRules, record: nextRecord };
  nextRules.splice(index, 1);
  for (const entry of Object.values(nextRecord)) {
    const other = entry[route];
    if (other !== undefined && other > index) entry[route] = other - 1;
  }
  return { rules: nextRules, record: nextRecord };
}

/**
 * Adds (or, when the record already places it, replaces) managed route `name`'s rule in `route`'s rules.
 * The plugin appends a new rule on every call; replacing keeps repeated reconciles of one step idempotent.
 */
export function withManagedRule(
  rules: readonly RouteRule[],
  record: ManagedRouteMap,
  name: string,
  route: string,
  rule: RouteRule,
  canaryService: string,
): { rules: RouteRule[]; record: ManagedRouteMap } {
  const nextRecord = structuredClone(record);
  const nextRules = [...rules];
  const index = nextRecord[name]?.[route];
  if (index !== undefined && isCanaryOnlyRule(nextRules[index], canaryService)) {
    nextRules[index] = rule;
    return { rules: nextRules, record: nextRecord };
  }
  nextRules.push(rule);
  nextRecord[name] = { ...(nextRecord[name] ?? {}), [route]: nextRules.length - 1 };
  return { rules: nextRules, record: nextRecord };
}

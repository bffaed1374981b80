// HTTPRoute specifics (the plugin's pkg/plugin/httproute.go): the rule a setHeaderRoute step adds. It copies
// the weighted rule's matches with the step's header matches added and sends them to the canary alone.
//
// Departures from the plugin, each to keep the header route no wider than the rule it copies: a rule
// without matches gets one match holding only the headers (the plugin adds `matches: []`, which matches
// every request and would send all traffic of the route to the canary); each match keeps its method and
// its own header matches besides path and query parameters; the rule's filters and timeouts are copied
// so a rewrite or a timeout applies to the canary as it does to the weighted rule.

import { type BackendRef, canaryOnlyRef, type HeaderMatch, type RouteRule } from './rules.ts';

export function httpHeaderRule(
  base: RouteRule,
  canaryRef: BackendRef,
  headers: readonly HeaderMatch[],
): RouteRule {
  const matches = (base.matches?.length ? base.matches : [{}]).map((m) => {
    const own = ((m.headers as HeaderMatch[] | undefined) ?? []).filter(
      (h) => !headers.some((ours) => ours.name.toLowerCase() === h.name?.toLowerCase()),
    );
    return {
      ...(m.path !== undefined ? { path: m.path } : {}),
      ...(m.method !== undefined ? { method: m.method } : {}),
      ...(m.queryParams !== undefined ? { queryParams: m.queryParams } : {}),
      headers: [...own, ...headers.map((h) => ({ ...h }))],
    };
  });
  return {
    matches,
    ...(base.filters !== undefined ? { filters: structuredClone(base.filters) } : {}),
    ...(base.timeouts !== undefined ? { timeouts: structuredClone(base.timeouts) } : {}),
    backendRefs: [canaryOnlyRef(canaryRef)],
  };
}

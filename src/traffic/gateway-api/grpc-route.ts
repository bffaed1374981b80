// GRPCRoute specifics (the plugin's pkg/plugin/grpcroute.go): the rule a setHeaderRoute step adds, each
// match of the weighted rule (its gRPC method) with the step's header matches, or one match of headers
// alone when the rule has none, sent to the canary alone. As for HTTPRoutes, the match's own header
// matches and the rule's filters are kept so the header route is never wider than the rule it copies.

import { type BackendRef, canaryOnlyRef, type HeaderMatch, type RouteRule } from './rules.ts';

export function grpcHeaderRule(
  base: RouteRule,
  canaryRef: BackendRef,
  headers: readonly HeaderMatch[],
): RouteRule {
  const matches = (base.matches?.length ? base.matches : [{}]).map((m) => {
    const own = ((m.headers as HeaderMatch[] | undefined) ?? []).filter(
      (h) => !headers.some((ours) => ours.name.toLowerCase() === h.name?.toLowerCase()),
    );
    return {
      ...(m.method !== undefined ? { method: m.method } : {}),
      headers: [...own, ...headers.map((h) => ({ ...h }))],
    };
  });
  return {
    matches,
    ...(base.filters !== undefined ? { filters: structuredClone(base.filters) } : {}),
    backendRefs: [canaryOnlyRef(canaryRef)],
  };
}

// GRPCRoute specifics (the plugin's pkg/plugin/grpcroute.go): the rule a setHeaderRoute step adds, each
// match of the weighted rule (its gRPC method) with the step's header matches, or one match of headers
// alone when the rule has none, sent to the canary alone. As for HTTPRoutes, the match's own header
// matches and the rule's filters are kept so the header route is never wider than the rule it copies.

import { type BackendRef, type HeaderMatch, headerRuleOf, type RouteRule } from './rules.ts';

export function grpcHeaderRule(
  base: RouteRule,
  canaryRef: BackendRef,
  headers: readonly HeaderMatch[],
): RouteRule {
  return headerRuleOf(base, canaryRef, headers, ['method'], ['filters']);
}

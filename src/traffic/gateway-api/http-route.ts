// HTTPRoute specifics (the plugin's pkg/plugin/httproute.go): the rule a setHeaderRoute step adds. It copies
// the weighted rule's matches with the step's header matches added and sends them to the canary alone.
//
// Departures from the plugin, each to keep the header route no wider than the rule it copies: a rule
// without matches gets one match holding only the headers (the plugin adds `matches: []`, which matches
// every request and would send all traffic of the route to the canary); each match keeps its method and
// its own header matches besides path and query parameters; the rule's filters and timeouts are copied
// so a rewrite or a timeout applies to the canary as it does to the weighted rule.

import { type BackendRef, type HeaderMatch, headerRuleOf, type RouteRule } from './rules.ts';

export function httpHeaderRule(
  base: RouteRule,
  canaryRef: BackendRef,
  headers: readonly HeaderMatch[],
): RouteRule {
  return headerRuleOf(base, canaryRef, headers, ['path', 'method', 'queryParams'], ['filters', 'timeouts']);
}

// Header routes: evaluated before weights, first matching route wins, and every matcher of a route
// must match (AND). Header names are lower-cased at validation; the lookup function receives them as
// is. A missing header never matches (not even `prefix: ""`, which therefore means "present").

import type { HeaderMatchConfig } from '../config.ts';

export type HeaderMatcherKind = 'exact' | 'prefix' | 'regex';

export interface HeaderMatcher {
  /** Lower-case header name. */
  readonly header: string;
  readonly kind: HeaderMatcherKind;
  readonly value: string;
  /** Compiled once per snapshot for `regex`; null otherwise. */
  readonly regex: RegExp | null;
}

export interface CompiledHeaderRoute {
  readonly name: string;
  readonly matchers: readonly HeaderMatcher[];
  /** Index into the route's backends. */
  readonly backendIndex: number;
}

/** Compiles one validated matcher (exactly one of exact/prefix/regex is set). */
export function compileHeaderMatcher(m: HeaderMatchConfig): HeaderMatcher {
  const header = m.header.toLowerCase();
  if (m.exact !== undefined) return { header, kind: 'exact', value: m.exact, regex: null };
  if (m.prefix !== undefined) return { header, kind: 'prefix', value: m.prefix, regex: null };
  const source = m.regex ?? '';
  // No `g`/`y` flag: test() stays stateless across requests.
  return { header, kind: 'regex', value: source, regex: new RegExp(source) };
}

/** True when every matcher of the route matches; `header` returns the value for a lower-case name. */
export function headerRouteMatches(
  route: CompiledHeaderRoute,
  header: (lowerName: string) => string | undefined,
): boolean {
  const matchers = route.matchers;
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i]!;
    const v = header(m.header);
    if (v === undefined) return false;
    if (m.kind === 'exact') {
      if (v !== m.value) return false;
    } else if (m.kind === 'prefix') {
      if (!v.startsWith(m.value)) return false;
    } else if (!m.regex!.test(v)) {
      return false;
    }
  }
  return true;
}

// Argo's setHeaderRoute and setMirrorRoute steps as the proxy's route carries them: a header route sends
// matching requests to the canary backend (evaluated before weights); a mirror copies a share of the
// route's requests to the canary. Argo's semantics: a step naming a route with no `match` removes that
// route; the managed routes stay until removeManagedRoutes (end of rollout, abort).
//
// What the proxy cannot express is refused with the field named, never dropped: the proxy mirrors a share
// of all of a route's requests, so a mirror match may only be unconditional (no method, path or headers,
// or the path prefix "/"), and one route has one mirror.

import type { SetHeaderRoute, SetMirrorRoute, StringMatch } from '../../api/rollout.ts';
import type { ControlHeaderMatch, ControlHeaderRoute } from '../../control/route-table.ts';

export const CANARY_BACKEND = 'canary';
export const STABLE_BACKEND = 'stable';

export interface ManagedRoutes {
  readonly headerRoutes: readonly ControlHeaderRoute[];
  /** The mirror step's name and share, when one is set. */
  readonly mirror?: { readonly name: string; readonly percent: number };
}

export const NO_MANAGED_ROUTES: ManagedRoutes = { headerRoutes: [] };

export type Managed = { ok: true; routes: ManagedRoutes } | { ok: false; error: string };

function headerMatch(headerName: string, value: StringMatch, path: string): ControlHeaderMatch | string {
  const set = (['exact', 'prefix', 'regex'] as const).filter((k) => value?.[k] !== undefined);
  if (set.length !== 1) return `${path}.headerValue: exactly one of exact, prefix, regex`;
  const key = set[0]!;
  return { header: headerName.toLowerCase(), [key]: value[key] };
}

export function withHeaderRoute(current: ManagedRoutes, step: SetHeaderRoute): Managed {
  const others = current.headerRoutes.filter((r) => r.name !== step.name);
  if (step.match === undefined || step.match.length === 0)
    return { ok: true, routes: { ...current, headerRoutes: others } };
  const match: ControlHeaderMatch[] = [];
  for (const [i, m] of step.match.entries()) {
    const path = `setHeaderRoute.match[${i}]`;
    if (typeof m.headerName !== 'string' || m.headerName === '')
      return { ok: false, error: `${path}.headerName: required` };
    const converted = headerMatch(m.headerName, m.headerValue, path);
    if (typeof converted === 'string') return { ok: false, error: converted };
    match.push(converted);
  }
  // Argo puts managed routes first, in the order of managedRoutes; new ones go after the existing ones.
  return {
    ok: true,
    routes: { ...current, headerRoutes: [...others, { name: step.name, match, backend: CANARY_BACKEND }] },
  };
}

export function withMirrorRoute(current: ManagedRoutes, step: SetMirrorRoute): Managed {
  if (step.match === undefined || step.match.length === 0) {
    if (current.mirror?.name !== step.name) return { ok: true, routes: current };
    return { ok: true, routes: { headerRoutes: current.headerRoutes } };
  }
  for (const [i, m] of step.match.entries()) {
    const path = `setMirrorRoute.match[${i}]`;
    if (m.method !== undefined) return { ok: false, error: `${path}.method: ${UNCONDITIONAL}` };
    if (m.headers !== undefined && Object.keys(m.headers).length > 0)
      return { ok: false, error: `${path}.headers: ${UNCONDITIONAL}` };
    if (
      m.path !== undefined &&
      !(m.path.prefix === '/' && m.path.exact === undefined && m.path.regex === undefined)
    )
      return { ok: false, error: `${path}.path: ${UNCONDITIONAL}` };
  }
  if (current.mirror !== undefined && current.mirror.name !== step.name)
    return {
      ok: false,
      error: `setMirrorRoute.name: the proxy has one mirror per route and "${current.mirror.name}" is set`,
    };
  const percentage = step.percentage ?? 100;
  if (!Number.isInteger(percentage) || percentage < 0 || percentage > 100)
    return { ok: false, error: 'setMirrorRoute.percentage: must be an integer 0..100' };
  return { ok: true, routes: { ...current, mirror: { name: step.name, percent: percentage } } };
}

const UNCONDITIONAL =
  'the sluice/proxy router mirrors a share of all requests of the route: only an unconditional match (no method or headers, path prefix "/") is supported';

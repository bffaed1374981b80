// What the Istio router does to one VirtualService, as pure functions over its JSON (Argo's
// rollout/trafficrouting/istio/istio.go): route selection and its validation, weights into the selected
// http/tls/tcp routes, the header route, the mirror route, managed-route ordering and removal.
//
// Invariant: only the fields Argo owns change. A VirtualService is handled as plain JSON, never through a
// narrowed type, so everything else in it (retries, timeouts, fault, corsPolicy, headers, other routes,
// fields a later Istio adds) is copied through untouched. Every function returns a new object; the input
// (a frozen object from the store) is never modified.

import type { SetHeaderRoute, SetMirrorRoute, StringMatch } from '../../api/rollout.ts';
import type { IstioVirtualService } from '../../api/routers/istio.ts';
import type { WeightDestinationSpec } from '../router.ts';

export type JsonObject = Record<string, unknown>;

/** Who is canary and who is stable in a route: Services (host-level) and/or subsets (subset-level); '' = none. */
export interface SplitTargets {
  readonly canaryService: string;
  readonly stableService: string;
  readonly canarySubset: string;
  readonly stableSubset: string;
  /** destinationRule.additionalSubsetNames: their destinations keep their weight, taken from stable's. */
  readonly additionalSubsets: readonly string[];
  /** Subset-level split configured (Argo validates subsets then, Services otherwise). */
  readonly subsetLevel: boolean;
}

/** Argo's SpecHttpNotFound. */
export const SPEC_HTTP_NOT_FOUND = 'spec.http not found';
/** Argo's share of all traffic: hard-coded 100, not maxTrafficWeight (a quirk kept). */
export const ISTIO_TOTAL_WEIGHT = 100;
/** Argo's default mirror percentage. */
export const DEFAULT_MIRROR_PERCENTAGE = 100;

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

function err<T>(error: string): Result<T> {
  return { ok: false, error };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function spec(vs: JsonObject): JsonObject {
  return isObject(vs.spec) ? vs.spec : {};
}

type RouteKind = 'http' | 'tls' | 'tcp';

/** spec.http / spec.tls / spec.tcp as a list of route objects; undefined when absent, an error when malformed. */
export function routesOf(vs: JsonObject, kind: RouteKind): Result<JsonObject[] | undefined> {
  const list = spec(vs)[kind];
  if (list === undefined || list === null) return ok(undefined);
  if (!Array.isArray(list)) return err(`spec.${kind} must be a list`);
  for (const [i, r] of list.entries()) {
    if (!isObject(r)) return err(`spec.${kind}[${i}] must be an object`);
    const dests = r.route;
    if (dests !== undefined && dests !== null) {
      if (!Array.isArray(dests)) return err(`spec.${kind}[${i}].route must be a list`);
      for (const [j, d] of dests.entries()) {
        if (!isObject(d) || (d.destination !== undefined && !isObject(d.destination)))
          return err(`spec.${kind}[${i}].route[${j}].destination must be an object`);
      }
    }
  }
  return ok(list as JsonObject[]);
}

function destinationsOf(route: JsonObject): JsonObject[] {
  return Array.isArray(route.route) ? (route.route as JsonObject[]) : [];
}

function destinationOf(d: JsonObject): JsonObject {
  return isObject(d.destination) ? d.destination : {};
}

function nameOf(route: JsonObject): string {
  return typeof route.name === 'string' ? route.name : '';
}

function weightOf(d: JsonObject): number {
  return typeof d.weight === 'number' ? d.weight : 0;
}

/**
 * The Service a destination names: the first DNS label of its host (`svc.ns.svc.cluster.local` -> `svc`);
 * '' for a host starting with "." (Argo's getHost).
 */
export function destinationHost(d: JsonObject): string {
  const host = destinationOf(d).host;
  if (typeof host !== 'string') return '';
  const dot = host.indexOf('.');
  if (dot === 0) return '';
  return dot < 0 ? host : host.slice(0, dot);
}

function subsetOf(d: JsonObject): string {
  const s = destinationOf(d).subset;
  return typeof s === 'string' ? s : '';
}

// ---- route selection (getHttpRouteIndexesToPatch, getTlsRouteIndexesToPatch, getTcpRouteIndexesToPatch) ----

function isManaged(route: JsonObject, managed: readonly string[]): boolean {
  const name = nameOf(route);
  return name !== '' && managed.includes(name);
}

/**
 * Indexes of the HTTP routes a weight goes to. Named: each must exist. Omitted: the first unnamed route;
 * without one, the only route that is not a managed route (Argo's documented "single route").
 */
export function selectHttpRoutes(
  http: readonly JsonObject[],
  names: readonly string[],
  managed: readonly string[],
): Result<number[]> {
  if (names.length === 0) {
    const unnamed = http.findIndex((r) => nameOf(r) === '');
    if (unnamed >= 0) return ok([unnamed]);
    const own = http.flatMap((r, i) => (isManaged(r, managed) ? [] : [i]));
    return ok(own.length === 1 ? own : []);
  }
  const indexes: number[] = [];
  for (const name of names) {
    const i = http.findIndex((r) => nameOf(r) === name);
    if (i < 0) return err(`HTTP Route '${name}' is not found in the defined Virtual Service.`);
    indexes.push(i);
  }
  return ok(indexes);
}

function matchBlocks(route: JsonObject): JsonObject[] {
  return Array.isArray(route.match) ? route.match.filter(isObject) : [];
}

/** A route rule's only port (0 when its match blocks name none); undefined when they name several. */
function singlePort(route: JsonObject): number | undefined {
  const ports = new Set<number>();
  for (const m of matchBlocks(route)) ports.add(typeof m.port === 'number' ? m.port : 0);
  // Argo's zero value: a match block without a port counts as port 0.
  if (ports.size > 1) return undefined;
  return ports.size === 0 ? 0 : [...ports][0];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

export function selectTlsRoutes(
  tls: readonly JsonObject[],
  wanted: IstioVirtualService['tlsRoutes'],
): Result<number[]> {
  if (wanted.length === 0) return ok(tls.length > 0 ? [0] : []);
  const indexes: number[] = [];
  for (const w of wanted) {
    const found = tls.flatMap((route, i) => {
      const sni = matchBlocks(route).flatMap((m) =>
        Array.isArray(m.sniHosts) ? m.sniHosts.filter((s): s is string => typeof s === 'string') : [],
      );
      return singlePort(route) === w.port && sameSet(w.sniHosts, sni) ? [i] : [];
    });
    if (found.length === 0) return err('No matching TLS routes found in the defined Virtual Service.');
    indexes.push(...found);
  }
  return ok(indexes);
}

export function selectTcpRoutes(
  tcp: readonly JsonObject[],
  wanted: IstioVirtualService['tcpRoutes'],
): Result<number[]> {
  if (wanted.length === 0) return ok(tcp.length > 0 ? [0] : []);
  const indexes: number[] = [];
  for (const w of wanted) {
    const found = tcp.flatMap((route, i) => (singlePort(route) === w.port ? [i] : []));
    if (found.length === 0) return err('No matching TCP routes found in the defined Virtual Service.');
    indexes.push(...found);
  }
  return ok(indexes);
}

// ---- validation (ValidateHTTPRoutes, ValidateTlsRoutes, ValidateTcpRoutes, ValidateVirtualService) ----

/** Argo's validateVirtualServiceRouteDestinations: the route has both canary and stable. */
function checkDestinations(route: JsonObject, t: SplitTargets): string | undefined {
  const dests = destinationsOf(route);
  if (t.subsetLevel) {
    if (!dests.some((d) => t.canarySubset !== '' && subsetOf(d) === t.canarySubset))
      return `Canary DestinationRule subset '${t.canarySubset}' not found in route`;
    if (!dests.some((d) => t.stableSubset !== '' && subsetOf(d) === t.stableSubset))
      return `Stable DestinationRule subset '${t.stableSubset}' not found in route`;
    return undefined;
  }
  if (!dests.some((d) => t.canaryService !== '' && destinationHost(d) === t.canaryService))
    return `Canary Service '${t.canaryService}' not found in route`;
  if (!dests.some((d) => t.stableService !== '' && destinationHost(d) === t.stableService))
    return `Stable Service '${t.stableService}' not found in route`;
  return undefined;
}

function checkSelected(routes: readonly JsonObject[], indexes: readonly number[], t: SplitTargets) {
  for (const i of indexes) {
    const bad = checkDestinations(routes[i] as JsonObject, t);
    if (bad) return bad;
  }
  return undefined;
}

/**
 * Argo's ValidateVirtualService for one VirtualService of the config: undefined when valid, else the
 * message naming the config field (`<path>.name: Invalid value: "<vs>": ...`).
 */
export function validateVirtualService(
  vs: JsonObject,
  ref: IstioVirtualService,
  targets: SplitTargets,
  managed: readonly string[],
): string | undefined {
  const invalid = (msg: string) => `${ref.path}.name: Invalid value: "${ref.name}": ${msg}`;
  const http = routesOf(vs, 'http');
  const tls = routesOf(vs, 'tls');
  const tcp = routesOf(vs, 'tcp');
  for (const [kind, r] of [
    ['HTTP', http],
    ['TLS', tls],
    ['TCP', tcp],
  ] as const) {
    if (!r.ok) return invalid(`Unable to get ${kind} routes for Istio VirtualService: ${r.error}`);
  }
  if (!http.ok || !tls.ok || !tcp.ok) return undefined;
  if (http.value === undefined && tls.value === undefined && tcp.value === undefined)
    return invalid('Unable to get any of the HTTP, TCP or TLS routes for the Istio VirtualService');
  if (http.value !== undefined) {
    const bad = validateHttp(http.value, ref.routes, targets, managed);
    if (bad) return invalid(`Istio VirtualService has invalid HTTP routes. Error: ${bad}`);
  }
  const portRoutes = [
    {
      what: 'TLS',
      field: 'tls',
      routes: tls.value,
      sel: () => selectTlsRoutes(tls.value!, ref.tlsRoutes),
      named: ref.tlsRoutes.length,
    },
    {
      what: 'TCP',
      field: 'tcp',
      routes: tcp.value,
      sel: () => selectTcpRoutes(tcp.value!, ref.tcpRoutes),
      named: ref.tcpRoutes.length,
    },
  ] as const;
  for (const p of portRoutes) {
    if (p.routes === undefined) continue;
    const sel = p.sel();
    const bad = !sel.ok
      ? sel.error
      : (checkSelected(p.routes, sel.value, targets) ??
        (p.named === 0 && p.routes.length > 1
          ? `spec.${p.field}[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.${p.field}Routes`
          : undefined));
    if (bad) return invalid(`Istio VirtualService has invalid ${p.what} routes. Error: ${bad}`);
  }
  return undefined;
}

function validateHttp(
  http: readonly JsonObject[],
  names: readonly string[],
  targets: SplitTargets,
  managed: readonly string[],
): string | undefined {
  const sel = selectHttpRoutes(http, names, managed);
  if (!sel.ok) return sel.error;
  const bad = checkSelected(http, sel.value, targets);
  if (bad) return bad;
  if (names.length === 0 && http.filter((r) => !isManaged(r, managed)).length > 1)
    return 'spec.http[] should be set in VirtualService and it must have exactly one route when omitting spec.strategy.canary.trafficRouting.istio.virtualService.routes';
  return undefined;
}

// ---- weights (generateVirtualServicePatches, processRoutes) ----

/**
 * One route rule's destinations with the canary at `canaryWeight`, stable at the rest of 100, experiment
 * Services at their weights (missing ones appended by name), additionalSubsets kept; any other destination
 * still carrying weight is removed (zero-weight strangers stay). Unchanged destinations are the same objects.
 */
export function weightDestinations(
  dests: readonly JsonObject[],
  canaryWeight: number,
  additional: readonly WeightDestinationSpec[],
  t: SplitTargets,
): JsonObject[] {
  const experiments = new Map(additional.map((a) => [a.serviceName, a]));
  const isCanary = (host: string, subset: string) =>
    host === t.canaryService || (subset !== '' && subset === t.canarySubset);
  const isStable = (host: string, subset: string) =>
    host === t.stableService || (subset !== '' && subset === t.stableSubset);
  const isAdditionalSubset = (host: string, subset: string) =>
    subset !== '' &&
    t.additionalSubsets.includes(subset) &&
    !isCanary(host, subset) &&
    !isStable(host, subset);
  let kept = 0;
  for (const d of dests) {
    const host = destinationHost(d);
    if (host !== '' && !experiments.has(host) && isAdditionalSubset(host, subsetOf(d))) kept += weightOf(d);
  }
  const experimentTotal = additional.reduce((sum, a) => sum + a.weight, 0);
  const stableWeight = Math.max(0, ISTIO_TOTAL_WEIGHT - canaryWeight - experimentTotal - kept);
  const withWeight = (d: JsonObject, w: number) => (weightOf(d) === w ? d : { ...d, weight: w });
  const seen = new Set<string>();
  const out: JsonObject[] = [];
  for (const d of dests) {
    const host = destinationHost(d);
    const subset = subsetOf(d);
    if (host === '') out.push(d);
    else if (isCanary(host, subset)) out.push(withWeight(d, canaryWeight));
    else if (isStable(host, subset)) out.push(withWeight(d, stableWeight));
    else if (experiments.has(host)) {
      out.push(withWeight(d, (experiments.get(host) as WeightDestinationSpec).weight));
      seen.add(host);
    } else if (isAdditionalSubset(host, subset) || weightOf(d) === 0) out.push(d);
    // else: a stranger still taking traffic (e.g. a finished experiment's Service) is removed.
  }
  const missing = additional
    .filter((a) => !seen.has(a.serviceName) && a.weight !== 0)
    .sort((a, b) => a.serviceName.localeCompare(b.serviceName));
  for (const a of missing) out.push({ destination: { host: a.serviceName }, weight: a.weight });
  return out;
}

function withRouteList(vs: JsonObject, kind: RouteKind, routes: JsonObject[]): JsonObject {
  return { ...vs, spec: { ...spec(vs), [kind]: routes } };
}

function reweigh(
  routes: readonly JsonObject[],
  indexes: ReadonlySet<number>,
  canaryWeight: number,
  additional: readonly WeightDestinationSpec[],
  t: SplitTargets,
): JsonObject[] {
  return routes.map((r, i) =>
    indexes.has(i) ? { ...r, route: weightDestinations(destinationsOf(r), canaryWeight, additional, t) } : r,
  );
}

/**
 * The VirtualService with the weight set in every route the config selects, plus the managed mirror
 * routes (they carry a copy of the weighted destinations). Assumes validateVirtualService passed.
 */
export function withWeights(
  vs: JsonObject,
  ref: IstioVirtualService,
  canaryWeight: number,
  additional: readonly WeightDestinationSpec[],
  t: SplitTargets,
  managed: readonly string[],
): JsonObject {
  let out = vs;
  const http = routesOf(vs, 'http');
  if (http.ok && http.value !== undefined) {
    const sel = selectHttpRoutes(http.value, ref.routes, managed);
    const indexes = new Set(sel.ok ? sel.value : []);
    for (const [i, r] of http.value.entries()) {
      if (r.mirror !== undefined && isManaged(r, managed)) indexes.add(i);
    }
    out = withRouteList(out, 'http', reweigh(http.value, indexes, canaryWeight, additional, t));
  }
  const tls = routesOf(vs, 'tls');
  if (tls.ok && tls.value !== undefined) {
    const sel = selectTlsRoutes(tls.value, ref.tlsRoutes);
    const indexes = new Set(sel.ok ? sel.value : []);
    out = withRouteList(out, 'tls', reweigh(tls.value, indexes, canaryWeight, additional, t));
  }
  const tcp = routesOf(vs, 'tcp');
  if (tcp.ok && tcp.value !== undefined) {
    const sel = selectTcpRoutes(tcp.value, ref.tcpRoutes);
    const indexes = new Set(sel.ok ? sel.value : []);
    out = withRouteList(out, 'tcp', reweigh(tcp.value, indexes, canaryWeight, additional, t));
  }
  return out;
}

// ---- managed routes (removeRoute, orderRoutes, RemoveManagedRoutes) ----

function httpOrError(vs: JsonObject): Result<JsonObject[]> {
  const http = routesOf(vs, 'http');
  if (!http.ok) return err(http.error);
  if (http.value === undefined) return err(SPEC_HTTP_NOT_FOUND);
  return ok(http.value);
}

/** The routes in managedRoutes order first, then every other route in its order (Argo's orderRoutes). */
export function orderRoutes(http: readonly JsonObject[], managed: readonly string[]): JsonObject[] {
  if (managed.length === 0) return [...http];
  const first = managed.flatMap((name) => http.filter((r) => nameOf(r) === name));
  const rest = http.filter((r) => !isManaged(r, managed));
  return [...first, ...rest];
}

/** The VirtualService without the HTTP routes named in `names`; an error when it has no spec.http. */
export function withoutRoutes(vs: JsonObject, names: readonly string[], managed: readonly string[]) {
  const http = httpOrError(vs);
  if (!http.ok) return http;
  const kept = http.value.filter((r) => !(nameOf(r) !== '' && names.includes(nameOf(r))));
  return ok(withRouteList(vs, 'http', orderRoutes(kept, managed)));
}

/** The first weighted HTTP route's destinations (Argo's getVirtualServiceSetWeightRoute). */
function weightedDestinations(
  http: readonly JsonObject[],
  ref: IstioVirtualService,
  managed: readonly string[],
): JsonObject[] {
  const sel = selectHttpRoutes(http, ref.routes, managed);
  const first = sel.ok ? sel.value[0] : undefined;
  return first === undefined ? [] : destinationsOf(http[first] as JsonObject);
}

function portNumber(d: JsonObject | undefined): number {
  const p = d === undefined ? undefined : destinationOf(d).port;
  return isObject(p) && typeof p.number === 'number' ? p.number : 0;
}

function stringMatch(m: StringMatch | undefined): JsonObject | undefined {
  if (m === undefined) return undefined;
  const out: JsonObject = {};
  if (m.exact) out.exact = m.exact;
  if (m.regex) out.regex = m.regex;
  if (m.prefix) out.prefix = m.prefix;
  return out;
}

export interface CanaryDestination {
  /** The DestinationRule's host when one is configured and has a host, else canaryService. */
  readonly host: string;
  /** canarySubsetName under a destinationRule, else ''. */
  readonly subset: string;
}

/**
 * Argo's SetHeaderRoute on one VirtualService: a route `name` matching the headers, 100% to the canary
 * (port of the weighted route's first destination), replacing any route of that name, managed routes
 * ordered first. A route without match rules removes the route.
 */
export function withHeaderRoute(
  vs: JsonObject,
  ref: IstioVirtualService,
  route: SetHeaderRoute,
  canary: CanaryDestination,
  managed: readonly string[],
): Result<JsonObject> {
  const removed = withoutRoutes(vs, [route.name], managed);
  if (!removed.ok) return removed;
  if (route.match === undefined || route.match.length === 0) return removed;
  const http = httpOrError(removed.value);
  if (!http.ok) return http;
  const port = portNumber(weightedDestinations(http.value, ref, managed)[0]);
  const destination: JsonObject = { host: canary.host };
  if (port > 0) destination.port = { number: port };
  if (canary.subset !== '') destination.subset = canary.subset;
  const headerRoute: JsonObject = {
    name: route.name,
    match: route.match.map((m) => ({ headers: { [m.headerName]: stringMatch(m.headerValue) ?? {} } })),
    route: [{ destination, weight: 100 }],
  };
  return ok(withRouteList(vs, 'http', orderRoutes([...http.value, headerRoute], managed)));
}

/** A destination as Argo's typed VirtualServiceRouteDestination re-marshals it (host, subset, port, weight). */
function typedDestination(d: JsonObject): JsonObject {
  const src = destinationOf(d);
  const destination: JsonObject = {};
  if (typeof src.host === 'string' && src.host !== '') destination.host = src.host;
  if (typeof src.subset === 'string' && src.subset !== '') destination.subset = src.subset;
  if (isObject(src.port)) destination.port = portNumber(d) > 0 ? { number: portNumber(d) } : {};
  const out: JsonObject = { destination };
  if (weightOf(d) !== 0) out.weight = weightOf(d);
  return out;
}

/**
 * Argo's SetMirrorRoute on one VirtualService: a route `name` matching method/path/headers, carrying a copy
 * of the weighted route's destinations and mirroring `percentage`% to the canary, prepended then ordered.
 * A route without match rules removes the route.
 */
export function withMirrorRoute(
  vs: JsonObject,
  ref: IstioVirtualService,
  route: SetMirrorRoute,
  canary: CanaryDestination,
  managed: readonly string[],
): Result<JsonObject> {
  const removed = withoutRoutes(vs, [route.name], managed);
  if (!removed.ok) return removed;
  if (route.match === undefined || route.match.length === 0) return removed;
  const http = httpOrError(removed.value);
  if (!http.ok) return http;
  const weighted = weightedDestinations(http.value, ref, managed);
  const mirror: JsonObject = { host: canary.host };
  if (canary.subset !== '') mirror.subset = canary.subset;
  const port = portNumber(weighted[0]);
  if (weighted[0] !== undefined && isObject(destinationOf(weighted[0]).port))
    mirror.port = port > 0 ? { number: port } : {};
  const match = route.match.map((m) => {
    const out: JsonObject = {};
    const method = stringMatch(m.method);
    const uri = stringMatch(m.path);
    if (method) out.method = method;
    if (uri) out.uri = uri;
    if (m.headers && Object.keys(m.headers).length > 0)
      out.headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, stringMatch(v) ?? {}]));
    return out;
  });
  const mirrorRoute: JsonObject = {
    name: route.name,
    match,
    route: weighted.map(typedDestination),
    mirror,
    mirrorPercentage: { value: route.percentage ?? DEFAULT_MIRROR_PERCENTAGE },
  };
  return ok(withRouteList(vs, 'http', orderRoutes([mirrorRoute, ...http.value], managed)));
}

/**
 * Argo's RemoveManagedRoutes on one VirtualService: every HTTP route named in `names` goes; unchanged (the
 * same object) when it has no spec.http or none of them is there.
 */
export function withoutManagedRoutes(vs: JsonObject, names: readonly string[]): JsonObject {
  const http = routesOf(vs, 'http');
  if (!http.ok || http.value === undefined || names.length === 0) return vs;
  const kept = http.value.filter((r) => !(nameOf(r) !== '' && names.includes(nameOf(r))));
  return kept.length === http.value.length ? vs : withRouteList(vs, 'http', kept);
}

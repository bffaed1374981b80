// The one place where control-stream messages (snake_case, proto3 presence rules) meet the proxy's
// camelCase types: RoutesConfig for snapshots, HistogramReport for reports. Structural only: the
// semantic checks (weights add up, backends exist, ...) are the routing validator's job, applied to
// the result exactly as to a routes file.

import type {
  BackendConfig,
  EndpointPolicy,
  HeaderMatchConfig,
  HeaderRouteConfig,
  RouteConfig,
  RoutesConfig,
} from '../config.ts';
import type {
  WireBackend,
  WireHeaderRoute,
  WireHello,
  WireHistogramReport,
  WireLong,
  WireRoute,
  WireRouteSnapshot,
} from './proto.ts';
import type { HistogramReport } from './report.ts';

export type SnapshotParse =
  | { readonly ok: true; readonly version: number; readonly config: RoutesConfig }
  | { readonly ok: false; readonly version: number; readonly reason: string };

/** A wire uint64/int64 as a JS number; undefined when absent, NaN-free; error text when not representable. */
export function parseLong(
  value: WireLong | undefined,
  field: string,
): { ok: true; value: number } | { ok: false; reason: string } {
  if (value === undefined || value === '') return { ok: true, value: 0 };
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n))
    return { ok: false, reason: `${field}: ${String(value)} is not a safe integer` };
  return { ok: true, value: n };
}

/** Maps a received RouteSnapshot onto RoutesConfig; the reason names the first bad field. */
export function snapshotFromWire(wire: WireRouteSnapshot): SnapshotParse {
  const version = parseLong(wire.version, 'version');
  if (!version.ok) return { ok: false, version: 0, reason: version.reason };
  const routes: RouteConfig[] = [];
  const wireRoutes = wire.routes ?? [];
  for (let i = 0; i < wireRoutes.length; i++) {
    const route = routeFromWire(wireRoutes[i]!, `routes[${i}]`);
    if (typeof route === 'string') return { ok: false, version: version.value, reason: route };
    routes.push(route);
  }
  return { ok: true, version: version.value, config: { routes } };
}

function finite(value: number | undefined, field: string): number | string {
  const n = value ?? 0;
  return Number.isFinite(n) ? n : `${field}: must be a finite number, got ${String(value)}`;
}

function routeFromWire(wire: WireRoute, path: string): RouteConfig | string {
  const backends: BackendConfig[] = [];
  const wireBackends = wire.backends ?? [];
  for (let b = 0; b < wireBackends.length; b++) {
    const backend = backendFromWire(wireBackends[b]!, `${path}.backends[${b}]`);
    if (typeof backend === 'string') return backend;
    backends.push(backend);
  }
  const route: RouteConfig = {
    name: wire.name ?? '',
    match: {},
    backends,
  };
  if (wire.namespace !== undefined) route.namespace = wire.namespace;
  if (wire.match?.host !== undefined) route.match.host = wire.match.host;
  if (wire.match?.path_prefix !== undefined) route.match.pathPrefix = wire.match.path_prefix;
  if (wire.sticky_sessions !== undefined) {
    route.stickySessions = { cookie: wire.sticky_sessions.cookie ?? '' };
    if (wire.sticky_sessions.max_age_seconds !== undefined) {
      route.stickySessions.maxAgeSeconds = wire.sticky_sessions.max_age_seconds;
    }
  }
  const wireHeaderRoutes = wire.header_routes ?? [];
  if (wireHeaderRoutes.length > 0) {
    route.headerRoutes = wireHeaderRoutes.map((h) => headerRouteFromWire(h));
  }
  if (wire.mirror !== undefined) {
    const percent = finite(wire.mirror.percent, `${path}.mirror.percent`);
    if (typeof percent === 'string') return percent;
    route.mirror = { backend: wire.mirror.backend ?? '', percent };
  }
  if (wire.timeouts !== undefined) {
    route.timeouts = {};
    if (wire.timeouts.connect_ms !== undefined) route.timeouts.connectMs = wire.timeouts.connect_ms;
    if (wire.timeouts.response_headers_ms !== undefined) {
      route.timeouts.responseHeadersMs = wire.timeouts.response_headers_ms;
    }
    if (wire.timeouts.idle_body_ms !== undefined) route.timeouts.idleBodyMs = wire.timeouts.idle_body_ms;
  }
  // Any string is passed on; the validator names the field when it is not a policy.
  if (wire.endpoint_policy !== undefined) route.endpointPolicy = wire.endpoint_policy as EndpointPolicy;
  return route;
}

/**
 * A non-empty address is the address form; otherwise the endpoints form, an empty list included (proto3
 * has no absent repeated field). Both given stay both, so the validator rejects them by name.
 */
function backendFromWire(wire: WireBackend, path: string): BackendConfig | string {
  const weight = finite(wire.weight, `${path}.weight`);
  if (typeof weight === 'string') return weight;
  const backend: BackendConfig = { name: wire.name ?? '', revision: wire.revision ?? '', weight };
  const endpoints = wire.endpoints ?? [];
  if (wire.address !== undefined && wire.address !== '') {
    backend.address = wire.address;
    if (endpoints.length > 0) backend.endpoints = [...endpoints];
  } else {
    backend.endpoints = [...endpoints];
  }
  return backend;
}

function headerRouteFromWire(wire: WireHeaderRoute): HeaderRouteConfig {
  return {
    name: wire.name ?? '',
    match: (wire.match ?? []).map((m) => {
      const match: HeaderMatchConfig = { header: m.header ?? '' };
      if (m.exact !== undefined) match.exact = m.exact;
      if (m.prefix !== undefined) match.prefix = m.prefix;
      if (m.regex !== undefined) match.regex = m.regex;
      return match;
    }),
    backend: wire.backend ?? '',
  };
}

/** RoutesConfig -> RouteSnapshot, for control servers (the test fixture and the controller). */
export function snapshotToWire(version: number, config: RoutesConfig): WireRouteSnapshot {
  return {
    version: String(version),
    routes: config.routes.map((route) => {
      const wire: WireRoute = {
        name: route.name,
        match: {},
        backends: route.backends.map((b) => ({
          name: b.name,
          revision: b.revision,
          // the endpoints form is an empty address with the list (which may be empty)
          address: b.address ?? '',
          weight: b.weight,
          endpoints: b.endpoints ?? [],
        })),
        header_routes: (route.headerRoutes ?? []).map((h) => ({
          name: h.name,
          backend: h.backend,
          match: h.match.map((m) => ({
            header: m.header,
            ...(m.exact !== undefined ? { exact: m.exact } : {}),
            ...(m.prefix !== undefined ? { prefix: m.prefix } : {}),
            ...(m.regex !== undefined ? { regex: m.regex } : {}),
          })),
        })),
      };
      if (route.namespace !== undefined) wire.namespace = route.namespace;
      if (route.match.host !== undefined) wire.match!.host = route.match.host;
      if (route.match.pathPrefix !== undefined) wire.match!.path_prefix = route.match.pathPrefix;
      if (route.stickySessions !== undefined) {
        wire.sticky_sessions = { cookie: route.stickySessions.cookie };
        if (route.stickySessions.maxAgeSeconds !== undefined) {
          wire.sticky_sessions.max_age_seconds = route.stickySessions.maxAgeSeconds;
        }
      }
      if (route.mirror !== undefined)
        wire.mirror = { backend: route.mirror.backend, percent: route.mirror.percent };
      // The inverse of routeFromWire's timeouts: three fields, clearer written out than table-driven.
      if (route.timeouts !== undefined) {
        wire.timeouts = {};
        if (route.timeouts.connectMs !== undefined) wire.timeouts.connect_ms = route.timeouts.connectMs;
        if (route.timeouts.responseHeadersMs !== undefined) {
          wire.timeouts.response_headers_ms = route.timeouts.responseHeadersMs;
        }
        if (route.timeouts.idleBodyMs !== undefined) wire.timeouts.idle_body_ms = route.timeouts.idleBodyMs;
      }
      if (route.endpointPolicy !== undefined) wire.endpoint_policy = route.endpointPolicy;
      return wire;
    }),
  };
}

export function reportToWire(report: HistogramReport): WireHistogramReport {
  return {
    route: report.route,
    namespace: report.namespace,
    role: report.role,
    revision: report.revision,
    start_ms: report.startMs,
    end_ms: report.endMs,
    histogram: report.histogram,
    count_1xx: report.count1xx,
    count_2xx: report.count2xx,
    count_3xx: report.count3xx,
    count_4xx: report.count4xx,
    count_5xx: report.count5xx,
    requests: report.requests,
    errors: report.errors,
  };
}

/** For control servers: a received report in the proxy's camelCase shape; the reason names the bad field. */
export function reportFromWire(
  wire: WireHistogramReport,
): { ok: true; report: HistogramReport } | { ok: false; reason: string } {
  const longs = {} as Record<
    | 'startMs'
    | 'endMs'
    | 'count1xx'
    | 'count2xx'
    | 'count3xx'
    | 'count4xx'
    | 'count5xx'
    | 'requests'
    | 'errors',
    number
  >;
  const fields = [
    ['startMs', 'start_ms'],
    ['endMs', 'end_ms'],
    ['count1xx', 'count_1xx'],
    ['count2xx', 'count_2xx'],
    ['count3xx', 'count_3xx'],
    ['count4xx', 'count_4xx'],
    ['count5xx', 'count_5xx'],
    ['requests', 'requests'],
    ['errors', 'errors'],
  ] as const;
  for (const [camel, snake] of fields) {
    const parsed = parseLong(wire[snake], snake);
    if (!parsed.ok) return parsed;
    longs[camel] = parsed.value;
  }
  return {
    ok: true,
    report: {
      route: wire.route ?? '',
      namespace: wire.namespace ?? '',
      role: wire.role ?? '',
      revision: wire.revision ?? '',
      histogram: wire.histogram ?? '',
      ...longs,
    },
  };
}

export interface HelloInfo {
  proxyId: string;
  version: string;
  routes: { name: string; namespace?: string }[];
  /** Serve every route the control plane publishes; `routes` are then the ones served now. */
  allRoutes?: boolean;
}

export function helloToWire(hello: HelloInfo): WireHello {
  return {
    proxy_id: hello.proxyId,
    version: hello.version,
    ...(hello.allRoutes === true ? { all_routes: true } : {}),
    routes: hello.routes.map((r) =>
      r.namespace !== undefined ? { name: r.name, namespace: r.namespace } : { name: r.name },
    ),
  };
}

export function helloFromWire(wire: WireHello): HelloInfo {
  return {
    proxyId: wire.proxy_id ?? '',
    version: wire.version ?? '',
    ...(wire.all_routes === true ? { allRoutes: true } : {}),
    routes: (wire.routes ?? []).map((r) =>
      r.namespace !== undefined ? { name: r.name ?? '', namespace: r.namespace } : { name: r.name ?? '' },
    ),
  };
}

// The controller's side of proxy/control/control.proto: the service definition, loaded from the .proto
// file by path (src/ may not import proxy/, so nothing of proxy/control/proto.ts is shared but the file
// and the loader options), the wire shapes as @grpc/proto-loader produces them, and the conversions
// between them and the controller's types: ControlRoute -> Route, Hello / Ack / Nack -> typed values,
// HistogramReport -> the HistogramReport of histogram-store.ts. Parsing is structural; every error names
// the wire field (snake_case, as the proxy's author sees it in control.proto).
//
// Loader options as proxy/control/proto.ts: keepCase (snake_case names), 64-bit integers as decimal
// strings, no defaults (an unset proto3 scalar is absent, `optional` presence survives).

import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import type { HistogramReport } from './histogram-store.ts';
import type { ControlBackend, ControlRoute } from './route-table.ts';

export const CONTROL_PROTO_PATH = fileURLToPath(
  new URL('../../proxy/control/control.proto', import.meta.url),
);
export const CONTROL_SERVICE_NAME = 'sluice.control.v1.ControlPlane';

export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: true,
};

/** uint64 / int64: decoded as decimal strings; writers may pass numbers. */
export type WireLong = string | number;

export interface WireServedRoute {
  name?: string;
  namespace?: string;
}

export interface WireHello {
  proxy_id?: string;
  version?: string;
  routes?: WireServedRoute[];
  all_routes?: boolean;
}

export interface WireHistogramReport {
  route?: string;
  namespace?: string;
  role?: string;
  revision?: string;
  start_ms?: WireLong;
  end_ms?: WireLong;
  histogram?: string;
  count_1xx?: WireLong;
  count_2xx?: WireLong;
  count_3xx?: WireLong;
  count_4xx?: WireLong;
  count_5xx?: WireLong;
  requests?: WireLong;
  errors?: WireLong;
}

export interface WireProxyMessage {
  hello?: WireHello;
  ack?: { version?: WireLong };
  nack?: { version?: WireLong; reason?: string };
  reports?: { reports?: WireHistogramReport[] };
  /** Set by the loader on decode: which member of the oneof is present. */
  message?: 'hello' | 'ack' | 'nack' | 'reports';
}

export interface WireBackend {
  name: string;
  revision: string;
  address?: string;
  /** control.proto `repeated string endpoints = 5`: the ready pods, exclusive with address. */
  endpoints?: string[];
  weight: number;
}

export interface WireHeaderRoute {
  name: string;
  match: { header: string; exact?: string; prefix?: string; regex?: string }[];
  backend: string;
}

export interface WireRoute {
  name: string;
  namespace?: string;
  match: { host?: string; path_prefix?: string };
  backends: WireBackend[];
  sticky_sessions?: { cookie: string; max_age_seconds?: number };
  header_routes: WireHeaderRoute[];
  mirror?: { backend: string; percent: number };
  timeouts?: { connect_ms?: number; response_headers_ms?: number; idle_body_ms?: number };
}

export interface WireControlMessage {
  snapshot: { version: string; routes: WireRoute[] };
}

let cached: ServiceDefinition | undefined;

/** The ControlPlane service definition for grpc-js' Server.addService, loaded once. */
export function controlPlaneDefinition(): ServiceDefinition {
  if (cached === undefined) {
    const definition = loadSync(CONTROL_PROTO_PATH, PROTO_LOADER_OPTIONS);
    const service = definition[CONTROL_SERVICE_NAME];
    if (service === undefined || 'format' in service)
      throw new Error(`${CONTROL_PROTO_PATH}: no service ${CONTROL_SERVICE_NAME}`);
    cached = service as ServiceDefinition;
  }
  return cached;
}

export interface WireFieldError {
  /** Wire path of the offending field, e.g. "hello.proxy_id" or "reports[2].end_ms". */
  readonly field: string;
  readonly message: string;
}

export type WireParse<T> =
  | { readonly ok: true; readonly value: T }
  | ({ readonly ok: false } & WireFieldError);

function bad(field: string, message: string): { ok: false; field: string; message: string } {
  return { ok: false, field, message };
}

/** A wire uint64 / int64 as a JS number: absent is 0, anything not a safe non-negative integer an error. */
export function parseLong(value: WireLong | undefined, field: string): WireParse<number> {
  if (value === undefined || value === '') return { ok: true, value: 0 };
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    return bad(field, `must be a non-negative integer below 2^53, got ${String(value)}`);
  return { ok: true, value: n };
}

/** A route a proxy serves: by name in every namespace, or by namespace and name. */
export interface ServedRoute {
  readonly name: string;
  readonly namespace?: string;
}

export interface Hello {
  readonly proxyId: string;
  readonly version: string;
  readonly routes: readonly ServedRoute[];
  /** Serves every published route; `routes` are the ones it serves now (control.proto). */
  readonly allRoutes: boolean;
}

export function helloFromWire(wire: WireHello): WireParse<Hello> {
  const proxyId = wire.proxy_id ?? '';
  if (proxyId === '') return bad('hello.proxy_id', 'is required');
  const routes: ServedRoute[] = [];
  const wireRoutes = wire.routes ?? [];
  for (let i = 0; i < wireRoutes.length; i++) {
    const r = wireRoutes[i]!;
    if ((r.name ?? '') === '') return bad(`hello.routes[${i}].name`, 'is required');
    if (r.namespace === '') return bad(`hello.routes[${i}].namespace`, 'must not be empty when present');
    routes.push(r.namespace === undefined ? { name: r.name! } : { name: r.name!, namespace: r.namespace });
  }
  return {
    ok: true,
    value: { proxyId, version: wire.version ?? '', routes, allRoutes: wire.all_routes === true },
  };
}

export function ackFromWire(wire: { version?: WireLong }): WireParse<number> {
  return parseLong(wire.version, 'ack.version');
}

export function nackFromWire(wire: {
  version?: WireLong;
  reason?: string;
}): WireParse<{ version: number; reason: string }> {
  const version = parseLong(wire.version, 'nack.version');
  if (!version.ok) return version;
  return { ok: true, value: { version: version.value, reason: wire.reason ?? '' } };
}

const REPORT_LONGS = [
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

/** A received report in the histogram store's shape (not yet validated by it: ingest does that). */
export function reportFromWire(wire: WireHistogramReport, path: string): WireParse<HistogramReport> {
  const longs = {} as Record<(typeof REPORT_LONGS)[number][0], number>;
  for (const [name, wireName] of REPORT_LONGS) {
    const parsed = parseLong(wire[wireName], `${path}.${wireName}`);
    if (!parsed.ok) return parsed;
    longs[name] = parsed.value;
  }
  return {
    ok: true,
    value: {
      route: wire.route ?? '',
      namespace: wire.namespace ?? '',
      role: wire.role ?? '',
      revision: wire.revision ?? '',
      histogram: wire.histogram ?? '',
      ...longs,
    },
  };
}

const STORE_TO_WIRE: Readonly<Record<string, string>> = Object.fromEntries([
  ...REPORT_LONGS.map(([name, wireName]) => [name, wireName]),
  ['proxyId', 'proxy_id'],
]);

/** The wire path of a histogram-store field error ("report.endMs" -> "reports[3].end_ms"). */
export function reportFieldToWire(storeField: string, path: string): string {
  const name = storeField.replace(/^report\.?/, '');
  if (name === '') return path;
  return `${path}.${STORE_TO_WIRE[name] ?? name}`;
}

function backendToWire(b: ControlBackend): WireBackend {
  const wire: WireBackend = { name: b.name, revision: b.revision, weight: b.weight };
  if (b.endpoints !== undefined) wire.endpoints = [...b.endpoints];
  else wire.address = b.address ?? '';
  return wire;
}

/** ControlRoute -> Route: presence of every optional field kept, nothing added. */
export function routeToWire(route: ControlRoute): WireRoute {
  const wire: WireRoute = {
    name: route.name,
    namespace: route.namespace,
    match: {},
    backends: route.backends.map(backendToWire),
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
  if (route.match.host !== undefined) wire.match.host = route.match.host;
  if (route.match.pathPrefix !== undefined) wire.match.path_prefix = route.match.pathPrefix;
  if (route.stickySessions !== undefined) {
    wire.sticky_sessions = { cookie: route.stickySessions.cookie };
    if (route.stickySessions.maxAgeSeconds !== undefined)
      wire.sticky_sessions.max_age_seconds = route.stickySessions.maxAgeSeconds;
  }
  if (route.mirror !== undefined)
    wire.mirror = { backend: route.mirror.backend, percent: route.mirror.percent };
  const t = route.timeouts;
  if (t !== undefined) {
    wire.timeouts = {};
    if (t.connectMs !== undefined) wire.timeouts.connect_ms = t.connectMs;
    if (t.responseHeadersMs !== undefined) wire.timeouts.response_headers_ms = t.responseHeadersMs;
    if (t.idleBodyMs !== undefined) wire.timeouts.idle_body_ms = t.idleBodyMs;
  }
  return wire;
}

export function snapshotToWire(version: number, routes: readonly ControlRoute[]): WireControlMessage {
  return { snapshot: { version: String(version), routes: routes.map(routeToWire) } };
}

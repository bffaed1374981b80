// Loads control.proto once and exposes the service definition plus the wire shapes as the proto
// loader produces them (keepCase: snake_case field names; 64-bit integers as decimal strings;
// defaults off, so an unset proto3 scalar is absent and presence of `optional` fields is kept).
// Wire shapes are for both sides; convert.ts maps them to and from the proxy's camelCase types.

import { fileURLToPath } from 'node:url';
import { type GrpcObject, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

export const CONTROL_PROTO_PATH = fileURLToPath(new URL('./control.proto', import.meta.url));
export const CONTROL_SERVICE_NAME = 'sluice.control.v1.ControlPlane';

export const PROTO_LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: true,
};

/** uint64 / int64 on the wire: the loader decodes to strings; writers may pass numbers. */
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

export interface WireAck {
  version?: WireLong;
}

export interface WireNack {
  version?: WireLong;
  reason?: string;
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
  ack?: WireAck;
  nack?: WireNack;
  reports?: { reports?: WireHistogramReport[] };
  /** Set by the loader on decode: which member of the oneof is present. */
  message?: 'hello' | 'ack' | 'nack' | 'reports';
}

export interface WireRouteMatch {
  host?: string;
  path_prefix?: string;
}

export interface WireBackend {
  name?: string;
  revision?: string;
  /** Absent or "" in the endpoints form. */
  address?: string;
  weight?: number;
  /** The ready pods; used when address is empty (arrays: true decodes an empty list as []). */
  endpoints?: string[];
}

export interface WireStickySessions {
  cookie?: string;
  max_age_seconds?: number;
}

export interface WireHeaderMatch {
  header?: string;
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface WireHeaderRoute {
  name?: string;
  match?: WireHeaderMatch[];
  backend?: string;
}

export interface WireMirror {
  backend?: string;
  percent?: number;
}

export interface WireRouteTimeouts {
  connect_ms?: number;
  response_headers_ms?: number;
  idle_body_ms?: number;
}

export interface WireRoute {
  name?: string;
  namespace?: string;
  match?: WireRouteMatch;
  backends?: WireBackend[];
  sticky_sessions?: WireStickySessions;
  header_routes?: WireHeaderRoute[];
  mirror?: WireMirror;
  timeouts?: WireRouteTimeouts;
  endpoint_policy?: string;
}

export interface WireRouteSnapshot {
  version?: WireLong;
  routes?: WireRoute[];
}

export interface WireControlMessage {
  snapshot?: WireRouteSnapshot;
  message?: 'snapshot';
}

let cached: ServiceClientConstructor | undefined;

/** The generated client constructor for ControlPlane; its `.service` is the server-side definition. */
export function controlPlaneService(): ServiceClientConstructor {
  if (cached === undefined) {
    const definition = loadSync(CONTROL_PROTO_PATH, PROTO_LOADER_OPTIONS);
    const root = loadPackageDefinition(definition);
    const sluice = root.sluice as GrpcObject;
    const control = sluice.control as GrpcObject;
    const v1 = control.v1 as GrpcObject;
    cached = v1.ControlPlane as ServiceClientConstructor;
  }
  return cached;
}

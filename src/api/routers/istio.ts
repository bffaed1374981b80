// The Istio traffic router's configuration, `spec.strategy.canary.trafficRouting.istio` (Argo's
// IstioTrafficRouting), parsed once into typed values with Argo's spec-level rules:
//
//   istio:
//     virtualService:                  # or virtualServices: [ {...}, ... ] (exactly one of the two)
//       name: checkout-vs              # `name`, or `name.namespace` for a VirtualService in another namespace
//       routes: [primary]              # HTTP routes to weight (default: the single / first unnamed route)
//       tlsRoutes: [{ port: 443, sniHosts: [shop.example.com] }]
//       tcpRoutes: [{ port: 5432 }]
//     destinationRule:                 # subset-level split; without it the split is host-level
//       name: checkout-dr
//       canarySubsetName: canary
//       stableSubsetName: stable
//       additionalSubsetNames: [mobile]
//
// Host-level splitting (no destinationRule) needs canaryService and stableService (Argo's
// requireCanaryStableServices). Checks that need the VirtualService itself (route names exist, at most one
// unnamed route, tls/tcp matches) are the router's (src/traffic/istio/virtual-service.ts).
// Every field is checked; an unknown or malformed one is refused naming its full path.

import type { Rollout } from '../rollout.ts';

export const ISTIO_PATH = 'spec.strategy.canary.trafficRouting.istio';

export interface IstioTlsRoute {
  /** 0 when omitted: matches route rules whose match blocks name no port (Argo's int64 zero value). */
  readonly port: number;
  readonly sniHosts: readonly string[];
}

export interface IstioTcpRoute {
  readonly port: number;
}

export interface IstioVirtualService {
  /** As written: `name` or `name.namespace`. */
  readonly ref: string;
  readonly name: string;
  /** undefined: the Rollout's namespace. */
  readonly namespace?: string;
  readonly routes: readonly string[];
  readonly tlsRoutes: readonly IstioTlsRoute[];
  readonly tcpRoutes: readonly IstioTcpRoute[];
  /** Where the entry sits, e.g. `spec.strategy.canary.trafficRouting.istio.virtualServices[1]`. */
  readonly path: string;
}

export interface IstioDestinationRule {
  readonly name: string;
  readonly canarySubsetName: string;
  readonly stableSubsetName: string;
  readonly additionalSubsetNames: readonly string[];
}

export interface IstioConfig {
  readonly virtualServices: readonly IstioVirtualService[];
  /** The config used `virtualServices[]` (Argo's MultipleVirtualServiceConfigured). */
  readonly multiple: boolean;
  readonly destinationRule?: IstioDestinationRule;
}

export type IstioConfigResult =
  | { readonly ok: true; readonly config: IstioConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

/** Argo's ValidateRolloutVirtualServicesConfig message. */
export const EITHER_VIRTUAL_SERVICE_MESSAGE = 'either VirtualService or VirtualServices must be configured';
/** Argo's InvalidTrafficRoutingMessage. */
export const SERVICES_REQUIRED_MESSAGE =
  'Canary service and Stable service must to be set to use Traffic Routing';

const ISTIO_FIELDS = ['virtualService', 'virtualServices', 'destinationRule'];
const VS_FIELDS = ['name', 'routes', 'tlsRoutes', 'tcpRoutes'];
const DR_FIELDS = ['name', 'canarySubsetName', 'stableSubsetName', 'additionalSubsetNames'];
// A DNS-1123 label: Kubernetes object names here are split on "." into name and namespace (Argo's
// GetVirtualServiceNamespaceName), so each part is a label.
const LABEL_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

type Fail = { readonly ok: false; readonly field: string; readonly message: string };

function fail(field: string, message: string): Fail {
  return { ok: false, field, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownField(o: Record<string, unknown>, known: readonly string[], path: string): Fail | undefined {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) return fail(`${path}.${key}`, `unknown field (known: ${known.join(', ')})`);
  }
  return undefined;
}

/** `name` or `name.namespace` (Argo's GetVirtualServiceNamespaceName). */
export function splitObjectRef(ref: string): { name: string; namespace?: string } {
  const dot = ref.indexOf('.');
  if (dot < 0) return { name: ref };
  return { name: ref.slice(0, dot), namespace: ref.slice(dot + 1) };
}

function stringList(v: unknown, path: string): { ok: true; list: string[] } | Fail {
  if (v === undefined || v === null) return { ok: true, list: [] };
  if (!Array.isArray(v)) return fail(path, 'must be a list of strings');
  for (const [i, s] of v.entries()) {
    if (typeof s !== 'string' || s === '') return fail(`${path}[${i}]`, 'must be a non-empty string');
  }
  return { ok: true, list: v as string[] };
}

function port(v: unknown, path: string): { ok: true; port: number } | Fail {
  if (v === undefined || v === null) return { ok: true, port: 0 };
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65_535)
    return fail(path, 'must be a port number (1..65535)');
  return { ok: true, port: v };
}

function parseVirtualService(raw: unknown, path: string): { ok: true; vs: IstioVirtualService } | Fail {
  if (!isObject(raw)) return fail(path, 'must be an object');
  const extra = unknownField(raw, VS_FIELDS, path);
  if (extra) return extra;
  if (typeof raw.name !== 'string' || raw.name === '')
    return fail(`${path}.name`, "Rollout has missing field 'name'");
  const ref = raw.name;
  const { name, namespace } = splitObjectRef(ref);
  if (!LABEL_RE.test(name) || (namespace !== undefined && !LABEL_RE.test(namespace)))
    return fail(`${path}.name`, 'must be `name` or `name.namespace` (DNS labels)');
  const routes = stringList(raw.routes, `${path}.routes`);
  if (!routes.ok) return routes;
  const tlsRoutes: IstioTlsRoute[] = [];
  if (raw.tlsRoutes !== undefined && raw.tlsRoutes !== null) {
    if (!Array.isArray(raw.tlsRoutes)) return fail(`${path}.tlsRoutes`, 'must be a list');
    for (const [i, t] of raw.tlsRoutes.entries()) {
      const at = `${path}.tlsRoutes[${i}]`;
      if (!isObject(t)) return fail(at, 'must be an object');
      const bad = unknownField(t, ['port', 'sniHosts'], at);
      if (bad) return bad;
      const p = port(t.port, `${at}.port`);
      if (!p.ok) return p;
      const sni = stringList(t.sniHosts, `${at}.sniHosts`);
      if (!sni.ok) return sni;
      tlsRoutes.push({ port: p.port, sniHosts: sni.list });
    }
  }
  const tcpRoutes: IstioTcpRoute[] = [];
  if (raw.tcpRoutes !== undefined && raw.tcpRoutes !== null) {
    if (!Array.isArray(raw.tcpRoutes)) return fail(`${path}.tcpRoutes`, 'must be a list');
    for (const [i, t] of raw.tcpRoutes.entries()) {
      const at = `${path}.tcpRoutes[${i}]`;
      if (!isObject(t)) return fail(at, 'must be an object');
      const bad = unknownField(t, ['port'], at);
      if (bad) return bad;
      const p = port(t.port, `${at}.port`);
      if (!p.ok) return p;
      tcpRoutes.push({ port: p.port });
    }
  }
  return {
    ok: true,
    vs: {
      ref,
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      routes: routes.list,
      tlsRoutes,
      tcpRoutes,
      path,
    },
  };
}

function parseDestinationRule(raw: unknown, path: string): { ok: true; dr: IstioDestinationRule } | Fail {
  if (!isObject(raw)) return fail(path, 'must be an object');
  const extra = unknownField(raw, DR_FIELDS, path);
  if (extra) return extra;
  for (const key of ['name', 'canarySubsetName', 'stableSubsetName'] as const) {
    if (typeof raw[key] !== 'string' || raw[key] === '')
      return fail(`${path}.${key}`, `Rollout has missing field '${key}'`);
  }
  const name = raw.name as string;
  if (!SUBDOMAIN_RE.test(name)) return fail(`${path}.name`, 'must be a DestinationRule name (DNS subdomain)');
  const additional = stringList(raw.additionalSubsetNames, `${path}.additionalSubsetNames`);
  if (!additional.ok) return additional;
  return {
    ok: true,
    dr: {
      name,
      canarySubsetName: raw.canarySubsetName as string,
      stableSubsetName: raw.stableSubsetName as string,
      additionalSubsetNames: additional.list,
    },
  };
}

/**
 * `istio` as written under trafficRouting, with the canary fields the rules read. Pure: the same input
 * always gives the same answer (and the same first error).
 */
export function parseIstioConfig(
  raw: unknown,
  canary: { readonly canaryService?: string; readonly stableService?: string; readonly pingPong?: unknown },
  path = ISTIO_PATH,
): IstioConfigResult {
  if (!isObject(raw)) return fail(path, 'must be an object');
  const extra = unknownField(raw, ISTIO_FIELDS, path);
  if (extra) return extra;
  const hasOne = raw.virtualService !== undefined && raw.virtualService !== null;
  const hasMany = raw.virtualServices !== undefined && raw.virtualServices !== null;
  if (hasOne === hasMany) return fail(path, EITHER_VIRTUAL_SERVICE_MESSAGE);
  const virtualServices: IstioVirtualService[] = [];
  if (hasOne) {
    const parsed = parseVirtualService(raw.virtualService, `${path}.virtualService`);
    if (!parsed.ok) return parsed;
    virtualServices.push(parsed.vs);
  } else {
    if (!Array.isArray(raw.virtualServices)) return fail(`${path}.virtualServices`, 'must be a list');
    if (raw.virtualServices.length === 0)
      return fail(`${path}.virtualServices`, 'must list at least one VirtualService');
    for (const [i, entry] of raw.virtualServices.entries()) {
      const parsed = parseVirtualService(entry, `${path}.virtualServices[${i}]`);
      if (!parsed.ok) return parsed;
      virtualServices.push(parsed.vs);
    }
  }
  let destinationRule: IstioDestinationRule | undefined;
  if (raw.destinationRule !== undefined && raw.destinationRule !== null) {
    const parsed = parseDestinationRule(raw.destinationRule, `${path}.destinationRule`);
    if (!parsed.ok) return parsed;
    destinationRule = parsed.dr;
  }
  // Host-level splitting moves traffic between two Services; subset-level between DestinationRule subsets
  // (Argo's requireCanaryStableServices: a destinationRule or pingPong lifts the requirement).
  if (destinationRule === undefined && canary.pingPong === undefined) {
    const base = path.slice(0, path.indexOf('.trafficRouting'));
    if (!canary.stableService) return fail(`${base}.stableService`, SERVICES_REQUIRED_MESSAGE);
    if (!canary.canaryService) return fail(`${base}.canaryService`, SERVICES_REQUIRED_MESSAGE);
  }
  return {
    ok: true,
    config: {
      virtualServices,
      multiple: hasMany,
      ...(destinationRule !== undefined ? { destinationRule } : {}),
    },
  };
}

/** The Rollout's Istio router config; undefined when trafficRouting.istio is not set. */
export function istioConfig(ro: Rollout): IstioConfigResult | undefined {
  const canary = ro.spec?.strategy?.canary;
  const raw = canary?.trafficRouting?.istio;
  if (raw === undefined || raw === null) return undefined;
  return parseIstioConfig(raw, canary ?? {});
}

// Manifests and reads for the mesh-router e2e tests (mesh-routers.test.ts): Istio VirtualServices and
// DestinationRules, SMI TrafficSplits and Gateway API HTTPRoutes on the test CRDs of test/cluster/router-crds/,
// and a routed canary Rollout whose trafficRouting block the test gives.

import { canaryRollout, type E2e } from './fixture.ts';

export const ISTIO = 'networking.istio.io/v1alpha3';
export const SMI_V1ALPHA1 = 'split.smi-spec.io/v1alpha1';
export const SMI_V1ALPHA2 = 'split.smi-spec.io/v1alpha2';
export const GATEWAY = 'gateway.networking.k8s.io/v1';
export const HASH = 'rollouts-pod-template-hash';

export type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function rec(value: unknown): Json {
  return isRecord(value) ? value : {};
}

export function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** A canary Rollout with stable/canary Services `<name>-stable` / `<name>-canary` and the given routing. */
export function routedRollout(
  name: string,
  trafficRouting: Json,
  steps: Json[],
  options: { replicas?: number; services?: boolean; canary?: Json } = {},
): Json {
  const services =
    options.services === false ? {} : { stableService: `${name}-stable`, canaryService: `${name}-canary` };
  return canaryRollout(name, {
    replicas: options.replicas ?? 2,
    steps,
    canary: { ...services, trafficRouting, ...options.canary },
  });
}

/** A VirtualService destination `{destination: {host, port: {number: 80}}, weight}`. */
export function dest(host: string, weight: number): Json {
  return { destination: { host, port: { number: 80 } }, weight };
}

export function subsetDest(host: string, subset: string, weight: number): Json {
  return { destination: { host, subset }, weight };
}

export function virtualService(name: string, http: Json[]): Json {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name },
    spec: { hosts: [`${name}.example.com`], gateways: ['shop-gateway'], http },
  };
}

/** The VirtualService's spec.http routes as stored. */
export async function vsRoutes(e: E2e, name: string): Promise<Json[]> {
  const vs = await e.object(ISTIO, 'virtualservices', name);
  return list(rec(vs?.spec).http);
}

/** The weights of a route's destinations by host (or `host/subset`). */
export function weightsOf(route: Json | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of list(route?.route)) {
    const destination = rec(d.destination);
    const key =
      typeof destination.subset === 'string'
        ? `${String(destination.host)}/${destination.subset}`
        : String(destination.host);
    out[key] = d.weight;
  }
  return out;
}

export function routeNamed(routes: Json[], name: string): Json | undefined {
  return routes.find((r) => r.name === name);
}

/** Waits until the named (or, with name undefined, the first) HTTP route of the VirtualService has `weights`. */
export function waitForVsWeights(
  e: E2e,
  vs: string,
  route: string | undefined,
  weights: Record<string, unknown>,
): Promise<Json> {
  const want = JSON.stringify(Object.entries(weights).sort());
  return e.waitForObject(ISTIO, 'virtualservices', vs, `route ${route} weights ${want}`, (obj) => {
    const routes = list(rec(obj.spec).http);
    const r = route === undefined ? routes.find((x) => x.name === undefined) : routeNamed(routes, route);
    return JSON.stringify(Object.entries(weightsOf(r)).sort()) === want;
  });
}

/** The TrafficSplit's backends as `{service: weight}`. */
export function backendsOf(ts: Json | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const b of list(rec(ts?.spec).backends)) out[String(b.service)] = b.weight;
  return out;
}

export function waitForSplit(
  e: E2e,
  version: string,
  name: string,
  backends: Record<string, unknown>,
): Promise<Json> {
  const want = JSON.stringify(Object.entries(backends).sort());
  return e.waitForObject(version, 'trafficsplits', name, `backends ${want}`, (obj) => {
    return JSON.stringify(Object.entries(backendsOf(obj)).sort()) === want;
  });
}

/** The backendRefs weights of one HTTPRoute rule as `{name: weight}`. */
export function ruleWeights(rule: Json | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const b of list(rule?.backendRefs)) out[String(b.name)] = b.weight;
  return out;
}

export async function httpRouteRules(e: E2e, name: string): Promise<Json[]> {
  return list(rec((await e.object(GATEWAY, 'httproutes', name))?.spec).rules);
}

export function waitForRuleWeights(
  e: E2e,
  route: string,
  index: number,
  weights: Record<string, unknown>,
  ruleCount?: number,
): Promise<Json> {
  const want = JSON.stringify(Object.entries(weights).sort());
  return e.waitForObject(
    GATEWAY,
    'httproutes',
    route,
    `rule ${index} weights ${want}${ruleCount === undefined ? '' : `, ${ruleCount} rules`}`,
    (obj) => {
      const rules = list(rec(obj.spec).rules);
      return (
        JSON.stringify(Object.entries(ruleWeights(rules[index])).sort()) === want &&
        (ruleCount === undefined || rules.length === ruleCount)
      );
    },
  );
}

/** The Rollout's condition of a type. */
export async function condition(e: E2e, rollout: string, type: string) {
  return ((await e.rollout(rollout)).status?.conditions ?? []).find((c) => c.type === type);
}

/** Waits for the condition of `type` with `status` whose message matches `message`. */
export function waitForConditionMessage(
  e: E2e,
  rollout: string,
  type: string,
  status: 'True' | 'False',
  message: RegExp,
) {
  return e.waitForRollout(rollout, `condition ${type}=${status} ${message}`, (ro) =>
    (ro.status?.conditions ?? []).some(
      (c) => c.type === type && c.status === status && message.test(c.message ?? ''),
    ),
  );
}

/** An HTTPRoute with one rule sending to `<ro>-stable` / `<ro>-canary` port 80 with these weights. */
export function httpRoute(name: string, ro: string, stable: number, canary: number): Json {
  return {
    apiVersion: GATEWAY,
    kind: 'HTTPRoute',
    metadata: { name },
    spec: {
      parentRefs: [{ name: 'shop-gateway' }],
      rules: [
        {
          backendRefs: [
            { name: `${ro}-stable`, port: 80, weight: stable },
            { name: `${ro}-canary`, port: 80, weight: canary },
          ],
        },
      ],
    },
  };
}

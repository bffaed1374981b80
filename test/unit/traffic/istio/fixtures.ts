// Argo's istio_test.go VirtualService / DestinationRule fixtures (same YAML), and helpers building a
// Rollout with trafficRouting.istio and an IstioRouter over the in-memory store.
import { parse } from 'yaml';
import type { KubeObject } from '../../../../src/api/meta.ts';
import type { CanaryStep, Rollout } from '../../../../src/api/rollout.ts';
import {
  createMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
} from '../../../../src/store/memory.ts';
import type { RouterContext } from '../../../../src/traffic/context.ts';
import { istioRouter } from '../../../../src/traffic/istio/router.ts';
import type { TrafficRouter } from '../../../../src/traffic/router.ts';

export type Json = Record<string, unknown>;

export function yaml(text: string): Json {
  return parse(text) as Json;
}

const HEADER = `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: vsvc
  namespace: default
spec:
  gateways:
  - istio-rollout-gateway
  hosts:
  - istio-rollout.dev.argoproj.io
`;

const TWO_WEIGHTS = `    route:
    - destination:
        host: 'stable'
      weight: 100
    - destination:
        host: canary
      weight: 0
`;

export const regularVsvc = `${HEADER}  http:
  - name: primary
${TWO_WEIGHTS}  - name: secondary
${TWO_WEIGHTS}`;

export const regularTlsVsvc = `${HEADER}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}`;

export const regularTcpVsvc = `${HEADER}  tcp:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}`;

export const regularMixedVsvc = `${regularVsvc}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}  tcp:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}`;

export const regularMixedVsvcTwoHttpRoutes = `${regularVsvc}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}`;

export const regularMixedVsvcTwoTlsRoutes = `${HEADER}  http:
  - name: primary
${TWO_WEIGHTS}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}`;

export const regularMixedVsvcTwoTcpRoutes = `${HEADER}  http:
  - name: primary
${TWO_WEIGHTS}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}  tcp:
  - match:
    - port: 3000
${TWO_WEIGHTS}  - match:
    - port: 3001
${TWO_WEIGHTS}`;

export const regularTlsSniVsvc = `${HEADER}  tls:
  - match:
    - sniHosts:
      - foo.bar.com
      - bar.foo.com
    - sniHosts:
      - localhost
${TWO_WEIGHTS}  - match:
    - port: 3001
      sniHosts:
      - localhost
${TWO_WEIGHTS}`;

export const singleRouteVsvc = `${HEADER}  http:
  -${TWO_WEIGHTS.slice(3)}`;

export const singleRouteSubsetVsvc = `${HEADER}  http:
  - route:
    - destination:
        host: 'rollout-service'
        subset: 'stable-subset'
      weight: 100
    - destination:
        host: rollout-service
        subset: 'canary-subset'
      weight: 0
`;

export const singleRouteTlsVsvc = `${HEADER}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}`;

export const singleRouteTcpVsvc = `${HEADER}  tcp:
  - match:
    - port: 3000
${TWO_WEIGHTS}`;

export const singleRouteMixedVsvc = `${singleRouteVsvc}  tls:
  - match:
    - port: 3000
${TWO_WEIGHTS}  tcp:
  - match:
    - port: 3000
${TWO_WEIGHTS}`;

export const regularVsvcWithExtra = `${HEADER}  http:
  - name: primary
    retries:
      attempts: 3
      perTryTimeout: 10s
      retryOn: 'gateway-error,connect-failure,refused-stream'
    route:
    - destination:
        host: 'stable'
        port:
          number: 8443
      weight: 100
    - destination:
        host: canary
        port:
          number: 8443
      weight: 0
  - name: secondary
    retries:
      attempts: 3
      perTryTimeout: 10s
      retryOn: 'gateway-error,connect-failure,refused-stream'
    corsPolicy:
      allowOrigins:
        - exact: https://example.com
      allowMethods:
        - POST
        - GET
      allowCredentials: false
      allowHeaders:
        - X-Foo-Bar
      maxAge: "24h"
    route:
    - destination:
        host: 'stable'
        port:
          number: 8443
      weight: 100
    - destination:
        host: canary
        port:
          number: 8443
      weight: 0
`;

export function named(text: string, name: string): string {
  return text.replace('name: vsvc\n', `name: ${name}\n`);
}

export const subsetDestinationRule = `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: istio-destrule
  namespace: default
spec:
  host: rollout-service
  subsets:
  - name: stable-subset
  - name: canary-subset
`;

export interface RolloutOptions {
  readonly stableService?: string;
  readonly canaryService?: string;
  readonly istio: Json;
  readonly managedRoutes?: readonly string[];
  readonly steps?: CanaryStep[];
}

export function rollout(o: RolloutOptions): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'rollout', namespace: 'default', uid: 'rollout-uid' },
    spec: {
      strategy: {
        canary: {
          ...(o.stableService !== undefined ? { stableService: o.stableService } : {}),
          ...(o.canaryService !== undefined ? { canaryService: o.canaryService } : {}),
          ...(o.steps !== undefined ? { steps: o.steps } : {}),
          trafficRouting: {
            istio: o.istio,
            ...(o.managedRoutes ? { managedRoutes: o.managedRoutes.map((name) => ({ name })) } : {}),
          },
        },
      },
    },
  } as Rollout;
}

/** Argo's rolloutWithHttpRoutes / rolloutWithTlsRoutes / rolloutWithTcpRoutes, host-level. */
export function hostRollout(vs: Json, managedRoutes?: readonly string[]): Rollout {
  return rollout({
    stableService: 'stable',
    canaryService: 'canary',
    istio: { virtualService: vs },
    ...(managedRoutes ? { managedRoutes } : {}),
  });
}

/** Argo's rolloutWithDestinationRule with the subset names of the subset fixtures. */
export function subsetRollout(managedRoutes?: readonly string[], routes?: readonly string[]): Rollout {
  return rollout({
    istio: {
      virtualService: { name: 'vsvc', ...(routes ? { routes } : {}) },
      destinationRule: {
        name: 'istio-destrule',
        canarySubsetName: 'canary-subset',
        stableSubsetName: 'stable-subset',
      },
    },
    ...(managedRoutes ? { managedRoutes } : {}),
  });
}

export interface Setup {
  readonly store: MemoryStore;
  readonly router: TrafficRouter;
  readonly ctx: RouterContext;
  /** The VirtualService as stored now. */
  vs(name?: string, namespace?: string): Promise<Json>;
  dr(name?: string): Promise<Json>;
  /** Number of updates of a kind so far. */
  updates(kind?: 'VirtualService' | 'DestinationRule'): number;
}

export function setup(
  ro: Rollout,
  objects: readonly (string | Json)[],
  options: MemoryStoreOptions = {},
): Setup {
  const store = createMemoryStore(options);
  for (const o of objects) store.seed((typeof o === 'string' ? yaml(o) : o) as unknown as KubeObject);
  const ctx: RouterContext = { store, rollout: ro, apiVersions: {} };
  const router = istioRouter(ctx);
  if (router === undefined) throw new Error('no istio router');
  return {
    store,
    router,
    ctx,
    vs: async (name = 'vsvc', namespace = 'default') =>
      (await store.read('VirtualService', namespace, name)) as unknown as Json,
    dr: async (name = 'istio-destrule') =>
      (await store.read('DestinationRule', 'default', name)) as unknown as Json,
    updates: (kind = 'VirtualService') => store.writes.get(`update ${kind}`) ?? 0,
  };
}

type Route = { name?: string; route?: { destination: Json; weight?: number }[]; [k: string]: unknown };

export function routes(vs: Json, kind: 'http' | 'tls' | 'tcp' = 'http'): Route[] {
  return ((vs.spec as Json)[kind] ?? []) as Route[];
}

/** Argo's checkDestination: the weight of the destination whose host is `host`. */
export function weightOf(route: Route, host: string): number | undefined {
  const d = (route.route ?? []).find((x) => x.destination.host === host);
  if (d === undefined) throw new Error(`Service '${host}' not found within hosts of routes.`);
  return d.weight ?? 0;
}

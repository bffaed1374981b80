// The Gateway API router: Argo's plugin argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi
// (pkg/plugin/plugin.go, httproute.go, grpcroute.go, tcproute.go) in-process, under the plugin's key
// `argoproj-labs/gatewayAPI` or Sluice's `sluice/gateway-api` (the router's `type` is the key used).
//
// - setWeight: in every rule of each configured HTTPRoute, GRPCRoute and TCPRoute, the backendRef named
//   canaryService gets w and the one named stableService maxTrafficWeight - w - Σadditional (rules.ts).
// - setHeaderRoute (HTTPRoutes and GRPCRoutes with useHeaderRoutes): a new rule copying the weighted
//   rule's matches plus the step's header matches, with the canary as its only backend; a step without
//   matches removes it.
// - removeManagedRoutes: removes the rules of the routes named in trafficRouting.managedRoutes.
// - The rules the router added are recorded as the plugin records them, so a Rollout can move between
//   Argo and Sluice mid-canary: in the ConfigMap `configMap` (default argo-gatewayapi-configmap) in the
//   routes' namespace, keys httpManagedRoutes / grpcManagedRoutes, JSON {managedRoute: {route: ruleIndex}}.
// - setMirrorRoute is refused (see docs/routers/gateway-api.md); verifyWeight is unknown.
//
// Every write is an update carrying the resourceVersion of the fresh read it was computed from (a
// concurrent change is a Conflict, retried by the work queue), made only when something changed.

import type { KubeObject } from '../../api/meta.ts';
import { maxTrafficWeight, type SetHeaderRoute } from '../../api/rollout.ts';
import {
  GATEWAY_API_PLUGIN,
  type GatewayApiConfig,
  gatewayApiConfig,
  gatewayApiPath,
  SLUICE_GATEWAY_API_PLUGIN,
} from '../../api/routers/gateway-api.ts';
import { StoreError } from '../../store/object-store.ts';
import { apiVersionOf } from '../../store/resources.ts';
import type { RouterContext } from '../context.ts';
import {
  InvalidConfigRouter,
  type RouterResult,
  type TrafficRouter,
  type Verification,
  type WeightDestinationSpec,
} from '../router.ts';
import { grpcHeaderRule } from './grpc-route.ts';
import { httpHeaderRule } from './http-route.ts';
import {
  type BackendRef,
  baseRule,
  type HeaderMatch,
  headerMatches,
  type ManagedRouteMap,
  managedIndicesOf,
  type RouteRule,
  withManagedRule,
  withoutManagedRule,
  withWeights,
} from './rules.ts';

type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TCPRoute';

interface KindSpec {
  readonly kind: RouteKind;
  readonly routes: (config: GatewayApiConfig) => GatewayApiConfig['httpRoutes'];
  /** The plugin's word for the kind in its errors. */
  readonly what: string;
  /** Kinds that take header routes: the record's ConfigMap key and the rule builder. */
  readonly headers?: {
    readonly configMapKey: string;
    readonly rule: (base: RouteRule, canaryRef: BackendRef, headers: readonly HeaderMatch[]) => RouteRule;
  };
}

const KINDS: readonly KindSpec[] = [
  {
    kind: 'HTTPRoute',
    routes: (c) => c.httpRoutes,
    what: 'httpRoute',
    headers: { configMapKey: 'httpManagedRoutes', rule: httpHeaderRule },
  },
  {
    kind: 'GRPCRoute',
    routes: (c) => c.grpcRoutes,
    what: 'grpcRoute',
    headers: { configMapKey: 'grpcManagedRoutes', rule: grpcHeaderRule },
  },
  { kind: 'TCPRoute', routes: (c) => c.tcpRoutes, what: 'tcpRoute' },
];

export const GATEWAY_API_MIRROR_UNSUPPORTED =
  'setMirrorRoute is not supported by the Gateway API router: Gateway API has no percentage mirror of matched requests that every implementation honours; use header routes, or the sluice/proxy router for mirroring';

interface Route extends KubeObject {
  spec?: { rules?: RouteRule[]; [field: string]: unknown };
}

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** The Gateway API router for one reconcile; undefined when the Rollout uses neither plugin key. */
export function gatewayApiRouter(ctx: RouterContext): TrafficRouter | undefined {
  const parsed = gatewayApiConfig(ctx.rollout);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) {
    const plugins = ctx.rollout.spec.strategy.canary?.trafficRouting?.plugins ?? {};
    const type = Object.hasOwn(plugins, GATEWAY_API_PLUGIN) ? GATEWAY_API_PLUGIN : SLUICE_GATEWAY_API_PLUGIN;
    return new InvalidConfigRouter(type, `${parsed.field}: ${parsed.message}`);
  }
  return new GatewayApiRouter(ctx, parsed.config);
}

export class GatewayApiRouter implements TrafficRouter {
  readonly type: string;
  readonly #ctx: RouterContext;
  readonly #config: GatewayApiConfig;

  constructor(ctx: RouterContext, config: GatewayApiConfig) {
    this.type = config.key;
    this.#ctx = ctx;
    this.#config = config;
  }

  async updateHash(): Promise<RouterResult> {
    return { ok: true };
  }

  async setWeight(canaryWeight: number, additional: readonly WeightDestinationSpec[]): Promise<RouterResult> {
    return this.#guard(async () => {
      const previousAdditional = (this.#ctx.rollout.status?.canary?.weights?.additional ?? []).flatMap((d) =>
        d.serviceName ? [d.serviceName] : [],
      );
      // Every route is read and its rules computed before any is written: a missing route or an API the
      // cluster does not serve leaves all of them as they were (nothing half-written).
      const writes: { route: Route; rules: RouteRule[] }[] = [];
      for (const spec of KINDS) {
        for (const ref of spec.routes(this.#config)) {
          const record = spec.headers ? await this.#readRecord(spec.headers.configMapKey) : undefined;
          if (typeof record === 'string') return record;
          const route = await this.#readRoute(spec.kind, ref.name);
          if (typeof route === 'string') return route;
          const rules = withWeights(
            route.spec?.rules ?? [],
            {
              canaryService: this.#config.canaryService,
              stableService: this.#config.stableService,
              canaryWeight,
              maxWeight: maxTrafficWeight(this.#ctx.rollout),
              additional,
              previousAdditional,
              managedIndices: managedIndicesOf(record?.record ?? {}, ref.name),
            },
            `${spec.what} ${this.#ref(ref.name)}`,
          );
          if (typeof rules === 'string') return rules;
          writes.push({ route, rules });
        }
      }
      for (const w of writes) await this.#writeRoute(w.route, w.rules);
      return undefined;
    });
  }

  async setHeaderRoute(step: SetHeaderRoute): Promise<RouterResult> {
    return this.#guard(async () => {
      let headers: HeaderMatch[] | undefined;
      if (step.match !== undefined && step.match.length > 0) {
        const parsed = headerMatches(step.match);
        if (typeof parsed === 'string') return parsed;
        headers = parsed;
      }
      for (const spec of KINDS) {
        if (spec.headers === undefined) continue;
        for (const ref of spec.routes(this.#config)) {
          if (!ref.useHeaderRoutes) continue;
          const error =
            headers === undefined
              ? await this.#removeManaged(spec, ref.name, [step.name])
              : await this.#addManaged(spec, ref.name, step.name, headers);
          if (error !== undefined) return error;
        }
      }
      return undefined;
    });
  }

  async setMirrorRoute(): Promise<RouterResult> {
    return { ok: false, error: GATEWAY_API_MIRROR_UNSUPPORTED };
  }

  async verifyWeight(): Promise<Verification> {
    return undefined;
  }

  async removeManagedRoutes(): Promise<RouterResult> {
    return this.#guard(async () => {
      const names = (this.#ctx.rollout.spec.strategy.canary?.trafficRouting?.managedRoutes ?? []).map(
        (r) => r.name,
      );
      if (names.length === 0) return undefined;
      for (const spec of KINDS) {
        if (spec.headers === undefined) continue;
        for (const ref of spec.routes(this.#config)) {
          if (!ref.useHeaderRoutes) continue;
          const error = await this.#removeManaged(spec, ref.name, names);
          if (error !== undefined) return error;
        }
      }
      return undefined;
    });
  }

  async #addManaged(spec: KindSpec, routeName: string, name: string, headers: HeaderMatch[]) {
    const key = spec.headers!.configMapKey;
    const record = await this.#readRecord(key);
    if (typeof record === 'string') return record;
    const route = await this.#readRoute(spec.kind, routeName);
    if (typeof route === 'string') return route;
    const rules = route.spec?.rules ?? [];
    const { canaryService, stableService } = this.#config;
    const base = baseRule(rules, canaryService, stableService, managedIndicesOf(record.record, routeName));
    if (base === undefined)
      return `backendRef was not found in ${spec.what}: no rule of ${this.#ref(routeName)} routes to both "${canaryService}" and "${stableService}"`;
    const next = withManagedRule(
      rules,
      record.record,
      name,
      routeName,
      spec.headers!.rule(base.rule, base.canaryRef, headers),
      canaryService,
    );
    return this.#commit(route, next.rules, record, key, next.record);
  }

  async #removeManaged(spec: KindSpec, routeName: string, names: readonly string[]) {
    const key = spec.headers!.configMapKey;
    const record = await this.#readRecord(key);
    if (typeof record === 'string') return record;
    if (!names.some((n) => record.record[n]?.[routeName] !== undefined)) return undefined;
    const route = await this.#readRoute(spec.kind, routeName);
    if (typeof route === 'string') return route;
    let next = { rules: route.spec?.rules ?? [], record: record.record };
    for (const name of names)
      next = withoutManagedRule(next.rules, next.record, name, routeName, this.#config.canaryService);
    return this.#commit(route, next.rules, record, key, next.record);
  }

  /**
   * The route, then the record (the plugin's transaction order); when the record cannot be written the
   * route is put back, so the two never disagree about which rules are managed.
   */
  async #commit(
    route: Route,
    rules: RouteRule[],
    record: ReadRecord,
    key: string,
    nextRecord: ManagedRouteMap,
  ) {
    const written = await this.#writeRoute(route, rules);
    try {
      await this.#writeRecord(record.configMap, key, nextRecord);
    } catch (err) {
      if (written !== undefined)
        await this.#writeRoute(written, route.spec?.rules ?? []).catch(() => undefined);
      throw err;
    }
    return undefined;
  }

  async #readRoute(kind: RouteKind, name: string): Promise<Route | string> {
    const namespace = this.#config.namespace;
    let route: Route | undefined;
    try {
      route = await this.#ctx.store.read<Route>(kind, namespace, name);
    } catch (err) {
      if (err instanceof StoreError && err.reason === 'NotFound')
        return `${kind} ${apiVersionOf(kind, this.#ctx.apiVersions)} is not served by the cluster (is the Gateway API ${kind} CRD installed?): ${err.message}`;
      throw err;
    }
    if (route === undefined)
      return `${kind} "${namespace}/${name}" not found (named by ${gatewayApiPath(this.#config.key)})`;
    return route;
  }

  async #readRecord(key: string): Promise<ReadRecord | string> {
    const namespace = this.#config.namespace;
    const configMap = await this.#ctx.store.read<ConfigMap>('ConfigMap', namespace, this.#config.configMap);
    const raw = configMap?.data?.[key];
    if (raw === undefined || raw === '') return { configMap, record: {} };
    try {
      const record = JSON.parse(raw) as unknown;
      if (!isManagedRouteMap(record)) throw new Error('not a {managedRoute: {route: index}} map');
      return { configMap, record };
    } catch (err) {
      return `ConfigMap "${namespace}/${this.#config.configMap}" data.${key} is not the plugin's managed-routes record: ${(err as Error).message}`;
    }
  }

  async #writeRecord(configMap: ConfigMap | undefined, key: string, record: ManagedRouteMap): Promise<void> {
    const value = JSON.stringify(record);
    if (configMap === undefined) {
      await this.#ctx.store.create<ConfigMap>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: this.#config.configMap, namespace: this.#config.namespace },
        data: { [key]: value },
      });
      return;
    }
    if (sameJson(configMap.data?.[key] ?? '{}', value)) return;
    const next = structuredClone(configMap) as ConfigMap;
    next.data = { ...(next.data ?? {}), [key]: value };
    await this.#ctx.store.update(next);
  }

  /** Updates the route's rules when they changed; the written route, or undefined when nothing changed. */
  async #writeRoute(route: Route, rules: RouteRule[]): Promise<Route | undefined> {
    if (JSON.stringify(route.spec?.rules ?? []) === JSON.stringify(rules)) return undefined;
    const next = structuredClone(route) as Route;
    next.spec = { ...(next.spec ?? {}), rules };
    return this.#ctx.store.update(next);
  }

  #ref(name: string): string {
    return `"${this.#config.namespace}/${name}"`;
  }

  /** Runs a verb: a returned string is its error; a thrown StoreError becomes one, never an exception. */
  async #guard(fn: () => Promise<string | undefined>): Promise<RouterResult> {
    try {
      const error = await fn();
      return error === undefined ? { ok: true } : { ok: false, error };
    } catch (err) {
      if (err instanceof StoreError) return { ok: false, error: err.describe() };
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }
}

interface ReadRecord {
  readonly configMap: ConfigMap | undefined;
  readonly record: ManagedRouteMap;
}

function isManagedRouteMap(value: unknown): value is ManagedRouteMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.values(value).every(
    (entry) =>
      entry !== null &&
      typeof entry === 'object' &&
      !Array.isArray(entry) &&
      Object.values(entry).every((i) => Number.isInteger(i) && (i as number) >= 0),
  );
}

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

// Sluice's own traffic router (`trafficRouting.plugins["sluice/proxy"]`): each Rollout is one route in
// the controller's RouteTable, which the control server pushes to every proxy subscribed to it. The
// route has two backends, stable (first: the stable side of sticky-bucket ranges) and canary, each the
// ready endpoints of its Service; the canary's weight is the step's weight in basis points of
// maxTrafficWeight; setHeaderRoute / setMirrorRoute steps become header routes and a mirror on the route.
//
// A weight is verified only when every proxy subscribed to the route has ACKed a snapshot that carries
// it (Argo's VerifyWeight): with no proxy, or a proxy that has not answered or NACKed, the step waits and
// `unverifiedReason()` says for whom.
//
// State: the route content lives in the RouteTable; what the table cannot say (which mirror step is
// set, by name) lives in ProxyRouting, per Rollout, and is rebuilt from the Rollout's steps when a
// restarted controller meets a Rollout mid-way.

import { type ProxyRouterConfig, proxyRouterConfig } from '../../api/proxy-router-config.ts';
import {
  maxTrafficWeight,
  type Rollout,
  type SetHeaderRoute,
  type SetMirrorRoute,
} from '../../api/rollout.ts';
import type { ControlBackend, ControlRoute, DeliveryView, RouteTable } from '../../control/route-table.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import type { RouterResult, TrafficRouter, Verification } from '../router.ts';
import { proxyRoute, readyEndpoints, revisionPodPrefix } from './backends.ts';
import { blueGreenRoute } from './blue-green.ts';
import {
  CANARY_BACKEND,
  type ManagedRoutes,
  NO_MANAGED_ROUTES,
  STABLE_BACKEND,
  withHeaderRoute,
  withMirrorRoute,
} from './managed-routes.ts';

interface RolloutRouting {
  /** namespace/route this Rollout publishes. */
  readonly namespace: string;
  readonly route: string;
  canaryHash: string;
  stableHash: string;
  /** Percent of all traffic (0..100, two decimals). */
  canaryPercent: number;
  managed: ManagedRoutes;
}

/** The proxy router's memory across reconciles, one per controller. */
export class ProxyRouting {
  readonly #rollouts = new Map<string, RolloutRouting>();
  /** Blue-green Rollouts (namespace/name) -> the route name they publish. */
  readonly #blueGreen = new Map<string, string>();
  readonly store: ObjectStore;
  readonly table: RouteTable;
  readonly deliveries: DeliveryView;

  constructor(store: ObjectStore, table: RouteTable, deliveries: DeliveryView) {
    this.store = store;
    this.table = table;
    this.deliveries = deliveries;
  }

  /**
   * The router for one reconcile of `ro`; undefined when `ro` has no valid proxy router config (the
   * Rollout's validation reports that as InvalidSpec, and an invalid spec moves no traffic).
   */
  routerFor(ro: Rollout): ProxyRouter | undefined {
    const parsed = proxyRouterConfig(ro);
    if (parsed === undefined || !parsed.ok) return undefined;
    const namespace = ro.metadata.namespace ?? '';
    const key = `${namespace}/${ro.metadata.name}`;
    let state = this.#rollouts.get(key);
    if (state !== undefined && state.route !== parsed.config.route) {
      // The route was renamed: the old one goes from the proxies.
      this.table.remove(state.namespace, state.route);
      state = undefined;
    }
    if (state === undefined) {
      state = seed(ro, namespace, parsed.config.route);
      this.#rollouts.set(key, state);
    }
    return new ProxyRouter(this, ro, parsed.config, state);
  }

  /**
   * Publishes a blue-green Rollout's route as its Services stand (blue-green.ts); called after each of its
   * reconciles. An invalid config publishes nothing: the Rollout is InvalidSpec.
   */
  publishBlueGreen(ro: Rollout): RouterResult {
    const parsed = proxyRouterConfig(ro);
    if (parsed === undefined || !parsed.ok) return { ok: true };
    const route = blueGreenRoute(this.store, ro, parsed.config);
    if (typeof route === 'string') return { ok: false, error: route };
    const key = `${route.namespace}/${ro.metadata.name}`;
    const previous = this.#blueGreen.get(key);
    if (previous !== undefined && previous !== route.name) this.table.remove(route.namespace, previous);
    this.#blueGreen.set(key, route.name);
    this.table.publish(route);
    return { ok: true };
  }

  /** The Rollout is gone: its route leaves the proxies. */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const blueGreen = this.#blueGreen.get(key);
    if (blueGreen !== undefined) {
      this.#blueGreen.delete(key);
      this.table.remove(namespace, blueGreen);
    }
    const state = this.#rollouts.get(key);
    if (state === undefined) return;
    this.#rollouts.delete(key);
    this.table.remove(state.namespace, state.route);
  }
}

/** What a restarted controller knows of a Rollout mid-way: its status weights and the steps behind it. */
function seed(ro: Rollout, namespace: string, route: string): RolloutRouting {
  const weights = ro.status?.canary?.weights;
  const max = maxTrafficWeight(ro);
  let managed: ManagedRoutes = NO_MANAGED_ROUTES;
  const steps = ro.spec.strategy.canary?.steps ?? [];
  const index = Math.min(ro.status?.currentStepIndex ?? 0, steps.length);
  if (!ro.status?.abort) {
    for (const step of steps.slice(0, index)) {
      if (step.setHeaderRoute) {
        const next = withHeaderRoute(managed, step.setHeaderRoute);
        if (next.ok) managed = next.routes;
      }
      if (step.setMirrorRoute) {
        const next = withMirrorRoute(managed, step.setMirrorRoute);
        if (next.ok) managed = next.routes;
      }
    }
  }
  return {
    namespace,
    route,
    canaryHash: weights?.canary.podTemplateHash ?? ro.status?.currentPodHash ?? '',
    stableHash: weights?.stable.podTemplateHash ?? ro.status?.stableRS ?? '',
    canaryPercent: toPercent(weights?.canary.weight ?? 0, max),
    managed,
  };
}

/** A weight of maxTrafficWeight as a percent with two decimals (basis points). */
export function toPercent(weight: number, max: number): number {
  if (max <= 0) return 0;
  return Math.min(100, Math.max(0, Math.round((weight * 10_000) / max) / 100));
}

export class ProxyRouter implements TrafficRouter {
  readonly type = 'Proxy';
  readonly #routing: ProxyRouting;
  readonly #ro: Rollout;
  readonly #config: ProxyRouterConfig;
  readonly #state: RolloutRouting;
  #unverified: string | undefined;

  constructor(routing: ProxyRouting, ro: Rollout, config: ProxyRouterConfig, state: RolloutRouting) {
    this.#routing = routing;
    this.#ro = ro;
    this.#config = config;
    this.#state = state;
  }

  async updateHash(canaryHash: string, stableHash: string): Promise<RouterResult> {
    this.#state.canaryHash = canaryHash;
    this.#state.stableHash = stableHash;
    return this.#publish();
  }

  async setWeight(canaryWeight: number): Promise<RouterResult> {
    this.#state.canaryPercent = toPercent(canaryWeight, maxTrafficWeight(this.#ro));
    return this.#publish();
  }

  async setHeaderRoute(route: SetHeaderRoute): Promise<RouterResult> {
    const next = withHeaderRoute(this.#state.managed, route);
    if (!next.ok) return { ok: false, error: next.error };
    this.#state.managed = next.routes;
    return this.#publish();
  }

  async setMirrorRoute(route: SetMirrorRoute): Promise<RouterResult> {
    const next = withMirrorRoute(this.#state.managed, route);
    if (!next.ok) return { ok: false, error: next.error };
    this.#state.managed = next.routes;
    return this.#publish();
  }

  async removeManagedRoutes(): Promise<RouterResult> {
    this.#state.managed = NO_MANAGED_ROUTES;
    return this.#publish();
  }

  async verifyWeight(canaryWeight: number): Promise<Verification> {
    const s = this.#state;
    const published = this.#routing.table.get(s.namespace, s.route);
    const percent = toPercent(canaryWeight, maxTrafficWeight(this.#ro));
    const canary = published?.route.backends.find((b) => b.name === CANARY_BACKEND);
    if (published === undefined || canary === undefined || canary.weight !== percent) {
      this.#unverified = `route ${s.namespace}/${s.route} does not carry weight ${percent}% yet`;
      return false;
    }
    const deliveries = this.#routing.deliveries.deliveries(s.namespace, s.route);
    if (deliveries.length === 0) {
      this.#unverified = `no proxy is subscribed to route ${s.namespace}/${s.route}`;
      return false;
    }
    const waiting: string[] = [];
    for (const d of deliveries) {
      if (d.ackedVersion >= published.version) continue;
      if (d.nack !== undefined && d.nack.version >= published.version)
        waiting.push(`proxy ${d.proxyId} rejected snapshot ${d.nack.version}: ${d.nack.reason}`);
      else
        waiting.push(
          `proxy ${d.proxyId} has not ACKed snapshot ${published.version} yet (ACKed ${d.ackedVersion || 'none'})`,
        );
    }
    if (waiting.length > 0) {
      this.#unverified = `weight ${percent}% on route ${s.namespace}/${s.route} not verified: ${waiting.join('; ')}`;
      return false;
    }
    this.#unverified = undefined;
    return true;
  }

  /** Why the last verifyWeight answered false (undefined after a true). */
  unverifiedReason(): string | undefined {
    return this.#unverified;
  }

  #publish(): RouterResult {
    const route = this.#route();
    if ('ok' in route) return route;
    this.#routing.table.publish(route);
    return { ok: true };
  }

  /**
   * The route as the state says, an error naming what is missing, or a wait: a side that takes traffic
   * while its Service's endpoints still list only another revision's pods (the endpoints controller lags
   * a selector switch). The proxies keep the route they have until the endpoints catch up, which
   * re-reconciles the Rollout.
   */
  #route(): ControlRoute | (RouterResult & { ok: false }) {
    const s = this.#state;
    const c = this.#ro.spec.strategy.canary;
    const stableService = c?.stableService;
    const canaryService = c?.canaryService;
    if (!stableService || !canaryService)
      return {
        ok: false,
        error: 'spec.strategy.canary.stableService and canaryService are required by the sluice/proxy router',
      };
    const store = this.#routing.store;
    const name = this.#ro.metadata.name;
    const prefix = (hash: string): string | undefined =>
      hash === '' ? undefined : revisionPodPrefix(name, hash);
    const stable = readyEndpoints(store, s.namespace, stableService, this.#config, prefix(s.stableHash));
    if (!stable.ok) return stable;
    const canary = readyEndpoints(store, s.namespace, canaryService, this.#config, prefix(s.canaryHash));
    if (!canary.ok) return canary;
    const sides = [
      { service: stableService, hash: s.stableHash, result: stable, weight: 100 - s.canaryPercent },
      { service: canaryService, hash: s.canaryHash, result: canary, weight: s.canaryPercent },
    ];
    for (const side of sides) {
      if (side.weight > 0 && side.result.endpoints.length === 0 && side.result.otherRevisions > 0) {
        return {
          ok: false,
          waiting: true,
          error: `service "${side.service}" endpoints list only pods of other revisions than ${side.hash} (the endpoints controller has not followed the selector yet)`,
        };
      }
    }
    const backends: ControlBackend[] = [
      {
        name: STABLE_BACKEND,
        revision: s.stableHash,
        endpoints: stable.endpoints,
        weight: Math.round((100 - s.canaryPercent) * 100) / 100,
      },
      { name: CANARY_BACKEND, revision: s.canaryHash, endpoints: canary.endpoints, weight: s.canaryPercent },
    ];
    return proxyRoute(s.namespace, this.#config, backends, {
      headerRoutes: s.managed.headerRoutes,
      ...(s.managed.mirror !== undefined
        ? { mirror: { backend: CANARY_BACKEND, percent: s.managed.mirror.percent } }
        : {}),
    });
  }
}

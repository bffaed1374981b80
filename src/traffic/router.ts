// The TrafficRouter seam (ARCHITECTURE.md), shaped on Argo's trafficroutingutil.TrafficRoutingReconciler:
// UpdateHash, SetWeight, SetHeaderRoute, SetMirrorRoute, VerifyWeight (true/false/unknown) and
// RemoveManagedRoutes. Several routers may serve one Rollout; the reconciler calls them in the fixed
// order of ROUTER_ORDER. Weights here are percents of maxTrafficWeight as in Argo's API (the proxy
// router converts to basis points). Routers report failures as results, never by throwing.

import type { SetHeaderRoute, SetMirrorRoute } from '../api/rollout.ts';

export interface WeightDestinationSpec {
  readonly serviceName: string;
  readonly podTemplateHash: string;
  readonly weight: number;
}

/**
 * A verb's answer. `waiting` marks an expected wait rather than a fault (Istio's DestinationRule switch
 * delayed until the ReplicaSets are available, Argo #2507): the step is held and retried all the same, but
 * no Warning event or TrafficRouting condition says something is wrong.
 */
export type RouterResult = { ok: true } | { ok: false; error: string; waiting?: boolean };

/** true = verified, false = not yet, undefined = the router cannot verify (Argo's nil). */
export type Verification = boolean | undefined;

export interface TrafficRouter {
  /** e.g. 'Istio', 'Nginx', 'SMI', 'Service', 'Proxy'. */
  readonly type: string;
  updateHash(
    canaryHash: string,
    stableHash: string,
    additional: readonly WeightDestinationSpec[],
  ): Promise<RouterResult>;
  setWeight(canaryWeight: number, additional: readonly WeightDestinationSpec[]): Promise<RouterResult>;
  setHeaderRoute(route: SetHeaderRoute): Promise<RouterResult>;
  setMirrorRoute(route: SetMirrorRoute): Promise<RouterResult>;
  verifyWeight(canaryWeight: number, additional: readonly WeightDestinationSpec[]): Promise<Verification>;
  removeManagedRoutes(): Promise<RouterResult>;
  /** Why the last verifyWeight answered false, for routers that can tell (the condition and event name it). */
  unverifiedReason?(): string | undefined;
}

/** Argo's NewTrafficRoutingReconciler order. */
export const ROUTER_ORDER = [
  'istio',
  'nginx',
  'alb',
  'smi',
  'ambassador',
  'appMesh',
  'traefik',
  'apisix',
  'plugins',
] as const;

/**
 * Plain Services (basic canary, or a traffic router that is not available yet): the weight is carried
 * by replica counts, so weight calls succeed without doing anything and verification is unknown.
 * Service selectors themselves are switched by the reconciler (canaryService/stableService).
 */
export class ServiceRouter implements TrafficRouter {
  readonly type = 'Service';
  async updateHash(): Promise<RouterResult> {
    return { ok: true };
  }
  async setWeight(): Promise<RouterResult> {
    return { ok: true };
  }
  async setHeaderRoute(): Promise<RouterResult> {
    return { ok: true };
  }
  async setMirrorRoute(): Promise<RouterResult> {
    return { ok: true };
  }
  async verifyWeight(): Promise<Verification> {
    return undefined;
  }
  async removeManagedRoutes(): Promise<RouterResult> {
    return { ok: true };
  }
}

/**
 * A router whose config does not parse (validation already made the Rollout InvalidSpec): every verb that
 * writes fails with the field's message, so nothing is half-applied if a reconcile gets this far anyway.
 */
export class InvalidConfigRouter implements TrafficRouter {
  readonly type: string;
  readonly #result: RouterResult;
  constructor(type: string, error: string) {
    this.type = type;
    this.#result = { ok: false, error };
  }
  async updateHash(): Promise<RouterResult> {
    return this.#result;
  }
  async setWeight(): Promise<RouterResult> {
    return this.#result;
  }
  async setHeaderRoute(): Promise<RouterResult> {
    return this.#result;
  }
  async setMirrorRoute(): Promise<RouterResult> {
    return this.#result;
  }
  async verifyWeight(): Promise<Verification> {
    return undefined;
  }
  async removeManagedRoutes(): Promise<RouterResult> {
    return this.#result;
  }
}

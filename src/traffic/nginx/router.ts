// The NGINX Ingress router (Argo's rollout/trafficrouting/nginx/nginx.go): for each stable Ingress the
// Rollout names, a canary Ingress `<rollout>-<stableIngress>-canary`, controlled by the Rollout, carries
// ingress-nginx's canary annotations; setWeight writes the weight there. ingress-nginx does the split.
//
// Differences from Argo's order of work, both to leave nothing half-written: every stable Ingress is
// read and every desired canary Ingress built before the first write (Argo builds and writes one Ingress
// at a time, so a bad second Ingress left the first already moved); and Ingresses are read fresh, never
// from a cache (Sluice caches no Ingress). Argo's messages are kept word for word, "from cache" included,
// so what users search for still matches.
//
// setHeaderRoute, setMirrorRoute, updateHash and removeManagedRoutes do nothing, verifyWeight cannot tell:
// exactly Argo's nginx reconciler (header routing with nginx is `canary-by-header` in
// additionalIngressAnnotations). Only networking.k8s.io/v1 Ingress is supported.

import { canaryIngressName, type NginxConfig, nginxConfig } from '../../api/routers/nginx.ts';
import { isControlledBy } from '../../reconcile/owners.ts';
import { StoreError } from '../../store/object-store.ts';
import { apiVersionOf } from '../../store/resources.ts';
import type { RouterContext } from '../context.ts';
import { InvalidConfigRouter, type RouterResult, type TrafficRouter, type Verification } from '../router.ts';
import { canaryIngressPatch, desiredCanaryIngress, type Ingress } from './canary-ingress.ts';

export const NGINX_ROUTER_TYPE = 'Nginx';
/** The only Ingress API version this router writes. */
export const SUPPORTED_INGRESS_API_VERSION = 'networking.k8s.io/v1';

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A read failure that is the API itself missing (the cluster answers 404 for the resource type). */
function apiHint(e: unknown): string {
  return e instanceof StoreError && e.reason === 'NotFound'
    ? ` (the cluster does not serve ${SUPPORTED_INGRESS_API_VERSION} Ingress)`
    : '';
}

const OK: RouterResult = { ok: true };

export class NginxRouter implements TrafficRouter {
  readonly type = NGINX_ROUTER_TYPE;
  readonly #ctx: RouterContext;
  readonly #config: NginxConfig;

  constructor(ctx: RouterContext, config: NginxConfig) {
    this.#ctx = ctx;
    this.#config = config;
  }

  async updateHash(): Promise<RouterResult> {
    return OK;
  }

  /** Argo's SetWeight / SetWeightPerIngress; additional (experiment) destinations are ignored, as Argo's. */
  async setWeight(canaryWeight: number): Promise<RouterResult> {
    const { store, rollout, apiVersions } = this.#ctx;
    const namespace = rollout.metadata.namespace ?? '';
    const apiVersion = apiVersionOf('Ingress', apiVersions);
    if (apiVersion !== SUPPORTED_INGRESS_API_VERSION)
      return {
        ok: false,
        error: `Ingress API ${apiVersion} is not supported by the NGINX router (${SUPPORTED_INGRESS_API_VERSION} only)`,
      };

    // 1. Read every stable Ingress and build every desired canary Ingress: no write before all are good.
    const desired: Ingress[] = [];
    for (const stableName of this.#config.stableIngresses) {
      let stable: Ingress | undefined;
      try {
        stable = await store.read<Ingress>('Ingress', namespace, stableName);
      } catch (e) {
        return {
          ok: false,
          error: `error retrieving stableIngress \`${stableName}\` from cache: ${describe(e)}${apiHint(e)}`,
        };
      }
      if (stable === undefined)
        return {
          ok: false,
          error: `error retrieving stableIngress \`${stableName}\` from cache: ingress.networking.k8s.io "${stableName}" not found`,
        };
      const built = desiredCanaryIngress({
        rollout,
        config: this.#config,
        stable,
        name: canaryIngressName(rollout.metadata.name, stableName),
        weight: canaryWeight,
        apiVersion,
      });
      if (!built.ok) return built;
      desired.push(built.ingress);
    }

    // 2. Create or patch each canary Ingress.
    for (const want of desired) {
      const result = await this.#apply(namespace, want, canaryWeight);
      if (!result.ok) return result;
    }
    return OK;
  }

  async #apply(namespace: string, want: Ingress, weight: number): Promise<RouterResult> {
    const { store, rollout } = this.#ctx;
    const name = want.metadata.name;
    let current: Ingress | undefined;
    try {
      current = await store.read<Ingress>('Ingress', namespace, name);
    } catch (e) {
      return {
        ok: false,
        error: `error retrieving canary ingress \`${name}\` from cache: ${describe(e)}${apiHint(e)}`,
      };
    }
    if (current === undefined) {
      store.recordEvent(
        rollout,
        'Normal',
        'CreatingCanaryIngress',
        `Creating canary ingress \`${name}\` with weight \`${Math.round(weight)}\``,
      );
      try {
        await store.create(want);
        return OK;
      } catch (e) {
        if (!(e instanceof StoreError && e.reason === 'AlreadyExists'))
          return { ok: false, error: `error creating canary ingress \`${name}\`: ${describe(e)}` };
      }
      // Created meanwhile by another reconcile (Argo: the race after a stale cache): carry on with it.
      try {
        current = await store.read<Ingress>('Ingress', namespace, name);
      } catch (e) {
        return { ok: false, error: `error retrieving canary ingress \`${name}\` from api: ${describe(e)}` };
      }
      if (current === undefined)
        return {
          ok: false,
          error: `error retrieving canary ingress \`${name}\` from api: ingress.networking.k8s.io "${name}" not found`,
        };
    }

    if (!isControlledBy(current, 'Rollout', rollout))
      return { ok: false, error: `canary ingress \`${name}\` controlled by different object` };

    const patch = canaryIngressPatch(current, want);
    if (patch === undefined) return OK;
    store.recordEvent(
      rollout,
      'Normal',
      'PatchingCanaryIngress',
      `Updating Ingress \`${name}\` to desiredWeight '${Math.round(weight)}'`,
    );
    try {
      await store.patch('Ingress', namespace, name, patch, 'merge');
    } catch (e) {
      return { ok: false, error: `error patching canary ingress \`${name}\`: ${describe(e)}` };
    }
    return OK;
  }

  /** Argo's nginx SetHeaderRoute returns nil: header routing is `canary-by-header` annotations. */
  async setHeaderRoute(): Promise<RouterResult> {
    return OK;
  }

  /** Argo's nginx SetMirrorRoute returns nil. */
  async setMirrorRoute(): Promise<RouterResult> {
    return OK;
  }

  /** Argo's nginx VerifyWeight returns nil: ingress-nginx has no status saying a weight is applied. */
  async verifyWeight(): Promise<Verification> {
    return undefined;
  }

  /** No managed routes: Argo's nginx RemoveManagedRoutes returns nil. The canary Ingress stays (GC'd with the Rollout). */
  async removeManagedRoutes(): Promise<RouterResult> {
    return OK;
  }
}

/**
 * The NGINX router for one reconcile of `ctx.rollout`; undefined when the Rollout has no
 * `trafficRouting.nginx`. An invalid config gives a router whose every verb fails naming the field.
 */
export function nginxRouter(ctx: RouterContext): TrafficRouter | undefined {
  const parsed = nginxConfig(ctx.rollout);
  if (parsed === undefined) return undefined;
  if (!parsed.ok) return new InvalidConfigRouter(NGINX_ROUTER_TYPE, `${parsed.field}: ${parsed.message}`);
  return new NginxRouter(ctx, parsed.config);
}

// Which TrafficRouters reconcile a Rollout, in Argo's order (src/rollout/apply.ts sorts them): Istio,
// NGINX Ingress, SMI, then the plugins (Gateway API, Sluice's proxy). A canary without trafficRouting has
// the plain-Services router (replica counts carry the weight). Routers Argo has and Sluice does not are
// refused by validation before a reconcile gets here (src/api/rollout-validation.ts).
// The proxy router's memory (ProxyRouting) lives as long as the controller; a deleted Rollout's route
// leaves the proxies at once. The mesh and ingress routers are built per reconcile: their state is in
// the objects they write.

import { usesProxyRouter } from '../api/proxy-router-config.ts';
import type { Rollout } from '../api/rollout.ts';
import type { DeliveryView, RouteTable } from '../control/route-table.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ApiVersions } from '../store/resources.ts';
import type { RouterContext } from '../traffic/context.ts';
import { gatewayApiRouter } from '../traffic/gateway-api/router.ts';
import { istioRouter } from '../traffic/istio/router.ts';
import { nginxRouter } from '../traffic/nginx/router.ts';
import { ProxyRouting } from '../traffic/proxy/router.ts';
import { type RouterResult, ServiceRouter, type TrafficRouter } from '../traffic/router.ts';
import { smiRouter } from '../traffic/smi/router.ts';

export interface Routers {
  /** For ReconcileDeps.routers. */
  readonly routersFor: (ro: Rollout) => readonly TrafficRouter[];
  /** For ReconcileDeps.publishRoutes: a blue-green Rollout's proxy route after its reconcile. */
  readonly publishRoutes: (ro: Rollout) => Promise<RouterResult>;
  /** Stops following Rollout deletions. */
  readonly close: () => void;
}

/** The mesh and ingress routers a canary Rollout configures (none for a blue-green or an unrouted canary). */
export function meshRouters(ctx: RouterContext): TrafficRouter[] {
  if (ctx.rollout.spec.strategy?.canary?.trafficRouting === undefined) return [];
  return [istioRouter(ctx), nginxRouter(ctx), smiRouter(ctx), gatewayApiRouter(ctx)].filter(
    (r): r is TrafficRouter => r !== undefined,
  );
}

export function createRouters(
  store: ObjectStore,
  table: RouteTable,
  deliveries: DeliveryView,
  apiVersions: ApiVersions = {},
): Routers {
  const proxy = new ProxyRouting(store, table, deliveries);
  const unwatch = store.watch('Rollout', (type, obj) => {
    if (type === 'DELETED') proxy.forget(obj.metadata.namespace ?? '', obj.metadata.name);
  });
  return {
    routersFor: (ro) => {
      const routers = meshRouters({ store, rollout: ro, apiVersions });
      if (usesProxyRouter(ro)) {
        const router = proxy.routerFor(ro);
        if (router !== undefined) routers.push(router);
        return routers;
      }
      if (routers.length > 0 || ro.spec.strategy?.canary === undefined) return routers;
      // No router configured (or trafficRouting with only managedRoutes, as Argo allows): plain Services.
      return [new ServiceRouter()];
    },
    publishRoutes: async (ro) =>
      ro.spec.strategy?.blueGreen !== undefined && usesProxyRouter(ro)
        ? proxy.publishBlueGreen(ro)
        : { ok: true },
    close: unwatch,
  };
}

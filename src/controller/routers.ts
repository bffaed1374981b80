// Which TrafficRouters reconcile a Rollout: Sluice's proxy router for `plugins["sluice/proxy"]` (a canary's
// verbs, or a blue-green's route published after each reconcile), plain Services otherwise (the other routers are issue 10's). The proxy router's memory (ProxyRouting) lives
// as long as the controller; a deleted Rollout's route leaves the proxies at once.

import { usesProxyRouter } from '../api/proxy-router-config.ts';
import type { Rollout } from '../api/rollout.ts';
import type { DeliveryView, RouteTable } from '../control/route-table.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { ProxyRouting } from '../traffic/proxy/router.ts';
import { type RouterResult, ServiceRouter, type TrafficRouter } from '../traffic/router.ts';

export interface Routers {
  /** For ReconcileDeps.routers. */
  readonly routersFor: (ro: Rollout) => readonly TrafficRouter[];
  /** For ReconcileDeps.publishRoutes: a blue-green Rollout's proxy route after its reconcile. */
  readonly publishRoutes: (ro: Rollout) => Promise<RouterResult>;
  /** Stops following Rollout deletions. */
  readonly close: () => void;
}

export function createRouters(store: ObjectStore, table: RouteTable, deliveries: DeliveryView): Routers {
  const proxy = new ProxyRouting(store, table, deliveries);
  const unwatch = store.watch('Rollout', (type, obj) => {
    if (type === 'DELETED') proxy.forget(obj.metadata.namespace ?? '', obj.metadata.name);
  });
  return {
    routersFor: (ro) => {
      if (usesProxyRouter(ro)) {
        const router = proxy.routerFor(ro);
        return router === undefined ? [] : [router];
      }
      return ro.spec.strategy?.canary ? [new ServiceRouter()] : [];
    },
    publishRoutes: async (ro) =>
      ro.spec.strategy?.blueGreen !== undefined && usesProxyRouter(ro)
        ? proxy.publishBlueGreen(ro)
        : { ok: true },
    close: unwatch,
  };
}

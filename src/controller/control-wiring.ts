// How the control server for the proxies is tied to the reconcilers, the same in `sluice controller` and
// `sluice standalone`: which routes exist (a Rollout of this controller routes them through sluice/proxy),
// and what a proxy's answer wakes up (an ACK or NACK re-verifies the Rollouts behind its routes; new
// histogram reports re-run the Running AnalysisRuns of those namespaces, so a sluice/judge metric gives
// its verdict now rather than at its next interval: analysis/plan.ts EARLY_VERDICT_PROVIDERS).

import type { KubeObject } from '../api/meta.ts';
import { proxyRouterConfig } from '../api/proxy-router-config.ts';
import type { Rollout } from '../api/rollout.ts';
import type { ControlServerOptions, RouteRef } from '../control/server.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { Enqueuer } from './enqueue.ts';

export type ControlCallbacks = Pick<
  ControlServerOptions,
  'routeKnown' | 'routeNamespaces' | 'onAck' | 'onNack' | 'onReports'
>;

/** The callbacks, reading the store and the enqueuer when called (either may come later). */
export function controlCallbacks(
  store: () => ObjectStore | undefined,
  enqueuer: () => Enqueuer | undefined,
): ControlCallbacks {
  const routeNamespaces = (name: string, namespace?: string): string[] => {
    const out = new Set<string>();
    for (const ro of store()?.list<Rollout>('Rollout', namespace) ?? []) {
      if (enqueuer()?.mine(ro) === false) continue;
      const parsed = proxyRouterConfig(ro);
      if (parsed?.ok && parsed.config.route === name) out.add(ro.metadata.namespace ?? '');
    }
    return [...out];
  };
  const acked = (routes: readonly RouteRef[]): void => {
    for (const ns of new Set(routes.map((r) => r.namespace))) {
      const names = new Set(routes.filter((r) => r.namespace === ns).map((r) => r.name));
      for (const ro of store()?.list<Rollout>('Rollout', ns) ?? []) {
        const parsed = proxyRouterConfig(ro);
        if (parsed?.ok && names.has(parsed.config.route)) enqueuer()?.rollout(ro);
      }
    }
  };
  return {
    routeKnown: (namespace, name) => routeNamespaces(name, namespace).length > 0,
    routeNamespaces: (name) => routeNamespaces(name),
    onAck: (_proxyId, _version, routes) => acked(routes),
    onNack: (_proxyId, _version, _reason, routes) => acked(routes),
    onReports: (routes) => {
      for (const ns of new Set(routes.map((r) => r.namespace))) {
        for (const run of store()?.list<KubeObject & { status?: { phase?: string } }>('AnalysisRun', ns) ??
          [])
          if (run.status?.phase === 'Running') enqueuer()?.run(run);
      }
    },
  };
}

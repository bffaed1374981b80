// The sluice/proxy router for a blue-green Rollout (Sluice's extension: Argo's blue-green has no traffic
// routing). The route follows the Services the blue-green reconciler switches: all traffic to the active
// Service's ready endpoints, and requests carrying the preview header (default `x-sluice-preview: true`) to
// the preview Service's, so a new version can be tried through the same proxies before promotion. The
// revisions are the pod template hashes the Services select. No weights move, so there is nothing to verify.

import { DEFAULT_PREVIEW_HEADER, type ProxyRouterConfig } from '../../api/proxy-router-config.ts';
import { POD_TEMPLATE_HASH_LABEL, type Rollout } from '../../api/rollout.ts';
import type { Service } from '../../api/workloads.ts';
import type { ControlBackend, ControlRoute } from '../../control/route-table.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { proxyRoute, readyEndpoints } from './backends.ts';

export const ACTIVE_BACKEND = 'active';
export const PREVIEW_BACKEND = 'preview';

/** The blue-green route of `ro`, or the error naming what is missing. */
export function blueGreenRoute(
  store: ObjectStore,
  ro: Rollout,
  config: ProxyRouterConfig,
): ControlRoute | string {
  const bg = ro.spec.strategy.blueGreen;
  if (bg === undefined) return 'not a blue-green Rollout';
  const namespace = ro.metadata.namespace ?? '';
  const backend = (name: string, serviceName: string, weight: number): ControlBackend | string => {
    const endpoints = readyEndpoints(store, namespace, serviceName, config);
    if (!endpoints.ok) return endpoints.error;
    const service = store.get<Service>('Service', namespace, serviceName);
    const revision = service?.spec.selector?.[POD_TEMPLATE_HASH_LABEL] ?? ro.status?.stableRS ?? '';
    return { name, revision, endpoints: endpoints.endpoints, weight };
  };
  const active = backend(ACTIVE_BACKEND, bg.activeService, 100);
  if (typeof active === 'string') return active;
  const backends: ControlBackend[] = [active];
  const header = config.previewHeader ?? DEFAULT_PREVIEW_HEADER;
  let headerRoutes: ControlRoute['headerRoutes'];
  if (bg.previewService) {
    const preview = backend(PREVIEW_BACKEND, bg.previewService, 0);
    if (typeof preview === 'string') return preview;
    backends.push(preview);
    headerRoutes = [
      { name: 'preview', match: [{ header: header.name, exact: header.value }], backend: PREVIEW_BACKEND },
    ];
  }
  return proxyRoute(namespace, config, backends, headerRoutes === undefined ? {} : { headerRoutes });
}

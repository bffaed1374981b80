// What standalone does with DIR: load, keep only what one machine can run, apply like `kubectl apply`,
// and again on every edit (src/standalone/manifests.ts does the loading, applying and watching). A Rollout
// routed by Istio, NGINX, SMI or Gateway API needs a cluster: it is reported with its file and field and
// not applied, the rest runs. A canary with both Services and no trafficRouting is routed by the embedded
// proxy (withEmbeddedProxyRouting).

import type { Logger } from 'pino';
import { PROXY_ROUTER_PLUGIN } from '../api/proxy-router-config.ts';
import type { Rollout } from '../api/rollout.ts';
import type { ObjectStore } from '../store/object-store.ts';
import {
  applyManifests,
  type LoadedManifests,
  loadManifests,
  type ManifestLog,
  type ManifestProblem,
  SOURCE_ANNOTATION,
  watchManifests,
} from './manifests.ts';

/**
 * Standalone's routing default: a canary with both Services and no trafficRouting goes through the
 * embedded proxy. Written into the stored Rollout so `sluice get` and the status say what routes it.
 */
export function withEmbeddedProxyRouting(ro: Rollout): Rollout {
  const c = ro.spec?.strategy?.canary;
  if (c === undefined || c.trafficRouting !== undefined || !c.canaryService || !c.stableService) return ro;
  const next = structuredClone(ro);
  next.spec.strategy.canary!.trafficRouting = { plugins: { [PROXY_ROUTER_PLUGIN]: {} } };
  return next;
}

/** The router keys of a Rollout other than the embedded proxy: the first one, with its field path. */
function clusterRouter(ro: Rollout): { field: string; key: string } | undefined {
  const routing = ro.spec?.strategy?.canary?.trafficRouting;
  if (routing === undefined) return undefined;
  const base = 'spec.strategy.canary.trafficRouting';
  for (const key of ['istio', 'nginx', 'smi', 'alb', 'ambassador', 'appMesh', 'traefik', 'apisix'] as const) {
    if (routing[key] !== undefined && routing[key] !== null) return { field: `${base}.${key}`, key };
  }
  for (const name of Object.keys(routing.plugins ?? {})) {
    if (name !== PROXY_ROUTER_PLUGIN) return { field: `${base}.plugins.${name}`, key: name };
  }
  return undefined;
}

/** Standalone's view of the loaded manifests: cluster-only routers refused by field, proxy routing defaulted. */
export function forStandalone(loaded: LoadedManifests): LoadedManifests {
  const problems: ManifestProblem[] = [...loaded.problems];
  const objects = [];
  for (const obj of loaded.objects) {
    if (obj.kind !== 'Rollout') {
      objects.push(obj);
      continue;
    }
    const ro = obj as unknown as Rollout;
    const router = clusterRouter(ro);
    if (router !== undefined) {
      problems.push({
        file: obj.metadata.annotations?.[SOURCE_ANNOTATION] ?? '',
        field: router.field,
        message: `Rollout ${obj.metadata.name}: the ${router.key} traffic router needs a cluster; standalone routes through its embedded proxy (plugins.${PROXY_ROUTER_PLUGIN}, or no trafficRouting with canaryService and stableService)`,
      });
      continue;
    }
    objects.push(withEmbeddedProxyRouting(ro) as unknown as typeof obj);
  }
  return { ...loaded, objects, problems };
}

/** The first apply of DIR, then one after every change; returns the stop function. */
export async function startManifests(store: ObjectStore, dir: string, log: Logger): Promise<() => void> {
  const manifestLog: ManifestLog = (level, message) => log[level]({ dir }, message);
  await applyManifests(store, forStandalone(await loadManifests(dir)), manifestLog);
  const watcher = watchManifests(dir, store, { log: manifestLog, transform: forStandalone });
  return () => watcher.close();
}

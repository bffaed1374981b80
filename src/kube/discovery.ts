// Which versions of the traffic routers' custom resources this API server serves, read from discovery
// (`GET /apis/<group>/<version>` lists a version's resources). Istio follows Argo's flag
// (--istio-api-version, default v1alpha3) as Argo does; SMI takes --traffic-split-api-version when given,
// else Argo's default v1alpha1 when the cluster serves it, else the newest version it serves (Linkerd's
// SMI extension serves v1alpha1 and v1alpha2, OSM v1alpha2..4 — only v1alpha1..3 are Argo's); Gateway API
// routes take the newest served version that has them. A group the cluster does not serve keeps the
// default: the router then reports the missing API by name when a Rollout uses it.

import type { Kind } from '../api/meta.ts';
import { type ApiVersions, RESOURCES } from '../store/resources.ts';
import type { KubeClient } from './client.ts';

export const ISTIO_API_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'] as const;
export const TRAFFIC_SPLIT_API_VERSIONS = ['v1alpha1', 'v1alpha2', 'v1alpha3'] as const;
const GATEWAY_VERSIONS = ['v1', 'v1beta1', 'v1alpha2'] as const;

export interface RouterApiFlags {
  /** networking.istio.io version (Argo's --istio-api-version); default v1alpha3. */
  readonly istioApiVersion?: string;
  /** split.smi-spec.io version (Argo's --traffic-split-api-version); default: discovered. */
  readonly trafficSplitApiVersion?: string;
}

/** A flag value outside the versions Argo accepts: the message names the flag. */
export function routerApiFlagError(flags: RouterApiFlags): string | undefined {
  if (
    flags.istioApiVersion !== undefined &&
    !(ISTIO_API_VERSIONS as readonly string[]).includes(flags.istioApiVersion)
  )
    return `--istio-api-version: "${flags.istioApiVersion}" is not one of ${ISTIO_API_VERSIONS.join(', ')}`;
  if (
    flags.trafficSplitApiVersion !== undefined &&
    !(TRAFFIC_SPLIT_API_VERSIONS as readonly string[]).includes(flags.trafficSplitApiVersion)
  )
    return `--traffic-split-api-version: "${flags.trafficSplitApiVersion}" is not one of ${TRAFFIC_SPLIT_API_VERSIONS.join(', ')}`;
  return undefined;
}

/** The resource plurals a group/version serves; undefined when the API server does not serve it. */
async function servedResources(client: KubeClient, groupVersion: string): Promise<Set<string> | undefined> {
  const res = await client.request('GET', `/apis/${groupVersion}`, {
    record: { verb: 'Get', resource: 'discovery', namespace: '', name: groupVersion },
  });
  if (res.status !== 200) return undefined;
  const resources = (res.body as { resources?: { name?: unknown }[] } | undefined)?.resources ?? [];
  return new Set(resources.map((r) => String(r.name)));
}

async function firstServing(
  client: KubeClient,
  kind: Kind,
  group: string,
  versions: readonly string[],
): Promise<string | undefined> {
  const plural = RESOURCES[kind].plural;
  for (const v of versions) {
    const served = await servedResources(client, `${group}/${v}`);
    if (served?.has(plural)) return `${group}/${v}`;
  }
  return undefined;
}

/**
 * Fills `into` (the map the store and the routers share) with the versions to use. Discovery failures
 * (network, 403) keep what `into` held: the next call tries again.
 */
export async function discoverRouterApiVersions(
  client: KubeClient,
  flags: RouterApiFlags,
  into: Partial<Record<Kind, string>>,
): Promise<ApiVersions> {
  const istio = `networking.istio.io/${flags.istioApiVersion ?? 'v1alpha3'}`;
  into.VirtualService = istio;
  into.DestinationRule = istio;
  try {
    into.TrafficSplit =
      flags.trafficSplitApiVersion !== undefined
        ? `split.smi-spec.io/${flags.trafficSplitApiVersion}`
        : ((await firstServing(client, 'TrafficSplit', 'split.smi-spec.io', [
            'v1alpha1',
            'v1alpha3',
            'v1alpha2',
          ])) ?? into.TrafficSplit);
    for (const kind of ['HTTPRoute', 'GRPCRoute', 'TCPRoute'] as const) {
      const found = await firstServing(client, kind, 'gateway.networking.k8s.io', GATEWAY_VERSIONS);
      if (found !== undefined) into[kind] = found;
    }
  } catch {
    // Keep the previous answer; discovery runs again at the next resync.
  }
  return into;
}

/**
 * The routers' kinds Argo keeps informers on (Ingresses for NGINX, VirtualServices and DestinationRules for
 * Istio), of those this cluster serves: watching them re-reconciles a Rollout when its objects are edited
 * or re-created, so an out-of-band edit is put back at once.
 */
export const WATCHED_ROUTER_KINDS = ['Ingress', 'VirtualService', 'DestinationRule'] as const;

export async function servedWatchedRouterKinds(client: KubeClient, versions: ApiVersions): Promise<Kind[]> {
  const out: Kind[] = [];
  for (const kind of WATCHED_ROUTER_KINDS) {
    const groupVersion = versions[kind] ?? RESOURCES[kind].apiVersion;
    try {
      if ((await servedResources(client, groupVersion))?.has(RESOURCES[kind].plural)) out.push(kind);
    } catch {
      // Not known to be served: asked again at the next resync.
    }
  }
  return out;
}

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

/** A GET of an API path, answered as is: the controller's client, or the CLI's `rawGet`. */
export type RawGet = (path: string) => Promise<{ readonly status: number; readonly body: unknown }>;

/** The group/versions tried for each kind whose version differs between clusters, preferred first. */
export const VERSION_ORDER: Readonly<Partial<Record<Kind, readonly string[]>>> = {
  VirtualService: ISTIO_API_VERSIONS.map((v) => `networking.istio.io/${v}`),
  DestinationRule: ISTIO_API_VERSIONS.map((v) => `networking.istio.io/${v}`),
  // Argo's default v1alpha1 when served, else the newest.
  TrafficSplit: ['v1alpha1', 'v1alpha3', 'v1alpha2'].map((v) => `split.smi-spec.io/${v}`),
  HTTPRoute: GATEWAY_VERSIONS.map((v) => `gateway.networking.k8s.io/${v}`),
  GRPCRoute: GATEWAY_VERSIONS.map((v) => `gateway.networking.k8s.io/${v}`),
  TCPRoute: GATEWAY_VERSIONS.map((v) => `gateway.networking.k8s.io/${v}`),
};

/** The resource plurals a group/version serves; undefined when the API server does not serve it. */
async function servedResources(get: RawGet, groupVersion: string): Promise<Set<string> | undefined> {
  const res = await get(`/apis/${groupVersion}`);
  if (res.status !== 200) return undefined;
  const resources = (res.body as { resources?: { name?: unknown }[] } | undefined)?.resources ?? [];
  return new Set(resources.map((r) => String(r.name)));
}

/**
 * The first group/version of VERSION_ORDER that serves each of `kinds` (each group/version asked once);
 * a kind served by none, or whose discovery failed, is left out (its default applies).
 */
export async function discoverServedVersions(
  get: RawGet,
  kinds: readonly Kind[],
): Promise<Partial<Record<Kind, string>>> {
  const out: Partial<Record<Kind, string>> = {};
  const served = new Map<string, Set<string> | undefined>();
  for (const kind of kinds) {
    for (const groupVersion of VERSION_ORDER[kind] ?? []) {
      if (!served.has(groupVersion))
        served.set(groupVersion, await servedResources(get, groupVersion).catch(() => undefined));
      if (served.get(groupVersion)?.has(RESOURCES[kind].plural)) {
        out[kind] = groupVersion;
        break;
      }
    }
  }
  return out;
}

function clientGet(client: KubeClient): RawGet {
  return (path) =>
    client.request('GET', path, {
      record: { verb: 'Get', resource: 'discovery', namespace: '', name: path },
    });
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
  const kinds: Kind[] = ['HTTPRoute', 'GRPCRoute', 'TCPRoute'];
  if (flags.trafficSplitApiVersion !== undefined)
    into.TrafficSplit = `split.smi-spec.io/${flags.trafficSplitApiVersion}`;
  else kinds.push('TrafficSplit');
  // A failed discovery leaves a kind out: it keeps the previous answer and is asked again at the next resync.
  Object.assign(into, await discoverServedVersions(clientGet(client), kinds));
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
    // Not known to be served (or discovery failed): asked again at the next resync.
    const served = await servedResources(clientGet(client), groupVersion).catch(() => undefined);
    if (served?.has(RESOURCES[kind].plural)) out.push(kind);
  }
  return out;
}

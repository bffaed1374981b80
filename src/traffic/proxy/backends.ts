// A Service's ready endpoints for the proxy router, like a mesh's EDS: the Endpoints object the
// endpoints controller keeps for the Service (same name), its ready addresses at the port the router is
// configured with. Not-ready addresses are left out: a pod takes traffic once its readiness says so, and
// so are the pods of another revision than the side's.
// Also the route shape both strategies publish (proxyRoute).

import type { ProxyRouterConfig } from '../../api/proxy-router-config.ts';
import type { Endpoints, Service, ServicePort } from '../../api/workloads.ts';
import type { ControlBackend, ControlRoute } from '../../control/route-table.ts';
import type { ObjectStore } from '../../store/object-store.ts';

export type EndpointsResult =
  | {
      ok: true;
      endpoints: string[];
      /** Ready addresses left out because their pod belongs to another revision (see readyEndpoints). */
      otherRevisions: number;
    }
  | { ok: false; error: string };

/** The Service port the router uses: the configured one (by name or number), else the only one. */
export function servicePort(service: Service, config: ProxyRouterConfig): ServicePort | string {
  const ports = service.spec.ports ?? [];
  const name = service.metadata.name;
  if (config.port === undefined) {
    if (ports.length === 1) return ports[0]!;
    return `service "${name}" has ${ports.length} ports: set plugins.sluice/proxy.port to the one to use`;
  }
  const found = ports.find((p) =>
    typeof config.port === 'number' ? p.port === config.port : p.name === config.port,
  );
  return found ?? `service "${name}" has no port ${JSON.stringify(config.port)} (plugins.sluice/proxy.port)`;
}

/** Kubernetes' name generator keeps at most this much of a generateName (63 minus 5 random characters). */
const MAX_GENERATE_NAME_BASE = 58;

/**
 * The name prefix of the pods of one revision: a ReplicaSet `<rollout>-<pod-template-hash>` names its pods
 * `<replicaset>-<random>` (generateName), in the cluster and in standalone alike. Kubernetes cuts a longer
 * base to 58 characters; with a Rollout name of 47 characters or more that cut reaches the hash, and
 * revisions can no longer be told apart by name (every pod then passes).
 */
export function revisionPodPrefix(rolloutName: string, podTemplateHash: string): string {
  return `${rolloutName}-${podTemplateHash}-`.slice(0, MAX_GENERATE_NAME_BASE);
}

/**
 * http://ip:port of each ready address behind the Service, sorted (a stable order gives stable content).
 * With `podPrefix`, an address whose Pod (targetRef) is named outside that revision is left out and
 * counted: right after a selector switch the endpoints controller still lists the previous revision's
 * pods for a moment, and a request of one side must never reach the other side's version (its series
 * would count the other version's answers). An address without a Pod targetRef is kept: nothing says
 * whose it is.
 */
export function readyEndpoints(
  store: ObjectStore,
  namespace: string,
  serviceName: string,
  config: ProxyRouterConfig,
  podPrefix?: string,
): EndpointsResult {
  const service = store.get<Service>('Service', namespace, serviceName);
  if (service === undefined) return { ok: false, error: `service "${serviceName}" not found` };
  const port = servicePort(service, config);
  if (typeof port === 'string') return { ok: false, error: port };
  const endpoints = store.get<Endpoints>('Endpoints', namespace, serviceName);
  const out = new Set<string>();
  const others = new Set<string>();
  for (const subset of endpoints?.subsets ?? []) {
    // The endpoints controller names each subset port after the Service port it serves.
    const target = (subset.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? ''));
    if (target === undefined) continue;
    for (const address of subset.addresses ?? []) {
      const url = `http://${hostPort(address.ip, target.port)}`;
      const ref = address.targetRef;
      const pod = ref?.kind === 'Pod' ? ref.name : undefined;
      if (podPrefix !== undefined && pod !== undefined && !pod.startsWith(podPrefix)) others.add(url);
      else out.add(url);
    }
  }
  return { ok: true, endpoints: [...out].sort(), otherRevisions: others.size };
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The route a Rollout publishes: its name and match, stickiness and timeouts from the config, with the
 * backends (and managed header routes and mirror) its strategy decides. One shape for canary and blue-green.
 */
export function proxyRoute(
  namespace: string,
  config: ProxyRouterConfig,
  backends: readonly ControlBackend[],
  managed: Pick<ControlRoute, 'headerRoutes' | 'mirror'> = {},
): ControlRoute {
  return {
    namespace,
    name: config.route,
    match: {
      ...(config.host !== undefined ? { host: config.host } : {}),
      ...(config.pathPrefix !== undefined ? { pathPrefix: config.pathPrefix } : {}),
    },
    backends,
    ...(config.stickySessions !== undefined ? { stickySessions: config.stickySessions } : {}),
    ...(managed.headerRoutes !== undefined && managed.headerRoutes.length > 0
      ? { headerRoutes: managed.headerRoutes }
      : {}),
    ...(managed.mirror !== undefined ? { mirror: managed.mirror } : {}),
    ...(config.timeouts !== undefined ? { timeouts: config.timeouts } : {}),
  };
}

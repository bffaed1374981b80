// A Service's ready endpoints for the proxy router, like a mesh's EDS: the Endpoints object the
// endpoints controller keeps for the Service (same name), its ready addresses at the port the router is
// configured with. Not-ready addresses are left out: a pod takes traffic once its readiness says so.
// Also the route shape both strategies publish (proxyRoute).

import type { ProxyRouterConfig } from '../../api/proxy-router-config.ts';
import type { Endpoints, Service, ServicePort } from '../../api/workloads.ts';
import type { ControlBackend, ControlRoute } from '../../control/route-table.ts';
import type { ObjectStore } from '../../store/object-store.ts';

export type EndpointsResult = { ok: true; endpoints: string[] } | { ok: false; error: string };

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

/** http://ip:port of each ready address behind the Service, sorted (a stable order gives stable content). */
export function readyEndpoints(
  store: ObjectStore,
  namespace: string,
  serviceName: string,
  config: ProxyRouterConfig,
): EndpointsResult {
  const service = store.get<Service>('Service', namespace, serviceName);
  if (service === undefined) return { ok: false, error: `service "${serviceName}" not found` };
  const port = servicePort(service, config);
  if (typeof port === 'string') return { ok: false, error: port };
  const endpoints = store.get<Endpoints>('Endpoints', namespace, serviceName);
  const out = new Set<string>();
  for (const subset of endpoints?.subsets ?? []) {
    // The endpoints controller names each subset port after the Service port it serves.
    const target = (subset.ports ?? []).find((p) => (p.name ?? '') === (port.name ?? ''));
    if (target === undefined) continue;
    for (const address of subset.addresses ?? []) out.add(`http://${hostPort(address.ip, target.port)}`);
  }
  return { ok: true, endpoints: [...out].sort() };
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

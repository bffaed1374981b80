// The proxy's routing configuration as plain typed data: what a routes file parses into and what a
// controller's snapshot push maps onto. Validation lives in config-file.ts (YAML with line numbers)
// and routing/snapshot.ts (semantic checks shared by both sources); this file only names the shapes.

export interface RoutesConfig {
  routes: RouteConfig[];
}

export interface RouteConfig {
  /** Route name; also the `app` label in metrics. */
  name: string;
  /** Optional; label only. */
  namespace?: string;
  match: RouteMatchConfig;
  /** One or more backends. The first is the stable side for sticky-bucket ranges. */
  backends: BackendConfig[];
  stickySessions?: StickySessionsConfig;
  /** Evaluated before weights, first match wins. */
  headerRoutes?: HeaderRouteConfig[];
  mirror?: MirrorConfig;
  /** Per-route timeout overrides; defaults come from the proxy's options. */
  timeouts?: RouteTimeoutsConfig;
  /** How a request picks a pod of its side in endpoints mode; default "least-outstanding". */
  endpointPolicy?: EndpointPolicy;
}

/**
 * round-robin: the endpoints in turn. least-outstanding: the endpoint with the fewest requests in
 * flight through this proxy, ties in turn (docs/proxy.md has the measurement behind the default).
 */
export type EndpointPolicy = 'round-robin' | 'least-outstanding';

export interface RouteMatchConfig {
  /** Exact host (port ignored, case-insensitive) or "*" / absent for any host. */
  host?: string;
  /** Longest matching prefix wins; defaults to "/". */
  pathPrefix?: string;
}

export interface BackendConfig {
  /** Role name, e.g. "stable" or "canary": the `role` label in metrics. */
  name: string;
  /** Revision (pod template hash); the `revision` label in metrics. */
  revision: string;
  /**
   * One upstream, http://host:port or https://host:port (e.g. a Kubernetes Service). Exactly one of
   * `address` and `endpoints` is given.
   */
  address?: string;
  /**
   * The ready pods of this side, http://IP:PORT each (a mesh's EDS). May be empty: no pod is ready,
   * and requests routed to this side get a 503. Exactly one of `address` and `endpoints` is given.
   */
  endpoints?: string[];
  /** Percent with up to two decimals (0..100); converted to basis points (0..10000). */
  weight: number;
}

export interface StickySessionsConfig {
  cookie: string;
  maxAgeSeconds?: number;
}

export interface HeaderMatchConfig {
  header: string;
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HeaderRouteConfig {
  name: string;
  match: HeaderMatchConfig[];
  /** Name of one of the route's backends. */
  backend: string;
}

export interface MirrorConfig {
  /** Name of one of the route's backends. */
  backend: string;
  /** Percent of requests copied (0..100, two decimals). */
  percent: number;
}

export interface RouteTimeoutsConfig {
  connectMs?: number;
  responseHeadersMs?: number;
  idleBodyMs?: number;
}

// The routes the controller publishes to its proxies: one entry per (namespace, route name), written by
// the proxy traffic router (src/traffic/proxy/) and read by the control server (server.ts), which builds
// every subscribed proxy's complete snapshot from it. The shapes mirror control.proto's Route message
// (and so the proxy's RoutesConfig) in camelCase; src/ may not import proxy/, so they are declared here.
//
// Versions: one counter per table, bumped by every change of content. A route remembers the version at
// which its current content was published (`version`); a proxy that ACKed a snapshot of version >= that
// serves this content, since snapshots are always built from the table as it is when they are sent.
// Publishing content equal to what is there changes nothing and notifies nobody.

import { isDeepStrictEqual } from 'node:util';

export interface ControlRouteMatch {
  readonly host?: string;
  readonly pathPrefix?: string;
}

export interface ControlBackend {
  /** Role name: "stable", "canary", "preview"... */
  readonly name: string;
  /** Pod template hash. */
  readonly revision: string;
  /** A single upstream (http://host:port); exclusive with endpoints. */
  readonly address?: string;
  /** The ready pods behind the backend (http://podIP:port each); may be empty. Exclusive with address. */
  readonly endpoints?: readonly string[];
  /** Percent, 0..100 with up to two decimals. */
  readonly weight: number;
}

export interface ControlHeaderMatch {
  readonly header: string;
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
}

export interface ControlHeaderRoute {
  readonly name: string;
  readonly match: readonly ControlHeaderMatch[];
  /** Name of one of the route's backends. */
  readonly backend: string;
}

export interface ControlRoute {
  readonly namespace: string;
  readonly name: string;
  readonly match: ControlRouteMatch;
  /** The first backend is the stable side. */
  readonly backends: readonly ControlBackend[];
  readonly stickySessions?: { readonly cookie: string; readonly maxAgeSeconds?: number };
  readonly headerRoutes?: readonly ControlHeaderRoute[];
  readonly mirror?: { readonly backend: string; readonly percent: number };
  readonly timeouts?: {
    readonly connectMs?: number;
    readonly responseHeadersMs?: number;
    readonly idleBodyMs?: number;
  };
}

export interface PublishedRoute {
  readonly route: ControlRoute;
  /** The table version at which this content was published. */
  readonly version: number;
}

export type RouteTableListener = (namespace: string, name: string) => void;

export class RouteTable {
  #version = 0;
  readonly #routes = new Map<string, PublishedRoute>();
  readonly #listeners = new Set<RouteTableListener>();

  /** The table's current version (0 before anything was published). */
  get version(): number {
    return this.#version;
  }

  /** Sets a route's content; returns the version that carries it (unchanged content: the old version). */
  publish(route: ControlRoute): number {
    const key = routeKey(route.namespace, route.name);
    const current = this.#routes.get(key);
    if (current !== undefined && isDeepStrictEqual(current.route, route)) return current.version;
    this.#version++;
    this.#routes.set(key, { route, version: this.#version });
    this.#notify(route.namespace, route.name);
    return this.#version;
  }

  /** Forgets a route (its Rollout is gone); proxies subscribed to it get snapshots without it. */
  remove(namespace: string, name: string): void {
    if (!this.#routes.delete(routeKey(namespace, name))) return;
    this.#version++;
    this.#notify(namespace, name);
  }

  get(namespace: string, name: string): PublishedRoute | undefined {
    return this.#routes.get(routeKey(namespace, name));
  }

  /** Routes named `name`: in `namespace` only when given, else in every namespace. */
  find(name: string, namespace?: string): PublishedRoute[] {
    if (namespace !== undefined) {
      const one = this.get(namespace, name);
      return one === undefined ? [] : [one];
    }
    return [...this.#routes.values()].filter((p) => p.route.name === name);
  }

  all(): PublishedRoute[] {
    return [...this.#routes.values()];
  }

  /** Called after every change with the route that changed; returns the unsubscribe function. */
  onChange(listener: RouteTableListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(namespace: string, name: string): void {
    for (const listener of [...this.#listeners]) listener(namespace, name);
  }
}

export function routeKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** What one subscribed proxy has been sent and has answered, as the control server tracks it. */
export interface RouteDelivery {
  /** The proxy's Hello proxy_id. */
  readonly proxyId: string;
  /** The gRPC peer address of its stream. */
  readonly peer: string;
  /** The latest snapshot version written to it (0: none yet, e.g. while its routes are not all published). */
  readonly sentVersion: number;
  /** The latest version it ACKed (0: none). */
  readonly ackedVersion: number;
  /** Its latest NACK, when that is newer than its latest ACK. */
  readonly nack?: { readonly version: number; readonly reason: string };
}

/** The control server's view that the proxy router verifies weights against. */
export interface DeliveryView {
  /** Every proxy connected now whose subscription covers the route (by exact namespace or by name alone). */
  deliveries(namespace: string, name: string): RouteDelivery[];
}

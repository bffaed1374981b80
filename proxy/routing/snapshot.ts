// Builds an immutable RouteSnapshot from a validated RoutesConfig: backends' addresses or endpoints
// resolved to upstream handles and telemetry series once (never per request), weights in basis
// points, header matchers and regexes compiled, a route table for matching, and fresh picker state
// (SWRR credits, session placement, endpoint cursors, mirror accumulator). The data path swaps the
// whole snapshot reference on a change.

import type { RouteConfig, RoutesConfig } from '../config.ts';
import type { RequestSeries, SeriesLabels } from '../telemetry.ts';
import { bucketRanges, revisionToken } from './affinity.ts';
import { DEFAULT_ENDPOINT_POLICY, EndpointPicker, type OutstandingOf } from './endpoint-picker.ts';
import { type CompiledHeaderRoute, compileHeaderMatcher } from './header-match.ts';
import type { CookieKeyRing } from './key-ring.ts';
import { MirrorSampler } from './mirror.ts';
import type {
  BackendPick,
  CompiledRoute,
  CompiledSticky,
  RouteDescription,
  RouteSnapshot,
  RouteTimeouts,
  SnapshotBackend,
  SnapshotDescription,
} from './snapshot-types.ts';
import { type SwrrPhase, SwrrPicker } from './swrr.ts';
import { RouteTable } from './table.ts';
import { bpOf, DEFAULT_STICKY_MAX_AGE_SECONDS, normalisePathPrefix } from './validate.ts';

export interface SnapshotDeps<U> {
  /** Upstream handle for a normalised origin (an address or one endpoint); cached across snapshots. */
  upstreamFor(address: string): U;
  /** Requests in flight on a handle, for the least-outstanding endpoint policy. */
  outstanding: OutstandingOf<U>;
  series(labels: SeriesLabels): RequestSeries;
  keys: CookieKeyRing;
  defaultTimeouts: RouteTimeouts;
  /** Uniform in [0, 1) for bucket draws and endpoint cursors' start; Math.random by default. */
  random?: () => number;
  /** This process's place among the proxy's workers: where its weight cycles start (swrr.ts). */
  swrrPhase?: SwrrPhase;
}

function compileRoute<U>(route: RouteConfig, deps: SnapshotDeps<U>, random: () => number): CompiledRoute<U> {
  const namespace = route.namespace ?? '';
  const endpointPolicy = route.endpointPolicy ?? DEFAULT_ENDPOINT_POLICY;
  const backends: SnapshotBackend<U>[] = route.backends.map((b, index) => {
    const mode = b.address !== undefined ? 'address' : 'endpoints';
    const addresses = b.address !== undefined ? [b.address] : (b.endpoints ?? []);
    const endpoints = Object.freeze(
      addresses.map((a) => {
        const address = new URL(a).origin;
        return Object.freeze({ address, upstream: deps.upstreamFor(address) });
      }),
    );
    return Object.freeze({
      index,
      name: b.name,
      revision: b.revision,
      mode,
      endpoints,
      // a draw only where there is a choice: single-address backends leave the bucket draws' sequence alone
      picker: new EndpointPicker(
        endpoints,
        endpointPolicy,
        deps.outstanding,
        endpoints.length > 1 ? random() : 0,
      ),
      weightBp: bpOf(b.weight),
      series: deps.series({ app: route.name, namespace, role: b.name, revision: b.revision }),
    });
  });
  const indexOf = new Map(backends.map((b) => [b.name, b.index]));
  const weightsBp = backends.map((b) => b.weightBp);

  const headerRoutes: CompiledHeaderRoute[] = [];
  for (const hr of route.headerRoutes ?? []) {
    const backendIndex = indexOf.get(hr.backend);
    if (backendIndex === undefined) continue; // unreachable for a validated config
    headerRoutes.push(
      Object.freeze({ name: hr.name, matchers: hr.match.map(compileHeaderMatcher), backendIndex }),
    );
  }

  let sticky: CompiledSticky | null = null;
  if (route.stickySessions !== undefined) {
    sticky = Object.freeze({
      cookieName: route.stickySessions.cookie,
      maxAgeSeconds: route.stickySessions.maxAgeSeconds ?? DEFAULT_STICKY_MAX_AGE_SECONDS,
      ring: deps.keys,
      revisionToken: revisionToken(backends.slice(1).map((b) => b.revision)),
      ranges: bucketRanges(weightsBp),
      sessions: new SwrrPicker(weightsBp, deps.swrrPhase),
      random,
      verified: new Map(),
    });
  }

  let mirror: CompiledRoute<U>['mirror'] = null;
  if (route.mirror !== undefined) {
    const index = indexOf.get(route.mirror.backend);
    const percentBp = bpOf(route.mirror.percent);
    if (index !== undefined && percentBp > 0) {
      mirror = Object.freeze({ backend: backends[index]!, sampler: new MirrorSampler(percentBp) });
    }
  }

  const t = route.timeouts ?? {};
  const timeouts: RouteTimeouts = Object.freeze({
    connectMs: t.connectMs ?? deps.defaultTimeouts.connectMs,
    responseHeadersMs: t.responseHeadersMs ?? deps.defaultTimeouts.responseHeadersMs,
    idleBodyMs: t.idleBodyMs ?? deps.defaultTimeouts.idleBodyMs,
  });

  const picksFor = (via: 'header' | 'sticky' | 'weight'): BackendPick<U>[] =>
    backends.map((backend) => Object.freeze({ kind: 'backend' as const, backend, setCookie: null, via }));

  return Object.freeze({
    name: route.name,
    namespace,
    host: (route.match.host ?? '*').toLowerCase(),
    pathPrefix: normalisePathPrefix(route.match.pathPrefix ?? '/'),
    backends: Object.freeze(backends),
    endpointPolicy,
    timeouts,
    headerRoutes: Object.freeze(headerRoutes),
    sticky,
    mirror,
    weights: new SwrrPicker(weightsBp, deps.swrrPhase),
    picks: Object.freeze({
      weight: picksFor('weight'),
      header: picksFor('header'),
      sticky: picksFor('sticky'),
    }),
  });
}

function describeRoute<U>(r: CompiledRoute<U>): RouteDescription {
  const s = r.sticky;
  return {
    name: r.name,
    namespace: r.namespace,
    match: { host: r.host, pathPrefix: r.pathPrefix },
    endpointPolicy: r.endpointPolicy,
    backends: r.backends.map((b) => ({
      name: b.name,
      revision: b.revision,
      ...(b.mode === 'address'
        ? { address: b.endpoints[0]!.address }
        : { endpoints: b.endpoints.map((e) => e.address) }),
      weightPercent: b.weightBp / 100,
      weightBp: b.weightBp,
    })),
    stickySessions:
      s === null
        ? null
        : {
            cookie: s.cookieName,
            maxAgeSeconds: s.maxAgeSeconds,
            revisionToken: s.revisionToken,
            keyId: s.ring.signing.id,
            buckets: r.backends.map((b) => ({
              backend: b.name,
              start: s.ranges.start[b.index]!,
              end: s.ranges.end[b.index]!,
            })),
          },
    headerRoutes: r.headerRoutes.map((h) => ({
      name: h.name,
      backend: r.backends[h.backendIndex]!.name,
      match: h.matchers.map((m) => ({ header: m.header, kind: m.kind, value: m.value })),
    })),
    mirror:
      r.mirror === null
        ? null
        : {
            backend: r.mirror.backend.name,
            percent: r.mirror.sampler.percentBp / 100,
            percentBp: r.mirror.sampler.percentBp,
          },
    timeouts: { ...r.timeouts },
  };
}

/** Compiles a validated config (validateRoutesConfig) into an immutable snapshot. */
export function buildSnapshot<U>(
  config: RoutesConfig,
  version: number,
  deps: SnapshotDeps<U>,
): RouteSnapshot<U> {
  const random = deps.random ?? Math.random;
  const routes = Object.freeze(config.routes.map((r) => compileRoute(r, deps, random)));
  const table = new RouteTable(routes.map((r) => ({ host: r.host, pathPrefix: r.pathPrefix, value: r })));
  return Object.freeze({
    version,
    routes,
    match: (hostHeader: string | undefined, path: string) => table.match(hostHeader, path),
    describe: (): SnapshotDescription => ({ version, routes: routes.map(describeRoute) }),
  });
}

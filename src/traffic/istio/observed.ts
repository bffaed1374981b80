// What a VirtualService actually routes, read back from its JSON: for each route rule the Rollout's
// config selects (the same selection the router weights: virtual-service.ts), the weight of the canary
// destination(s), of the stable one(s) and of any other destination still taking traffic (experiment
// Services, additional subsets). Pure: the VirtualService as fetched, in; one entry per selected route out.

import type { Rollout } from '../../api/rollout.ts';
import type { IstioConfig, IstioVirtualService } from '../../api/routers/istio.ts';
import {
  destinationHost,
  type JsonObject,
  type Result,
  routesOf,
  type SplitTargets,
  selectHttpRoutes,
  selectTcpRoutes,
  selectTlsRoutes,
} from './virtual-service.ts';

export interface IstioOtherWeight {
  /** The destination's Service (host's first label), with `/subset` when it names one. */
  readonly destination: string;
  readonly weight: number;
}

export interface IstioRouteWeight {
  readonly kind: 'http' | 'tls' | 'tcp';
  /** Index in spec.http / spec.tls / spec.tcp. */
  readonly index: number;
  /** The route's name, or `[index]` for an unnamed one. */
  readonly name: string;
  /** Sum of the canary destinations' weights; undefined when the route has none. */
  readonly canary: number | undefined;
  /** Sum of the stable destinations' weights; undefined when the route has none. */
  readonly stable: number | undefined;
  /** Every other destination with a weight. */
  readonly other: readonly IstioOtherWeight[];
}

/** Who is canary and who is stable for the Rollout's Istio config (as the router decides it). */
export function istioSplitTargets(ro: Rollout, config: IstioConfig): SplitTargets {
  const canary = ro.spec.strategy.canary;
  const dr = config.destinationRule;
  return {
    canaryService: canary?.canaryService ?? '',
    stableService: canary?.stableService ?? '',
    canarySubset: dr?.canarySubsetName ?? '',
    stableSubset: dr?.stableSubsetName ?? '',
    additionalSubsets: dr?.additionalSubsetNames ?? [],
    subsetLevel: dr !== undefined,
  };
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function subsetOf(d: JsonObject): string {
  const dest = isObject(d.destination) ? d.destination : {};
  return typeof dest.subset === 'string' ? dest.subset : '';
}

/** Istio: a route with a single destination and no weight sends it everything. */
function weightsOf(dests: readonly JsonObject[]): number[] {
  if (dests.length === 1 && typeof dests[0]!.weight !== 'number') return [100];
  return dests.map((d) => (typeof d.weight === 'number' ? d.weight : 0));
}

function routeWeight(
  route: JsonObject,
  kind: IstioRouteWeight['kind'],
  index: number,
  t: SplitTargets,
): IstioRouteWeight {
  const dests = Array.isArray(route.route) ? (route.route as JsonObject[]) : [];
  const weights = weightsOf(dests);
  let canary: number | undefined;
  let stable: number | undefined;
  const other: IstioOtherWeight[] = [];
  dests.forEach((d, i) => {
    const host = destinationHost(d);
    const subset = subsetOf(d);
    const w = weights[i] ?? 0;
    if (host === '') return;
    if (host === t.canaryService || (subset !== '' && subset === t.canarySubset)) canary = (canary ?? 0) + w;
    else if (host === t.stableService || (subset !== '' && subset === t.stableSubset))
      stable = (stable ?? 0) + w;
    else if (w !== 0) other.push({ destination: subset === '' ? host : `${host}/${subset}`, weight: w });
  });
  const name = typeof route.name === 'string' && route.name !== '' ? route.name : `[${index}]`;
  return { kind, index, name, canary, stable, other };
}

/**
 * The weights of every route `ref` selects in `vs` (http, then tls, then tcp), as the router would
 * select them; an error when the VirtualService is malformed or a named route is missing.
 */
export function observedIstioWeights(
  vs: JsonObject,
  ref: IstioVirtualService,
  targets: SplitTargets,
  managedRoutes: readonly string[] = [],
): Result<IstioRouteWeight[]> {
  const out: IstioRouteWeight[] = [];
  const http = routesOf(vs, 'http');
  if (!http.ok) return http;
  if (http.value !== undefined) {
    const sel = selectHttpRoutes(http.value, ref.routes, managedRoutes);
    if (!sel.ok) return sel;
    for (const i of sel.value) out.push(routeWeight(http.value[i]!, 'http', i, targets));
  }
  const tls = routesOf(vs, 'tls');
  if (!tls.ok) return tls;
  if (tls.value !== undefined) {
    const sel = selectTlsRoutes(tls.value, ref.tlsRoutes);
    if (!sel.ok) return sel;
    for (const i of sel.value) out.push(routeWeight(tls.value[i]!, 'tls', i, targets));
  }
  const tcp = routesOf(vs, 'tcp');
  if (!tcp.ok) return tcp;
  if (tcp.value !== undefined) {
    const sel = selectTcpRoutes(tcp.value, ref.tcpRoutes);
    if (!sel.ok) return sel;
    for (const i of sel.value) out.push(routeWeight(tcp.value[i]!, 'tcp', i, targets));
  }
  if (out.length === 0)
    return { ok: false, error: 'no route of the VirtualService is selected by the Rollout' };
  return { ok: true, value: out };
}

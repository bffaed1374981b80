// The "Traffic" section of `sluice get rollout`: for a canary Rollout with trafficRouting, the weight the
// status asks for (status.canary.weights, in maxTrafficWeight units) beside the weight each configured
// router's objects actually route (read back by src/traffic/<router>/observed.ts), one row per object
// (per route for Istio, per rule for Gateway API), and whether they agree. The proxy router has no object
// to read: its row is the status' verdict (weights.verified, the WeightVerified condition).
//
// Objects are fetched through the CLI's client. The kinds whose served version differs between clusters
// (VirtualService, TrafficSplit, the Gateway API routes) are read at the versions discovery finds when
// the client can make raw GETs (CliDiscovery); otherwise at the defaults of src/store/resources.ts. A 404
// whose message names the object is "not found"; any other 404 is the API not served (CRD not installed).

import { errorText } from '../../api/errors.ts';
import type { Kind, KubeObject } from '../../api/meta.ts';
import { proxyRouterConfig, usesProxyRouter } from '../../api/proxy-router-config.ts';
import { currentSetWeight, maxTrafficWeight, type Rollout } from '../../api/rollout.ts';
import { gatewayApiConfig } from '../../api/routers/gateway-api.ts';
import { istioConfig } from '../../api/routers/istio.ts';
import { canaryIngressName, nginxConfig } from '../../api/routers/nginx.ts';
import { smiConfig } from '../../api/routers/smi.ts';
import { discoverServedVersions as discoverVersions } from '../../kube/discovery.ts';
import { type ApiVersions, apiVersionOf, objectPath } from '../../store/resources.ts';
import { observedRouteWeights } from '../../traffic/gateway-api/observed.ts';
import { type ManagedRouteMap, managedIndicesOf } from '../../traffic/gateway-api/rules.ts';
import { istioSplitTargets, observedIstioWeights } from '../../traffic/istio/observed.ts';
import { observedNginxWeight } from '../../traffic/nginx/observed.ts';
import { observedProxyWeight } from '../../traffic/proxy/observed.ts';
import { observedSplitWeights } from '../../traffic/smi/observed.ts';
import { type CliApi, CliApiError } from '../kube.ts';
import { ICON } from './info.ts';
import { tabulate } from './tree.ts';

export interface TrafficRow {
  /** Istio, Nginx, SMI, GatewayAPI, Proxy. */
  readonly router: string;
  /** e.g. `VirtualService shop/web route primary`, `Ingress shop/web-canary`, `route web` (proxy). */
  readonly object: string;
  /** The canary weight the status asks for. */
  readonly desired: number;
  /** The canary weight the object routes; undefined when it could not be read (see error / waiting). */
  readonly actual?: number;
  /** What the object gives the stable, where it says. */
  readonly stable?: number;
  /** Why there is no actual weight: the object or its API is missing, or it is malformed. */
  readonly error?: string;
  /** Proxy router: why the weight is not verified yet. */
  readonly waiting?: string;
  /** A remark on the actual weight (e.g. an NGINX canary Ingress that is not enabled). */
  readonly note?: string;
  /** actual === desired; undefined when it cannot be told. */
  readonly match: boolean | undefined;
}

export interface TrafficSection {
  readonly desiredCanary: number;
  readonly desiredStable: number;
  readonly desiredAdditional: readonly { readonly service: string; readonly weight: number }[];
  readonly maxWeight: number;
  /** status.canary.weights.verified: undefined when no router can verify. */
  readonly verified: boolean | undefined;
  /** The WeightVerified condition's message while False. */
  readonly waitingReason?: string;
  /** The TrafficRouting condition's message while a router's verb fails (the step is held). */
  readonly routerError?: string;
  readonly rows: readonly TrafficRow[];
}

/** A client that can make raw GETs (for discovery and versioned reads); the CLI's client may offer it. */
export interface CliDiscovery {
  rawGet(path: string): Promise<{ status: number; body: unknown }>;
}

type Api = CliApi & Partial<CliDiscovery>;

function hasRawGet(api: Api): api is CliApi & CliDiscovery {
  return typeof api.rawGet === 'function';
}

/** The served version of each of `kinds`, resolved as the controller resolves them (src/kube/discovery.ts). */
export function discoverServedVersions(raw: CliDiscovery, kinds: readonly Kind[]): Promise<ApiVersions> {
  return discoverVersions((path) => raw.rawGet(path), kinds);
}

interface Reader {
  readonly versions: ApiVersions;
  get(kind: Kind, namespace: string, name: string): Promise<KubeObject>;
}

function reader(api: Api, versions: ApiVersions): Reader {
  if (!hasRawGet(api)) return { versions: {}, get: (kind, ns, name) => api.get(kind, ns, name) };
  return {
    versions,
    get: async (kind, ns, name) => {
      const res = await api.rawGet(objectPath(kind, ns, name, versions));
      if (res.status >= 200 && res.status < 300) return res.body as KubeObject;
      const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<
        string,
        unknown
      >;
      throw new CliApiError(
        res.status,
        typeof body.reason === 'string' ? body.reason : '',
        typeof body.message === 'string' ? body.message : `get ${kind} ${name}: HTTP ${res.status}`,
      );
    },
  };
}

type Fetched = { ok: true; obj: KubeObject } | { ok: false; error: string };

/** Reads one object; failures become the row's text. */
async function fetchObject(r: Reader, kind: Kind, namespace: string, name: string): Promise<Fetched> {
  try {
    return { ok: true, obj: await r.get(kind, namespace, name) };
  } catch (error) {
    if (error instanceof CliApiError && error.status === 404) {
      // The API server's NotFound for an object names it; a resource it does not serve does not.
      if (error.message.includes(`"${name}"`))
        return { ok: false, error: `${kind} ${namespace}/${name} not found` };
      return {
        ok: false,
        error: `${kind} API ${apiVersionOf(kind, r.versions)} not served (CRD not installed?)`,
      };
    }
    return { ok: false, error: `${kind} ${namespace}/${name}: ${errorText(error)}` };
  }
}

function compared(row: Omit<TrafficRow, 'match'>): TrafficRow {
  const match = row.actual === undefined ? undefined : row.actual === row.desired;
  return { ...row, match };
}

async function nginxRows(r: Reader, ro: Rollout, desired: number): Promise<TrafficRow[]> {
  const parsed = nginxConfig(ro);
  if (parsed === undefined) return [];
  if (!parsed.ok)
    return [
      { router: 'Nginx', object: '', desired, error: `${parsed.field}: ${parsed.message}`, match: undefined },
    ];
  const namespace = ro.metadata.namespace ?? '';
  const rows: TrafficRow[] = [];
  for (const stable of parsed.config.stableIngresses) {
    const name = canaryIngressName(ro.metadata.name, stable);
    const object = `Ingress ${namespace}/${name}`;
    const got = await fetchObject(r, 'Ingress', namespace, name);
    if (!got.ok) {
      rows.push({ router: 'Nginx', object, desired, error: got.error, match: undefined });
      continue;
    }
    const obs = observedNginxWeight(got.obj, parsed.config.annotationPrefix);
    if (!obs.ok) rows.push({ router: 'Nginx', object, desired, error: obs.error, match: undefined });
    else
      rows.push(
        compared({
          router: 'Nginx',
          object,
          desired: Math.round(desired),
          actual: obs.canary,
          stable: obs.stable,
          ...(obs.enabled ? {} : { note: `${parsed.config.annotationPrefix}/canary is not "true"` }),
        }),
      );
  }
  return rows;
}

async function istioRows(r: Reader, ro: Rollout, desired: number): Promise<TrafficRow[]> {
  const parsed = istioConfig(ro);
  if (parsed === undefined) return [];
  if (!parsed.ok)
    return [
      { router: 'Istio', object: '', desired, error: `${parsed.field}: ${parsed.message}`, match: undefined },
    ];
  const targets = istioSplitTargets(ro, parsed.config);
  const managed = (ro.spec.strategy.canary?.trafficRouting?.managedRoutes ?? []).map((m) => m.name);
  const rows: TrafficRow[] = [];
  for (const ref of parsed.config.virtualServices) {
    const namespace = ref.namespace ?? ro.metadata.namespace ?? '';
    const object = `VirtualService ${namespace}/${ref.name}`;
    const got = await fetchObject(r, 'VirtualService', namespace, ref.name);
    if (!got.ok) {
      rows.push({ router: 'Istio', object, desired, error: got.error, match: undefined });
      continue;
    }
    const obs = observedIstioWeights(got.obj as unknown as Record<string, unknown>, ref, targets, managed);
    if (!obs.ok) {
      rows.push({ router: 'Istio', object, desired, error: obs.error, match: undefined });
      continue;
    }
    for (const route of obs.value) {
      const at = `${object} ${route.kind === 'http' ? '' : `${route.kind} `}route ${route.name}`;
      if (route.canary === undefined)
        rows.push({
          router: 'Istio',
          object: at,
          desired,
          error: 'no canary destination in the route',
          match: undefined,
        });
      else
        rows.push(
          compared({
            router: 'Istio',
            object: at,
            desired,
            actual: route.canary,
            ...(route.stable === undefined ? {} : { stable: route.stable }),
          }),
        );
    }
  }
  return rows;
}

async function smiRows(r: Reader, ro: Rollout, desired: number): Promise<TrafficRow[]> {
  const parsed = smiConfig(ro);
  if (parsed === undefined) return [];
  if (!parsed.ok)
    return [
      { router: 'SMI', object: '', desired, error: `${parsed.field}: ${parsed.message}`, match: undefined },
    ];
  const { trafficSplitName, canaryService, stableService } = parsed.config;
  const namespace = ro.metadata.namespace ?? '';
  const object = `TrafficSplit ${namespace}/${trafficSplitName}`;
  const got = await fetchObject(r, 'TrafficSplit', namespace, trafficSplitName);
  if (!got.ok) return [{ router: 'SMI', object, desired, error: got.error, match: undefined }];
  const obs = observedSplitWeights(got.obj, canaryService, stableService);
  if (!obs.ok) return [{ router: 'SMI', object, desired, error: obs.error, match: undefined }];
  if (obs.canary === undefined)
    return [
      {
        router: 'SMI',
        object,
        desired,
        error: `no backend for the canary Service "${canaryService}"`,
        match: undefined,
      },
    ];
  return [
    compared({
      router: 'SMI',
      object,
      desired,
      actual: obs.canary,
      ...(obs.stable === undefined ? {} : { stable: obs.stable }),
    }),
  ];
}

const ROUTE_KINDS = [
  { kind: 'HTTPRoute', list: 'httpRoutes', record: 'httpManagedRoutes' },
  { kind: 'GRPCRoute', list: 'grpcRoutes', record: 'grpcManagedRoutes' },
  { kind: 'TCPRoute', list: 'tcpRoutes', record: undefined },
] as const;

/** The plugin's ConfigMap record of header rules it added; empty when absent or unreadable. */
async function managedRecord(
  r: Reader,
  namespace: string,
  name: string,
  key: string,
): Promise<ManagedRouteMap> {
  try {
    const cm = (await r.get('ConfigMap', namespace, name)) as KubeObject & { data?: Record<string, string> };
    const raw = cm.data?.[key];
    return raw ? (JSON.parse(raw) as ManagedRouteMap) : {};
  } catch {
    return {};
  }
}

async function gatewayRows(r: Reader, ro: Rollout, desired: number): Promise<TrafficRow[]> {
  const parsed = gatewayApiConfig(ro);
  if (parsed === undefined) return [];
  const router = 'GatewayAPI';
  if (!parsed.ok)
    return [{ router, object: '', desired, error: `${parsed.field}: ${parsed.message}`, match: undefined }];
  const c = parsed.config;
  const rows: TrafficRow[] = [];
  for (const spec of ROUTE_KINDS) {
    for (const ref of c[spec.list]) {
      const object = `${spec.kind} ${c.namespace}/${ref.name}`;
      const got = await fetchObject(r, spec.kind, c.namespace, ref.name);
      if (!got.ok) {
        rows.push({ router, object, desired, error: got.error, match: undefined });
        continue;
      }
      const record =
        spec.record === undefined ? {} : await managedRecord(r, c.namespace, c.configMap, spec.record);
      const obs = observedRouteWeights(
        got.obj,
        c.canaryService,
        c.stableService,
        managedIndicesOf(record, ref.name),
      );
      if (!obs.ok) {
        rows.push({ router, object, desired, error: obs.error, match: undefined });
        continue;
      }
      for (const rule of obs.rules) {
        const at = `${object} rule ${rule.rule}`;
        if (rule.canary === undefined)
          rows.push({
            router,
            object: at,
            desired,
            error: `no backendRef for the canary Service "${c.canaryService}"`,
            match: undefined,
          });
        else
          rows.push(
            compared({
              router,
              object: at,
              desired,
              actual: rule.canary,
              ...(rule.stable === undefined ? {} : { stable: rule.stable }),
            }),
          );
      }
    }
  }
  return rows;
}

function proxyRows(ro: Rollout, desired: number): TrafficRow[] {
  if (!usesProxyRouter(ro)) return [];
  const parsed = proxyRouterConfig(ro);
  if (parsed === undefined) return [];
  if (!parsed.ok)
    return [
      { router: 'Proxy', object: '', desired, error: `${parsed.field}: ${parsed.message}`, match: undefined },
    ];
  const object = `route ${parsed.config.route}`;
  const obs = observedProxyWeight(ro);
  if (obs.state === 'verified') return [compared({ router: 'Proxy', object, desired, actual: obs.canary })];
  if (obs.state === 'waiting')
    return [{ router: 'Proxy', object, desired, waiting: obs.reason, match: false }];
  return [{ router: 'Proxy', object, desired, match: undefined }];
}

/** Kinds of versioned APIs the Rollout's routers read, for discovery. */
function versionedKinds(ro: Rollout): Kind[] {
  const kinds: Kind[] = [];
  if (istioConfig(ro)?.ok) kinds.push('VirtualService');
  if (smiConfig(ro)?.ok) kinds.push('TrafficSplit');
  const gw = gatewayApiConfig(ro);
  if (gw?.ok) {
    if (gw.config.httpRoutes.length > 0) kinds.push('HTTPRoute');
    if (gw.config.grpcRoutes.length > 0) kinds.push('GRPCRoute');
    if (gw.config.tcpRoutes.length > 0) kinds.push('TCPRoute');
  }
  return kinds;
}

/**
 * The Traffic section for `ro`; undefined when it is not a canary with trafficRouting. Never throws:
 * every failure is a row's error text.
 */
export async function routerWeights(api: Api, ro: Rollout): Promise<TrafficSection | undefined> {
  const canary = ro.spec.strategy.canary;
  if (canary?.trafficRouting === undefined) return undefined;
  const weights = ro.status?.canary?.weights;
  const maxWeight = maxTrafficWeight(ro);
  const desiredCanary = weights?.canary.weight ?? Math.min(currentSetWeight(ro), maxWeight);
  const desiredAdditional = (weights?.additional ?? []).map((a) => ({
    service: a.serviceName ?? '',
    weight: a.weight,
  }));
  const desiredStable =
    weights?.stable.weight ?? maxWeight - desiredCanary - desiredAdditional.reduce((s, a) => s + a.weight, 0);
  let versions: ApiVersions = {};
  if (hasRawGet(api)) {
    const kinds = versionedKinds(ro);
    if (kinds.length > 0) versions = await discoverServedVersions(api, kinds);
  }
  const r = reader(api, versions);
  const rows = [
    ...(await istioRows(r, ro, desiredCanary)),
    ...(await nginxRows(r, ro, desiredCanary)),
    ...(await smiRows(r, ro, desiredCanary)),
    ...(await gatewayRows(r, ro, desiredCanary)),
    ...proxyRows(ro, desiredCanary),
  ];
  const condition = (ro.status?.conditions ?? []).find((c) => c.type === 'WeightVerified');
  const failing = (ro.status?.conditions ?? []).find(
    (c) => c.type === 'TrafficRouting' && c.status === 'False',
  );
  return {
    ...(failing ? { routerError: failing.message || failing.reason } : {}),
    desiredCanary,
    desiredStable,
    desiredAdditional,
    maxWeight,
    verified: weights?.verified,
    ...(condition?.status === 'False' ? { waitingReason: condition.message || condition.reason } : {}),
    rows,
  };
}

const FG: Readonly<Record<string, number>> = {
  [ICON.ok]: 32,
  [ICON.bad]: 31,
  [ICON.warning]: 31,
  [ICON.waiting]: 33,
};

function paint(icon: string, color: boolean): string {
  const code = FG[icon];
  return color && code !== undefined ? `\x1b[${code}m${icon}\x1b[0m` : icon;
}

function rowText(row: TrafficRow, color: boolean): string {
  if (row.error !== undefined) return `${paint(ICON.warning, color)} ${row.error}`;
  if (row.waiting !== undefined) return `${paint(ICON.waiting, color)} waiting: ${row.waiting}`;
  if (row.actual === undefined) return 'actual -';
  const note = row.note === undefined ? '' : `; ${row.note}`;
  if (row.match)
    return `actual ${row.actual} ${paint(ICON.ok, color)}${note === '' ? '' : ` (${note.slice(2)})`}`;
  return `actual ${row.actual} ${paint(ICON.bad, color)} (desired ${row.desired}${note})`;
}

/** The section's text: a header line in the `%-17s` block, then one aligned line per router object. */
export function renderTrafficSection(section: TrafficSection, color = false): string {
  const parts = [`canary ${section.desiredCanary}`];
  for (const a of section.desiredAdditional) parts.push(`${a.service} ${a.weight}`);
  parts.push(`stable ${section.desiredStable}`);
  let verified = '-';
  if (section.verified === true) verified = paint(ICON.ok, color);
  else if (section.verified === false)
    verified = `${paint(ICON.bad, color)} waiting${section.waitingReason ? `: ${section.waitingReason}` : ''}`;
  let header = `${'Traffic:'.padEnd(17)}desired ${parts.join(' / ')} (of ${section.maxWeight})   verified: ${verified}\n`;
  if (section.routerError !== undefined)
    header += `  ${paint(ICON.warning, color)} step held: ${section.routerError}\n`;
  if (section.rows.length === 0) return header;
  const lines = section.rows.map((row) => `  ${row.router}\t${row.object}\t${rowText(row, color)}`);
  return header + tabulate(lines);
}

/** How often `get rollout --watch` reads the routers' objects again when the Rollout does not change. */
export const TRAFFIC_REFRESH_MS = 5_000;

/**
 * The section kept up to date for `--watch`: read again when the Rollout changes (its resourceVersion)
 * and every TRAFFIC_REFRESH_MS; `refresh` answers whether the rendered text changed.
 */
export class TrafficWatch {
  #text = '';
  #key: string | undefined;
  #lastMs = Number.NEGATIVE_INFINITY;
  readonly #color: boolean;

  constructor(color: boolean) {
    this.#color = color;
  }

  /** The rendered section ('' when there is none). */
  get text(): string {
    return this.#text;
  }

  async refresh(api: Api, ro: Rollout, nowMs: number): Promise<boolean> {
    const key = `${ro.metadata.uid ?? ''}/${ro.metadata.resourceVersion ?? ''}`;
    if (key === this.#key && nowMs - this.#lastMs < TRAFFIC_REFRESH_MS) return false;
    this.#key = key;
    this.#lastMs = nowMs;
    const section = await routerWeights(api, ro);
    const text = section === undefined ? '' : renderTrafficSection(section, this.#color);
    if (text === this.#text) return false;
    this.#text = text;
    return true;
  }
}

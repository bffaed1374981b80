// The configuration of Sluice's own traffic router, as a Rollout carries it under Argo's plugin key so
// manifests stay valid under Argo's CRD schema:
//
//   spec.strategy.canary.trafficRouting.plugins:
//     sluice/proxy:
//       route: checkout            # the proxy route name (default: the Rollout's name)
//       hosts: [shop.example.com]  # the Host the route matches (default: any host)
//       pathPrefix: /              # the path prefix the route matches (default: "/")
//       port: http                 # the Services' port, by name or number (default: their only port)
//       stickySessions: { cookie: sluice-checkout, maxAgeSeconds: 3600 }
//       timeouts: { connect: 2s, responseHeaders: 30s, idleBody: 60s }
//
// Every field is checked here; an unknown or malformed one is an InvalidSpec naming it (never ignored).

import { parseDuration } from './duration.ts';
import type { Rollout } from './rollout.ts';

export const PROXY_ROUTER_PLUGIN = 'sluice/proxy';

export interface ProxyRouterConfig {
  readonly route: string;
  readonly host?: string;
  readonly pathPrefix?: string;
  /** Service port name or number; undefined: the Service's only port. */
  readonly port?: string | number;
  readonly stickySessions?: { readonly cookie: string; readonly maxAgeSeconds?: number };
  readonly timeouts?: {
    readonly connectMs?: number;
    readonly responseHeadersMs?: number;
    readonly idleBodyMs?: number;
  };
  /** Blue-green: requests with this header go to the preview Service (default x-sluice-preview: true). */
  readonly previewHeader?: { readonly name: string; readonly value: string };
}

export type ProxyRouterConfigResult =
  | { readonly ok: true; readonly config: ProxyRouterConfig }
  | { readonly ok: false; readonly field: string; readonly message: string };

const FIELDS = ['route', 'hosts', 'pathPrefix', 'port', 'stickySessions', 'timeouts', 'previewHeader'];
export const DEFAULT_PREVIEW_HEADER = { name: 'x-sluice-preview', value: 'true' };
const TIMEOUTS: Readonly<Record<string, 'connectMs' | 'responseHeadersMs' | 'idleBodyMs'>> = {
  connect: 'connectMs',
  responseHeaders: 'responseHeadersMs',
  idleBody: 'idleBodyMs',
};
// A DNS-1123 label, like Service names: route names travel in metrics labels and proxy flags.
const ROUTE_NAME_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const COOKIE_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST_RE = /^(\*|[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?)$/;

/** Where the config sits: canary, or blue-green (Sluice's extension: Argo's blue-green has no routing). */
export function proxyRouterPath(ro: Rollout): string {
  const strategy = ro.spec?.strategy?.blueGreen !== undefined ? 'blueGreen' : 'canary';
  return `spec.strategy.${strategy}.trafficRouting.plugins.${PROXY_ROUTER_PLUGIN}`;
}

function rawConfig(ro: Rollout): unknown {
  const s = ro.spec?.strategy;
  return (s?.canary?.trafficRouting?.plugins ?? s?.blueGreen?.trafficRouting?.plugins)?.[PROXY_ROUTER_PLUGIN];
}

/** True when the Rollout asks for the proxy router. */
export function usesProxyRouter(ro: Rollout): boolean {
  return rawConfig(ro) !== undefined;
}

/** The Rollout's proxy router config; undefined when it does not use the proxy router. */
export function proxyRouterConfig(ro: Rollout): ProxyRouterConfigResult | undefined {
  const raw = rawConfig(ro);
  if (raw === undefined) return undefined;
  return parseProxyRouterConfig(
    raw,
    ro.metadata.name,
    proxyRouterPath(ro),
    ro.spec?.strategy?.blueGreen !== undefined,
  );
}

export function parseProxyRouterConfig(
  raw: unknown,
  rolloutName: string,
  path: string,
  blueGreen = false,
): ProxyRouterConfigResult {
  const fail = (field: string, message: string): ProxyRouterConfigResult => ({
    ok: false,
    field: `${path}.${field}`,
    message,
  });
  // `sluice/proxy: {}` is the whole config with every default.
  if (raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, field: path, message: 'must be an object' };
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!FIELDS.includes(key)) return fail(key, `unknown field (known: ${FIELDS.join(', ')})`);
  }
  const route = o.route ?? rolloutName;
  if (typeof route !== 'string' || !ROUTE_NAME_RE.test(route))
    return fail('route', 'must be a DNS label (lower-case letters, digits and "-", at most 63)');
  const config: {
    route: string;
    host?: string;
    pathPrefix?: string;
    port?: string | number;
    stickySessions?: { cookie: string; maxAgeSeconds?: number };
    timeouts?: { connectMs?: number; responseHeadersMs?: number; idleBodyMs?: number };
    previewHeader?: { name: string; value: string };
  } = { route };
  if (o.hosts !== undefined) {
    if (!Array.isArray(o.hosts)) return fail('hosts', 'must be a list of host names');
    if (o.hosts.length > 1)
      return fail('hosts', 'one host per route (a second host needs a second route: not supported yet)');
    const host = o.hosts[0];
    if (host !== undefined) {
      if (typeof host !== 'string' || !HOST_RE.test(host))
        return fail('hosts[0]', 'must be a host name or "*"');
      config.host = host.toLowerCase();
    }
  }
  if (o.pathPrefix !== undefined) {
    if (typeof o.pathPrefix !== 'string' || !o.pathPrefix.startsWith('/'))
      return fail('pathPrefix', 'must be a path starting with "/"');
    config.pathPrefix = o.pathPrefix;
  }
  if (o.port !== undefined) {
    const p = o.port;
    const numeric = typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;
    const named = typeof p === 'string' && p !== '' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p);
    if (!numeric && !named) return fail('port', 'must be a port number (1..65535) or a Service port name');
    config.port = p as string | number;
  }
  if (o.stickySessions !== undefined) {
    const s = o.stickySessions;
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      return fail('stickySessions', 'must be an object');
    const { cookie, maxAgeSeconds, ...rest } = s as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined)
      return fail(`stickySessions.${extra}`, 'unknown field (known: cookie, maxAgeSeconds)');
    if (typeof cookie !== 'string' || !COOKIE_NAME_RE.test(cookie))
      return fail('stickySessions.cookie', 'must be a cookie name');
    if (maxAgeSeconds !== undefined && (!Number.isInteger(maxAgeSeconds) || (maxAgeSeconds as number) < 1))
      return fail('stickySessions.maxAgeSeconds', 'must be a positive integer');
    config.stickySessions = {
      cookie,
      ...(maxAgeSeconds !== undefined ? { maxAgeSeconds: maxAgeSeconds as number } : {}),
    };
  }
  if (o.timeouts !== undefined) {
    const t = o.timeouts;
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return fail('timeouts', 'must be an object');
    const timeouts: { connectMs?: number; responseHeadersMs?: number; idleBodyMs?: number } = {};
    for (const [key, value] of Object.entries(t as Record<string, unknown>)) {
      const target = TIMEOUTS[key];
      if (target === undefined)
        return fail(`timeouts.${key}`, `unknown field (known: ${Object.keys(TIMEOUTS).join(', ')})`);
      const parsed = typeof value === 'string' ? parseDuration(value) : undefined;
      if (parsed === undefined || !parsed.ok || parsed.ms < 1)
        return fail(`timeouts.${key}`, 'must be a positive duration such as "2s" or "500ms"');
      timeouts[target] = Math.round(parsed.ms);
    }
    config.timeouts = timeouts;
  }
  if (o.previewHeader !== undefined) {
    if (!blueGreen) return fail('previewHeader', 'only for a blueGreen Rollout (its preview Service)');
    const h = o.previewHeader;
    if (typeof h !== 'object' || h === null || Array.isArray(h))
      return fail('previewHeader', 'must be an object');
    const { name, value, ...rest } = h as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return fail(`previewHeader.${extra}`, 'unknown field (known: name, value)');
    if (typeof name !== 'string' || !COOKIE_NAME_RE.test(name))
      return fail('previewHeader.name', 'must be a header name');
    if (typeof value !== 'string' || value === '')
      return fail('previewHeader.value', 'must be a non-empty string');
    config.previewHeader = { name: name.toLowerCase(), value };
  }
  return { ok: true, config };
}

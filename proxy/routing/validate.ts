// Semantic validation of a RoutesConfig, shared by the routes file (config-file.ts adds file:line)
// and snapshots pushed over gRPC. Input is untrusted `unknown`; the output is a fresh, normalised
// config: defaults filled in (host "*", pathPrefix "/", maxAgeSeconds 3600), hosts and header
// names lower-cased, addresses and endpoints reduced to their origin, path prefixes without trailing
// slashes. A backend keeps the one upstream form it was given (address, or endpoints, maybe empty).
// Every error names the field path ("routes[0].backends[1].weight"); unknown fields are errors so a
// typo never passes silently. Percentages are converted to basis points with integer math only.

import type {
  BackendConfig,
  EndpointPolicy,
  HeaderMatchConfig,
  HeaderRouteConfig,
  MirrorConfig,
  RouteConfig,
  RouteMatchConfig,
  RoutesConfig,
  RouteTimeoutsConfig,
  StickySessionsConfig,
} from '../config.ts';

export interface ConfigError {
  /** Field path, e.g. "routes[0].backends[1].weight"; "" for the document itself. */
  path: string;
  message: string;
}

export type ValidateResult = { ok: true; config: RoutesConfig } | { ok: false; errors: ConfigError[] };

export const TOTAL_WEIGHT_BP = 10_000;
export const DEFAULT_STICKY_MAX_AGE_SECONDS = 3_600;
export const MAX_STICKY_MAX_AGE_SECONDS = 604_800;
export const MAX_TIMEOUT_MS = 3_600_000;
const MAX_NAME_LENGTH = 253;
const MAX_REGEX_LENGTH = 1_024;

// RFC 9110 section 5.6.2: token = 1*tchar.
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A DNS name or IPv4 literal (letters, digits, dots, hyphens, underscores), or a bracketed IPv6 literal.
const HOST_RE = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*|\[[0-9a-f:.]+\])$/;
const PERCENT_RE = /^(\d{1,3})(?:\.(\d{1,2}))?$/;

/**
 * Percent (0..100, at most two decimals) to basis points without float arithmetic: the shortest
 * decimal representation of the number is parsed, so 12.34 -> 1234 and 0.29 -> 29 exactly.
 * Returns a message when the value is not acceptable.
 */
export function percentToBp(value: unknown): { ok: true; bp: number } | { ok: false; message: string } {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { ok: false, message: 'must be a number between 0 and 100' };
  }
  if (value < 0 || value > 100) return { ok: false, message: 'must be between 0 and 100' };
  const m = PERCENT_RE.exec(String(value));
  if (m === null) return { ok: false, message: 'must have at most two decimals (0.01% resolution)' };
  const whole = Number.parseInt(m[1]!, 10);
  const frac = m[2] === undefined ? 0 : Number.parseInt(m[2].padEnd(2, '0'), 10);
  return { ok: true, bp: whole * 100 + frac };
}

/** Percent to basis points for an already validated value (0 when it is not a valid percent). */
export function bpOf(percent: number): number {
  const r = percentToBp(percent);
  return r.ok ? r.bp : 0;
}

/** Normalises a path prefix: trailing slashes dropped except for the root. */
export function normalisePathPrefix(prefix: string): string {
  let end = prefix.length;
  while (end > 1 && prefix.charCodeAt(end - 1) === 0x2f) end--;
  return prefix.slice(0, end);
}

export function isToken(value: string): boolean {
  return TOKEN_RE.test(value);
}

type Obj = Record<string, unknown>;

class Collector {
  readonly errors: ConfigError[] = [];
  add(path: string, message: string): void {
    this.errors.push({ path, message });
  }
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(base: string, key: string): string {
  return base === '' ? key : `${base}.${key}`;
}

function checkKnown(c: Collector, path: string, obj: Obj, known: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) c.add(join(path, key), `unknown field (expected one of: ${known.join(', ')})`);
  }
}

function objectAt(c: Collector, path: string, v: unknown, known: readonly string[]): Obj | null {
  if (!isObject(v)) {
    c.add(path, 'must be a mapping');
    return null;
  }
  checkKnown(c, path, v, known);
  return v;
}

function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch < 0x20 || ch === 0x7f) return true;
  }
  return false;
}

function nameAt(c: Collector, path: string, v: unknown): string | null {
  if (typeof v !== 'string' || v.trim() === '') {
    c.add(path, 'must be a non-empty string');
    return null;
  }
  if (v.length > MAX_NAME_LENGTH || hasControlChar(v)) {
    c.add(path, `must be at most ${MAX_NAME_LENGTH} characters without control characters`);
    return null;
  }
  return v;
}

function optionalStringAt(c: Collector, path: string, v: unknown): string | undefined | null {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || hasControlChar(v)) {
    c.add(path, 'must be a string without control characters');
    return null;
  }
  return v;
}

function hostAt(c: Collector, path: string, v: unknown): string | null {
  if (v === undefined || v === '*') return '*';
  if (typeof v !== 'string' || v === '') {
    c.add(path, 'must be a host name, an IP literal or "*"');
    return null;
  }
  let host = v.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (!HOST_RE.test(host)) {
    const hint =
      /:\d+$/.test(host) && !host.endsWith(']') ? ' (ports are ignored when matching; omit it)' : '';
    c.add(path, `must be a host name, an IP literal ([::1] for IPv6) or "*"${hint}`);
    return null;
  }
  return host;
}

function pathPrefixAt(c: Collector, path: string, v: unknown): string | null {
  if (v === undefined) return '/';
  if (typeof v !== 'string' || !v.startsWith('/')) {
    c.add(path, 'must start with "/"');
    return null;
  }
  if (/[?#\s]/.test(v) || hasControlChar(v)) {
    c.add(path, 'must be a path without query, fragment or whitespace');
    return null;
  }
  return normalisePathPrefix(v);
}

function addressAt(c: Collector, path: string, v: unknown): string | null {
  if (typeof v !== 'string' || v === '') {
    c.add(path, 'must be an http:// or https:// URL');
    return null;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    c.add(path, 'must be an http:// or https:// URL, e.g. "http://127.0.0.1:9001"');
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    c.add(path, `must use http:// or https://, not ${url.protocol}//`);
    return null;
  }
  if (url.hostname === '') {
    c.add(path, 'must name a host');
    return null;
  }
  if (url.username !== '' || url.password !== '') {
    c.add(path, 'must not carry credentials');
    return null;
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(v)) {
    c.add(path, 'must be an origin only (scheme, host, port), without path, query or fragment');
    return null;
  }
  return url.origin;
}

function percentAt(c: Collector, path: string, v: unknown): number | null {
  const r = percentToBp(v);
  if (!r.ok) {
    c.add(path, r.message);
    return null;
  }
  return r.bp;
}

/** A list of endpoint URLs (may be empty), each reduced to its origin; duplicates name both indexes. */
function endpointsAt(c: Collector, path: string, v: unknown): string[] | null {
  if (!Array.isArray(v)) {
    c.add(path, 'must be a list of http:// or https:// URLs (empty when no pod is ready)');
    return null;
  }
  const out: string[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  v.forEach((e, i) => {
    const origin = addressAt(c, `${path}[${i}]`, e);
    if (origin === null) {
      ok = false;
      return;
    }
    const prev = seen.get(origin);
    if (prev !== undefined) {
      c.add(`${path}[${i}]`, `duplicate endpoint "${origin}" (also ${path}[${prev}])`);
      ok = false;
      return;
    }
    seen.set(origin, i);
    out.push(origin);
  });
  return ok ? out : null;
}

function validateBackend(
  c: Collector,
  path: string,
  v: unknown,
): (BackendConfig & { weightBp: number }) | null {
  const o = objectAt(c, path, v, ['name', 'revision', 'address', 'endpoints', 'weight']);
  if (o === null) return null;
  const name = nameAt(c, join(path, 'name'), o.name);
  const revision = nameAt(c, join(path, 'revision'), o.revision);
  // Exactly one upstream form: a single address, or the list of ready pods (possibly empty).
  let target: { address: string } | { endpoints: string[] } | null = null;
  if (o.address !== undefined && o.endpoints !== undefined) {
    c.add(
      join(path, 'endpoints'),
      'must not be given together with address (a backend has exactly one of address, endpoints)',
    );
  } else if (o.endpoints !== undefined) {
    const endpoints = endpointsAt(c, join(path, 'endpoints'), o.endpoints);
    if (endpoints !== null) target = { endpoints };
  } else if (o.address !== undefined) {
    const address = addressAt(c, join(path, 'address'), o.address);
    if (address !== null) target = { address };
  } else {
    c.add(path, 'must have exactly one of address, endpoints (found none)');
  }
  const weightBp = percentAt(c, join(path, 'weight'), o.weight);
  if (name === null || revision === null || target === null || weightBp === null) return null;
  return { name, revision, ...target, weight: o.weight as number, weightBp };
}

function validateSticky(c: Collector, path: string, v: unknown): StickySessionsConfig | null {
  const o = objectAt(c, path, v, ['cookie', 'maxAgeSeconds']);
  if (o === null) return null;
  let ok = true;
  const cookie = o.cookie;
  if (typeof cookie !== 'string' || !isToken(cookie) || cookie.length > 128) {
    c.add(join(path, 'cookie'), "must be a cookie name (RFC 6265 token: letters, digits, !#$%&'*+-.^_`|~)");
    ok = false;
  }
  let maxAgeSeconds = DEFAULT_STICKY_MAX_AGE_SECONDS;
  if (o.maxAgeSeconds !== undefined) {
    const m = o.maxAgeSeconds;
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || m > MAX_STICKY_MAX_AGE_SECONDS) {
      c.add(join(path, 'maxAgeSeconds'), `must be an integer between 1 and ${MAX_STICKY_MAX_AGE_SECONDS}`);
      ok = false;
    } else {
      maxAgeSeconds = m;
    }
  }
  return ok ? { cookie: cookie as string, maxAgeSeconds } : null;
}

function validateHeaderMatch(c: Collector, path: string, v: unknown): HeaderMatchConfig | null {
  const o = objectAt(c, path, v, ['header', 'exact', 'prefix', 'regex']);
  if (o === null) return null;
  let ok = true;
  let header = '';
  if (typeof o.header !== 'string' || !isToken(o.header)) {
    c.add(join(path, 'header'), 'must be a header name (RFC 9110 token)');
    ok = false;
  } else {
    header = o.header.toLowerCase();
  }
  const kinds = (['exact', 'prefix', 'regex'] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    c.add(
      path,
      `must have exactly one of exact, prefix, regex (found ${kinds.length === 0 ? 'none' : kinds.join(', ')})`,
    );
    return null;
  }
  const kind = kinds[0]!;
  const value = o[kind];
  if (typeof value !== 'string') {
    c.add(join(path, kind), 'must be a string');
    return null;
  }
  if (kind === 'regex') {
    if (value.length > MAX_REGEX_LENGTH) {
      c.add(join(path, kind), `must be at most ${MAX_REGEX_LENGTH} characters`);
      return null;
    }
    try {
      new RegExp(value);
    } catch (err) {
      c.add(join(path, kind), `does not compile: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }
  return ok ? { header, [kind]: value } : null;
}

function validateHeaderRoute(
  c: Collector,
  path: string,
  v: unknown,
  backendNames: ReadonlySet<string> | null,
): HeaderRouteConfig | null {
  const o = objectAt(c, path, v, ['name', 'match', 'backend']);
  if (o === null) return null;
  const name = nameAt(c, join(path, 'name'), o.name);
  const matchers: HeaderMatchConfig[] = [];
  let ok = name !== null;
  if (!Array.isArray(o.match) || o.match.length === 0) {
    c.add(join(path, 'match'), 'must be a non-empty list of header matchers');
    ok = false;
  } else {
    o.match.forEach((m, i) => {
      const r = validateHeaderMatch(c, `${join(path, 'match')}[${i}]`, m);
      if (r === null) ok = false;
      else matchers.push(r);
    });
  }
  const backend = nameAt(c, join(path, 'backend'), o.backend);
  if (backend === null) ok = false;
  else if (backendNames !== null && !backendNames.has(backend)) {
    c.add(join(path, 'backend'), `must name one of the route's backends (${[...backendNames].join(', ')})`);
    ok = false;
  }
  return ok ? { name: name!, match: matchers, backend: backend! } : null;
}

function validateMirror(
  c: Collector,
  path: string,
  v: unknown,
  backendNames: ReadonlySet<string> | null,
): MirrorConfig | null {
  const o = objectAt(c, path, v, ['backend', 'percent']);
  if (o === null) return null;
  let ok = true;
  const backend = nameAt(c, join(path, 'backend'), o.backend);
  if (backend === null) ok = false;
  else if (backendNames !== null && !backendNames.has(backend)) {
    c.add(join(path, 'backend'), `must name one of the route's backends (${[...backendNames].join(', ')})`);
    ok = false;
  }
  if (percentAt(c, join(path, 'percent'), o.percent) === null) ok = false;
  return ok ? { backend: backend!, percent: o.percent as number } : null;
}

function validateTimeouts(c: Collector, path: string, v: unknown): RouteTimeoutsConfig | null {
  const keys = ['connectMs', 'responseHeadersMs', 'idleBodyMs'] as const;
  const o = objectAt(c, path, v, keys);
  if (o === null) return null;
  const out: RouteTimeoutsConfig = {};
  let ok = true;
  for (const key of keys) {
    const t = o[key];
    if (t === undefined) continue;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_MS) {
      c.add(join(path, key), `must be a positive integer number of milliseconds (at most ${MAX_TIMEOUT_MS})`);
      ok = false;
    } else {
      out[key] = t;
    }
  }
  return ok ? out : null;
}

function validateRoute(c: Collector, path: string, v: unknown): RouteConfig | null {
  const o = objectAt(c, path, v, [
    'name',
    'namespace',
    'match',
    'backends',
    'stickySessions',
    'headerRoutes',
    'mirror',
    'timeouts',
    'endpointPolicy',
  ]);
  if (o === null) return null;
  const before = c.errors.length;
  const name = nameAt(c, join(path, 'name'), o.name);
  const namespace = optionalStringAt(c, join(path, 'namespace'), o.namespace);

  let match: RouteMatchConfig | null = { host: '*', pathPrefix: '/' };
  if (o.match !== undefined) {
    const m = objectAt(c, join(path, 'match'), o.match, ['host', 'pathPrefix']);
    if (m === null) match = null;
    else {
      const host = hostAt(c, join(path, 'match.host'), m.host);
      const pathPrefix = pathPrefixAt(c, join(path, 'match.pathPrefix'), m.pathPrefix);
      match = host === null || pathPrefix === null ? null : { host, pathPrefix };
    }
  }

  const backends: BackendConfig[] = [];
  let backendNames: Set<string> | null = null;
  if (!Array.isArray(o.backends) || o.backends.length === 0) {
    c.add(join(path, 'backends'), 'must be a non-empty list of backends');
  } else {
    const names = new Set<string>();
    let allOk = true;
    let sumBp = 0;
    o.backends.forEach((b, i) => {
      const bp = `${join(path, 'backends')}[${i}]`;
      const r = validateBackend(c, bp, b);
      if (r === null) {
        allOk = false;
        return;
      }
      if (names.has(r.name)) {
        c.add(join(bp, 'name'), `duplicate backend name "${r.name}" in this route`);
        allOk = false;
      }
      names.add(r.name);
      sumBp += r.weightBp;
      const { weightBp: _, ...backend } = r;
      backends.push(backend);
    });
    if (allOk && sumBp !== TOTAL_WEIGHT_BP) {
      c.add(join(path, 'backends'), `weights must sum to exactly 100 (they sum to ${sumBp / 100})`);
    }
    // Name references are only checked when every backend parsed; otherwise the name set is partial.
    if (allOk) backendNames = names;
  }

  let stickySessions: StickySessionsConfig | undefined;
  if (o.stickySessions !== undefined) {
    stickySessions = validateSticky(c, join(path, 'stickySessions'), o.stickySessions) ?? undefined;
  }

  let headerRoutes: HeaderRouteConfig[] | undefined;
  if (o.headerRoutes !== undefined) {
    if (!Array.isArray(o.headerRoutes)) {
      c.add(join(path, 'headerRoutes'), 'must be a list');
    } else {
      headerRoutes = [];
      const seen = new Set<string>();
      o.headerRoutes.forEach((h, i) => {
        const hp = `${join(path, 'headerRoutes')}[${i}]`;
        const r = validateHeaderRoute(c, hp, h, backendNames);
        if (r === null) return;
        if (seen.has(r.name))
          c.add(join(hp, 'name'), `duplicate header route name "${r.name}" in this route`);
        seen.add(r.name);
        headerRoutes!.push(r);
      });
    }
  }

  let mirror: MirrorConfig | undefined;
  if (o.mirror !== undefined)
    mirror = validateMirror(c, join(path, 'mirror'), o.mirror, backendNames) ?? undefined;

  let timeouts: RouteTimeoutsConfig | undefined;
  if (o.timeouts !== undefined)
    timeouts = validateTimeouts(c, join(path, 'timeouts'), o.timeouts) ?? undefined;

  let endpointPolicy: EndpointPolicy | undefined;
  if (o.endpointPolicy !== undefined) {
    if (o.endpointPolicy === 'round-robin' || o.endpointPolicy === 'least-outstanding') {
      endpointPolicy = o.endpointPolicy;
    } else {
      c.add(join(path, 'endpointPolicy'), 'must be "least-outstanding" or "round-robin"');
    }
  }

  if (c.errors.length !== before || name === null || match === null || namespace === null) return null;
  const route: RouteConfig = { name, match, backends };
  if (namespace !== undefined) route.namespace = namespace;
  if (stickySessions !== undefined) route.stickySessions = stickySessions;
  if (headerRoutes !== undefined) route.headerRoutes = headerRoutes;
  if (mirror !== undefined) route.mirror = mirror;
  if (timeouts !== undefined) route.timeouts = timeouts;
  if (endpointPolicy !== undefined) route.endpointPolicy = endpointPolicy;
  return route;
}

/** Validates untrusted input into a normalised RoutesConfig, or lists every error with its field path. */
export function validateRoutesConfig(input: unknown): ValidateResult {
  const c = new Collector();
  const top = objectAt(c, '', input, ['routes']);
  if (top === null) return { ok: false, errors: c.errors };
  if (!Array.isArray(top.routes)) {
    c.add('routes', 'must be a list of routes');
    return { ok: false, errors: c.errors };
  }
  const routes: RouteConfig[] = [];
  const names = new Map<string, number>();
  const matches = new Map<string, number>();
  top.routes.forEach((r, i) => {
    const path = `routes[${i}]`;
    const route = validateRoute(c, path, r);
    if (route === null) return;
    const prevName = names.get(route.name);
    if (prevName !== undefined) {
      c.add(`${path}.name`, `duplicate route name "${route.name}" (also routes[${prevName}])`);
    } else {
      names.set(route.name, i);
    }
    const key = `${route.match.host} ${route.match.pathPrefix}`;
    const prevMatch = matches.get(key);
    if (prevMatch !== undefined) {
      c.add(
        `${path}.match`,
        `same host "${route.match.host}" and pathPrefix "${route.match.pathPrefix}" as routes[${prevMatch}]`,
      );
    } else {
      matches.set(key, i);
    }
    routes.push(route);
  });
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  return { ok: true, config: { routes } };
}

/** "routes[0].backends[1].weight: must be ..." lines, for logs and NACK reasons. */
export function formatConfigErrors(errors: readonly ConfigError[]): string {
  return errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`)).join('; ');
}

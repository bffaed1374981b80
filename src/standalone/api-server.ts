// The subset of the Kubernetes API that the `sluice` CLI's verbs use, served over an ObjectStore, so that
// `sluice get rollout`, `promote`, `abort`, `retry`, `set image`, `pause`, `undo`, `status` work unchanged
// against the embedded standalone mode (issue 11). Plain HTTP on the loopback address by default (the
// CLI's client, undici, takes http:// servers), every request authenticated by a bearer token.
//
// Served for every Kind of src/store/resources.ts, at the paths collectionPath/objectPath name:
// - GET object, LIST (one namespace or all; labelSelector with =, ==, !=, in, notin, key, !key;
//   fieldSelector metadata.name / metadata.namespace with = or !=), with metadata.resourceVersion;
// - WATCH (`?watch=1&resourceVersion=N`): newline-delimited JSON events. Without a version (or "0") the
//   current objects come first as ADDED, as the API server does; with one, the events after it are
//   replayed from a bounded per-kind history, or 410 Gone (an ERROR event, as the API server sends it)
//   when it has been dropped from the history; then live events until the client disconnects or
//   timeoutSeconds passes;
// - POST create, PUT update (409 Conflict on a stale resourceVersion), PATCH (merge, JSON and strategic
//   merge patch), PATCH/PUT of the status subresource, DELETE (propagationPolicy), POST pods/x/eviction;
// - discovery: /api, /api/v1, /apis, /apis/<group>/<version>, /version. Unknown paths answer the API
//   server's plain `404 page not found`.
// Errors are metav1.Status bodies with the API server's code, reason and message (`rollouts.argoproj.io
// "x" not found`, with details {name, group, kind}), mapped from the store's StoreError.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kind, KubeObject } from '../api/meta.ts';
import { type ObjectStore, type PatchType, StoreError, type WatchEventType } from '../store/object-store.ts';
import { applyJsonPatch, applyStrategicMergePatch, createMergePatch } from '../store/patch.ts';
import { ALL_KINDS, type ApiVersions, apiVersionOf, RESOURCES } from '../store/resources.ts';

export interface ApiServerOptions {
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: any free port). */
  readonly port?: number;
  /** Bearer token every request must carry. */
  readonly token: string;
  /** One line per failed request and per server error. */
  readonly log?: (message: string) => void;
  /** Kinds served (default: every Kind of src/store/resources.ts). */
  readonly kinds?: readonly Kind[];
  /** Served versions of the kinds whose version differs between clusters (as the store's). */
  readonly apiVersions?: ApiVersions;
  /** Watch events kept per kind for resuming watches from a resourceVersion (default 1000). */
  readonly historySize?: number;
}

export interface ApiServer {
  /** `http://host:port`, for the kubeconfig's server. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and ends every open request and watch. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024 * 1024;
const DEFAULT_HISTORY = 1000;
const SERVER_VERSION = {
  major: '1',
  minor: '30',
  gitVersion: 'v1.30.0-sluice-standalone',
  platform: `${process.platform}/${process.arch}`,
};

const PATCH_TYPES: Readonly<Record<string, PatchType>> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
};

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An answer to send: a JSON body (or plain text) with its status. */
class HttpError extends Error {
  readonly status: number;
  readonly body: Json | string;
  constructor(status: number, body: Json | string) {
    super(typeof body === 'string' ? body : String(body.message));
    this.status = status;
    this.body = body;
  }
}

const REASON_BY_CODE: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** A metav1.Status failure body. */
export function statusBody(
  code: number,
  message: string,
  reason = REASON_BY_CODE[code] ?? '',
  details?: { name?: string; group?: string; kind?: string },
): Json {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details === undefined ? {} : { details }),
    code,
  };
}

function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
}

/** `rollouts.argoproj.io` or `services`: how the API server names a resource in messages. */
function qualified(plural: string, group: string): string {
  return group === '' ? plural : `${plural}.${group}`;
}

// ---- selectors ----

type Requirement =
  | { op: 'eq' | 'ne'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** A label selector as the API server parses it; throws HttpError 400 on a malformed one. */
export function parseLabelSelector(text: string): Requirement[] {
  return splitTopLevel(text).map((part) => {
    const set = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (set !== null) {
      const values = set[3]!
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      return { op: set[2] === 'in' ? 'in' : 'notin', key: set[1]!, values };
    }
    const cmp = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part);
    if (cmp !== null) return { op: cmp[2] === '!=' ? 'ne' : 'eq', key: cmp[1]!, value: cmp[3]! };
    const exists = /^(!?)([^\s!=(),]+)$/.exec(part);
    if (exists !== null) return { op: exists[1] === '!' ? 'notexists' : 'exists', key: exists[2]! };
    throw new HttpError(400, statusBody(400, `unable to parse requirement: "${part}"`));
  });
}

function matchesRequirements(
  values: Readonly<Record<string, string>>,
  reqs: readonly Requirement[],
): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(values, r.key);
    const value = values[r.key];
    switch (r.op) {
      case 'eq':
        return has && value === r.value;
      case 'ne':
        return !has || value !== r.value;
      case 'in':
        return has && r.values.includes(value!);
      case 'notin':
        return !has || !r.values.includes(value!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
    return false;
  });
}

const FIELDS = ['metadata.name', 'metadata.namespace'];

/** A field selector (metadata.name, metadata.namespace; = == !=); throws HttpError 400 otherwise. */
export function parseFieldSelector(text: string): Requirement[] {
  const reqs = parseLabelSelector(text);
  for (const r of reqs) {
    if (r.op !== 'eq' && r.op !== 'ne')
      throw new HttpError(400, statusBody(400, `invalid field selector: "${text}"`));
    if (!FIELDS.includes(r.key))
      throw new HttpError(400, statusBody(400, `field label not supported: ${r.key}`));
  }
  return reqs;
}

interface Filter {
  readonly namespace: string | undefined;
  readonly labels: readonly Requirement[];
  readonly fields: readonly Requirement[];
}

function matches(obj: KubeObject, filter: Filter): boolean {
  if (filter.namespace !== undefined && (obj.metadata.namespace ?? '') !== filter.namespace) return false;
  if (!matchesRequirements(obj.metadata.labels ?? {}, filter.labels)) return false;
  const fields = {
    'metadata.name': obj.metadata.name,
    'metadata.namespace': obj.metadata.namespace ?? '',
  };
  return matchesRequirements(fields, filter.fields);
}

// ---- routing ----

interface Route {
  readonly kind: Kind;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

interface Served {
  readonly kind: Kind;
  readonly apiVersion: string;
  readonly group: string;
}

function rvNumber(rv: string | undefined): number {
  const n = Number(rv);
  return Number.isFinite(n) ? n : 0;
}

interface HistoryEntry {
  readonly seq: number;
  readonly type: WatchEventType;
  readonly obj: KubeObject;
}

type Listener = (entry: HistoryEntry) => void;

/** Per kind: recent events (for resuming watches) and the open watches. */
class KindFeed {
  readonly history: HistoryEntry[] = [];
  /** The highest sequence number dropped from the history: watches from before it get 410. */
  droppedUpTo = 0;
  readonly listeners = new Set<Listener>();
  readonly #limit: number;
  constructor(limit: number) {
    this.#limit = limit;
  }
  push(entry: HistoryEntry): void {
    this.history.push(entry);
    while (this.history.length > this.#limit) this.droppedUpTo = this.history.shift()!.seq;
    for (const listener of [...this.listeners]) listener(entry);
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, statusBody(413, 'the request body is too large'));
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      statusBody(400, `the body of the request was in an unknown format: ${String(error)}`),
    );
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

class Handler {
  readonly #store: ObjectStore;
  readonly #options: ApiServerOptions;
  readonly #served = new Map<string, Served>();
  readonly #byKind = new Map<Kind, Served>();
  readonly #feeds = new Map<Kind, KindFeed>();
  readonly #unsubscribe: (() => void)[] = [];
  /** The highest resourceVersion seen: the version of lists, and of deletions (which carry none). */
  #seq = 0;

  constructor(store: ObjectStore, options: ApiServerOptions) {
    this.#store = store;
    this.#options = options;
    for (const kind of options.kinds ?? ALL_KINDS) {
      const apiVersion = apiVersionOf(kind, options.apiVersions);
      const served = { kind, apiVersion, group: groupOf(apiVersion) };
      this.#served.set(`${apiVersion}/${RESOURCES[kind].plural}`, served);
      this.#byKind.set(kind, served);
      const feed = new KindFeed(options.historySize ?? DEFAULT_HISTORY);
      this.#feeds.set(kind, feed);
      for (const obj of store.list(kind))
        this.#seq = Math.max(this.#seq, rvNumber(obj.metadata.resourceVersion));
      this.#unsubscribe.push(
        store.watch(kind, (type, obj) => {
          const rv = rvNumber(obj.metadata.resourceVersion);
          let out = obj;
          if (type === 'DELETED' || rv <= this.#seq) {
            // A deletion carries the object's last version; the API server gives it a new one.
            out = structuredClone(obj);
            out.metadata.resourceVersion = String(Math.max(this.#seq, rv));
          }
          this.#seq = Math.max(this.#seq, rv);
          feed.push({ seq: rvNumber(out.metadata.resourceVersion), type, obj: out });
        }),
      );
    }
  }

  stop(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    for (const feed of this.#feeds.values()) {
      for (const listener of feed.listeners) feed.listeners.delete(listener);
    }
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (!this.#authorized(req)) throw new HttpError(401, statusBody(401, 'Unauthorized'));
      const discovery = this.#discovery(url.pathname);
      if (discovery !== undefined) {
        if (method !== 'GET')
          throw new HttpError(
            405,
            statusBody(405, `the server does not allow this method on the requested resource`),
          );
        send(res, 200, discovery);
        return;
      }
      const route = this.#route(url.pathname);
      await this.#resource(method, route, url.searchParams, req, res);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        if (error.status >= 500) this.#options.log?.(`${method} ${url.pathname}: ${error.message}`);
        send(res, error.status, error.body);
        return;
      }
      this.#options.log?.(`${method} ${url.pathname}: ${String(error)}`);
      send(
        res,
        500,
        statusBody(500, `internal error: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }

  #authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    return match !== null && sameToken(match[1]!.trim(), this.#options.token);
  }

  // ---- discovery ----

  #groupVersions(): Map<string, Served[]> {
    const out = new Map<string, Served[]>();
    for (const served of this.#byKind.values()) {
      const list = out.get(served.apiVersion) ?? [];
      list.push(served);
      out.set(served.apiVersion, list);
    }
    return out;
  }

  #discovery(path: string): Json | undefined {
    const p = path.replace(/\/+$/, '') || '/';
    if (p === '/version') return SERVER_VERSION;
    const gvs = this.#groupVersions();
    if (p === '/api') {
      return {
        kind: 'APIVersions',
        versions: [...gvs.keys()].filter((gv) => !gv.includes('/')),
        serverAddressByClientCIDRs: [],
      };
    }
    if (p === '/apis') {
      const groups = new Map<string, string[]>();
      for (const gv of gvs.keys()) {
        if (!gv.includes('/')) continue;
        const group = groupOf(gv);
        groups.set(group, [...(groups.get(group) ?? []), gv]);
      }
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [...groups].map(([name, versions]) => {
          const list = versions.map((gv) => ({ groupVersion: gv, version: gv.slice(name.length + 1) }));
          return { name, versions: list, preferredVersion: list[0] };
        }),
      };
    }
    const m = /^\/(?:api\/([^/]+)|apis\/([^/]+\/[^/]+))$/.exec(p);
    if (m === null) return undefined;
    const gv = m[1] ?? m[2]!;
    const kinds = gvs.get(gv);
    if (kinds === undefined) return undefined;
    const resources: Json[] = [];
    for (const { kind } of kinds) {
      const info = RESOURCES[kind];
      resources.push({
        name: info.plural,
        singularName: kind.toLowerCase(),
        namespaced: info.namespaced,
        kind,
        verbs: [...VERBS, 'deletecollection'].sort(),
      });
      if (info.statusSubresource)
        resources.push({
          name: `${info.plural}/status`,
          singularName: '',
          namespaced: info.namespaced,
          kind,
          verbs: ['get', 'patch', 'update'],
        });
      if (kind === 'Pod')
        resources.push({
          name: 'pods/eviction',
          singularName: '',
          namespaced: true,
          group: 'policy',
          version: 'v1',
          kind: 'Eviction',
          verbs: ['create'],
        });
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
  }

  // ---- resources ----

  #route(path: string): Route {
    const notFound = new HttpError(404, '404 page not found\n');
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    let gv: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 2) {
      gv = segments[1]!;
      rest = segments.slice(2);
    } else if (segments[0] === 'apis' && segments.length >= 3) {
      gv = `${segments[1]}/${segments[2]}`;
      rest = segments.slice(3);
    } else throw notFound;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    if (plural === undefined || extra.length > 0) throw notFound;
    const served = this.#served.get(`${gv}/${plural}`);
    if (served === undefined) {
      // A group/version served with an unknown resource: the API server's Status; else its plain 404.
      if (this.#groupVersions().has(gv))
        throw new HttpError(404, statusBody(404, 'the server could not find the requested resource'));
      throw notFound;
    }
    const info = RESOURCES[served.kind];
    if (!info.namespaced && namespace !== undefined) throw notFound;
    if (info.namespaced && name !== undefined && namespace === undefined) throw notFound;
    if (subresource !== undefined) {
      const ok =
        (subresource === 'status' && info.statusSubresource) ||
        (subresource === 'eviction' && served.kind === 'Pod');
      if (!ok) throw new HttpError(404, statusBody(404, 'the server could not find the requested resource'));
    }
    return { kind: served.kind, namespace, name, subresource };
  }

  #notFound(kind: Kind, name: string): HttpError {
    const info = RESOURCES[kind];
    const group = this.#byKind.get(kind)!.group;
    return new HttpError(
      404,
      statusBody(404, `${qualified(info.plural, group)} "${name}" not found`, 'NotFound', {
        name,
        group,
        kind: info.plural,
      }),
    );
  }

  /** A StoreError as the API server's Status, its message naming the resource as the server does. */
  #storeError(error: StoreError, kind: Kind, name: string | undefined): HttpError {
    const info = RESOURCES[kind];
    const group = this.#byKind.get(kind)!.group;
    if (error.reason === 'NotFound' && name !== undefined && error.message.includes(`"${name}" not found`))
      return this.#notFound(kind, name);
    const full = qualified(info.plural, group);
    const message =
      group === ''
        ? error.message
        : error.message
            .replace(`on ${info.plural} "`, `on ${full} "`)
            .replace(new RegExp(`^${info.plural} "`), `${full} "`)
            .replace(new RegExp(`^${kind} "`), `${kind}.${group} "`);
    const status = error.status >= 400 ? error.status : 500;
    const reason =
      error.reason === 'Unavailable' ? (REASON_BY_CODE[status] ?? 'InternalError') : error.reason;
    return new HttpError(
      status,
      statusBody(status, message, reason, {
        ...(name === undefined ? {} : { name }),
        group,
        kind: info.plural,
      }),
    );
  }

  async #resource(
    method: string,
    route: Route,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { kind, name } = route;
    const namespace = route.namespace ?? '';
    const run = async <T>(fn: () => Promise<T> | T): Promise<T> => {
      try {
        return await fn();
      } catch (error) {
        if (error instanceof StoreError) throw this.#storeError(error, kind, name);
        throw error;
      }
    };
    if (name === undefined) {
      if (method === 'GET') {
        const filter: Filter = {
          namespace: route.namespace,
          labels: parseLabelSelector(query.get('labelSelector') ?? ''),
          fields: parseFieldSelector(query.get('fieldSelector') ?? ''),
        };
        const watch = query.get('watch');
        if (watch === '1' || watch === 'true') return this.#watch(kind, filter, query, req, res);
        const items = await run(() => this.#list(kind, filter));
        const served = this.#byKind.get(kind)!;
        send(res, 200, {
          kind: `${kind}List`,
          apiVersion: served.apiVersion,
          metadata: { resourceVersion: String(this.#seq) },
          items,
        });
        return;
      }
      if (method === 'POST') {
        const body = await readBody(req);
        const obj = this.#objectBody(body, route, undefined);
        const created = await run(() => this.#store.create(obj));
        send(res, 201, created);
        return;
      }
      throw new HttpError(
        405,
        statusBody(405, 'the server does not allow this method on the requested resource'),
      );
    }
    if (route.subresource === 'eviction') {
      if (method !== 'POST')
        throw new HttpError(
          405,
          statusBody(405, 'the server does not allow this method on the requested resource'),
        );
      await readBody(req);
      await run(() => this.#store.evict(namespace, name));
      send(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
      return;
    }
    const status = route.subresource === 'status';
    switch (method) {
      case 'GET': {
        const obj = await run(() => this.#store.read(kind, namespace, name));
        if (obj === undefined) throw this.#notFound(kind, name);
        send(res, 200, obj);
        return;
      }
      case 'PUT': {
        const obj = this.#objectBody(await readBody(req), route, name);
        const updated = await run(() => (status ? this.#putStatus(route, obj) : this.#store.update(obj)));
        send(res, 200, updated);
        return;
      }
      case 'PATCH': {
        const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const type = PATCH_TYPES[contentType];
        if (type === undefined) {
          throw new HttpError(
            415,
            statusBody(
              415,
              `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`,
            ),
          );
        }
        const patch = await readBody(req);
        if (patch === undefined) throw new HttpError(400, statusBody(400, 'the patch body is empty'));
        const patched = await run(() =>
          status
            ? this.#patchStatus(route, patch, type)
            : this.#store.patch(kind, namespace, name, patch, type),
        );
        send(res, 200, patched);
        return;
      }
      case 'DELETE': {
        if (status)
          throw new HttpError(
            405,
            statusBody(405, 'the server does not allow this method on the requested resource'),
          );
        const body = await readBody(req);
        const policy =
          (isRecord(body) ? body.propagationPolicy : undefined) ??
          query.get('propagationPolicy') ??
          undefined;
        if (policy !== undefined && policy !== 'Foreground' && policy !== 'Background' && policy !== 'Orphan')
          throw new HttpError(
            400,
            statusBody(400, `propagationPolicy: Unsupported value: "${String(policy)}"`),
          );
        const current = await run(() => this.#store.read(kind, namespace, name));
        if (current === undefined) throw this.#notFound(kind, name);
        await run(() =>
          this.#store.delete(kind, namespace, name, policy === undefined ? {} : { propagation: policy }),
        );
        send(res, 200, current);
        return;
      }
      default:
        throw new HttpError(
          405,
          statusBody(405, 'the server does not allow this method on the requested resource'),
        );
    }
  }

  #list(kind: Kind, filter: Filter): KubeObject[] {
    return this.#store.list(kind, filter.namespace).filter((obj) => matches(obj, filter));
  }

  /** A request body as the object of `route`: kind, apiVersion and namespace from the path when absent. */
  #objectBody(body: unknown, route: Route, name: string | undefined): KubeObject {
    if (!isRecord(body) || !isRecord(body.metadata))
      throw new HttpError(400, statusBody(400, 'the body of the request must be an object with metadata'));
    const served = this.#byKind.get(route.kind)!;
    const obj = structuredClone(body) as unknown as KubeObject;
    if (obj.kind === undefined || obj.kind === '') (obj as { kind: string }).kind = route.kind;
    if (obj.kind !== route.kind)
      throw new HttpError(
        400,
        statusBody(400, `the kind in the body (${obj.kind}) does not match the path (${route.kind})`),
      );
    if (!obj.apiVersion) obj.apiVersion = served.apiVersion;
    if (RESOURCES[route.kind].namespaced) {
      if (!obj.metadata.namespace) obj.metadata.namespace = route.namespace;
      else if (route.namespace !== undefined && obj.metadata.namespace !== route.namespace)
        throw new HttpError(
          400,
          statusBody(
            400,
            'the namespace of the provided object does not match the namespace sent on the request',
          ),
        );
    }
    if (name !== undefined) {
      if (!obj.metadata.name) obj.metadata.name = name;
      else if (obj.metadata.name !== name)
        throw new HttpError(
          400,
          statusBody(400, 'the name of the object does not match the name on the URL'),
        );
    }
    return obj;
  }

  async #current(route: Route): Promise<KubeObject> {
    const current = await this.#store.read(route.kind, route.namespace ?? '', route.name!);
    if (current === undefined) throw this.#notFound(route.kind, route.name!);
    return current;
  }

  /** PUT of `/status`: the body's status replaces the stored one (Conflict on a stale resourceVersion). */
  async #putStatus(route: Route, obj: KubeObject): Promise<KubeObject> {
    const current = await this.#current(route);
    const patch = statusPatch(current, obj);
    if (obj.metadata.resourceVersion) patch.metadata = { resourceVersion: obj.metadata.resourceVersion };
    return this.#store.patchStatus(route.kind, route.namespace ?? '', route.name!, patch);
  }

  /** PATCH of `/status`: only the status of the patched object is written. */
  async #patchStatus(route: Route, patch: unknown, type: PatchType): Promise<KubeObject> {
    const ns = route.namespace ?? '';
    if (type === 'merge') return this.#store.patchStatus(route.kind, ns, route.name!, patch);
    const current = await this.#current(route);
    let next: unknown;
    if (type === 'json') {
      const result = applyJsonPatch(current, patch);
      if (!result.ok) throw new HttpError(422, statusBody(422, result.error));
      next = result.value;
    } else {
      // A strategic merge patch of status: apply it to the whole object through the store's rules.
      if (!isRecord(patch))
        throw new HttpError(422, statusBody(422, 'strategic patch: must be a JSON object'));
      next = applyStrategicMergePatch(current, patch);
    }
    const nextRecord = isRecord(next) ? next : {};
    const diff = statusPatch(current, nextRecord);
    const rv = isRecord(nextRecord.metadata) ? nextRecord.metadata.resourceVersion : undefined;
    if (typeof rv === 'string' && rv !== current.metadata.resourceVersion)
      diff.metadata = { resourceVersion: rv };
    return this.#store.patchStatus(route.kind, ns, route.name!, diff);
  }

  // ---- watch ----

  #watch(
    kind: Kind,
    filter: Filter,
    query: URLSearchParams,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const feed = this.#feeds.get(kind)!;
    const rvParam = query.get('resourceVersion') ?? '';
    const fromNow = rvParam === '' || rvParam === '0';
    const from = rvNumber(rvParam);
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-cache, private',
      'transfer-encoding': 'chunked',
    });
    res.flushHeaders();
    const write = (type: string, obj: unknown): void => {
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    if (!fromNow && from < feed.droppedUpTo) {
      write(
        'ERROR',
        statusBody(410, `too old resource version: ${rvParam} (${feed.droppedUpTo + 1})`, 'Expired'),
      );
      res.end();
      return;
    }
    // With a label selector, an object whose labels stop matching is sent as DELETED, as the API server
    // does (the watcher's view starts from the objects matching now).
    const tracked = filter.labels.length > 0 ? new Set<string>() : undefined;
    const objectKey = (obj: KubeObject): string => `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const deliver = (type: WatchEventType, obj: KubeObject): void => {
      if (matches(obj, filter)) {
        if (type === 'DELETED') tracked?.delete(objectKey(obj));
        else tracked?.add(objectKey(obj));
        write(type, obj);
      } else if (type !== 'DELETED' && tracked?.delete(objectKey(obj))) write('DELETED', obj);
    };
    const current = this.#list(kind, filter);
    for (const obj of current) tracked?.add(objectKey(obj));
    if (fromNow) for (const obj of current) write('ADDED', obj);
    else for (const entry of feed.history) if (entry.seq > from) deliver(entry.type, entry.obj);
    const listener: Listener = (entry) => deliver(entry.type, entry.obj);
    feed.listeners.add(listener);
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '');
    const timer =
      Number.isFinite(timeoutSeconds) && timeoutSeconds > 0
        ? setTimeout(() => res.end(), timeoutSeconds * 1000)
        : undefined;
    timer?.unref();
    const finish = (): void => {
      feed.listeners.delete(listener);
      if (timer !== undefined) clearTimeout(timer);
    };
    res.once('close', finish);
    req.once('close', finish);
  }
}

/** The merge patch writing `next`'s status over `current`'s (an empty patch when equal). */
function statusPatch(current: unknown, next: unknown): Json {
  const status = (o: unknown): unknown => (isRecord(o) ? o.status : undefined);
  const diff = createMergePatch({ status: status(current) }, { status: status(next) });
  return isRecord(diff) ? diff : {};
}

function send(res: ServerResponse, status: number, body: Json | string | KubeObject): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Serves the Kubernetes API subset over `store` until close(). Rejects when the address cannot be
 * bound (e.g. the port is taken).
 */
export async function startApiServer(store: ObjectStore, options: ApiServerOptions): Promise<ApiServer> {
  if (options.token === '') throw new Error('startApiServer: the bearer token must not be empty');
  const handler = new Handler(store, options);
  const server: Server = createServer((req, res) => {
    void handler.handle(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    handler.stop();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostPart}:${port}`,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        handler.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

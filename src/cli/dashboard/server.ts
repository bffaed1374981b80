// The dashboard's HTTP server (`sluice dashboard`): the page and its assets (plain HTML/CSS/JS read from
// ./assets once, served with an ETag and revalidated), JSON views (views.ts), one server-sent-event
// stream per open page pushing a new view whenever the watched objects change (watch-cache.ts), the
// proxy's per-revision numbers on the same stream for a proxy-routed Rollout, and the actions as POSTs
// running the CLI verbs' own code (../rollouts/actions.ts).
//
// Security: it binds loopback unless told otherwise; with a loopback bind a request whose Host is not a
// loopback name is refused (a DNS-rebinding page cannot reach it); actions need the session's CSRF token
// in a header (which a cross-site form cannot send, and a cross-site script cannot read) and a same-origin
// Origin when one is sent; --read-only refuses them with 403. The CSP allows only this origin's scripts
// and styles: no inline script, no eval.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorText } from '../../api/errors.ts';
import { type CliApi, CliApiError } from '../kube.ts';
import {
  abortRollout,
  promoteRollout,
  restartRollout,
  retryRollout,
  undoRollout,
} from '../rollouts/actions.ts';
import { DEFAULT_SCRAPE_INTERVAL_MS, type ProxyStatsSource } from './proxy-stats.ts';
import { type RolloutPage, rolloutList, rolloutPage } from './views.ts';
import type { ObjectSource } from './watch-cache.ts';

export const DEFAULT_DASHBOARD_LISTEN = { host: '127.0.0.1', port: 3100 } as const;
export const CSRF_HEADER = 'x-sluice-csrf';
const HEARTBEAT_MS = 15_000;
const MAX_BODY_BYTES = 16 * 1024;

export const ACTIONS = ['promote', 'promote-full', 'abort', 'retry', 'restart', 'undo'] as const;
export type ActionName = (typeof ACTIONS)[number];

export interface DashboardOptions {
  readonly source: ObjectSource;
  /** The API the actions patch through (the CLI's client). */
  readonly api: CliApi;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly readOnly: boolean;
  /** The namespace watched; undefined: every namespace. Shown by the page. */
  readonly namespace: string | undefined;
  readonly proxy?: ProxyStatsSource;
  readonly proxyIntervalMs?: number;
  readonly nowMs?: () => number;
  /** Fixed in tests; random per process otherwise. */
  readonly csrfToken?: string;
}

export interface Dashboard {
  readonly url: string;
  readonly port: number;
  readonly csrfToken: string;
  close(): Promise<void>;
}

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

function loadAsset(file: string, type: string): Asset {
  const body = readFileSync(new URL(`./assets/${file}`, import.meta.url));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return { body, type, etag };
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || host.startsWith('127.');
}

/** The host name of a Host header (`[::1]:3100` -> `[::1]`, `localhost:3100` -> `localhost`). */
function hostName(header: string): string {
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1);
  return header.split(':', 1)[0] ?? '';
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    'cache-control': 'no-store',
  });
  res.end(bytes);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers = { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': asset.type, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

function tokenMatches(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  return text === '' ? {} : JSON.parse(text);
}

/** Runs one action with the CLI's code; the message is what the CLI verb prints. */
export async function runAction(
  api: CliApi,
  action: ActionName,
  namespace: string,
  name: string,
  body: unknown,
  nowMs: () => number,
): Promise<{ status: number; message: string }> {
  switch (action) {
    case 'promote':
    case 'promote-full': {
      const full = action === 'promote-full';
      const r = await promoteRollout(api, namespace, name, { full });
      if (!r.ok) return { status: 400, message: r.error };
      return { status: 200, message: `rollout '${name}' ${full ? 'fully promoted' : 'promoted'}` };
    }
    case 'abort':
      await abortRollout(api, namespace, name);
      return { status: 200, message: `rollout '${name}' aborted` };
    case 'retry':
      await retryRollout(api, namespace, name);
      return { status: 200, message: `rollout '${name}' retried` };
    case 'restart':
      await restartRollout(api, namespace, name, new Date(nowMs()));
      return { status: 200, message: `rollout '${name}' restarts in 0s` };
    case 'undo': {
      const raw = (body as { toRevision?: unknown } | null)?.toRevision;
      const toRevision = raw === undefined ? 0 : Number(raw);
      if (!Number.isInteger(toRevision) || toRevision < 0)
        return { status: 400, message: 'toRevision: must be a non-negative integer' };
      const r = await undoRollout(api, namespace, name, toRevision);
      if (!r.ok) return { status: 400, message: r.error };
      return r.value.kind === 'skipped'
        ? {
            status: 200,
            message: `skipped rollback (current template already matches revision ${r.value.revision})`,
          }
        : { status: 200, message: `rollout '${name}' undo` };
    }
  }
}

const ROLLOUT_PATH_RE = /^\/api\/rollouts\/([a-z0-9.-]+)\/([a-z0-9.-]+)$/;
const ACTION_PATH_RE = /^\/api\/rollouts\/([a-z0-9.-]+)\/([a-z0-9.-]+)\/actions\/([a-z-]+)$/;

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const assets: Readonly<Record<string, Asset>> = {
    '/': loadAsset('index.html', 'text/html; charset=utf-8'),
    '/assets/app.js': loadAsset('app.js', 'text/javascript; charset=utf-8'),
    '/assets/app.css': loadAsset('app.css', 'text/css; charset=utf-8'),
  };
  const csrfToken = o.csrfToken ?? randomBytes(24).toString('base64url');
  const nowMs = o.nowMs ?? Date.now;
  const checkHost = isLoopbackHost(o.host);
  const streams = new Set<ServerResponse>();

  const list = (namespace: string | null) =>
    rolloutList(o.source.objects()).filter((r) => namespace === null || r.namespace === namespace);

  const stream = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void => {
    const namespace = query.get('namespace');
    const name = query.get('rollout');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    streams.add(res);
    let last = '';
    let page: RolloutPage | undefined;
    const push = (): void => {
      let event: string;
      let data: string;
      if (name !== null && namespace !== null) {
        page = rolloutPage(o.source.objects(), namespace, name);
        event = 'rollout';
        data = JSON.stringify(page ?? { notFound: true, namespace, name });
      } else {
        event = 'list';
        data = JSON.stringify(list(namespace));
      }
      if (data === last) return;
      last = data;
      res.write(`event: ${event}\ndata: ${data}\n\n`);
    };
    push();
    const unsubscribe = o.source.subscribe(push);
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    let proxyTimer: NodeJS.Timeout | undefined;
    if (o.proxy !== undefined && name !== null) {
      const proxy = o.proxy;
      const tick = async (): Promise<void> => {
        const route = page?.proxyRoute;
        if (route !== undefined) {
          const stats = await proxy.stats(route.namespace, route.name);
          if (!res.writableEnded) res.write(`event: proxy\ndata: ${JSON.stringify(stats)}\n\n`);
        }
        if (!res.writableEnded)
          proxyTimer = setTimeout(() => void tick(), o.proxyIntervalMs ?? DEFAULT_SCRAPE_INTERVAL_MS);
      };
      void tick();
    }
    const end = (): void => {
      unsubscribe();
      clearInterval(heartbeat);
      if (proxyTimer !== undefined) clearTimeout(proxyTimer);
      streams.delete(res);
    };
    req.on('close', end);
    res.on('close', end);
  };

  const action = async (
    req: IncomingMessage,
    res: ServerResponse,
    namespace: string,
    name: string,
    verb: string,
  ): Promise<void> => {
    if (o.readOnly) return sendJson(res, 403, { error: 'the dashboard is read-only (--read-only)' });
    if (!tokenMatches(req.headers[CSRF_HEADER], csrfToken))
      return sendJson(res, 403, { error: `missing or wrong ${CSRF_HEADER} token` });
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`)
      return sendJson(res, 403, { error: `cross-origin request from ${origin}` });
    if (!(ACTIONS as readonly string[]).includes(verb))
      return sendJson(res, 404, { error: `unknown action "${verb}"` });
    let body: unknown;
    try {
      body = await readBody(req);
    } catch (error) {
      return sendJson(res, 400, { error: errorText(error) });
    }
    try {
      const r = await runAction(o.api, verb as ActionName, namespace, name, body, nowMs);
      sendJson(res, r.status, r.status === 200 ? { message: r.message } : { error: r.message });
    } catch (error) {
      if (error instanceof CliApiError)
        return sendJson(res, error.status === 404 || error.status === 409 ? error.status : 502, {
          error: error.message,
        });
      sendJson(res, 500, { error: errorText(error) });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (checkHost && !isLoopbackHost(hostName(req.headers.host ?? ''))) {
      return sendJson(res, 403, { error: 'Host is not a loopback name' });
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (req.method === 'POST') {
      const m = ACTION_PATH_RE.exec(path);
      if (m === null) return sendJson(res, 404, { error: 'not found' });
      return action(req, res, m[1]!, m[2]!, m[3]!);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, POST' });
      res.end();
      return;
    }
    const asset = assets[path];
    if (asset !== undefined) return sendAsset(req, res, asset);
    if (path === '/favicon.ico') {
      // Browsers ask for it; no icon, and no 404 in their console.
      res.writeHead(204, { ...SECURITY_HEADERS, 'cache-control': 'max-age=86400' });
      res.end();
      return;
    }
    if (path === '/api/session') {
      return sendJson(res, 200, {
        csrfToken,
        readOnly: o.readOnly,
        namespace: o.namespace ?? null,
        proxyStats: o.proxy !== undefined,
        actions: o.readOnly ? [] : ACTIONS,
      });
    }
    if (path === '/api/rollouts') return sendJson(res, 200, list(url.searchParams.get('namespace')));
    if (path === '/api/stream') return stream(req, res, url.searchParams);
    const m = ROLLOUT_PATH_RE.exec(path);
    if (m !== null) {
      const page = rolloutPage(o.source.objects(), m[1]!, m[2]!);
      if (page === undefined) return sendJson(res, 404, { error: `rollout ${m[1]}/${m[2]} not found` });
      return sendJson(res, 200, page);
    }
    if (path === '/api/proxy' && o.proxy !== undefined) {
      const ns = url.searchParams.get('namespace') ?? '';
      const route = url.searchParams.get('route') ?? '';
      return sendJson(res, 200, await o.proxy.stats(ns, route));
    }
    sendJson(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: errorText(error) });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // event streams stay open
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/`,
    port: bound.port,
    csrfToken,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

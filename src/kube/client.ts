// Kubernetes API access: loads the kubeconfig (--kubeconfig, then $KUBECONFIG, then the in-cluster service
// account, then ~/.kube/config) with ./kubeconfig.ts, and sends requests over one keep-alive undici
// Agent built from its TLS settings. A client-side token bucket (qps 40, burst 80: Argo's --qps/--burst;
// ./rate-limiter.ts) paces requests, Events in a lane that yields to everything else; watches are not
// paced. Failures come back as StoreError with the API server's reason.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Agent, type Dispatcher, request } from 'undici';
import { errorText } from '../api/errors.ts';
import { StoreError, type StoreErrorReason } from '../store/object-store.ts';
import { KubeConfig, type KubeConfigLike } from './kubeconfig.ts';
import { type Lane, RateLimiter } from './rate-limiter.ts';

export const DEFAULT_QPS = 40;
export const DEFAULT_BURST = 80;
const HEADER_REFRESH_MS = 60_000;

export interface LoadKubeConfigOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

export type LoadedKubeConfig =
  | { readonly ok: true; readonly config: KubeConfig; readonly source: string }
  | { readonly ok: false; readonly error: string };

/** Resolves the kubeconfig the way kubectl and controllers do; never throws. */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  let source: string;
  try {
    if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
      if (!existsSync(options.kubeconfig))
        return { ok: false, error: `--kubeconfig: ${options.kubeconfig} does not exist` };
      kc.loadFromFile(options.kubeconfig);
      source = options.kubeconfig;
    } else if (env.KUBECONFIG) {
      const first = env.KUBECONFIG.split(':').find((p) => p !== '' && existsSync(p));
      if (first === undefined) return { ok: false, error: `KUBECONFIG: no file of ${env.KUBECONFIG} exists` };
      kc.loadFromFile(first);
      source = first;
    } else if (env.KUBERNETES_SERVICE_HOST) {
      kc.loadFromCluster(env);
      source = 'in-cluster service account';
    } else {
      const home = join(homedir(), '.kube', 'config');
      if (!existsSync(home)) {
        return { ok: false, error: 'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster' };
      }
      kc.loadFromFile(home);
      source = home;
    }
    if (options.context !== undefined && options.context !== '') {
      if (kc.getContextObject(options.context) === null) {
        return { ok: false, error: `--context: no context named "${options.context}" in ${source}` };
      }
      kc.setCurrentContext(options.context);
    }
  } catch (error) {
    return { ok: false, error: `kubeconfig: ${errorText(error)}` };
  }
  if (kc.getCurrentCluster() === null)
    return { ok: false, error: `kubeconfig ${source}: no current cluster` };
  return { ok: true, config: kc, source };
}

export type Verb = 'Get' | 'List' | 'Watch' | 'Create' | 'Update' | 'Patch' | 'Delete';

/** One finished request, for controller_clientset_k8s_request_total. */
export interface RequestRecord {
  readonly verb: Verb;
  /** Resource plural, as Argo labels it (`rollouts`, `replicasets`). */
  readonly resource: string;
  readonly namespace: string;
  readonly name: string;
  /** HTTP status, or 0 when no response arrived. */
  readonly statusCode: number;
  /** Time from sending to the whole response read, without the rate-limiter wait, in ms. */
  readonly durationMs?: number;
}

export interface RequestOptions {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Labels for the request counter. */
  readonly record?: Omit<RequestRecord, 'statusCode'>;
  /** Skip the client-side rate limiter (watches, leader election). */
  readonly unpaced?: boolean;
  /** `low`: only when no other request waits for the rate limiter (Events). */
  readonly lane?: Lane;
}

export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface KubeClientOptions {
  readonly qps?: number;
  readonly burst?: number;
  readonly onRequest?: (record: RequestRecord) => void;
}

const REASONS: Readonly<Record<string, StoreErrorReason>> = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  Conflict: 'Conflict',
  Invalid: 'Invalid',
  Forbidden: 'Forbidden',
};

/** The API server's error (a metav1.Status body) as a StoreError. */
export function toStoreError(status: number, body: unknown, what: string): StoreError {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const message = typeof record.message === 'string' ? record.message : `${what}: HTTP ${status}`;
  const reason = typeof record.reason === 'string' ? REASONS[record.reason] : undefined;
  if (reason !== undefined) return new StoreError(reason, status, message);
  if (status === 404) return new StoreError('NotFound', status, message);
  if (status === 409) return new StoreError('Conflict', status, message);
  if (status === 422 || status === 400) return new StoreError('Invalid', status, message);
  if (status === 401 || status === 403) return new StoreError('Forbidden', status, message);
  return new StoreError('Unavailable', status, message);
}

export class KubeClient {
  readonly config: KubeConfigLike;
  readonly server: string;
  readonly #dispatcher: Dispatcher;
  readonly #onRequest: ((record: RequestRecord) => void) | undefined;
  readonly limiter: RateLimiter;
  #headers: Record<string, string> = {};
  #headersAtMs = 0;
  #closed = false;

  private constructor(config: KubeConfigLike, dispatcher: Dispatcher, options: KubeClientOptions) {
    this.config = config;
    this.server = config.getCurrentCluster()!.server.replace(/\/+$/, '');
    this.#dispatcher = dispatcher;
    this.#onRequest = options.onRequest;
    this.limiter = new RateLimiter(options.qps ?? DEFAULT_QPS, options.burst ?? DEFAULT_BURST);
  }

  static async create(config: KubeConfigLike, options: KubeClientOptions = {}): Promise<KubeClient> {
    const opts: Record<string, unknown> = {};
    await config.applyToHTTPSOptions(opts);
    const tls: Record<string, unknown> = {};
    for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername']) {
      if (opts[k] !== undefined && opts[k] !== null) tls[k] = opts[k];
    }
    const dispatcher = new Agent({ connect: tls, keepAliveTimeout: 30_000, connections: 64 });
    const client = new KubeClient(config, dispatcher, options);
    client.#setHeaders(opts);
    return client;
  }

  /** Sends one request; resolves with any HTTP status, rejects only when no response arrived. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<KubeResponse> {
    if (!options.unpaced) await this.limiter.acquire(options.lane);
    const startedMs = performance.now();
    const headers = await this.#authHeaders();
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    let statusCode = 0;
    try {
      const res = await request(url, {
        method: method as Dispatcher.HttpMethod,
        dispatcher: this.#dispatcher,
        headers: {
          ...headers,
          accept: 'application/json',
          ...(options.body !== undefined
            ? { 'content-type': options.contentType ?? 'application/json' }
            : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
      });
      statusCode = res.statusCode;
      const text = await res.body.text();
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Non-JSON bodies (proxies, plain-text errors) are returned as strings.
      }
      return { status: res.statusCode, body };
    } finally {
      if (options.record !== undefined)
        this.#onRequest?.({ ...options.record, statusCode, durationMs: performance.now() - startedMs });
    }
  }

  /** Opens a streaming GET (a watch); the caller reads `body` line by line and must consume or destroy it. */
  async stream(
    path: string,
    query: Readonly<Record<string, string | number | boolean | undefined>>,
    signal: AbortSignal,
    record?: Omit<RequestRecord, 'statusCode'>,
  ): Promise<{ status: number; body: AsyncIterable<Buffer> & { destroy(): void; text(): Promise<string> } }> {
    const headers = await this.#authHeaders();
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    let statusCode = 0;
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.#dispatcher,
        headers: { ...headers, accept: 'application/json' },
        signal,
        headersTimeout: 60_000,
        // A watch is quiet for long stretches; the server ends it after timeoutSeconds.
        bodyTimeout: 0,
      });
      statusCode = res.statusCode;
      return { status: res.statusCode, body: res.body as never };
    } finally {
      if (record !== undefined) this.#onRequest?.({ ...record, statusCode });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.limiter.releaseAll();
    await this.#dispatcher.destroy();
  }

  #setHeaders(opts: Record<string, unknown>): void {
    const headers: Record<string, string> = {};
    const raw = opts.headers;
    if (typeof raw === 'object' && raw !== null) {
      for (const [k, v] of Object.entries(raw)) if (v !== undefined) headers[k.toLowerCase()] = String(v);
    }
    if (typeof opts.auth === 'string')
      headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.#headers = headers;
    this.#headersAtMs = Date.now();
  }

  async #authHeaders(): Promise<Record<string, string>> {
    // Tokens from exec plugins and projected service-account files rotate; refresh now and then.
    if (Date.now() - this.#headersAtMs > HEADER_REFRESH_MS) {
      const opts: Record<string, unknown> = {};
      try {
        await this.config.applyToHTTPSOptions(opts);
        this.#setHeaders(opts);
      } catch {
        this.#headersAtMs = Date.now();
      }
    }
    return this.#headers;
  }
}

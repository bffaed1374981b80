// Kubernetes API access: takes the kubeconfig's credentials (./kubeconfig.ts: client-node's KubeConfig for
// files, our own for the in-cluster service account) and sends requests over one keep-alive undici
// dispatcher built from its TLS settings: an Agent, or a ProxyAgent / Socks5ProxyAgent for the cluster's
// `proxy-url`. A client-side token bucket (qps 40, burst 80: Argo's --qps/--burst; ./rate-limiter.ts) paces
// requests, Events in a lane that yields to everything else; watches are not paced. Failures come back as
// StoreError with the API server's reason.

import { Agent, type Dispatcher, ProxyAgent, request, Socks5ProxyAgent } from 'undici';
import { SluiceError } from '../api/errors.ts';
import { StoreError, type StoreErrorReason } from '../store/object-store.ts';
import type { KubeConfigLike } from './kubeconfig.ts';
import { type Lane, RateLimiter } from './rate-limiter.ts';

export { type LoadedKubeConfig, type LoadKubeConfigOptions, loadKubeConfig } from './kubeconfig.ts';

export const DEFAULT_QPS = 40;
export const DEFAULT_BURST = 80;
/**
 * How long request headers are reused before the kubeconfig is asked again. client-node caches an exec
 * plugin's credential until its expirationTimestamp, so asking is a cache lookup; 1 s bounds how long an
 * expired credential is sent. The service account's token file is re-read as often.
 */
const HEADER_REFRESH_MS = 1_000;
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
const MAX_CONNECTIONS = 64;
const TLS_FIELDS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

/** The dispatcher for the API server: direct, or through the cluster's `proxy-url` (http, https, socks5). */
export function dispatcherFor(proxyUrl: string | undefined, tls: Record<string, unknown>): Dispatcher {
  const pool = { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connections: MAX_CONNECTIONS };
  if (proxyUrl === undefined || proxyUrl === '') return new Agent({ ...pool, connect: tls });
  let scheme: string;
  try {
    scheme = new URL(proxyUrl).protocol;
  } catch {
    throw new SluiceError('SLUICE_KUBECONFIG', `proxy-url ${proxyUrl} is not a URL`);
  }
  // As Go's transport under kubectl: CONNECT tunnels to an https:// server, absolute-form requests to http://.
  if (scheme === 'http:' || scheme === 'https:')
    return new ProxyAgent({ ...pool, uri: proxyUrl, requestTls: tls });
  if (scheme === 'socks5:' || scheme === 'socks5h:')
    return new Socks5ProxyAgent(proxyUrl, { ...pool, requestTls: tls });
  throw new SluiceError('SLUICE_KUBECONFIG', `proxy-url ${proxyUrl}: scheme must be http, https or socks5`);
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
  #refreshing: Promise<void> | undefined;
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
    for (const k of TLS_FIELDS) if (opts[k] !== undefined && opts[k] !== null) tls[k] = opts[k];
    const dispatcher = dispatcherFor(config.getCurrentCluster()?.proxyUrl, tls);
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
    if (Date.now() - this.#headersAtMs > HEADER_REFRESH_MS) {
      // One refresh at a time: an expired exec credential runs its plugin once, not once per waiting request.
      this.#refreshing ??= this.#refreshHeaders().finally(() => {
        this.#refreshing = undefined;
      });
      await this.#refreshing;
    }
    return this.#headers;
  }

  async #refreshHeaders(): Promise<void> {
    const opts: Record<string, unknown> = {};
    try {
      await this.config.applyToHTTPSOptions(opts);
      this.#setHeaders(opts);
    } catch {
      // Keep the last headers (the API server answers 401 if they are stale) and ask again later.
      this.#headersAtMs = Date.now();
    }
  }
}

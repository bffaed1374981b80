// Shared HTTP plumbing for the prometheus and web providers: undici `request` with a per-provider
// dispatcher (a TLS-verification-skipping Agent only when a metric sets `insecure`), a deadline that
// covers connect + headers + body, header lists in Argo's `[{key, value}]` form, basic auth and
// OAuth2 client-credentials tokens (RFC 6749 section 4.4, cached until shortly before they expire).
// Nothing here throws: every failure comes back as `{ ok: false, error }`.

import { Agent, type Dispatcher, request } from 'undici';

export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface HttpResponse {
  readonly statusCode: number;
  readonly body: string;
  readonly contentType: string | undefined;
  /** The Retry-After header, when the server sent one (429 / 503). */
  readonly retryAfter?: string;
}

export type HttpResult = { ok: true; response: HttpResponse } | { ok: false; error: string };

export type Field<T> = { ok: true; value: T } | { ok: false; error: string };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A timeout in whole seconds as written (a number, or a numeric string after `{{args.x}}`): absent or 0
 * is `fallback`; undefined when it is not a non-negative integer.
 */
export function timeoutSecondsOf(value: unknown, fallback: number): number | undefined {
  if (value === undefined || value === null) return fallback;
  const t = typeof value === 'string' ? Number(value) : value;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) return undefined;
  return t > 0 ? t : fallback;
}

/** `headers: [{key, value}]` -> record; errors name the field. */
export function parseHeaderList(value: unknown, field: string): Field<Record<string, string>> {
  const headers: Record<string, string> = {};
  if (value === undefined || value === null) return { ok: true, value: headers };
  if (!Array.isArray(value)) return { ok: false, error: `${field}: must be a list of {key, value}` };
  for (const [i, entry] of value.entries()) {
    if (!isObject(entry) || typeof entry.key !== 'string' || entry.key === '') {
      return { ok: false, error: `${field}[${i}].key: is required` };
    }
    const v = entry.value;
    if (typeof v !== 'string' && typeof v !== 'number')
      return { ok: false, error: `${field}[${i}].value: must be a string` };
    headers[entry.key] = String(v);
  }
  return { ok: true, value: headers };
}

export interface OAuth2Config {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scopes: readonly string[];
}

export function parseOAuth2(value: unknown, field: string): Field<OAuth2Config | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  if (!isObject(value)) return { ok: false, error: `${field}: must be an object` };
  for (const key of ['tokenUrl', 'clientId', 'clientSecret'] as const) {
    if (typeof value[key] !== 'string' || value[key] === '')
      return { ok: false, error: `${field}.${key}: is required` };
  }
  const scopes = value.scopes ?? [];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string')) {
    return { ok: false, error: `${field}.scopes: must be a list of strings` };
  }
  return {
    ok: true,
    value: {
      tokenUrl: value.tokenUrl as string,
      clientId: value.clientId as string,
      clientSecret: value.clientSecret as string,
      scopes: scopes as string[],
    },
  };
}

export interface BasicAuthConfig {
  readonly username: string;
  readonly password: string;
}

export function parseBasicAuth(value: unknown, field: string): Field<BasicAuthConfig | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  if (!isObject(value)) return { ok: false, error: `${field}: must be an object` };
  if (typeof value.username !== 'string') return { ok: false, error: `${field}.username: is required` };
  const password = value.password ?? '';
  if (typeof password !== 'string') return { ok: false, error: `${field}.password: must be a string` };
  return { ok: true, value: { username: value.username, password } };
}

export function basicAuthHeader(auth: BasicAuthConfig): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

/** Expiry safety margin: refresh a token this long before it expires. */
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
const MAX_BODY_CHARS = 4 * 1024 * 1024;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const code = (error as { code?: unknown }).code;
    let text = error.message;
    if (typeof code === 'string' && !text.includes(code)) text = `${code}: ${text}`;
    if (cause instanceof Error && !text.includes(cause.message)) text += `: ${cause.message}`;
    return text;
  }
  return String(error);
}

export interface HttpClient {
  send(options: {
    method: HttpMethod;
    url: string;
    headers: Record<string, string>;
    body?: string;
    timeoutMs: number;
    insecure: boolean;
    signal?: AbortSignal;
  }): Promise<HttpResult>;
  /** Access token for a client-credentials config; cached per (tokenUrl, clientId, scopes). */
  oauth2Token(
    config: OAuth2Config,
    timeoutMs: number,
    insecure: boolean,
    signal?: AbortSignal,
  ): Promise<Field<string>>;
  close(): Promise<void>;
}

/** One client per provider instance: owns its insecure Agent and token cache. */
export function createHttpClient(nowMs: () => number = Date.now): HttpClient {
  let insecureAgent: Agent | undefined;
  const tokens = new Map<string, { token: string; expiresAtMs: number }>();

  const dispatcherFor = (insecure: boolean): Dispatcher | undefined => {
    if (!insecure) return undefined;
    insecureAgent ??= new Agent({ connect: { rejectUnauthorized: false } });
    return insecureAgent;
  };

  const send: HttpClient['send'] = async (options) => {
    const timeout = AbortSignal.timeout(Math.max(1, options.timeoutMs));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const method = options.method;
    const verb = method === 'GET' ? 'Get' : method === 'POST' ? 'Post' : 'Put';
    try {
      const dispatcher = dispatcherFor(options.insecure);
      const response = await request(options.url, {
        method,
        headers: options.headers,
        ...(options.body !== undefined ? { body: options.body } : {}),
        signal,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        ...(dispatcher ? { dispatcher } : {}),
      });
      const text = await response.body.text();
      const contentType = response.headers['content-type'];
      const retryAfter = response.headers['retry-after'];
      return {
        ok: true,
        response: {
          statusCode: response.statusCode,
          body: text.length > MAX_BODY_CHARS ? text.slice(0, MAX_BODY_CHARS) : text,
          contentType: Array.isArray(contentType) ? contentType[0] : contentType,
          ...(retryAfter !== undefined
            ? { retryAfter: Array.isArray(retryAfter) ? retryAfter[0]! : retryAfter }
            : {}),
        },
      };
    } catch (error) {
      if (timeout.aborted) {
        return { ok: false, error: `${verb} "${options.url}": timeout after ${options.timeoutMs} ms` };
      }
      return { ok: false, error: `${verb} "${options.url}": ${describeError(error)}` };
    }
  };

  const oauth2Token: HttpClient['oauth2Token'] = async (config, timeoutMs, insecure, signal) => {
    const key = JSON.stringify([config.tokenUrl, config.clientId, config.scopes]);
    const cached = tokens.get(key);
    if (cached && cached.expiresAtMs - TOKEN_EXPIRY_MARGIN_MS > nowMs())
      return { ok: true, value: cached.token };
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (config.scopes.length > 0) form.set('scope', config.scopes.join(' '));
    const attempt = async (inParams: boolean): Promise<HttpResult> => {
      const body = new URLSearchParams(form);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (inParams) {
        body.set('client_id', config.clientId);
        body.set('client_secret', config.clientSecret);
      } else {
        headers.authorization = basicAuthHeader({
          username: encodeURIComponent(config.clientId),
          password: encodeURIComponent(config.clientSecret),
        });
      }
      return send({
        method: 'POST',
        url: config.tokenUrl,
        headers,
        body: body.toString(),
        timeoutMs,
        insecure,
        ...(signal ? { signal } : {}),
      });
    };
    // Like Go's oauth2 AuthStyleAutoDetect: credentials in the header first, then in the body.
    let result = await attempt(false);
    if (result.ok && (result.response.statusCode === 400 || result.response.statusCode === 401)) {
      result = await attempt(true);
    }
    if (!result.ok) return { ok: false, error: `oauth2: ${result.error}` };
    const { statusCode, body } = result.response;
    if (statusCode < 200 || statusCode > 299) {
      return { ok: false, error: `oauth2: cannot fetch token: ${statusCode}: ${body.slice(0, 512)}` };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = Object.fromEntries(new URLSearchParams(body));
    }
    if (!isObject(parsed) || typeof parsed.access_token !== 'string' || parsed.access_token === '') {
      return { ok: false, error: 'oauth2: server response missing access_token' };
    }
    const expiresIn = Number(parsed.expires_in);
    const expiresAtMs =
      Number.isFinite(expiresIn) && expiresIn > 0 ? nowMs() + expiresIn * 1_000 : nowMs() + 3_600_000;
    tokens.set(key, { token: parsed.access_token, expiresAtMs });
    return { ok: true, value: parsed.access_token };
  };

  return {
    send,
    oauth2Token,
    close: async () => {
      const agent = insecureAgent;
      insecureAgent = undefined;
      if (agent) await agent.close();
    },
  };
}

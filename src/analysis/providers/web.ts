// The `web` provider (Argo's metricproviders/webmetric): one HTTP request per measurement; non-2xx is an
// Error; a JSON body is searched with `jsonPath` (default `{$}`) and the first match becomes `result`;
// a body that is not JSON becomes `result` as the raw string. Never throws.

import { redact } from '../redact.ts';
import {
  createHttpClient,
  type Field,
  type HttpClient,
  type HttpMethod,
  isObject,
  parseHeaderList,
  parseOAuth2,
  timeoutSecondsOf,
} from './http-client.ts';
import { compileJsonPath, evaluateJsonPath, type JsonPath } from './jsonpath.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';

export const DEFAULT_WEB_TIMEOUT_SECONDS = 10;
const DEFAULT_JSON_PATH = '{$}';

export interface WebConfig {
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs: number;
  readonly jsonPath: JsonPath;
  readonly insecure: boolean;
  readonly oauth2?: { tokenUrl: string; clientId: string; clientSecret: string; scopes: readonly string[] };
}

export function parseWebConfig(block: unknown): Field<WebConfig> {
  if (!isObject(block)) return { ok: false, error: 'web: must be an object' };
  const method =
    block.method === undefined || block.method === null || block.method === '' ? 'GET' : block.method;
  if (method !== 'GET' && method !== 'POST' && method !== 'PUT') {
    return { ok: false, error: `web.method: must be GET, POST or PUT, got ${JSON.stringify(method)}` };
  }
  if (typeof block.url !== 'string' || block.url === '') return { ok: false, error: 'web.url: is required' };
  let url: URL;
  try {
    url = new URL(block.url);
  } catch {
    return { ok: false, error: `web.url: "${block.url}" is not a valid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `web.url: "${block.url}" must be an http or https URL` };
  }
  const headers = parseHeaderList(block.headers, 'web.headers');
  if (!headers.ok) return headers;
  const hasBody = block.body !== undefined && block.body !== null && block.body !== '';
  const hasJsonBody = block.jsonBody !== undefined && block.jsonBody !== null;
  if (hasBody && hasJsonBody) return { ok: false, error: 'web.body: use either body or jsonBody, not both' };
  if ((hasBody || hasJsonBody) && method === 'GET') {
    return { ok: false, error: `web.${hasBody ? 'body' : 'jsonBody'}: only allowed with POST or PUT` };
  }
  let body: string | undefined;
  if (hasBody) {
    if (typeof block.body !== 'string') return { ok: false, error: 'web.body: must be a string' };
    body = block.body;
  }
  if (hasJsonBody) {
    body = JSON.stringify(block.jsonBody);
    if (!Object.keys(headers.value).some((h) => h.toLowerCase() === 'content-type')) {
      headers.value['Content-Type'] = 'application/json';
    }
  }
  const timeoutSeconds = timeoutSecondsOf(block.timeoutSeconds, DEFAULT_WEB_TIMEOUT_SECONDS);
  if (timeoutSeconds === undefined) {
    return { ok: false, error: 'web.timeoutSeconds: must be a non-negative integer' };
  }
  const jsonPathSource =
    typeof block.jsonPath === 'string' && block.jsonPath !== '' ? block.jsonPath : DEFAULT_JSON_PATH;
  if (block.jsonPath !== undefined && block.jsonPath !== null && typeof block.jsonPath !== 'string') {
    return { ok: false, error: 'web.jsonPath: must be a string' };
  }
  const jsonPath = compileJsonPath(jsonPathSource);
  if (!jsonPath.ok) return { ok: false, error: `web.jsonPath: ${jsonPath.error}` };
  if (block.insecure !== undefined && typeof block.insecure !== 'boolean') {
    return { ok: false, error: 'web.insecure: must be a boolean' };
  }
  const auth = block.authentication;
  if (auth !== undefined && auth !== null && !isObject(auth)) {
    return { ok: false, error: 'web.authentication: must be an object' };
  }
  const oauth2 = parseOAuth2(auth?.oauth2, 'web.authentication.oauth2');
  if (!oauth2.ok) return oauth2;
  return {
    ok: true,
    value: {
      method,
      url: block.url,
      headers: headers.value,
      ...(body !== undefined ? { body } : {}),
      timeoutMs: timeoutSeconds * 1_000,
      jsonPath: jsonPath.path,
      insecure: block.insecure === true,
      ...(oauth2.value ? { oauth2: oauth2.value } : {}),
    },
  };
}

/** Measurement.value for a JSONPath match: strings raw, everything else JSON-encoded. */
function valueString(match: unknown): string {
  if (typeof match === 'string') return match;
  return JSON.stringify(match) ?? 'null';
}

export interface WebProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createWebProvider(): WebProvider {
  const client: HttpClient = createHttpClient();
  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    const secrets = request.secrets ?? [];
    const fail = (message: string): ProviderResult => ({ phase: 'Error', message: redact(message, secrets) });
    const config = parseWebConfig(request.provider.web);
    if (!config.ok) return fail(config.error);
    const c = config.value;
    const headers = { ...c.headers };
    if (c.oauth2) {
      const token = await client.oauth2Token(c.oauth2, c.timeoutMs, c.insecure, request.signal);
      if (!token.ok) return fail(token.error);
      headers.Authorization = `Bearer ${token.value}`;
    }
    const sent = await client.send({
      method: c.method,
      url: c.url,
      headers,
      ...(c.body !== undefined ? { body: c.body } : {}),
      timeoutMs: c.timeoutMs,
      insecure: c.insecure,
      signal: request.signal,
    });
    if (!sent.ok) return fail(sent.error);
    const { statusCode, body } = sent.response;
    if (statusCode < 200 || statusCode >= 300) {
      return fail(`received non 2xx response code: ${statusCode}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      // Not JSON: the raw body is the result (conditions use asInt/asFloat on it).
      return { result: body, value: redact(body, secrets) };
    }
    const found = evaluateJsonPath(c.jsonPath, data);
    if (!found.ok) return fail(`could not find JSONPath ${c.jsonPath.source} in response: ${found.error}`);
    const match = found.matches[0];
    return { result: match, value: redact(valueString(match), secrets) };
  };
  return { type: 'web', run, close: () => client.close() };
}

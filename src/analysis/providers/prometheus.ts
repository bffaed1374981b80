// The `prometheus` provider (Argo's metricproviders/prometheus). Instant query, or range query when
// `rangeQuery` is set. Result shaping as Argo: scalar -> number (value "0.99"); vector -> number[] one
// per series in API order, labels dropped (value "[0.99,0.5]"); matrix -> every sample of every series
// flattened; empty vector -> []. Any failure (unreachable, timeout, HTTP error, bad PromQL, other result
// types) is an Error measurement carrying the server's message. Never throws.

import { parseDuration } from '../../api/duration.ts';
import { redact, redactRecord } from '../redact.ts';
import {
  basicAuthHeader,
  createHttpClient,
  type Field,
  type HttpClient,
  isObject,
  parseBasicAuth,
  parseHeaderList,
  parseOAuth2,
  timeoutSecondsOf,
} from './http-client.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';
import { awsEnvironment, signV4 } from './sigv4.ts';

export const DEFAULT_PROMETHEUS_TIMEOUT_SECONDS = 30;
export const PROMETHEUS_ADDRESS_ENV = 'ARGO_ROLLOUTS_PROMETHEUS_ADDRESS';

export interface PrometheusProviderOptions {
  /** Replaces every metric's address (the CLI's --prometheus). */
  readonly addressOverride?: string;
  /** Environment for the ARGO_ROLLOUTS_PROMETHEUS_ADDRESS fallback; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Clock for SigV4 signing; defaults to Date.now. */
  readonly nowMs?: () => number;
}

export interface PrometheusConfig {
  readonly address: string;
  readonly query: string;
  readonly timeoutMs: number;
  readonly insecure: boolean;
  readonly headers: Record<string, string>;
  readonly basicAuth?: { username: string; password: string };
  readonly oauth2?: { tokenUrl: string; clientId: string; clientSecret: string; scopes: readonly string[] };
  readonly rangeQuery?: { start: string; end: string; step: string };
  /** `authentication.sigv4` (Amazon Managed Prometheus): requests signed for service "aps". */
  readonly sigv4?: { region: string };
}

/** Parses `provider.prometheus`; errors name the field. */
export function parsePrometheusConfig(
  block: unknown,
  options: PrometheusProviderOptions = {},
): Field<PrometheusConfig> {
  if (!isObject(block)) return { ok: false, error: 'prometheus: must be an object' };
  const env = options.env ?? process.env;
  const address =
    options.addressOverride ??
    (typeof block.address === 'string' && block.address !== '' ? block.address : env[PROMETHEUS_ADDRESS_ENV]);
  if (address === undefined || address === '') {
    return { ok: false, error: `prometheus.address: is required (or set ${PROMETHEUS_ADDRESS_ENV})` };
  }
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { ok: false, error: `prometheus.address: "${address}" is not a valid URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `prometheus.address: "${address}" must be an http or https URL` };
  }
  if (typeof block.query !== 'string' || block.query.trim() === '') {
    return { ok: false, error: 'prometheus.query: is required' };
  }
  const timeoutSeconds = timeoutSecondsOf(block.timeout, DEFAULT_PROMETHEUS_TIMEOUT_SECONDS);
  if (timeoutSeconds === undefined) {
    return { ok: false, error: 'prometheus.timeout: must be a non-negative integer (seconds)' };
  }
  if (block.insecure !== undefined && typeof block.insecure !== 'boolean') {
    return { ok: false, error: 'prometheus.insecure: must be a boolean' };
  }
  const headers = parseHeaderList(block.headers, 'prometheus.headers');
  if (!headers.ok) return headers;
  const auth = block.authentication;
  if (auth !== undefined && auth !== null && !isObject(auth)) {
    return { ok: false, error: 'prometheus.authentication: must be an object' };
  }
  const basicAuth = parseBasicAuth(auth?.basicAuth, 'prometheus.authentication.basicAuth');
  if (!basicAuth.ok) return basicAuth;
  const oauth2 = parseOAuth2(auth?.oauth2, 'prometheus.authentication.oauth2');
  if (!oauth2.ok) return oauth2;
  // Argo signs when sigv4 is not empty (prometheus/common's sigv4 round tripper, service "aps"). Sluice takes
  // credentials from the environment only: a profile or a role to assume is refused; the region is needed.
  let sigv4: PrometheusConfig['sigv4'];
  const rawSigv4 = auth?.sigv4;
  if (rawSigv4 !== undefined && rawSigv4 !== null) {
    if (!isObject(rawSigv4))
      return { ok: false, error: 'prometheus.authentication.sigv4: must be an object' };
    for (const key of ['region', 'profile', 'roleArn'] as const) {
      if (rawSigv4[key] !== undefined && rawSigv4[key] !== null && typeof rawSigv4[key] !== 'string') {
        return { ok: false, error: `prometheus.authentication.sigv4.${key}: must be a string` };
      }
    }
    for (const key of ['profile', 'roleArn'] as const) {
      if (typeof rawSigv4[key] === 'string' && rawSigv4[key] !== '') {
        return {
          ok: false,
          error: `prometheus.authentication.sigv4.${key}: not supported by Sluice (AWS credentials come from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)`,
        };
      }
    }
    // An empty sigv4 block is Argo's zero Sigv4Config: no signing.
    if (typeof rawSigv4.region === 'string' && rawSigv4.region !== '') sigv4 = { region: rawSigv4.region };
  }
  let rangeQuery: PrometheusConfig['rangeQuery'];
  if (block.rangeQuery !== undefined && block.rangeQuery !== null) {
    const rq = block.rangeQuery;
    if (!isObject(rq)) return { ok: false, error: 'prometheus.rangeQuery: must be an object' };
    for (const key of ['start', 'end', 'step'] as const) {
      if (typeof rq[key] !== 'string' || rq[key] === '') {
        return { ok: false, error: `prometheus.rangeQuery.${key}: is required` };
      }
    }
    rangeQuery = { start: rq.start as string, end: rq.end as string, step: rq.step as string };
  }
  return {
    ok: true,
    value: {
      address: address.replace(/\/+$/, ''),
      query: block.query,
      timeoutMs: timeoutSeconds * 1_000,
      insecure: block.insecure === true,
      headers: headers.value,
      ...(basicAuth.value ? { basicAuth: basicAuth.value } : {}),
      ...(oauth2.value ? { oauth2: oauth2.value } : {}),
      ...(rangeQuery ? { rangeQuery } : {}),
      ...(sigv4 ? { sigv4 } : {}),
    },
  };
}

/**
 * rangeQuery start/end: Argo evaluates them as expr; Sluice accepts the forms used in practice:
 * `now()`, `now() - duration("5m")`, `now() + duration("1m")`, an RFC 3339 time, or unix seconds.
 */
export function evaluateTimeExpression(source: string, nowMs: number): Field<number> {
  const text = source.trim();
  const rel = /^now\(\)\s*(?:([-+])\s*duration\(\s*(["'])(.+?)\2\s*\))?$/.exec(text);
  if (rel) {
    if (rel[1] === undefined) return { ok: true, value: nowMs };
    const d = parseDuration(rel[3]!);
    if (!d.ok) return { ok: false, error: d.error };
    return { ok: true, value: rel[1] === '-' ? nowMs - d.ms : nowMs + d.ms };
  }
  const unquoted = text.replace(/^(["'])(.*)\1$/, '$2');
  if (/^\d+(\.\d+)?$/.test(unquoted)) return { ok: true, value: Number(unquoted) * 1_000 };
  const parsed = Date.parse(unquoted);
  if (!Number.isNaN(parsed)) return { ok: true, value: parsed };
  return { ok: false, error: `cannot evaluate time expression ${JSON.stringify(source)}` };
}

/** Prometheus sample values are strings: "0.99", "NaN", "+Inf", "-Inf". */
export function parseSampleValue(raw: unknown): number {
  if (raw === '+Inf' || raw === 'Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  return typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : Number.NaN;
}

/** Go's strconv.FormatFloat(v, 'f'/'g', -1) as model.SampleValue.String() prints it. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

export type Shaped = { ok: true; result: number | number[]; value: string } | { ok: false; error: string };

/** Shapes the `data` of a successful API response as Argo does. */
export function shapePrometheusData(data: unknown): Shaped {
  if (!isObject(data)) return { ok: false, error: 'Prometheus response has no data' };
  const type = data.resultType;
  const result = data.result;
  if (type === 'scalar') {
    if (!Array.isArray(result) || result.length < 2) return { ok: false, error: 'malformed scalar result' };
    const v = parseSampleValue(result[1]);
    return { ok: true, result: v, value: formatSampleValue(v) };
  }
  if (type === 'vector') {
    if (!Array.isArray(result)) return { ok: false, error: 'malformed vector result' };
    const values = result.map((s) =>
      parseSampleValue(isObject(s) && Array.isArray(s.value) ? s.value[1] : undefined),
    );
    return { ok: true, result: values, value: `[${values.map(formatSampleValue).join(',')}]` };
  }
  if (type === 'matrix') {
    if (!Array.isArray(result)) return { ok: false, error: 'malformed matrix result' };
    const values: number[] = [];
    for (const series of result) {
      const samples = isObject(series) && Array.isArray(series.values) ? series.values : [];
      for (const sample of samples)
        values.push(parseSampleValue(Array.isArray(sample) ? sample[1] : undefined));
    }
    return { ok: true, result: values, value: `[${values.map(formatSampleValue).join(',')}]` };
  }
  return { ok: false, error: `Prometheus metric type not supported: ${String(type)}` };
}

export interface PrometheusProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createPrometheusProvider(options: PrometheusProviderOptions = {}): PrometheusProvider {
  const client: HttpClient = createHttpClient();

  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    const secrets = [...(request.secrets ?? [])];
    const fail = (message: string, metadata?: Record<string, string>): ProviderResult => ({
      phase: 'Error',
      message: redact(message, secrets),
      ...(metadata ? { metadata } : {}),
    });
    const config = parsePrometheusConfig(request.provider.prometheus, options);
    if (!config.ok) return fail(config.error);
    const c = config.value;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
      ...c.headers,
    };
    if (c.basicAuth) headers.authorization = basicAuthHeader(c.basicAuth);
    if (c.oauth2) {
      const token = await client.oauth2Token(c.oauth2, c.timeoutMs, c.insecure, request.signal);
      if (!token.ok) return fail(token.error);
      headers.authorization = `Bearer ${token.value}`;
    }
    const form = new URLSearchParams({ query: c.query });
    let path = '/api/v1/query';
    if (c.rangeQuery) {
      const start = evaluateTimeExpression(c.rangeQuery.start, request.nowMs);
      if (!start.ok) return fail(`prometheus.rangeQuery.start: ${start.error}`);
      const end = evaluateTimeExpression(c.rangeQuery.end, request.nowMs);
      if (!end.ok) return fail(`prometheus.rangeQuery.end: ${end.error}`);
      const step = parseDuration(c.rangeQuery.step);
      if (!step.ok || step.ms <= 0)
        return fail(`prometheus.rangeQuery.step: ${step.ok ? 'must be positive' : step.error}`);
      path = '/api/v1/query_range';
      form.set('start', String(start.value / 1_000));
      form.set('end', String(end.value / 1_000));
      form.set('step', String(step.ms / 1_000));
    }
    const url = `${c.address}${path}`;
    let signed = (_method: string, _url: string, h: Record<string, string>, _body: string) => h;
    if (c.sigv4) {
      const aws = awsEnvironment(options.env ?? process.env);
      if (!aws.ok) return fail(`prometheus.authentication.sigv4: ${aws.error}`);
      const { credentials } = aws.value;
      secrets.push(
        credentials.secretAccessKey,
        ...(credentials.sessionToken ? [credentials.sessionToken] : []),
      );
      const region = c.sigv4.region;
      signed = (method, target, h, body) =>
        signV4({
          method,
          url: new URL(target),
          headers: h,
          body,
          region,
          service: 'aps',
          credentials,
          nowMs: (options.nowMs ?? Date.now)(),
        }).headers;
    }
    // Like the Go client: POST the form, fall back to GET when the server refuses POST.
    let sent = await client.send({
      method: 'POST',
      url,
      headers: signed('POST', url, headers, form.toString()),
      body: form.toString(),
      timeoutMs: c.timeoutMs,
      insecure: c.insecure,
      signal: request.signal,
    });
    if (sent.ok && sent.response.statusCode === 405) {
      const { 'content-type': _ct, ...getHeaders } = headers;
      sent = await client.send({
        method: 'GET',
        url: `${url}?${form.toString()}`,
        headers: signed('GET', `${url}?${form.toString()}`, getHeaders, ''),
        timeoutMs: c.timeoutMs,
        insecure: c.insecure,
        signal: request.signal,
      });
    }
    if (!sent.ok) return fail(sent.error);
    const { statusCode, body } = sent.response;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed) || parsed.status !== 'success') {
      // The API's error body: {"status":"error","errorType":"bad_data","error":"1:5: parse error: ..."}
      if (isObject(parsed) && typeof parsed.error === 'string') {
        const errorType = typeof parsed.errorType === 'string' ? `${parsed.errorType}: ` : '';
        return fail(`${errorType}${parsed.error}`);
      }
      return fail(`server returned HTTP status ${statusCode}: ${body.slice(0, 512).trim()}`);
    }
    const warnings = Array.isArray(parsed.warnings)
      ? parsed.warnings.filter((w) => typeof w === 'string')
      : [];
    const metadata: Record<string, string> = warnings.length > 0 ? { warnings: warnings.join(', ') } : {};
    const shaped = shapePrometheusData(parsed.data);
    if (!shaped.ok) return fail(shaped.error, metadata);
    return {
      result: shaped.result,
      value: shaped.value,
      ...(Object.keys(metadata).length > 0 ? { metadata: redactRecord(metadata, secrets) } : {}),
    };
  };

  return {
    type: 'prometheus',
    run,
    metricMetadata: (request) => {
      const block = request.provider.prometheus;
      if (!isObject(block) || typeof block.query !== 'string' || block.query === '') return undefined;
      return { ResolvedPrometheusQuery: redact(block.query, request.secrets ?? []) };
    },
    close: () => client.close(),
  };
}

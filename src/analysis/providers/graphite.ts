// The `graphite` provider (Argo's metricproviders/graphite): `address` and `query` (the render API's
// query string, e.g. `target=summarize(app.errors,'5min','sum')&from=-5min`). As Argo: whitespace is
// removed from the query, `format=json` is set, the parameters are re-encoded as Go's url.Values.Encode
// does (sorted by key) and sent as GET <address path>/render; only the first series is read; null
// datapoints are skipped; `result` is the list of the remaining values, `value` is "[%f,%f]" (Go's %f,
// e.g. "[10.000000,11.500000]"). No series or no datapoints at all is the Error "no values found"; an
// HTTP status >= 400 is the Error "error response: <body>". Timeout 10 s as Argo's client. Never throws.

import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';

export const GRAPHITE_TIMEOUT_MS = 10_000;

export interface GraphiteConfig {
  readonly address: string;
  readonly query: string;
}

export type GraphiteField<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

/** Parses `provider.graphite`; `field` is the path below the provider block, e.g. `graphite.address`. */
export function parseGraphiteConfig(block: unknown): GraphiteField<GraphiteConfig> {
  if (!isObject(block)) return { ok: false, field: 'graphite', message: 'must be an object' };
  const address = block.address;
  if (address !== undefined && address !== null && typeof address !== 'string') {
    return { ok: false, field: 'graphite.address', message: 'must be a string' };
  }
  // Argo's NewAPIClient: an empty address or one url.Parse refuses.
  const text = typeof address === 'string' ? address : '';
  if (text === '' || !goParsesUrl(text)) {
    return { ok: false, field: 'graphite.address', message: `Graphite address ${text} is not a valid URL` };
  }
  if (!URL.canParse(text)) {
    return {
      ok: false,
      field: 'graphite.address',
      message: `Graphite address ${text} is not an absolute URL`,
    };
  }
  const protocol = new URL(text).protocol;
  if (protocol !== 'http:' && protocol !== 'https:') {
    return { ok: false, field: 'graphite.address', message: `"${text}" must be an http or https URL` };
  }
  if (typeof block.query !== 'string' || block.query.trim() === '') {
    return { ok: false, field: 'graphite.query', message: 'is required' };
  }
  return { ok: true, value: { address: text, query: block.query } };
}

/** What Go's url.Parse refuses that WHATWG URL parsing may not: a missing scheme before ':', bad escapes. */
function goParsesUrl(text: string): boolean {
  if (text.startsWith(':')) return false; // "missing protocol scheme"
  return !/%(?![0-9a-fA-F]{2})/.test(text);
}

/** Go's url.QueryEscape: everything but A-Z a-z 0-9 - _ . ~ is %XX, space is '+'. */
export function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's url.QueryUnescape; undefined on a bad escape. */
function goQueryUnescape(s: string): string | undefined {
  if (/%(?![0-9a-fA-F]{2})/.test(s)) return undefined;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The render URL Argo's APIClient.Query builds: url.Parse("./render?" + query) (a '#' starts a fragment,
 * whose bad escapes fail the parse), u.Query() (pairs with bad escapes or ';' dropped), format=json,
 * Encode() (keys sorted), path joined to the address path.
 */
export function graphiteRenderUrl(
  address: string,
  query: string,
): { ok: true; url: string } | { ok: false; error: string } {
  const sanitized = query.replace(/[\t\n\f\r ]+/g, '');
  const raw = `./render?${sanitized}`;
  const hash = sanitized.indexOf('#');
  const rawQuery = hash >= 0 ? sanitized.slice(0, hash) : sanitized;
  if (hash >= 0) {
    const bad = /%(?![0-9a-fA-F]{2}).{0,2}/.exec(sanitized.slice(hash + 1));
    if (bad)
      return {
        ok: false,
        error: `parse ${JSON.stringify(raw)}: invalid URL escape ${JSON.stringify(bad[0])}`,
      };
  }
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    const key = goQueryUnescape(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = goQueryUnescape(eq >= 0 ? pair.slice(eq + 1) : '');
    if (key === undefined || value === undefined) continue;
    const list = values.get(key) ?? [];
    list.push(value);
    values.set(key, list);
  }
  values.set('format', ['json']);
  const keys = [...values.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const encoded = keys
    .flatMap((k) => values.get(k)!.map((v) => `${goQueryEscape(k)}=${goQueryEscape(v)}`))
    .join('&');
  const base = new URL(address);
  const path = `${base.pathname.replace(/\/+$/, '')}/render`;
  return { ok: true, url: `${base.origin}${path}?${encoded}` };
}

/** Go's fmt %v of a decoded JSON value, for Argo's unmarshal messages. */
function goValue(v: unknown): string {
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (isObject(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${goValue(v[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** Go's strconv.ParseFloat on a JSON string value ("NaN", "Inf", "1e3", "0x1p-2" aside). */
function goParseFloat(s: string): number | undefined {
  const t = s.toLowerCase();
  if (t === 'nan') return Number.NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Number.POSITIVE_INFINITY;
  if (t === '-inf' || t === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s.replace(/_/g, ''))) return undefined;
  return Number(s.replace(/_/g, ''));
}

/** Go's fmt %f: six decimals, NaN / +Inf / -Inf. */
export function goFormatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return v.toFixed(6);
}

export type GraphiteShaped = { ok: true; result: number[]; value: string } | { ok: false; error: string };

/** Decodes a render API JSON body as Argo's graphiteResponse / dataPoint.UnmarshalJSON and shapes it. */
export function shapeGraphiteBody(body: string): GraphiteShaped {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    const first = body.trimStart()[0];
    return {
      ok: false,
      error:
        first === undefined
          ? 'unexpected end of JSON input'
          : `invalid character '${first}' looking for beginning of value`,
    };
  }
  if (parsed === null) return { ok: false, error: 'no values found' };
  if (!Array.isArray(parsed)) {
    return {
      ok: false,
      error: `json: cannot unmarshal ${isObject(parsed) ? 'object' : typeof parsed} into Go value of type graphite.graphiteResponse`,
    };
  }
  const values: number[] = [];
  let datapoints = 0;
  // Go decodes every series before Argo reads the first: a malformed datapoint anywhere fails the query.
  for (const [i, series] of parsed.entries()) {
    if (series === null) continue;
    if (!isObject(series))
      return { ok: false, error: 'json: cannot unmarshal into Go value of type graphite.graphiteTargetResp' };
    const points = series.datapoints;
    if (points === undefined || points === null) continue;
    if (!Array.isArray(points))
      return {
        ok: false,
        error: 'json: cannot unmarshal into Go struct field graphiteTargetResp.datapoints',
      };
    for (const point of points) {
      if (!Array.isArray(point))
        return { ok: false, error: 'json: cannot unmarshal into Go value of type []interface {}' };
      if (point.length !== 2) return { ok: false, error: `error unmarshaling data point: ${goValue(point)}` };
      const [v, ts] = point as [unknown, unknown];
      let value: number | undefined;
      if (typeof v === 'number') value = v;
      else if (typeof v === 'string') {
        value = goParseFloat(v);
        if (value === undefined)
          return { ok: false, error: `strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax` };
      } else if (v !== null) return { ok: false, error: `error unmarshaling value: ${goValue(v)}` };
      if (typeof ts === 'string' && !/^[+-]?\d+$/.test(ts)) {
        return { ok: false, error: `strconv.ParseInt: parsing ${JSON.stringify(ts)}: invalid syntax` };
      }
      if (ts !== null && typeof ts !== 'number' && typeof ts !== 'string') {
        // Argo's message prints the value, not the timestamp (kept).
        return { ok: false, error: `error unmarshaling timestamp: ${goValue(v)}` };
      }
      if (i === 0) {
        datapoints++;
        if (value !== undefined) values.push(value);
      }
    }
  }
  if (datapoints === 0) return { ok: false, error: 'no values found' };
  return { ok: true, result: values, value: `[${values.map(goFormatF).join(',')}]` };
}

export interface GraphiteProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createGraphiteProvider(): GraphiteProvider {
  const client: HttpClient = createHttpClient();
  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    const fail = (message: string): ProviderResult => ({ phase: 'Error', message });
    const config = parseGraphiteConfig(request.provider.graphite);
    if (!config.ok)
      return fail(
        config.field === 'graphite.address' ? config.message : `${config.field}: ${config.message}`,
      );
    const built = graphiteRenderUrl(config.value.address, config.value.query);
    if (!built.ok) return fail(built.error);
    const sent = await client.send({
      method: 'GET',
      url: built.url,
      headers: { accept: 'application/json' },
      timeoutMs: GRAPHITE_TIMEOUT_MS,
      insecure: false,
      signal: request.signal,
    });
    if (!sent.ok) return fail(sent.error);
    const { statusCode, body } = sent.response;
    if (statusCode >= 400) return fail(`error response: ${body.slice(0, 1_024)}`);
    const shaped = shapeGraphiteBody(body);
    if (!shaped.ok) return fail(shaped.error);
    return { result: shaped.result, value: shaped.value };
  };
  return { type: 'graphite', run, close: () => client.close() };
}

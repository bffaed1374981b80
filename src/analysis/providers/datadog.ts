// The `datadog` provider (Argo's metricproviders/datadog). v1: GET /api/v1/query over [now-interval,
// now], the last point of the first series; v2: POST /api/v2/query/scalar (a scalar_request with the
// queries, formula and aggregator, default "last"), the first number column: one value, or a list when
// the query is grouped (`by {tag}`), nulls skipped. An empty answer is a nil result (value "[]" or the
// empty series as JSON), so the conditions decide (`default(result, 0)`); a v1 null point reads as 0, as
// Go decodes it. Credentials as Argo finds them: `secretRef` (the controller's namespace, or the run's
// with `namespaced`), else DD_API_KEY + DD_APP_KEY + DD_ADDRESS all set, else the Secret `datadog` in
// the controller's namespace. Any HTTP status but 200 (401/403, 429 included: Argo does not retry) is an
// Error carrying the body; keys never appear in a message. Never throws.

import { type DatadogSpec, formatSpecError, parseDatadogSpec } from '../../api/metric-provider-specs.ts';
import { redact } from '../redact.ts';
import { formatFloatF, goJson } from './go-format.ts';
import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import {
  type MetricProvider,
  type ProviderRequest,
  type ProviderResult,
  providerSecretNamespace,
} from './provider.ts';
import { readSecretKeys } from './provider-secret.ts';

export const DATADOG_DEFAULT_ADDRESS = 'https://api.datadoghq.com';
export const DATADOG_SECRET_NAME = 'datadog';
/** Argo keeps the groups of a grouped v2 answer in metadata, at most this many (both extremes). */
export const DATADOG_MAX_GROUPS_IN_METADATA = 100;

export interface DatadogProviderOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
}

interface Credentials {
  readonly address: string;
  readonly apiKey: string;
  readonly appKey: string;
}

type Found = { ok: true; credentials: Credentials } | { ok: false; error: string };

async function findCredentials(
  request: ProviderRequest,
  spec: DatadogSpec,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Found> {
  const controllerNs = providerSecretNamespace(env);
  const fromSecret = async (name: string, namespace: string): Promise<Credentials | undefined> => {
    const read = await readSecretKeys(request, namespace, name, ['api-key', 'app-key', 'address']);
    if (!read.ok) return undefined;
    const apiKey = read.values['api-key'] ?? '';
    const appKey = read.values['app-key'] ?? '';
    if (apiKey === '' || appKey === '') return undefined;
    return { address: read.values.address ?? '', apiKey, appKey };
  };
  let found: Credentials | undefined;
  if (spec.secretRef.name !== '') {
    const ns = spec.secretRef.namespaced ? (request.runNamespace ?? controllerNs) : controllerNs;
    found = await fromSecret(spec.secretRef.name, ns);
  } else {
    const { DD_API_KEY: apiKey, DD_APP_KEY: appKey, DD_ADDRESS: address } = env;
    if (
      apiKey !== undefined &&
      appKey !== undefined &&
      address !== undefined &&
      apiKey !== '' &&
      appKey !== ''
    ) {
      found = { apiKey, appKey, address };
    } else {
      found = await fromSecret(DATADOG_SECRET_NAME, controllerNs);
    }
  }
  return found
    ? { ok: true, credentials: found }
    : { ok: false, error: 'failed to find the credentials for datadog metrics provider' };
}

/** The v2 request body, as Argo marshals it (queries sorted by name for a stable body). */
export function datadogV2Body(spec: DatadogSpec, nowSeconds: number): string {
  const intervalSeconds = Math.trunc(spec.intervalMs / 1_000);
  return JSON.stringify({
    data: {
      attributes: {
        from: (nowSeconds - intervalSeconds) * 1_000,
        to: nowSeconds * 1_000,
        queries: Object.keys(spec.queries)
          .sort()
          .map((name) => ({
            aggregator: spec.aggregator,
            data_source: 'metrics',
            name,
            query: spec.queries[name],
          })),
        formulas: spec.formula !== '' ? [{ formula: spec.formula }] : [],
      },
      type: 'scalar_request',
    },
  });
}

type Parsed =
  | { ok: true; result: unknown; value: string; metadata?: Record<string, string> }
  | { ok: false; error: string };

/** v1 answer: the last point of the first series. */
export function parseDatadogV1(body: string): Parsed {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: `Could not parse JSON body: ${(error as Error).message}` };
  }
  const series = isObject(data) ? data.series : undefined;
  if (series !== undefined && series !== null && !Array.isArray(series)) {
    return {
      ok: false,
      error: `Could not parse JSON body: json: cannot unmarshal ${typeof series} into series`,
    };
  }
  const list = Array.isArray(series) ? series : undefined;
  const first = list?.[0];
  const points = isObject(first) && Array.isArray(first.pointlist) ? first.pointlist : [];
  if (list === undefined || list.length === 0 || points.length === 0) {
    // json.Marshal(res.Series): null when absent, else each series with only its pointlist.
    const value =
      list === undefined
        ? 'null'
        : goJson(
            list.map((s) => ({ pointlist: isObject(s) && Array.isArray(s.pointlist) ? s.pointlist : null })),
          );
    return { ok: true, result: null, value };
  }
  const point = points[points.length - 1];
  if (!Array.isArray(point) || point.length !== 2)
    return { ok: false, error: 'Datapoint does not have 2 values' };
  // Go decodes a JSON null into a float64 as 0.
  const value = typeof point[1] === 'number' ? point[1] : 0;
  return { ok: true, result: value, value: formatFloatF(value) };
}

function groupsMetadata(groups: Array<{ name: string; value: number }>): Record<string, string> {
  let kept = groups;
  const metadata: Record<string, string> = {};
  if (groups.length > DATADOG_MAX_GROUPS_IN_METADATA) {
    const sorted = [...groups].sort((a, b) => a.value - b.value);
    const low = DATADOG_MAX_GROUPS_IN_METADATA / 2;
    kept = [...sorted.slice(0, low), ...sorted.slice(sorted.length - (DATADOG_MAX_GROUPS_IN_METADATA - low))];
    metadata.groups_truncated = 'true';
  }
  metadata.groups = JSON.stringify(kept.map((g) => ({ name: g.name, value: g.value })));
  return metadata;
}

/** v2 scalar answer: the first number column; grouped queries give a list. */
export function parseDatadogV2(body: string): Parsed {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch (error) {
    return { ok: false, error: `Could not parse JSON body: ${(error as Error).message}` };
  }
  const inner = isObject(data) && isObject(data.data) ? data.data : {};
  if (typeof inner.errors === 'string' && inner.errors !== '') {
    return { ok: false, error: `There were errors in your query: ${inner.errors}` };
  }
  const attributes = isObject(inner.attributes) ? inner.attributes : {};
  const columns = (Array.isArray(attributes.columns) ? attributes.columns : []).filter(isObject);
  const numberColumn = columns.find((c) => c.type === undefined || c.type === '' || c.type === 'number');
  const groupColumns = columns.filter((c) => c.type === 'group');
  const grouped = groupColumns.length > 0;
  const values: number[] = [];
  const groups: Array<{ name: string; value: number }> = [];
  const raw = numberColumn && Array.isArray(numberColumn.values) ? numberColumn.values : [];
  for (const [i, v] of raw.entries()) {
    if (v === null) continue;
    if (typeof v !== 'number') {
      return {
        ok: false,
        error: `could not parse numeric value ${JSON.stringify(JSON.stringify(v))} in column ${JSON.stringify(String(numberColumn?.name ?? ''))}`,
      };
    }
    values.push(v);
    if (grouped) {
      const parts: string[] = [];
      for (const col of groupColumns) {
        const tags = Array.isArray(col.values) ? col.values[i] : undefined;
        if (!Array.isArray(tags) || tags.length === 0 || !tags.every((t) => typeof t === 'string')) {
          return { ok: false, error: `could not parse group label at index ${i}` };
        }
        parts.push(...(tags as string[]));
      }
      groups.push({ name: parts.join(','), value: v });
    }
  }
  if (values.length === 0) return { ok: true, result: null, value: '[]' };
  if (!grouped) return { ok: true, result: values[0], value: formatFloatF(values[0]!) };
  return {
    ok: true,
    result: values,
    value: `[${values.map(formatFloatF).join(',')}]`,
    metadata: groupsMetadata(groups),
  };
}

export interface DatadogProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createDatadogProvider(options: DatadogProviderOptions = {}): DatadogProvider {
  const client: HttpClient = createHttpClient();
  const env = options.env ?? process.env;

  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    let secrets = [...(request.secrets ?? [])];
    const fail = (message: string, metadata?: Record<string, string>): ProviderResult => ({
      phase: 'Error',
      message: redact(message, secrets),
      ...(metadata ? { metadata } : {}),
    });
    const parsed = parseDatadogSpec(request.provider.datadog);
    if (!parsed.ok) return fail(formatSpecError(parsed));
    const spec = parsed.value;
    const found = await findCredentials(request, spec, env);
    if (!found.ok) return fail(found.error);
    const { apiKey, appKey } = found.credentials;
    secrets = [...secrets, apiKey, appKey];
    const address = (found.credentials.address || DATADOG_DEFAULT_ADDRESS).replace(/\/+$/, '');
    const nowSeconds = Math.floor(request.nowMs / 1_000);
    let url: URL;
    try {
      url = new URL(`${address}${spec.apiVersion === 'v2' ? '/api/v2/query/scalar' : '/api/v1/query'}`);
    } catch {
      return fail(`parse "${address}": invalid URL`);
    }
    if (spec.apiVersion === 'v1') {
      url.searchParams.set('from', String(nowSeconds - Math.trunc(spec.intervalMs / 1_000)));
      url.searchParams.set('query', spec.query);
      url.searchParams.set('to', String(nowSeconds));
    }
    const sent = await client.send({
      method: spec.apiVersion === 'v2' ? 'POST' : 'GET',
      url: url.toString(),
      headers: { 'Content-Type': 'application/json', 'DD-API-KEY': apiKey, 'DD-APPLICATION-KEY': appKey },
      ...(spec.apiVersion === 'v2' ? { body: datadogV2Body(spec, nowSeconds) } : {}),
      timeoutMs: spec.requestTimeoutMs,
      insecure: false,
      signal: request.signal,
    });
    if (!sent.ok) {
      const timedOut = /timeout after \d+ ms$/.test(sent.error);
      return fail(
        timedOut
          ? `Datadog API request timed out after ${spec.requestTimeoutMs / 1_000}s before receiving an HTTP response: ${sent.error}`
          : `Datadog API request failed before receiving an HTTP response: ${sent.error}`,
        { requestOutcome: timedOut ? 'timeout' : 'transport_error', responseReceived: 'false' },
      );
    }
    const { statusCode, body } = sent.response;
    const metadata: Record<string, string> = { httpStatusCode: String(statusCode), responseReceived: 'true' };
    if (statusCode === 401 || statusCode === 403) {
      return fail(`received authentication error response code: ${statusCode} ${body}`, {
        ...metadata,
        requestOutcome: 'http_error',
      });
    }
    if (statusCode !== 200) {
      return fail(`received non 2xx response code: ${statusCode} ${body}`, {
        ...metadata,
        requestOutcome: 'http_error',
      });
    }
    const shaped = spec.apiVersion === 'v2' ? parseDatadogV2(body) : parseDatadogV1(body);
    if (!shaped.ok) return fail(shaped.error, { ...metadata, requestOutcome: 'response_error' });
    return {
      result: shaped.result,
      value: redact(shaped.value, secrets),
      metadata: { ...metadata, ...(shaped.metadata ?? {}), requestOutcome: 'success' },
    };
  };

  return { type: 'datadog', run, close: () => client.close() };
}

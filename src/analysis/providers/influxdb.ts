// The `influxdb` provider (Argo's metricproviders/influxdb): a Flux `query` sent as influxdb-client-go v2
// sends it (POST <address>/api/v2/query?org=<org>, `Authorization: Token <authToken>`, JSON body with
// the default dialect: header, comma, annotations datatype/group/default), with `authToken`, `address`
// and `org` read from the Secret named by `profile` (default `influxdb`) in the controller's namespace.
// Every record's `_value` of every table is collected in order into `result` (typed by the #datatype
// annotation: double/long/unsignedLong -> number, bool, string, dateTime -> RFC 3339 string);
// `value` is Go's fmt.Sprint of that list, e.g. "[10 20.5]". No records is the Error "no results
// returned from flux query" (with the server's in-stream error appended when it sent one). A non-2xx
// answer is the client's error text: "<code>: <message>" from a JSON body, else "<status>: <body>".
// Query timeout 30 s as Argo. Never throws.

import { redact } from '../redact.ts';
import { formatFloatG } from './go-format.ts';
import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import {
  type MetricProvider,
  type ProviderRequest,
  type ProviderResult,
  providerSecretNamespace,
} from './provider.ts';
import { readSecretKeys } from './provider-secret.ts';

export const DEFAULT_INFLUXDB_SECRET = 'influxdb';
export const INFLUXDB_QUERY_TIMEOUT_MS = 30_000;
const SECRET_KEYS = ['authToken', 'address', 'org'] as const;

export interface InfluxdbSpec {
  readonly profile: string;
  readonly query: string;
}

export type InfluxdbField<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

/** Parses `provider.influxdb`; `field` is the path below the provider block, e.g. `influxdb.query`. */
export function parseInfluxdbSpec(block: unknown): InfluxdbField<InfluxdbSpec> {
  if (!isObject(block)) return { ok: false, field: 'influxdb', message: 'must be an object' };
  const profile = block.profile ?? '';
  if (typeof profile !== 'string')
    return { ok: false, field: 'influxdb.profile', message: 'must be a string' };
  if (typeof block.query !== 'string' || block.query.trim() === '') {
    return { ok: false, field: 'influxdb.query', message: 'is required' };
  }
  return {
    ok: true,
    value: { profile: profile === '' ? DEFAULT_INFLUXDB_SECRET : profile, query: block.query },
  };
}

/** influxdb-client-go's query URL: url.Parse(address).Parse("api/v2/") joined with "query", org set. */
export function influxdbQueryUrl(address: string, org: string): string | undefined {
  let api: URL;
  try {
    api = new URL('api/v2/', address);
  } catch {
    return undefined;
  }
  if (api.protocol !== 'http:' && api.protocol !== 'https:') return undefined;
  return `${api.origin}${api.pathname}query?org=${goQueryEscape(org)}`;
}

function goQueryEscape(s: string): string {
  return encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** RFC 4180 rows as Go's encoding/csv reads them (quotes, "" escapes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let any = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      any = true;
      i++;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      any = true;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      if (any || field !== '' || row.length > 0) {
        row.push(field);
        rows.push(row);
      }
      row = [];
      field = '';
      any = false;
      continue;
    }
    field += c;
    any = true;
    i++;
  }
  if (any || field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** A record value as influxdb-client-go's toValue types it; `undefined` type errors become messages. */
function toValue(
  s: string,
  type: string,
  name: string,
): { ok: true; value: unknown } | { ok: false; error: string } {
  if (s === '') return { ok: true, value: null };
  switch (type) {
    case 'string':
    case 'dateTime:RFC3339':
    case 'dateTime:RFC3339Nano':
    case 'duration':
    case 'base64Binary':
      return { ok: true, value: s };
    case 'double': {
      const v = parseGoFloat(s);
      return v === undefined
        ? { ok: false, error: `strconv.ParseFloat: parsing ${JSON.stringify(s)}: invalid syntax` }
        : { ok: true, value: v };
    }
    case 'bool':
      return { ok: true, value: s.toLowerCase() !== 'false' };
    case 'long':
    case 'unsignedLong':
      if (!(type === 'long' ? /^[+-]?\d+$/ : /^\d+$/).test(s)) {
        return {
          ok: false,
          error: `strconv.${type === 'long' ? 'ParseInt' : 'ParseUint'}: parsing ${JSON.stringify(s)}: invalid syntax`,
        };
      }
      return { ok: true, value: Number(s) };
    default:
      return { ok: false, error: `${name} has unknown data type ${type}` };
  }
}

function parseGoFloat(s: string): number | undefined {
  const t = s.toLowerCase();
  if (t === 'nan') return Number.NaN;
  if (t === 'inf' || t === '+inf' || t === 'infinity' || t === '+infinity') return Number.POSITIVE_INFINITY;
  if (t === '-inf' || t === '-infinity') return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

export interface FluxRecords {
  readonly values: unknown[];
  readonly types: string[];
  /** The stream's error (an `error,reference` table or a parse error); Argo stops reading there. */
  readonly error?: string;
}

/**
 * The `_value` of every record, reading the annotated CSV as QueryTableResult.Next() does: `#` rows
 * start a table's annotations, the first unannotated row names the columns (or is `error,reference`).
 */
export function readFluxRecords(body: string): FluxRecords {
  const values: unknown[] = [];
  const types: string[] = [];
  type Column = { name: string; type: string; fallback: string };
  let columns: Column[] | undefined;
  let state: 'normal' | 'annotation' | 'names' | 'error' = 'normal';
  let datatypeFound = false;
  for (const row of parseCsv(body)) {
    if (row.length <= 1) continue;
    const first = row[0]!;
    if (first.startsWith('#') && state === 'normal') {
      columns = row.slice(1).map(() => ({ name: '', type: '', fallback: '' }));
      state = 'annotation';
      datatypeFound = false;
    }
    if (columns === undefined) return { values, types, error: 'parsing error, annotations not found' };
    if (row.length - 1 !== columns.length) {
      return {
        values,
        types,
        error: `parsing error, row has different number of columns than the table: ${row.length - 1} vs ${columns.length}`,
      };
    }
    const cells = row.slice(1);
    if (first === '#datatype') {
      datatypeFound = true;
      cells.forEach((d, i) => {
        columns![i]!.type = d;
      });
      continue;
    }
    if (first === '#default') {
      cells.forEach((d, i) => {
        columns![i]!.fallback = d;
      });
      continue;
    }
    if (first === '#group' || first.startsWith('#')) continue;
    if (first !== '') continue;
    if (state === 'annotation') {
      if (!datatypeFound) return { values, types, error: 'parsing error, datatype annotation not found' };
      state = 'names';
    }
    if (state === 'names') {
      if (cells[0] === 'error') {
        state = 'error';
      } else {
        cells.forEach((n, i) => {
          columns![i]!.name = n;
        });
        state = 'normal';
      }
      continue;
    }
    if (state === 'error') {
      const message = cells[0] !== undefined && cells[0] !== '' ? cells[0] : 'unknown query error';
      const reference = cells[1] !== undefined && cells[1] !== '' ? `,${cells[1]}` : '';
      return { values, types, error: `${message}${reference}` };
    }
    let value: unknown = null;
    let type = '';
    for (const [i, column] of columns.entries()) {
      const typed = toValue(cells[i] === '' ? column.fallback : cells[i]!, column.type, column.name);
      if (!typed.ok) return { values, types, error: typed.error };
      if (column.name === '_value') {
        value = typed.value;
        type = column.type;
      }
    }
    values.push(value);
    types.push(type);
  }
  return { values, types };
}

/** Go's time.Time.String() for an RFC 3339 UTC timestamp as Flux returns them. */
function goTime(s: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(s);
  if (!m) return s;
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${fraction === '.' ? '' : fraction} +0000 UTC`;
}

/** fmt.Sprint([]any{...}) as Argo stores Measurement.value. */
export function formatFluxValues(values: readonly unknown[], types: readonly string[]): string {
  const parts = values.map((v, i) => {
    if (v === null) return '<nil>';
    if (typeof v === 'number') return types[i] === 'double' ? formatFloatG(v) : String(v);
    if (typeof v === 'string' && types[i]?.startsWith('dateTime')) return goTime(v);
    return String(v);
  });
  return `[${parts.join(' ')}]`;
}

/** influxdb-client-go's handleHTTPError text. */
function httpErrorText(
  statusCode: number,
  statusText: string,
  contentType: string | undefined,
  body: string,
): string {
  let code = '';
  let message = '';
  if ((contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(body);
      if (isObject(parsed)) {
        const lower = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k.toLowerCase(), v]));
        if (typeof lower.code === 'string') code = lower.code;
        if (typeof lower.message === 'string') message = lower.message;
      }
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  } else {
    code = `${statusCode} ${statusText}`.trim();
    message = body;
  }
  if (code === '' && message === '') {
    if (statusCode === 429) [code, message] = ['too many requests', 'exceeded rate limit'];
    else if (statusCode === 503) [code, message] = ['unavailable', 'service temporarily unavailable'];
  }
  if (code !== '' && message !== '') return `${code}: ${message}`;
  if (message !== '') return message;
  if (code !== '') return code;
  return `Unexpected status code ${statusCode}`;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Request Entity Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export interface InfluxdbProvider extends MetricProvider {
  close(): Promise<void>;
}

export interface InfluxdbProviderOptions {
  /** Where the profile Secret is read; defaults to $POD_NAMESPACE, else argo-rollouts (Argo's default). */
  readonly secretNamespace?: string;
}

export function createInfluxdbProvider(options: InfluxdbProviderOptions = {}): InfluxdbProvider {
  const client: HttpClient = createHttpClient();
  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    const secrets: string[] = [...(request.secrets ?? [])];
    const fail = (message: string): ProviderResult => ({ phase: 'Error', message: redact(message, secrets) });
    const spec = parseInfluxdbSpec(request.provider.influxdb);
    if (!spec.ok) return fail(`${spec.field}: ${spec.message}`);
    const namespace = options.secretNamespace ?? providerSecretNamespace();
    const secret = await readSecretKeys(request, namespace, spec.value.profile, SECRET_KEYS);
    if (!secret.ok) return fail(secret.error);
    const read = secret.values;
    // The token is the credential; address and org stay readable in messages.
    if (read.authToken) secrets.push(read.authToken);
    const { authToken = '', address = '', org = '' } = read;
    if (authToken === '' || address === '' || org === '') return fail('authToken, org, or address not found');
    const url = influxdbQueryUrl(address, org);
    if (url === undefined) return fail(`parse "${address}": invalid URL`);
    const body = JSON.stringify({
      dialect: { annotations: ['datatype', 'group', 'default'], delimiter: ',', header: true },
      query: spec.value.query,
      type: 'flux',
    });
    const sent = await client.send({
      method: 'POST',
      url,
      headers: {
        authorization: `Token ${authToken}`,
        'content-type': 'application/json',
        'user-agent': 'sluice (influxdb-client-go/2 compatible)',
      },
      body,
      timeoutMs: INFLUXDB_QUERY_TIMEOUT_MS,
      insecure: false,
      signal: request.signal,
    });
    if (!sent.ok) return fail(sent.error);
    const { statusCode, contentType } = sent.response;
    if (statusCode < 200 || statusCode >= 300) {
      return fail(
        httpErrorText(
          statusCode,
          STATUS_TEXT[statusCode] ?? '',
          contentType,
          sent.response.body.slice(0, 1_024),
        ),
      );
    }
    const records = readFluxRecords(sent.response.body);
    if (records.values.length === 0) {
      return fail(`no results returned from flux query${records.error ? `: ${records.error}` : ''}`);
    }
    return {
      result: records.values,
      value: redact(formatFluxValues(records.values, records.types), secrets),
    };
  };
  return { type: 'influxdb', run, close: () => client.close() };
}

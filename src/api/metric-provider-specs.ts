// The provider blocks of the SaaS metric providers (Argo's DatadogMetric, NewRelicMetric,
// CloudWatchMetric, KayentaMetric in analysis_types.go), parsed once into typed specs with errors that
// name the field (`datadog.apiVersion: ...`). The providers parse with these at measurement time (after
// `{{args.x}}` substitution; a failure is an Error measurement, as Argo's provider constructors fail);
// `sluice analysis run` checks templates with them before it starts, with `lenient` so that a field still
// holding `{{args.x}}` is accepted.

import { parseDuration } from './duration.ts';

/** `warnings`: unknown fields, ignored as Argo's CRD prunes them (e.g. the docs' `thresholds`). */
export type SpecResult<T> =
  | { ok: true; value: T; warnings: string[] }
  | { ok: false; field: string; message: string };

class SpecFailure extends Error {
  readonly field: string;
  readonly detail: string;
  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.field = field;
    this.detail = detail;
  }
}

function bad(field: string, message: string): never {
  throw new SpecFailure(field, message);
}

function run<T>(fn: (ctx: Ctx) => T, lenient = false): SpecResult<T> {
  const ctx: Ctx = { lenient, warnings: [] };
  try {
    return { ok: true, value: fn(ctx), warnings: ctx.warnings };
  } catch (error) {
    if (error instanceof SpecFailure) return { ok: false, field: error.field, message: error.detail };
    throw error;
  }
}

export function formatSpecError(result: { field: string; message: string }): string {
  return `${result.field}: ${result.message}`;
}

interface Ctx {
  readonly lenient: boolean;
  readonly warnings: string[];
}

const hasArgs = (v: unknown): boolean => typeof v === 'string' && v.includes('{{');

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(field, 'must be an object');
  return value as Record<string, unknown>;
}

function optRecord(
  obj: Record<string, unknown>,
  key: string,
  field: string,
): Record<string, unknown> | undefined {
  const v = obj[key];
  return v === undefined || v === null ? undefined : record(v, `${field}.${key}`);
}

function str(obj: Record<string, unknown>, key: string, field: string): string {
  const v = obj[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') bad(`${field}.${key}`, 'must be a string');
  return v;
}

function reqStr(obj: Record<string, unknown>, key: string, field: string): string {
  const v = str(obj, key, field);
  if (v === '') bad(`${field}.${key}`, 'is required');
  return v;
}

function list(obj: Record<string, unknown>, key: string, field: string): unknown[] {
  const v = obj[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(`${field}.${key}`, 'must be a list');
  return v;
}

/** An integer written as a number or a numeric string (after `{{args.x}}`); `undefined` when absent. */
function int(obj: Record<string, unknown>, key: string, field: string, ctx: Ctx): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (ctx.lenient && hasArgs(v)) return 0;
  const n = typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    bad(`${field}.${key}`, `must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/** A DurationString (`5m`); `fallbackMs` when absent. */
function duration(
  obj: Record<string, unknown>,
  key: string,
  field: string,
  fallbackMs: number,
  ctx: Ctx,
): number {
  const v = str(obj, key, field);
  if (v === '') return fallbackMs;
  if (ctx.lenient && hasArgs(v)) return fallbackMs;
  const d = parseDuration(v);
  if (!d.ok) bad(`${field}.${key}`, d.error);
  return d.ms;
}

function noUnknown(obj: Record<string, unknown>, known: readonly string[], field: string, ctx: Ctx): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key))
      ctx.warnings.push(`${field}.${key}: unknown field, ignored (Argo's CRD prunes it)`);
  }
}

// ---- datadog ----

export const DATADOG_AGGREGATORS = [
  'avg',
  'min',
  'max',
  'sum',
  'last',
  'percentile',
  'mean',
  'l2norm',
  'area',
];
export const DEFAULT_DATADOG_INTERVAL_MS = 300_000;
export const DEFAULT_DATADOG_REQUEST_TIMEOUT_MS = 10_000;

export interface DatadogSpec {
  readonly apiVersion: 'v1' | 'v2';
  readonly intervalMs: number;
  readonly query: string;
  /** name -> query (v2); `{query: <query>}` when only `query` is set. */
  readonly queries: Readonly<Record<string, string>>;
  readonly formula: string;
  readonly aggregator: string;
  readonly secretRef: { readonly name: string; readonly namespaced: boolean };
  readonly requestTimeoutMs: number;
}

export function parseDatadogSpec(
  block: unknown,
  options: { lenient?: boolean } = {},
): SpecResult<DatadogSpec> {
  return run((ctx) => {
    const f = 'datadog';
    const o = record(block, f);
    noUnknown(
      o,
      ['apiVersion', 'interval', 'query', 'queries', 'formula', 'aggregator', 'secretRef', 'requestTimeout'],
      f,
      ctx,
    );
    const version = str(o, 'apiVersion', f) || 'v1';
    if (version !== 'v1' && version !== 'v2' && !(ctx.lenient && hasArgs(version))) {
      bad(`${f}.apiVersion`, `must be v1 or v2, got "${version}"`);
    }
    const apiVersion = version === 'v2' ? 'v2' : 'v1';
    const intervalMs = duration(o, 'interval', f, DEFAULT_DATADOG_INTERVAL_MS, ctx);
    const query = str(o, 'query', f);
    const queries: Record<string, string> = {};
    const rawQueries = optRecord(o, 'queries', f);
    for (const [name, q] of Object.entries(rawQueries ?? {})) {
      if (typeof q !== 'string') bad(`${f}.queries.${name}`, 'must be a string');
      queries[name] = q;
    }
    const formula = str(o, 'formula', f);
    const aggregator = str(o, 'aggregator', f);
    if (
      aggregator !== '' &&
      !DATADOG_AGGREGATORS.includes(aggregator) &&
      !(ctx.lenient && hasArgs(aggregator))
    ) {
      bad(`${f}.aggregator`, `must be one of ${DATADOG_AGGREGATORS.join(', ')}, got "${aggregator}"`);
    }
    const ref = optRecord(o, 'secretRef', f);
    const namespaced = ref?.namespaced ?? false;
    if (typeof namespaced !== 'boolean') bad(`${f}.secretRef.namespaced`, 'must be a boolean');
    const secretRef = { name: ref ? str(ref, 'name', `${f}.secretRef`) : '', namespaced };
    const requestTimeoutMs = duration(o, 'requestTimeout', f, DEFAULT_DATADOG_REQUEST_TIMEOUT_MS, ctx);
    // Argo's validateIncomingProps, its messages verbatim.
    const n = Object.keys(queries).length;
    if (query === '' && n === 0)
      bad(`${f}.query`, 'Must have either a query or queries. Please review the Analysis Template.');
    if (query !== '' && n > 0)
      bad(`${f}.queries`, 'Cannot have both a query and queries. Please review the Analysis Template.');
    if (apiVersion === 'v1' && query === '') {
      bad(
        `${f}.query`,
        'Query is empty. API Version v1 only supports using the query parameter in your Analysis Template.',
      );
    }
    if (formula !== '' && n === 0)
      bad(
        `${f}.formula`,
        'Formula are only valid when queries are set. Please review the Analysis Template.',
      );
    if (formula === '' && n > 1)
      bad(`${f}.formula`, 'When multiple queries are provided you must include a formula.');
    if (apiVersion === 'v1' && aggregator !== '')
      bad(`${f}.aggregator`, 'Aggregator is not supported in v1. Please review the Analysis Template.');
    if (requestTimeoutMs <= 0)
      bad(
        `${f}.requestTimeout`,
        'Request timeout must be a positive duration (e.g. 30s). Please review the Analysis Template.',
      );
    if (secretRef.namespaced && secretRef.name === '')
      bad(`${f}.secretRef.name`, 'secret name is required for namespaced credentials');
    return {
      apiVersion,
      intervalMs,
      query,
      queries: query !== '' ? { query } : queries,
      formula,
      aggregator: aggregator === '' ? 'last' : aggregator,
      secretRef,
      requestTimeoutMs,
    };
  }, options.lenient === true);
}

// ---- newRelic ----

export interface NewRelicSpec {
  /** Name of the Secret holding the account configuration (default "newrelic"). */
  readonly profile: string;
  readonly query: string;
}

export function parseNewRelicSpec(block: unknown): SpecResult<NewRelicSpec> {
  return run((ctx) => {
    const f = 'newRelic';
    const o = record(block, f);
    noUnknown(o, ['profile', 'query'], f, ctx);
    const profile = str(o, 'profile', f) || 'newrelic';
    return { profile, query: reqStr(o, 'query', f) };
  });
}

// ---- cloudWatch ----

export const DEFAULT_CLOUDWATCH_INTERVAL_MS = 300_000;

export interface CloudWatchDimension {
  readonly Name: string;
  readonly Value: string;
}

/** One MetricDataQuery in the shape of the GetMetricData API (field names as AWS spells them). */
export interface CloudWatchQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly Label?: string;
  readonly MetricStat?: {
    readonly Metric: {
      readonly Namespace?: string;
      readonly MetricName: string;
      readonly Dimensions?: CloudWatchDimension[];
    };
    readonly Period: number;
    readonly Stat: string;
    readonly Unit?: string;
  };
  readonly Period?: number;
  readonly ReturnData?: boolean;
}

export interface CloudWatchSpec {
  readonly intervalMs: number;
  readonly queries: readonly CloudWatchQuery[];
}

export function parseCloudWatchSpec(
  block: unknown,
  options: { lenient?: boolean } = {},
): SpecResult<CloudWatchSpec> {
  return run((ctx) => {
    const f = 'cloudWatch';
    const o = record(block, f);
    noUnknown(o, ['interval', 'metricDataQueries'], f, ctx);
    const intervalMs = duration(o, 'interval', f, DEFAULT_CLOUDWATCH_INTERVAL_MS, ctx);
    const raw = list(o, 'metricDataQueries', f);
    if (raw.length === 0) bad(`${f}.metricDataQueries`, 'is required');
    const queries = raw.map((entry, i): CloudWatchQuery => {
      const p = `${f}.metricDataQueries[${i}]`;
      const q = record(entry, p);
      noUnknown(q, ['id', 'expression', 'label', 'metricStat', 'period', 'returnData'], p, ctx);
      const id = reqStr(q, 'id', p);
      const expression = str(q, 'expression', p);
      const label = str(q, 'label', p);
      const period = int(q, 'period', p, ctx);
      const returnData = q.returnData;
      if (returnData !== undefined && returnData !== null && typeof returnData !== 'boolean') {
        bad(`${p}.returnData`, 'must be a boolean');
      }
      const ms = optRecord(q, 'metricStat', p);
      let metricStat: CloudWatchQuery['MetricStat'];
      if (ms) {
        const sp = `${p}.metricStat`;
        noUnknown(ms, ['metric', 'period', 'stat', 'unit'], sp, ctx);
        const metric = optRecord(ms, 'metric', sp) ?? {};
        const mp = `${sp}.metric`;
        noUnknown(metric, ['dimensions', 'metricName', 'namespace'], mp, ctx);
        const dimensions = list(metric, 'dimensions', mp).map((d, j) => {
          const dp = `${mp}.dimensions[${j}]`;
          const dim = record(d, dp);
          noUnknown(dim, ['name', 'value'], dp, ctx);
          return { Name: reqStr(dim, 'name', dp), Value: reqStr(dim, 'value', dp) };
        });
        const namespace = str(metric, 'namespace', mp);
        metricStat = {
          Metric: {
            ...(namespace !== '' ? { Namespace: namespace } : {}),
            MetricName: reqStr(metric, 'metricName', mp),
            ...(dimensions.length > 0 ? { Dimensions: dimensions } : {}),
          },
          Period: int(ms, 'period', sp, ctx) ?? bad(`${sp}.period`, 'is required'),
          Stat: reqStr(ms, 'stat', sp),
          ...(str(ms, 'unit', sp) !== '' ? { Unit: str(ms, 'unit', sp) } : {}),
        };
      }
      if ((expression === '') === (metricStat === undefined)) {
        bad(p, 'must set exactly one of expression and metricStat');
      }
      return {
        Id: id,
        ...(expression !== '' ? { Expression: expression } : {}),
        ...(label !== '' ? { Label: label } : {}),
        ...(metricStat ? { MetricStat: metricStat } : {}),
        ...(period !== undefined ? { Period: period } : {}),
        ...(typeof returnData === 'boolean' ? { ReturnData: returnData } : {}),
      };
    });
    return { intervalMs, queries };
  }, options.lenient === true);
}

// ---- kayenta ----

export interface KayentaScopeDetail {
  readonly scope: string;
  readonly region: string;
  readonly step: number;
  readonly start: string;
  readonly end: string;
}

export interface KayentaSpec {
  readonly address: string;
  readonly application: string;
  readonly canaryConfigName: string;
  readonly metricsAccountName: string;
  readonly configurationAccountName: string;
  readonly storageAccountName: string;
  readonly threshold: { readonly pass: number; readonly marginal: number };
  readonly scopes: ReadonlyArray<{
    readonly name: string;
    readonly controlScope: KayentaScopeDetail;
    readonly experimentScope: KayentaScopeDetail;
  }>;
}

export function parseKayentaSpec(
  block: unknown,
  options: { lenient?: boolean } = {},
): SpecResult<KayentaSpec> {
  return run((ctx) => {
    const f = 'kayenta';
    const o = record(block, f);
    noUnknown(
      o,
      [
        'address',
        'application',
        'canaryConfigName',
        'metricsAccountName',
        'configurationAccountName',
        'storageAccountName',
        'threshold',
        'scopes',
      ],
      f,
      ctx,
    );
    const address = reqStr(o, 'address', f);
    if (!(ctx.lenient && hasArgs(address))) {
      let url: URL | undefined;
      try {
        url = new URL(address);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        bad(`${f}.address`, `"${address}" must be an http or https URL`);
      }
    }
    // Absent (or misspelt `thresholds`, as in Argo's docs, which the CRD prunes): pass 0, marginal 0.
    const threshold = optRecord(o, 'threshold', f) ?? {};
    const tp = `${f}.threshold`;
    noUnknown(threshold, ['pass', 'marginal'], tp, ctx);
    const pass = int(threshold, 'pass', tp, ctx) ?? 0;
    const marginal = int(threshold, 'marginal', tp, ctx) ?? 0;
    const detail = (value: unknown, p: string): KayentaScopeDetail => {
      const d = record(value ?? {}, p);
      noUnknown(d, ['scope', 'region', 'step', 'start', 'end'], p, ctx);
      return {
        scope: str(d, 'scope', p),
        region: str(d, 'region', p),
        step: int(d, 'step', p, ctx) ?? 0,
        start: str(d, 'start', p),
        end: str(d, 'end', p),
      };
    };
    const scopes = list(o, 'scopes', f).map((entry, i) => {
      const p = `${f}.scopes[${i}]`;
      const s = record(entry, p);
      noUnknown(s, ['name', 'controlScope', 'experimentScope'], p, ctx);
      return {
        name: reqStr(s, 'name', p),
        controlScope: detail(s.controlScope, `${p}.controlScope`),
        experimentScope: detail(s.experimentScope, `${p}.experimentScope`),
      };
    });
    if (scopes.length === 0) bad(`${f}.scopes`, 'is required');
    return {
      address: address.replace(/\/+$/, ''),
      application: reqStr(o, 'application', f),
      canaryConfigName: reqStr(o, 'canaryConfigName', f),
      metricsAccountName: str(o, 'metricsAccountName', f),
      configurationAccountName: str(o, 'configurationAccountName', f),
      storageAccountName: str(o, 'storageAccountName', f),
      threshold: { pass, marginal },
      scopes,
    };
  }, options.lenient === true);
}

/**
 * Checks one metric's provider block for the providers above (other providers pass): the first error
 * naming the field, and warnings for unknown fields. `lenient` accepts fields still holding `{{args.x}}`.
 */
export function checkSaasProviderSpec(
  provider: Readonly<Record<string, unknown>>,
  options: { lenient?: boolean } = {},
): { error?: { field: string; message: string }; warnings: string[] } {
  const keys = Object.keys(provider).filter((k) => provider[k] !== undefined && provider[k] !== null);
  if (keys.length !== 1) return { warnings: [] };
  const key = keys[0]!;
  const block = provider[key];
  let result: SpecResult<unknown> | undefined;
  if (key === 'datadog') result = parseDatadogSpec(block, options);
  else if (key === 'newRelic') result = parseNewRelicSpec(block);
  else if (key === 'cloudWatch') result = parseCloudWatchSpec(block, options);
  else if (key === 'kayenta') result = parseKayentaSpec(block, options);
  if (result === undefined) return { warnings: [] };
  if (result.ok) return { warnings: result.warnings };
  return { error: { field: result.field, message: result.message }, warnings: [] };
}

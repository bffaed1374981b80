// The `sluice/proxy` metric provider: reads the proxies' own per-revision measurements from the
// histogram store, no Prometheus in between. Configured under Argo's plugin key so manifests stay
// valid under Argo's CRD schema:
//   provider: { plugin: { sluice/proxy: { route, namespace?, revision, metric, quantile?, window? } } }
// Units: latency in milliseconds; success-rate and error-rate as fractions 0..1 (like the guides'
// Prometheus ratio queries); request-rate in requests per second over the window; requests and
// errors as counts. No requests in the window: ratios and latency are NaN (what the Prometheus
// ratio query gives for 0/0, hence Argo's isNaN()), counts and the rate are 0; the measurement is
// not an Error, so conditions decide (guard with `!isNaN(result) && ...`).

import { parseDuration } from '../../api/duration.ts';
import { errorText } from '../../api/errors.ts';
import {
  errorRate,
  type HistogramStore,
  latencyQuantileMs,
  requestRatePerSecond,
  successRate,
  type WindowResult,
} from '../../control/histogram-store.ts';
import { redact } from '../redact.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';

export const SLUICE_PROXY_TYPE = 'sluice/proxy';
export const DEFAULT_WINDOW_MS = 60_000;
export const DEFAULT_LATENCY_QUANTILE = 0.95;

export const SLUICE_METRICS = [
  'latency',
  'success-rate',
  'error-rate',
  'request-rate',
  'requests',
  'errors',
] as const;
export type SluiceMetric = (typeof SLUICE_METRICS)[number];

export interface SluiceProxyConfig {
  readonly route: string;
  readonly namespace: string | undefined;
  readonly revision: string;
  readonly metric: SluiceMetric;
  readonly quantile: number;
  readonly windowMs: number;
  /** The window as written, for metadata. */
  readonly window: string;
}

export type ConfigResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly field: string; readonly message: string };

/** A Go duration ("30s", "2m", "1h30m"), non-negative, in ms; undefined when invalid. One parser: src/api/duration.ts. */
export function parseDurationMs(text: string): number | undefined {
  const parsed = parseDuration(text);
  return parsed.ok && parsed.ms >= 0 ? parsed.ms : undefined;
}

/** The plugin block of a metric's provider: `provider.plugin["sluice/proxy"]` (or a bare key). */
export function pluginConfig(
  provider: Readonly<Record<string, unknown>>,
  type: string,
): ConfigResult<{ path: string; config: Record<string, unknown> }> {
  const plugin = provider.plugin;
  let raw: unknown;
  let path: string;
  if (isRecord(plugin) && plugin[type] !== undefined) {
    raw = plugin[type];
    path = `provider.plugin.${type}`;
  } else {
    raw = provider[type];
    path = `provider.${type}`;
  }
  if (!isRecord(raw)) return { ok: false, field: `provider.plugin.${type}`, message: 'must be an object' };
  return { ok: true, value: { path, config: raw } };
}

/**
 * The plugin block of a `sluice/*` provider with the fields every one of them has: the proxy route it
 * reads (`route`, required) and the route's `namespace` (optional; the run's namespace by default).
 */
export function routePluginConfig(
  provider: Readonly<Record<string, unknown>>,
  type: string,
): ConfigResult<{
  path: string;
  config: Record<string, unknown>;
  route: string;
  namespace: string | undefined;
}> {
  const found = pluginConfig(provider, type);
  if (!found.ok) return found;
  const { path, config } = found.value;
  const route = requiredString(config, 'route', path);
  if (!route.ok) return route;
  const namespace = optionalString(config, 'namespace', path);
  if (!namespace.ok) return namespace;
  return { ok: true, value: { path, config, route: route.value, namespace: namespace.value } };
}

export function parseSluiceProxyConfig(
  provider: Readonly<Record<string, unknown>>,
): ConfigResult<SluiceProxyConfig> {
  const found = routePluginConfig(provider, SLUICE_PROXY_TYPE);
  if (!found.ok) return found;
  const { path, config, route, namespace } = found.value;
  const revision =
    config.revision === undefined
      ? { ok: true as const, value: 'canary' }
      : requiredString(config, 'revision', path);
  if (!revision.ok) return revision;
  const metric = config.metric;
  if (typeof metric !== 'string' || !(SLUICE_METRICS as readonly string[]).includes(metric)) {
    return { ok: false, field: `${path}.metric`, message: `must be one of ${SLUICE_METRICS.join(', ')}` };
  }
  const quantile = optionalNumber(config, 'quantile', path, DEFAULT_LATENCY_QUANTILE);
  if (!quantile.ok) return quantile;
  if (!(quantile.value > 0 && quantile.value <= 1)) {
    return { ok: false, field: `${path}.quantile`, message: 'must be in (0, 1], e.g. 0.99' };
  }
  const window = optionalDuration(config, 'window', path, DEFAULT_WINDOW_MS);
  if (!window.ok) return window;
  if (window.value.ms <= 0)
    return { ok: false, field: `${path}.window`, message: 'must be a positive duration' };
  return {
    ok: true,
    value: {
      route,
      namespace,
      revision: revision.value,
      metric: metric as SluiceMetric,
      quantile: quantile.value,
      windowMs: window.value.ms,
      window: window.value.text,
    },
  };
}

/** The measured number for one metric of a merged window (units in the file header). */
export function measure(metric: SluiceMetric, window: WindowResult, quantile: number): number {
  switch (metric) {
    case 'latency':
      return latencyQuantileMs(window, quantile);
    case 'success-rate':
      return successRate(window);
    case 'error-rate':
      return errorRate(window);
    case 'request-rate':
      return requestRatePerSecond(window);
    case 'requests':
      return window.requests;
    case 'errors':
      return window.errors;
  }
}

export function createSluiceProxyProvider(store: HistogramStore): MetricProvider {
  return {
    type: SLUICE_PROXY_TYPE,
    run: async (request) => runSluiceProxy(store, request),
  };
}

export function runSluiceProxy(store: HistogramStore, request: ProviderRequest): ProviderResult {
  try {
    const parsed = parseSluiceProxyConfig(request.provider);
    if (!parsed.ok) return errorResult(`${parsed.field} ${parsed.message}`, request.secrets);
    const config = parsed.value;
    const window = store.window({
      route: config.route,
      namespace: config.namespace ?? defaultNamespace(store, config.route, request.runNamespace),
      revision: config.revision,
      fromMs: request.nowMs - config.windowMs,
      toMs: request.nowMs,
    });
    if (!window.ok) return errorResult(`${window.error.field} ${window.error.message}`, request.secrets);
    const w = window.value;
    const result = measure(config.metric, w, config.quantile);
    const metadata: Record<string, string> = {
      route: config.route,
      namespace: w.namespace,
      revision: w.revision ?? '',
      window: config.window,
      requests: String(w.requests),
      errors: String(w.errors),
      intervals: String(w.intervals),
      proxies: String(w.proxies),
    };
    if (config.metric === 'latency') metadata.quantile = String(config.quantile);
    const base = { result, value: String(result), metadata };
    if (w.requests > 0) return base;
    const who =
      w.revision === undefined
        ? `no revision has reported the role "${config.revision}"`
        : `revision ${w.revision}`;
    return {
      ...base,
      message: redact(
        `no requests for route ${config.route} (${who}) in the last ${config.window}`,
        request.secrets,
      ),
    };
  } catch (error) {
    // Defensive: nothing above is expected to throw, but a provider must never throw into the engine.
    return errorResult(errorText(error), request.secrets);
  }
}

/** The run's namespace when the route has reports there, else leave it to the store (the only namespace). */
export function defaultNamespace(
  store: HistogramStore,
  route: string,
  runNamespace: string | undefined,
): string | undefined {
  if (runNamespace === undefined) return undefined;
  return store.namespacesOf(route).includes(runNamespace) ? runNamespace : undefined;
}

export function errorResult(message: string, secrets: readonly string[] | undefined): ProviderResult {
  return { phase: 'Error', message: redact(message, secrets) };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requiredString(
  config: Record<string, unknown>,
  key: string,
  path: string,
): ConfigResult<string> {
  const v = config[key];
  if (typeof v !== 'string' || v === '')
    return { ok: false, field: `${path}.${key}`, message: 'must be a non-empty string' };
  return { ok: true, value: v };
}

export function optionalString(
  config: Record<string, unknown>,
  key: string,
  path: string,
): ConfigResult<string | undefined> {
  const v = config[key];
  if (v === undefined || v === '') return { ok: true, value: undefined };
  if (typeof v !== 'string') return { ok: false, field: `${path}.${key}`, message: 'must be a string' };
  return { ok: true, value: v };
}

/** Numbers may arrive as strings after `{{args.x}}` substitution. */
export function optionalNumber(
  config: Record<string, unknown>,
  key: string,
  path: string,
  fallback: number,
): ConfigResult<number> {
  const v = config[key];
  if (v === undefined) return { ok: true, value: fallback };
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n))
    return { ok: false, field: `${path}.${key}`, message: 'must be a number' };
  return { ok: true, value: n };
}

export function optionalDuration(
  config: Record<string, unknown>,
  key: string,
  path: string,
  fallbackMs: number,
): ConfigResult<{ ms: number; text: string }> {
  const v = config[key];
  if (v === undefined) return { ok: true, value: { ms: fallbackMs, text: formatDuration(fallbackMs) } };
  const ms = typeof v === 'string' ? parseDurationMs(v) : undefined;
  if (ms === undefined)
    return { ok: false, field: `${path}.${key}`, message: 'must be a duration such as "30s", "2m" or "1h"' };
  return { ok: true, value: { ms, text: v as string } };
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// The `kayenta` provider (Argo's metricproviders/kayenta), speaking Kayenta's REST API as Argo does:
// run looks the canary config id up by name (GET /canaryConfig?application=..&configurationAccountName=
// <storageAccountName>, Argo's choice of account kept), starts a standalone canary analysis (POST
// /canary/{configId}?application&metricsAccountName&configurationAccountName&storageAccountName with the
// scopes and thresholds) and returns Running with `canaryExecutionId` in metadata; resume polls GET
// /canary/{id} every 15 s until `complete`, then the score (result.judgeResult.score.score, truncated)
// maps to Successful (>= pass), Inconclusive (>= marginal) or Failed. Any status but 200 is an Error
// "Invalid Response", as in Argo; a 15 s HTTP timeout. Never throws.

import { formatSpecError, type KayentaSpec, parseKayentaSpec } from '../../api/metric-provider-specs.ts';
import { redact } from '../redact.ts';
import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import type { MeasurementPhase, MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';

export const KAYENTA_RESUME_DELAY_MS = 15_000;
export const KAYENTA_TIMEOUT_MS = 15_000;

export interface KayentaProviderOptions {
  /** Replaces every metric's address (the CLI's --kayenta). */
  readonly addressOverride?: string;
  /** HTTP timeout (default KAYENTA_TIMEOUT_MS, Argo's 15 s). */
  readonly timeoutMs?: number;
}

/** Go's json.Marshal string escaping (HTML characters as \u003c, \u003e, \u0026). */
function goString(text: string): string {
  return JSON.stringify(text).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

function scopeJson(d: KayentaSpec['scopes'][number]['controlScope']): string {
  return `{"scope":${goString(d.scope)},"region":${goString(d.region)},"step":${d.step},"start":${goString(d.start)},"end":${goString(d.end)}}`;
}

/** The POST body byte for byte as Argo's jobPayloadFormat renders it. */
export function kayentaJobPayload(spec: KayentaSpec): string {
  const scopes = spec.scopes
    .map(
      (s) =>
        `"${s.name}":{"controlScope": ${scopeJson(s.controlScope)}, "experimentScope": ${scopeJson(s.experimentScope)}}`,
    )
    .join(',');
  return `
\t\t\t\t\t\t\t{
\t\t\t\t\t\t\t\t"scopes": {
\t\t\t\t\t\t\t\t\t\t${scopes}
\t\t\t\t\t\t\t\t},
                                "thresholds" : {
                                    "pass": ${spec.threshold.pass},
                                    "marginal": ${spec.threshold.marginal}
                                }
                            }`;
}

export function kayentaPhase(score: number, pass: number, marginal: number): MeasurementPhase {
  if (score >= pass) return 'Successful';
  if (score >= marginal) return 'Inconclusive';
  return 'Failed';
}

export interface KayentaProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createKayentaProvider(options: KayentaProviderOptions = {}): KayentaProvider {
  const client: HttpClient = createHttpClient();

  const spec = (request: ProviderRequest) => {
    const parsed = parseKayentaSpec(request.provider.kayenta);
    if (!parsed.ok) return parsed;
    const address = options.addressOverride?.replace(/\/+$/, '');
    return address ? { ...parsed, value: { ...parsed.value, address } } : parsed;
  };

  const get = async (url: string, request: ProviderRequest) =>
    client.send({
      method: 'GET',
      url,
      headers: {},
      timeoutMs: options.timeoutMs ?? KAYENTA_TIMEOUT_MS,
      insecure: false,
      signal: request.signal,
    });

  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    const fail = (message: string): ProviderResult => ({
      phase: 'Error',
      message: redact(message, request.secrets),
    });
    const parsed = spec(request);
    if (!parsed.ok) return fail(formatSpecError(parsed));
    const k = parsed.value;
    const lookup = await get(
      `${k.address}/canaryConfig?application=${k.application}&configurationAccountName=${k.storageAccountName}`,
      request,
    );
    if (!lookup.ok) return fail(lookup.error);
    if (lookup.response.statusCode !== 200) return fail('Invalid Response');
    let configs: unknown;
    try {
      configs = JSON.parse(lookup.response.body);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (!Array.isArray(configs))
      return fail('json: cannot unmarshal object into Go value of type []kayenta.canaryConfig');
    // Argo goes on with an empty id when no config has the name; Kayenta then refuses the POST.
    const found = configs.find((c) => isObject(c) && c.name === k.canaryConfigName);
    const configId = isObject(found) && typeof found.id === 'string' ? found.id : '';
    const jobUrl =
      `${k.address}/canary/${configId}?application=${k.application}&metricsAccountName=${k.metricsAccountName}` +
      `&configurationAccountName=${k.configurationAccountName}&storageAccountName=${k.storageAccountName}`;
    const started = await client.send({
      method: 'POST',
      url: jobUrl,
      headers: { 'Content-Type': 'application/json' },
      body: kayentaJobPayload(k),
      timeoutMs: options.timeoutMs ?? KAYENTA_TIMEOUT_MS,
      insecure: false,
      signal: request.signal,
    });
    if (!started.ok) return fail(started.error);
    if (started.response.statusCode !== 200) return fail('Invalid Response');
    let answer: unknown;
    try {
      answer = JSON.parse(started.response.body);
    } catch (error) {
      return fail((error as Error).message);
    }
    const id = isObject(answer) ? answer.canaryExecutionId : undefined;
    const executionId = id === undefined || id === null ? '<nil>' : String(id);
    if (executionId === '') return fail('Invalid canaryExecutionId');
    return {
      phase: 'Running',
      metadata: { canaryExecutionId: executionId },
      resumeAtMs: request.nowMs + KAYENTA_RESUME_DELAY_MS,
    };
  };

  const resume = async (request: ProviderRequest, previous: ProviderResult): Promise<ProviderResult> => {
    const metadata = previous.metadata ?? {};
    const fail = (message: string): ProviderResult => ({
      phase: 'Error',
      message: redact(message, request.secrets),
      metadata,
    });
    const parsed = spec(request);
    if (!parsed.ok) return fail(formatSpecError(parsed));
    const k = parsed.value;
    const polled = await get(`${k.address}/canary/${metadata.canaryExecutionId ?? ''}`, request);
    if (!polled.ok) return fail(polled.error);
    if (polled.response.statusCode !== 200) return fail('Invalid Response');
    let status: unknown;
    try {
      status = JSON.parse(polled.response.body);
    } catch (error) {
      return fail((error as Error).message);
    }
    if (!isObject(status)) return fail('Missing Complete Status');
    const complete = status.complete;
    if (complete === undefined) return fail('Missing Complete Status');
    if (typeof complete !== 'boolean')
      return fail(
        `.complete accessor error: ${String(complete)} is of the type ${typeof complete}, expected bool`,
      );
    if (!complete) return { phase: 'Running', metadata, resumeAtMs: request.nowMs + KAYENTA_RESUME_DELAY_MS };
    const result = isObject(status.result) ? status.result : undefined;
    const judge = result && isObject(result.judgeResult) ? result.judgeResult : undefined;
    const score = judge && isObject(judge.score) ? judge.score.score : undefined;
    if (typeof score !== 'number') return fail('Missing Score');
    const truncated = Math.trunc(score);
    return {
      phase: kayentaPhase(truncated, k.threshold.pass, k.threshold.marginal),
      result: truncated,
      value: String(truncated),
      metadata,
    };
  };

  return { type: 'kayenta', run, resume, close: () => client.close() };
}

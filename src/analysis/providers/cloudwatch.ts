// The `cloudWatch` provider (Argo's metricproviders/cloudwatch): one GetMetricData call over
// [now-interval, now] (interval default 5m) with the metric's metricDataQueries, over the CloudWatch
// JSON 1.0 protocol (X-Amz-Target GraniteServiceVersion20100801.GetMetricData), signed with SigV4
// (service "monitoring"). `result` is MetricDataResults as the SDK returns them (Id, Label, StatusCode,
// Timestamps, Values; "NaN"/"Infinity" values as numbers), so Argo's conditions such as
// `all(result[0].Values, {# <= 0.01})` work; the value is Go's `%+v` of the value lists
// (`[[0.5 0.6] [1]]`); Messages go to metadata. Credentials and region from the environment
// (sigv4.ts); the endpoint from AWS_ENDPOINT_URL_CLOUDWATCH or AWS_ENDPOINT_URL when set (as the SDK
// reads them). Like the SDK's standard retryer: throttling errors, 429 and 500/502/503/504 are retried,
// 3 attempts in all, with exponential jittered backoff capped at 20 s; then an Error. Never throws.

import {
  type CloudWatchSpec,
  formatSpecError,
  parseCloudWatchSpec,
} from '../../api/metric-provider-specs.ts';
import { abortableSleep } from '../../api/sleep.ts';
import { redact } from '../redact.ts';
import { formatFloatG } from './go-format.ts';
import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import type { MetricProvider, ProviderRequest, ProviderResult } from './provider.ts';
import { awsEnvironment, signV4 } from './sigv4.ts';

export const CLOUDWATCH_TARGET = 'GraniteServiceVersion20100801.GetMetricData';
export const CLOUDWATCH_MAX_ATTEMPTS = 3;
export const CLOUDWATCH_MAX_BACKOFF_MS = 20_000;
export const CLOUDWATCH_TIMEOUT_MS = 30_000;
const PREFIX = 'operation error CloudWatch: GetMetricData, ';

/** The SDK's throttle error codes (aws/retry/throttle_error.go). */
const THROTTLE_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

export interface CloudWatchProviderOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  /** HTTP timeout per attempt (default CLOUDWATCH_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

const defaultSleep = abortableSleep;

/** awsJson encodes non-finite doubles as strings. */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}

export interface MetricDataResult {
  readonly Id?: string;
  readonly Label?: string;
  readonly StatusCode?: string;
  readonly Timestamps: string[];
  readonly Values: number[];
  readonly Messages?: unknown[];
}

export function shapeMetricDataResults(raw: unknown): MetricDataResult[] {
  const list = Array.isArray(raw) ? raw.filter(isObject) : [];
  return list.map((r) => ({
    ...(typeof r.Id === 'string' ? { Id: r.Id } : {}),
    ...(typeof r.Label === 'string' ? { Label: r.Label } : {}),
    ...(typeof r.StatusCode === 'string' ? { StatusCode: r.StatusCode } : {}),
    Timestamps: (Array.isArray(r.Timestamps) ? r.Timestamps : []).map((t) =>
      typeof t === 'number' ? new Date(t * 1_000).toISOString() : String(t),
    ),
    Values: (Array.isArray(r.Values) ? r.Values : []).map(toNumber),
    ...(Array.isArray(r.Messages) ? { Messages: r.Messages } : {}),
  }));
}

/** Go's `%+v` of [][]float64: `[[0.5 1] []]`. */
export function formatValueLists(results: readonly MetricDataResult[]): string {
  return `[${results.map((r) => `[${r.Values.map(formatFloatG).join(' ')}]`).join(' ')}]`;
}

function errorCode(body: unknown, fallback: string): { code: string; message: string } {
  if (!isObject(body)) return { code: fallback, message: '' };
  const type =
    typeof body.__type === 'string' ? body.__type : typeof body.code === 'string' ? body.code : fallback;
  const code = type.split('#').pop()!.split(':')[0]!;
  const message =
    typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
  return { code, message };
}

export function requestBody(spec: CloudWatchSpec, nowMs: number): string {
  return JSON.stringify({
    StartTime: (nowMs - spec.intervalMs) / 1_000,
    EndTime: nowMs / 1_000,
    MetricDataQueries: spec.queries,
  });
}

export interface CloudWatchProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createCloudWatchProvider(options: CloudWatchProviderOptions = {}): CloudWatchProvider {
  const client: HttpClient = createHttpClient();
  const env = options.env ?? process.env;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;

  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    let secrets = [...(request.secrets ?? [])];
    const fail = (message: string): ProviderResult => ({ phase: 'Error', message: redact(message, secrets) });
    const parsed = parseCloudWatchSpec(request.provider.cloudWatch);
    if (!parsed.ok) return fail(formatSpecError(parsed));
    const spec = parsed.value;
    const aws = awsEnvironment(env);
    if (!aws.ok) return fail(`${PREFIX}failed to sign request: failed to retrieve credentials: ${aws.error}`);
    const { credentials, region } = aws.value;
    secrets = [
      ...secrets,
      credentials.secretAccessKey,
      ...(credentials.sessionToken ? [credentials.sessionToken] : []),
    ];
    if (region === undefined) {
      return fail(
        `${PREFIX}failed to resolve service endpoint, an AWS region is required, but was not found`,
      );
    }
    const endpoint =
      env.AWS_ENDPOINT_URL_CLOUDWATCH || env.AWS_ENDPOINT_URL || `https://monitoring.${region}.amazonaws.com`;
    let url: URL;
    try {
      url = new URL(endpoint.endsWith('/') ? endpoint : `${endpoint}/`);
    } catch {
      return fail(
        `${PREFIX}failed to resolve service endpoint, invalid endpoint ${JSON.stringify(endpoint)}`,
      );
    }
    const body = requestBody(spec, request.nowMs);
    for (let attempt = 1; ; attempt++) {
      const signed = signV4({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': CLOUDWATCH_TARGET },
        body,
        region,
        service: 'monitoring',
        credentials,
        nowMs: Date.now(),
      });
      const sent = await client.send({
        method: 'POST',
        url: url.toString(),
        headers: signed.headers,
        body,
        timeoutMs: options.timeoutMs ?? CLOUDWATCH_TIMEOUT_MS,
        insecure: false,
        signal: request.signal,
      });
      const exhausted = attempt >= CLOUDWATCH_MAX_ATTEMPTS;
      const attemptsText =
        exhausted && attempt > 1 ? `exceeded maximum number of attempts, ${attempt}, ` : '';
      let retryable: boolean;
      let message: string;
      if (!sent.ok) {
        retryable = !request.signal.aborted;
        message = `${PREFIX}${attemptsText}https response error StatusCode: 0, RequestID: , request send failed, ${sent.error}`;
      } else {
        const { statusCode } = sent.response;
        let answer: unknown;
        try {
          answer = JSON.parse(sent.response.body);
        } catch {
          answer = undefined;
        }
        if (statusCode >= 200 && statusCode < 300) {
          if (!isObject(answer))
            return fail(`${PREFIX}deserialization failed, failed to decode response body`);
          const results = shapeMetricDataResults(answer.MetricDataResults);
          const messages = Array.isArray(answer.Messages) ? answer.Messages.filter(isObject) : [];
          return {
            result: results,
            value: formatValueLists(results),
            ...(messages.length > 0
              ? {
                  metadata: {
                    messages: `[${messages.map((m) => `{Code:${String(m.Code ?? '')} Value:${String(m.Value ?? '')}}`).join(' ')}]`,
                  },
                }
              : {}),
          };
        }
        const { code, message: text } = errorCode(answer, `StatusCode${statusCode}`);
        retryable =
          THROTTLE_CODES.has(code) || statusCode === 429 || [500, 502, 503, 504].includes(statusCode);
        message =
          `${PREFIX}${attemptsText}https response error StatusCode: ${statusCode}, RequestID: , ` +
          `api error ${code}: ${text}`;
      }
      if (!retryable || exhausted) return fail(message);
      const backoff = Math.min(random() * 2 ** attempt * 1_000, CLOUDWATCH_MAX_BACKOFF_MS);
      await sleep(backoff, request.signal);
      if (request.signal.aborted) return fail(message);
    }
  };

  return { type: 'cloudWatch', run, close: () => client.close() };
}

// The `newRelic` provider (Argo's metricproviders/newrelic over newrelic-client-go): one NRQL query per
// measurement through NerdGraph (POST <nerdgraph>/graphql, `Api-Key` header, the client's
// `actor.account.nrql` query). Account from the Secret named by `profile` (default `newrelic`) in the
// controller's namespace: personal-api-key, account-id, region (us, default, or eu), base-url-nerdgraph.
// One result row is `result` as a map, several are a list; none is an Error ("no results returned from
// NRQL query"). Like the Go client: 429, 500 and 502+ (and GraphQL TIMEOUT / SERVER_ERROR classes) are
// retried 3 times, waiting Retry-After (capped at 30 s) or 1, 2, 4 s; then "giving up after 4
// attempt(s)". 401 / BAD_API_KEY is an Error with the client's message; the key is never printed.

import { formatSpecError, parseNewRelicSpec } from '../../api/metric-provider-specs.ts';
import { abortableSleep } from '../../api/sleep.ts';
import { redact } from '../redact.ts';
import { goJson } from './go-format.ts';
import { createHttpClient, type HttpClient, isObject } from './http-client.ts';
import {
  type MetricProvider,
  type ProviderRequest,
  type ProviderResult,
  providerSecretNamespace,
} from './provider.ts';
import { readSecretKeys } from './provider-secret.ts';

export const NEWRELIC_NERDGRAPH_URLS: Readonly<Record<string, string>> = {
  us: 'https://api.newrelic.com/graphql',
  eu: 'https://api.eu.newrelic.com/graphql',
  staging: 'https://staging-api.newrelic.com/graphql',
  local: 'http://localhost:3000/graphql',
};
export const NEWRELIC_TIMEOUT_MS = 30_000;
export const NEWRELIC_RETRY_MAX = 3;
export const NEWRELIC_RETRY_WAIT_MIN_MS = 1_000;
export const NEWRELIC_RETRY_WAIT_MAX_MS = 30_000;

/** newrelic-client-go's NRQL query (pkg/nrdb). */
export const NRQL_QUERY = `query($query: Nrql!, $accountId: Int!) { actor { account(id: $accountId) { nrql(query: $query) {
    currentResults otherResult previousResults results totalResult
    metadata { eventTypes facets messages timeWindow { begin compareWith end since until } }
  } } } }`;

export interface NewRelicProviderOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** HTTP timeout per attempt (default NEWRELIC_TIMEOUT_MS, the Go client's 30 s). */
  readonly timeoutMs?: number;
  /** Waits between retries (tests pass a recorder). */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const defaultSleep = abortableSleep;

interface GraphQLError {
  readonly message?: string;
  readonly extensions?: { readonly errorClass?: string; readonly error_code?: string };
}

function graphqlErrors(body: unknown): GraphQLError[] {
  return isObject(body) && Array.isArray(body.errors) ? (body.errors.filter(isObject) as GraphQLError[]) : [];
}

function errorsText(errors: GraphQLError[]): string {
  return errors
    .map((e) => e.message ?? '')
    .filter((m) => m !== '')
    .join(', ');
}

/** go-retryablehttp's backoff: Retry-After seconds on 429/503, else min * 2^attempt, capped. */
export function newRelicBackoffMs(attempt: number, status: number, retryAfter: string | undefined): number {
  if ((status === 429 || status === 503) && retryAfter !== undefined && /^\d+$/.test(retryAfter.trim())) {
    return Math.min(Number(retryAfter.trim()) * 1_000, NEWRELIC_RETRY_WAIT_MAX_MS);
  }
  return Math.min(NEWRELIC_RETRY_WAIT_MIN_MS * 2 ** attempt, NEWRELIC_RETRY_WAIT_MAX_MS);
}

export interface NewRelicProvider extends MetricProvider {
  close(): Promise<void>;
}

export function createNewRelicProvider(options: NewRelicProviderOptions = {}): NewRelicProvider {
  const client: HttpClient = createHttpClient();
  const env = options.env ?? process.env;
  const sleep = options.sleep ?? defaultSleep;

  const run = async (request: ProviderRequest): Promise<ProviderResult> => {
    let secrets = [...(request.secrets ?? [])];
    const fail = (message: string): ProviderResult => ({ phase: 'Error', message: redact(message, secrets) });
    const parsed = parseNewRelicSpec(request.provider.newRelic);
    if (!parsed.ok) return fail(formatSpecError(parsed));
    const spec = parsed.value;
    const read = await readSecretKeys(request, providerSecretNamespace(env), spec.profile, [
      'personal-api-key',
      'account-id',
      'region',
      'base-url-rest',
      'base-url-nerdgraph',
    ]);
    if (!read.ok) return fail(read.error);
    const apiKey = read.values['personal-api-key'] ?? '';
    const accountId = read.values['account-id'] ?? '';
    if (apiKey !== '') secrets = [...secrets, apiKey];
    if (apiKey === '' || accountId === '') return fail('account ID or personal API key not found');
    if (!/^[-+]?\d+$/.test(accountId)) {
      return fail(
        `could not parse account ID: strconv.Atoi: parsing ${JSON.stringify(accountId)}: invalid syntax`,
      );
    }
    const region = (read.values.region ?? 'us').toLowerCase();
    const regionUrl = NEWRELIC_NERDGRAPH_URLS[region];
    if (regionUrl === undefined) return fail(`unknown region: ${read.values.region}`);
    const url = read.values['base-url-nerdgraph'] || regionUrl;
    const body = JSON.stringify({
      query: NRQL_QUERY,
      variables: { accountId: Number(accountId), query: spec.query },
    });
    const headers = {
      'Api-Key': apiKey,
      'Content-Type': 'application/json',
      'NewRelic-Requesting-Services': 'sluice|newrelic-client-go',
      'User-Agent': 'sluice (https://github.com/argoproj/argo-rollouts compatible)',
    };
    let statusCode = 0;
    let answer: unknown;
    for (let attempt = 0; ; attempt++) {
      const sent = await client.send({
        method: 'POST',
        url,
        headers,
        body,
        timeoutMs: options.timeoutMs ?? NEWRELIC_TIMEOUT_MS,
        insecure: false,
        signal: request.signal,
      });
      let retryAfter: string | undefined;
      let retryable: boolean;
      if (!sent.ok) {
        retryable = !request.signal.aborted;
        statusCode = 0;
        answer = undefined;
        if (attempt >= NEWRELIC_RETRY_MAX || !retryable) {
          return fail(`POST ${url} giving up after ${attempt + 1} attempt(s): ${sent.error}`);
        }
      } else {
        statusCode = sent.response.statusCode;
        try {
          answer = JSON.parse(sent.response.body);
        } catch {
          answer = undefined;
        }
        const errors = graphqlErrors(answer);
        retryable =
          statusCode === 429 ||
          statusCode === 500 ||
          statusCode >= 502 ||
          errors.some((e) =>
            ['TIMEOUT', 'INTERNAL_SERVER_ERROR', 'SERVER_ERROR'].includes(e.extensions?.errorClass ?? ''),
          );
        retryAfter = sent.response.retryAfter;
        if (!retryable) break;
        if (attempt >= NEWRELIC_RETRY_MAX) {
          const text = errorsText(errors);
          return fail(
            text !== '' && statusCode >= 200 && statusCode < 300
              ? `maximum retries reached: ${text}`
              : `POST ${url} giving up after ${attempt + 1} attempt(s)`,
          );
        }
      }
      await sleep(newRelicBackoffMs(attempt, statusCode, retryAfter), request.signal);
      if (request.signal.aborted) return fail('request aborted');
    }
    const errors = graphqlErrors(answer);
    if (statusCode === 404) return fail('resource not found');
    if (statusCode < 200 || statusCode > 299) {
      if (
        errors.length > 0 &&
        (statusCode === 401 || errors.some((e) => e.extensions?.error_code === 'BAD_API_KEY'))
      ) {
        return fail(
          '401 response returned: Invalid credentials provided. Missing API key or an invalid API key was provided.',
        );
      }
      const text = errorsText(errors);
      return fail(`${statusCode} response returned${text !== '' ? `: ${text}` : ''}`);
    }
    const text = errorsText(errors);
    if (text !== '' && !errors.some((e) => (e.message ?? '').startsWith('This field is deprecated!')))
      return fail(text);
    const nrql =
      isObject(answer) &&
      isObject(answer.data) &&
      isObject(answer.data.actor) &&
      isObject(answer.data.actor.account)
        ? answer.data.actor.account.nrql
        : undefined;
    const results = isObject(nrql) && Array.isArray(nrql.results) ? nrql.results : [];
    if (
      results.length === 0 ||
      (results.length === 1 && isObject(results[0]) && Object.keys(results[0]).length === 0)
    ) {
      return fail('no results returned from NRQL query');
    }
    const result = results.length === 1 ? results[0] : results;
    return { result, value: redact(goJson(result), secrets) };
  };

  return { type: 'newRelic', run, close: () => client.close() };
}

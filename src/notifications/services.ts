// The two notification services, as notifications-engine sends them:
// - webhook: `<url>` + the template's rendered `path`, the template's `method` (GET when absent) and `body`,
//   the service's `headers` and `basicAuth`; any 2xx is delivered. A template without a `webhook.<service>`
//   part sends nothing to that service (the engine's behaviour).
// - slack: with `token`, chat.postMessage at `<apiURL>chat.postMessage` (Slack answers 200 with
//   `{"ok": false, "error": ...}` on failure); with Sluice's `webhook`, the incoming-webhook URL. The text
//   is the template's `message`, `attachments` and `blocks` are its rendered JSON.
// Failures are results with `retryable` (network errors, 429 and 5xx are; other answers are not).

import { Buffer } from 'node:buffer';
import { type Dispatcher, request } from 'undici';
import type { ServiceConfig, SlackService, WebhookService } from './config.ts';
import type { Destination } from './subscriptions.ts';

export const SEND_TIMEOUT_MS = 10_000;

/** A template rendered for one destination. */
export interface RenderedNotification {
  readonly message?: string;
  readonly slack?: {
    readonly attachments?: unknown;
    readonly blocks?: unknown;
    readonly groupingKey?: string;
  };
  readonly webhook?: { readonly method: string; readonly path: string; readonly body: string };
}

export type SendResult = { ok: true; skipped?: boolean } | { ok: false; error: string; retryable: boolean };

export interface SendOptions {
  readonly dispatcher?: Dispatcher;
  readonly timeoutMs?: number;
}

async function post(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  o: SendOptions,
): Promise<{ ok: true; status: number; text: string } | { ok: false; error: string }> {
  const timeoutMs = o.timeoutMs ?? SEND_TIMEOUT_MS;
  try {
    const res = await request(url, {
      method: method as Dispatcher.HttpMethod,
      headers,
      ...(body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body } : {}),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
      ...(o.dispatcher ? { dispatcher: o.dispatcher } : {}),
    });
    const text = await res.body.text();
    return { ok: true, status: res.statusCode, text };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function httpFailure(what: string, status: number, text: string): SendResult {
  return {
    ok: false,
    error: `${what}: HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`,
    retryable: status === 429 || status >= 500,
  };
}

async function sendWebhook(s: WebhookService, n: RenderedNotification, o: SendOptions): Promise<SendResult> {
  if (n.webhook === undefined) return { ok: true, skipped: true };
  const path = n.webhook.path;
  const url = path ? `${s.url.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}` : s.url;
  const headers: Record<string, string> = {};
  for (const h of s.headers) headers[h.name] = h.value;
  if (s.basicAuth)
    headers.authorization = `Basic ${Buffer.from(`${s.basicAuth.username}:${s.basicAuth.password}`).toString('base64')}`;
  const res = await post(url, n.webhook.method.toUpperCase(), headers, n.webhook.body, o);
  if (!res.ok) return { ok: false, error: `webhook ${s.name}: ${res.error}`, retryable: true };
  if (res.status < 200 || res.status >= 300) return httpFailure(`webhook ${s.name}`, res.status, res.text);
  return { ok: true };
}

async function sendSlack(
  s: SlackService,
  n: RenderedNotification,
  dest: Destination,
  o: SendOptions,
): Promise<SendResult> {
  const payload: Record<string, unknown> = { text: n.message ?? '' };
  if (n.slack?.attachments !== undefined) payload.attachments = n.slack.attachments;
  if (n.slack?.blocks !== undefined) payload.blocks = n.slack.blocks;
  if (s.username) payload.username = s.username;
  if (s.icon) payload[/^https?:\/\//.test(s.icon) ? 'icon_url' : 'icon_emoji'] = s.icon;
  if (s.token) {
    payload.channel = dest.recipient;
    const res = await post(
      `${s.apiURL}chat.postMessage`,
      'POST',
      { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${s.token}` },
      JSON.stringify(payload),
      o,
    );
    if (!res.ok) return { ok: false, error: `slack ${s.name}: ${res.error}`, retryable: true };
    if (res.status !== 200) return httpFailure(`slack ${s.name}`, res.status, res.text);
    let answer: { ok?: unknown; error?: unknown };
    try {
      answer = JSON.parse(res.text) as { ok?: unknown; error?: unknown };
    } catch {
      return { ok: false, error: `slack ${s.name}: answer is not JSON`, retryable: true };
    }
    if (answer.ok !== true)
      return {
        ok: false,
        error: `slack ${s.name}: ${typeof answer.error === 'string' ? answer.error : 'not ok'}`,
        retryable: answer.error === 'ratelimited' || answer.error === 'internal_error',
      };
    return { ok: true };
  }
  if (dest.recipient) payload.channel = dest.recipient;
  const res = await post(
    s.webhook!,
    'POST',
    { 'content-type': 'application/json' },
    JSON.stringify(payload),
    o,
  );
  if (!res.ok) return { ok: false, error: `slack ${s.name}: ${res.error}`, retryable: true };
  if (res.status < 200 || res.status >= 300) return httpFailure(`slack ${s.name}`, res.status, res.text);
  return { ok: true };
}

export function sendNotification(
  service: ServiceConfig,
  n: RenderedNotification,
  dest: Destination,
  o: SendOptions = {},
): Promise<SendResult> {
  return service.type === 'webhook' ? sendWebhook(service, n, o) : sendSlack(service, n, dest, o);
}

// Argo's notification configuration, parsed once at the edge: the ConfigMap
// `argo-rollouts-notification-configmap` (keys as notifications-engine reads them: `template.<name>`,
// `trigger.<name>`, `service.<type>` / `service.<type>.<name>`, `defaultTriggers`,
// `defaultTriggers.<service>`, `subscriptions`, `context`) and the Secret
// `argo-rollouts-notification-secret`, whose keys service settings reference as `$key` (replaced in every
// string of a service's settings, as the engine does; an unknown `$key` stays as written).
// A key that does not parse is kept as an error for that key (reported when used), never failing the rest.

import { Buffer } from 'node:buffer';
import { parse as parseYaml } from 'yaml';
import { compileExpression, type Program } from '../analysis/expr/index.ts';
import { parseDuration } from '../api/duration.ts';
import { type GoTemplate, parseGoTemplate } from './go-template.ts';

export const NOTIFICATION_CONFIGMAP = 'argo-rollouts-notification-configmap';
export const NOTIFICATION_SECRET = 'argo-rollouts-notification-secret';

/** One templated field and its compiled form (or the parse error, reported when the template is used). */
export interface TemplateField {
  readonly source: string;
  readonly compiled: { ok: true; template: GoTemplate } | { ok: false; error: string };
}

export interface WebhookTemplate {
  readonly method?: TemplateField;
  readonly path?: TemplateField;
  readonly body?: TemplateField;
}

export interface SlackTemplate {
  readonly attachments?: TemplateField;
  readonly blocks?: TemplateField;
  readonly groupingKey?: TemplateField;
  readonly notifyBroadcast?: boolean;
}

export interface NotificationTemplate {
  readonly name: string;
  readonly message?: TemplateField;
  readonly slack?: SlackTemplate;
  /** By webhook service name. */
  readonly webhook: Readonly<Record<string, WebhookTemplate>>;
}

export interface TriggerCondition {
  /** `when`: an expr condition over `rollout`; absent or empty means always (Argo's built-in triggers). */
  readonly when?: string;
  readonly program?: { ok: true; program: Program } | { ok: false; error: string };
  readonly send: readonly string[];
  readonly oncePer?: string;
}

export interface WebhookService {
  readonly type: 'webhook';
  readonly name: string;
  readonly url: string;
  readonly headers: readonly { readonly name: string; readonly value: string }[];
  readonly basicAuth?: { readonly username: string; readonly password: string };
  /** Argo's retryMax / retryWaitMin / retryWaitMax, when the service sets any (else the notifier's policy). */
  readonly retry?: {
    readonly attempts: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
}

export interface SlackService {
  readonly type: 'slack';
  readonly name: string;
  /** chat.postMessage with this bot token. */
  readonly token?: string;
  /** Sluice's addition: an incoming-webhook URL (used when no token is set). */
  readonly webhook?: string;
  /** Base of the Web API (Argo's `apiURL`), default https://slack.com/api/. */
  readonly apiURL: string;
  readonly username?: string;
  readonly icon?: string;
}

export type ServiceConfig = WebhookService | SlackService;

export interface Subscription {
  readonly recipients: readonly string[];
  readonly triggers: readonly string[];
  /** Equality label selector (`a=b,c=d`); empty selects everything. */
  readonly selector: Readonly<Record<string, string>>;
}

export interface NotificationConfig {
  readonly namespace: string;
  readonly templates: ReadonlyMap<string, NotificationTemplate>;
  readonly triggers: ReadonlyMap<string, readonly TriggerCondition[]>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly defaultTriggers: readonly string[];
  readonly serviceDefaultTriggers: Readonly<Record<string, readonly string[]>>;
  readonly subscriptions: readonly Subscription[];
  readonly context: Readonly<Record<string, string>>;
  /** Keys that did not parse, with the reason (`trigger.x: ...`). */
  readonly errors: readonly string[];
}

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

function field(name: string, v: unknown): TemplateField | undefined {
  if (v === undefined || v === null) return undefined;
  const source = typeof v === 'string' ? v : JSON.stringify(v);
  return { source, compiled: parseGoTemplate(name, source) };
}

function asRecord(v: unknown, what: string): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what}: expected a map`);
  return v as Record<string, unknown>;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new Error(`${what}: expected a list of strings`);
  return v as string[];
}

export function parseTemplate(name: string, yaml: string): NotificationTemplate {
  const doc = asRecord(parseYaml(yaml), `template.${name}`);
  const slackRaw = doc.slack === undefined ? undefined : asRecord(doc.slack, `template.${name}.slack`);
  // Null-prototype maps: keys come from YAML (a `__proto__` key stays a key).
  const webhook: Record<string, WebhookTemplate> = Object.create(null);
  for (const [svc, raw] of Object.entries(asRecord(doc.webhook, `template.${name}.webhook`))) {
    const w = asRecord(raw, `template.${name}.webhook.${svc}`);
    webhook[svc] = {
      ...(w.method !== undefined ? { method: field(name, w.method)! } : {}),
      ...(w.path !== undefined ? { path: field(name, w.path)! } : {}),
      ...(w.body !== undefined ? { body: field(name, w.body)! } : {}),
    };
  }
  const message = field(name, doc.message);
  return {
    name,
    ...(message ? { message } : {}),
    ...(slackRaw
      ? {
          slack: {
            ...(slackRaw.attachments !== undefined
              ? { attachments: field(name, slackRaw.attachments)! }
              : {}),
            ...(slackRaw.blocks !== undefined ? { blocks: field(name, slackRaw.blocks)! } : {}),
            ...(slackRaw.groupingKey !== undefined
              ? { groupingKey: field(name, slackRaw.groupingKey)! }
              : {}),
            ...(slackRaw.notifyBroadcast === true ? { notifyBroadcast: true } : {}),
          },
        }
      : {}),
    webhook,
  };
}

export function parseTrigger(name: string, yaml: string): TriggerCondition[] {
  const doc = parseYaml(yaml);
  if (!Array.isArray(doc)) throw new Error(`trigger.${name}: expected a list of conditions`);
  return doc.map((raw, i) => {
    const c = asRecord(raw, `trigger.${name}[${i}]`);
    const when = typeof c.when === 'string' && c.when.trim() !== '' ? c.when : undefined;
    const compiled = when === undefined ? undefined : compileExpression(when);
    return {
      ...(when !== undefined ? { when } : {}),
      ...(compiled !== undefined
        ? {
            program: compiled.ok
              ? { ok: true as const, program: compiled.program }
              : { ok: false as const, error: compiled.error.message },
          }
        : {}),
      send: stringList(c.send, `trigger.${name}[${i}].send`),
      ...(typeof c.oncePer === 'string' && c.oncePer ? { oncePer: c.oncePer } : {}),
    };
  });
}

const SECRET_REF = /\$[A-Za-z0-9_.-]+/g;

/** Replaces `$key` references with the Secret's values (unknown keys stay as written). */
export function replaceSecrets(value: string, secrets: Readonly<Record<string, string>>): string {
  return value.replace(SECRET_REF, (ref) =>
    Object.hasOwn(secrets, ref.slice(1)) ? secrets[ref.slice(1)]! : ref,
  );
}

function deepReplace(v: unknown, secrets: Readonly<Record<string, string>>): unknown {
  if (typeof v === 'string') return replaceSecrets(v, secrets);
  if (Array.isArray(v)) return v.map((x) => deepReplace(x, secrets));
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepReplace(x, secrets)]));
  return v;
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${what}: expected a string`);
  return v;
}

export function parseService(
  type: string,
  name: string,
  yaml: string,
  secrets: Readonly<Record<string, string>>,
): ServiceConfig {
  const what = `service.${type}${name !== type ? `.${name}` : ''}`;
  const doc = asRecord(deepReplace(parseYaml(yaml), secrets), what);
  if (type === 'webhook') {
    const url = str(doc.url, `${what}.url`);
    if (!url) throw new Error(`${what}.url: required`);
    const headers = (Array.isArray(doc.headers) ? doc.headers : []).map((h: unknown, i: number) => {
      const r = asRecord(h, `${what}.headers[${i}]`);
      return {
        name: str(r.name, `${what}.headers[${i}].name`) ?? '',
        value: str(r.value, `${what}.headers[${i}].value`) ?? '',
      };
    });
    const ba = doc.basicAuth === undefined ? undefined : asRecord(doc.basicAuth, `${what}.basicAuth`);
    const retry = webhookRetry(doc, what);
    return {
      type: 'webhook',
      ...(retry ? { retry } : {}),
      name,
      url,
      headers,
      ...(ba
        ? {
            basicAuth: {
              username: str(ba.username, `${what}.basicAuth.username`) ?? '',
              password: str(ba.password, `${what}.basicAuth.password`) ?? '',
            },
          }
        : {}),
    };
  }
  if (type === 'slack') {
    const token = str(doc.token, `${what}.token`);
    const webhook = str(doc.webhook, `${what}.webhook`);
    if (!token && !webhook) throw new Error(`${what}: token or webhook required`);
    let apiURL = str(doc.apiURL, `${what}.apiURL`) ?? DEFAULT_SLACK_API_URL;
    if (!apiURL.endsWith('/')) apiURL += '/';
    const username = str(doc.username, `${what}.username`);
    const icon = str(doc.icon, `${what}.icon`);
    return {
      type: 'slack',
      name,
      apiURL,
      ...(token ? { token } : {}),
      ...(webhook ? { webhook } : {}),
      ...(username ? { username } : {}),
      ...(icon ? { icon } : {}),
    };
  }
  throw new Error(`${what}: service type "${type}" is not supported (webhook and slack are)`);
}

/** Argo's webhook retry settings: retryMax (default 3), retryWaitMin (1s), retryWaitMax (5s). */
function webhookRetry(doc: Record<string, unknown>, what: string): WebhookService['retry'] {
  if (doc.retryMax === undefined && doc.retryWaitMin === undefined && doc.retryWaitMax === undefined)
    return undefined;
  const duration = (v: unknown, field: string, fallbackMs: number): number => {
    if (v === undefined || v === null) return fallbackMs;
    const d = parseDuration(String(v));
    if (!d.ok || d.ms < 0) throw new Error(`${what}.${field}: ${d.ok ? 'must not be negative' : d.error}`);
    return d.ms;
  };
  const max = doc.retryMax === undefined ? 3 : Number(doc.retryMax);
  if (!Number.isInteger(max) || max < 0) throw new Error(`${what}.retryMax: must be a non-negative integer`);
  const initialDelayMs = duration(doc.retryWaitMin, 'retryWaitMin', 1_000);
  return {
    attempts: max + 1,
    initialDelayMs,
    maxDelayMs: Math.max(initialDelayMs, duration(doc.retryWaitMax, 'retryWaitMax', 5_000)),
  };
}

function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const part of s.split(',')) {
    const p = part.trim();
    if (!p) continue;
    const m = /^([^=!\s]+)\s*==?\s*(.*)$/.exec(p);
    if (!m) throw new Error(`subscriptions: selector "${s}": only equality selectors (a=b) are supported`);
    out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** Secret data (base64) or stringData as plain strings. */
export function secretValues(
  secret: { data?: Record<string, string>; stringData?: Record<string, string> } | undefined,
): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(secret?.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret?.stringData ?? {})) out[k] = v;
  return out;
}

/** Parses the ConfigMap's data with the Secret's values; bad keys become `errors`, the rest still works. */
export function parseNotificationConfig(
  namespace: string,
  data: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, string>>,
): NotificationConfig {
  const templates = new Map<string, NotificationTemplate>();
  const triggers = new Map<string, TriggerCondition[]>();
  const services = new Map<string, ServiceConfig>();
  const serviceDefaultTriggers: Record<string, string[]> = Object.create(null);
  let defaultTriggers: string[] = [];
  let subscriptions: Subscription[] = [];
  let context: Record<string, string> = {};
  const errors: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    try {
      if (key.startsWith('template.')) {
        const name = key.slice('template.'.length);
        templates.set(name, parseTemplate(name, value));
      } else if (key.startsWith('trigger.')) {
        const name = key.slice('trigger.'.length);
        triggers.set(name, parseTrigger(name, value));
      } else if (key.startsWith('service.')) {
        const rest = key.slice('service.'.length);
        const dot = rest.indexOf('.');
        const type = dot < 0 ? rest : rest.slice(0, dot);
        const name = dot < 0 ? rest : rest.slice(dot + 1);
        services.set(name, parseService(type, name, value, secrets));
      } else if (key === 'defaultTriggers') {
        defaultTriggers = stringList(parseYaml(value), key);
      } else if (key.startsWith('defaultTriggers.')) {
        serviceDefaultTriggers[key.slice('defaultTriggers.'.length)] = stringList(parseYaml(value), key);
      } else if (key === 'subscriptions') {
        const doc = parseYaml(value);
        if (!Array.isArray(doc)) throw new Error('subscriptions: expected a list');
        subscriptions = doc.map((raw, i) => {
          const s = asRecord(raw, `subscriptions[${i}]`);
          return {
            recipients: stringList(s.recipients, `subscriptions[${i}].recipients`),
            triggers: stringList(s.triggers, `subscriptions[${i}].triggers`),
            selector: parseSelector(typeof s.selector === 'string' ? s.selector : ''),
          };
        });
      } else if (key === 'context') {
        context = Object.fromEntries(
          Object.entries(asRecord(parseYaml(value), key)).map(([k, v]) => [k, String(v)]),
        );
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      errors.push(msg.startsWith(key) ? msg : `${key}: ${msg}`);
    }
  }
  return {
    namespace,
    templates,
    triggers,
    services,
    defaultTriggers,
    serviceDefaultTriggers,
    subscriptions,
    context,
    errors,
  };
}

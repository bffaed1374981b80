// Who is subscribed to what, as notifications-engine reads it: the Rollout's annotations
// `notifications.argoproj.io/subscribe.<trigger>.<service>: <recipients>` (recipients separated by `;`,
// or `,`; an empty value is one destination with no recipient, which is how webhooks are subscribed) and
// `notifications.argoproj.io/subscribe.<service>: <recipients>` (the service's default triggers, else
// `defaultTriggers`), merged with the ConfigMap's `subscriptions` whose selector matches the labels
// (`recipients: [<service>:<recipient>]`, `triggers` or the default triggers). The engine's list form is
// read too: `notifications.argoproj.io/subscriptions: [{trigger: [...], destinations: [{service,
// recipients: [...]}]}]` (YAML; no trigger means the service's default triggers). An annotation that does not
// parse subscribes nothing.

import { parse as parseYaml } from 'yaml';
import type { NotificationConfig } from './config.ts';

export const SUBSCRIBE_PREFIX = 'notifications.argoproj.io/subscribe.';
export const SUBSCRIPTIONS_ANNOTATION = 'notifications.argoproj.io/subscriptions';

export interface Destination {
  readonly service: string;
  readonly recipient: string;
}

/** Destinations per trigger name, without duplicates. */
export type DestinationsByTrigger = ReadonlyMap<string, readonly Destination[]>;

export function parseRecipients(value: string): string[] {
  const out = value
    .split(/[;,\n]/)
    .map((r) => r.trim())
    .filter((r) => r !== '');
  return out.length > 0 ? out : [''];
}

function add(map: Map<string, Destination[]>, trigger: string, d: Destination): void {
  const list = map.get(trigger) ?? [];
  if (!list.some((x) => x.service === d.service && x.recipient === d.recipient)) list.push(d);
  map.set(trigger, list);
}

/** The destinations of one object (its labels and annotations) under one configuration. */
export function destinationsFor(
  config: Pick<NotificationConfig, 'defaultTriggers' | 'serviceDefaultTriggers' | 'subscriptions'>,
  labels: Readonly<Record<string, string>>,
  annotations: Readonly<Record<string, string>>,
): DestinationsByTrigger {
  const out = new Map<string, Destination[]>();
  const defaults = (service: string): readonly string[] =>
    config.serviceDefaultTriggers[service] ?? config.defaultTriggers;
  for (const s of config.subscriptions) {
    if (!Object.entries(s.selector).every(([k, v]) => labels[k] === v)) continue;
    for (const r of s.recipients) {
      const colon = r.indexOf(':');
      const service = colon < 0 ? r : r.slice(0, colon);
      const recipient = colon < 0 ? '' : r.slice(colon + 1);
      for (const t of s.triggers.length > 0 ? s.triggers : defaults(service))
        add(out, t, { service, recipient });
    }
  }
  const list = annotations[SUBSCRIPTIONS_ANNOTATION];
  if (list !== undefined) {
    for (const sub of parseSubscriptionList(list)) {
      for (const d of sub.destinations) {
        const triggers = sub.triggers.length > 0 ? sub.triggers : defaults(d.service);
        for (const recipient of d.recipients.length > 0 ? d.recipients : [''])
          for (const t of triggers) add(out, t, { service: d.service, recipient });
      }
    }
  }
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(SUBSCRIBE_PREFIX)) continue;
    const parts = key.slice(SUBSCRIBE_PREFIX.length).split('.');
    if (parts.length > 2 || parts.some((p) => p === '')) continue;
    const service = parts.length === 2 ? parts[1]! : parts[0]!;
    const triggers = parts.length === 2 ? [parts[0]!] : defaults(service);
    for (const recipient of parseRecipients(value))
      for (const t of triggers) add(out, t, { service, recipient });
  }
  return out;
}

interface ListedSubscription {
  readonly triggers: readonly string[];
  readonly destinations: readonly { readonly service: string; readonly recipients: readonly string[] }[];
}

const strings = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.filter((x): x is string => typeof x === 'string' && x !== '')
    : typeof v === 'string' && v
      ? [v]
      : [];

/** The `notifications.argoproj.io/subscriptions` annotation; [] when it does not parse. */
export function parseSubscriptionList(value: string): ListedSubscription[] {
  let doc: unknown;
  try {
    doc = parseYaml(value);
  } catch {
    return [];
  }
  if (!Array.isArray(doc)) return [];
  return doc.flatMap((raw: unknown) => {
    if (raw === null || typeof raw !== 'object') return [];
    const r = raw as { trigger?: unknown; destinations?: unknown };
    const destinations = (Array.isArray(r.destinations) ? r.destinations : []).flatMap((d: unknown) => {
      if (d === null || typeof d !== 'object') return [];
      const dd = d as { service?: unknown; recipients?: unknown };
      return typeof dd.service === 'string' && dd.service
        ? [{ service: dd.service, recipients: strings(dd.recipients) }]
        : [];
    });
    return [{ triggers: strings(r.trigger), destinations }];
  });
}

/**
 * Argo Rollouts' translateReasonToTrigger: an Event reason in UpperCamelCase becomes `on-` + kebab-case
 * (`RolloutAborted` -> `on-rollout-aborted`, `ScalingReplicaSet` -> `on-scaling-replica-set`).
 */
export function triggerForReason(reason: string): string {
  const kebab = reason.replace(/(.)([A-Z][a-z]+)/g, '$1-$2').replace(/([a-z0-9])([A-Z])/g, '$1-$2');
  return `on-${kebab.toLowerCase()}`;
}

// Who is subscribed to what, as notifications-engine reads it: the Rollout's annotations
// `notifications.argoproj.io/subscribe.<trigger>.<service>: <recipients>` (recipients separated by `;`,
// or `,`; an empty value is one destination with no recipient, which is how webhooks are subscribed) and
// `notifications.argoproj.io/subscribe.<service>: <recipients>` (the service's default triggers, else
// `defaultTriggers`), merged with the ConfigMap's `subscriptions` whose selector matches the labels
// (`recipients: [<service>:<recipient>]`, `triggers` or the default triggers).

import type { NotificationConfig } from './config.ts';

export const SUBSCRIBE_PREFIX = 'notifications.argoproj.io/subscribe.';

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

/**
 * Argo Rollouts' translateReasonToTrigger: an Event reason in UpperCamelCase becomes `on-` + kebab-case
 * (`RolloutAborted` -> `on-rollout-aborted`, `ScalingReplicaSet` -> `on-scaling-replica-set`).
 */
export function triggerForReason(reason: string): string {
  const kebab = reason.replace(/(.)([A-Z][a-z]+)/g, '$1-$2').replace(/([a-z0-9])([A-Z])/g, '$1-$2');
  return `on-${kebab.toLowerCase()}`;
}

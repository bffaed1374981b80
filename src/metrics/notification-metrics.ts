// Argo Rollouts' notification counters (controller/metrics/prommetrics.go): notification_send_success and
// notification_send_error, labelled namespace, name (the Rollout), type and reason (of the Event that
// fired the trigger). Sluice counts every attempt: a send retried twice before it succeeds counts two
// errors and one success.

import { counter, type Registry } from './registry.ts';

export interface NotificationMetrics {
  sent(labels: Readonly<Record<'namespace' | 'name' | 'type' | 'reason', string>>): void;
  failed(labels: Readonly<Record<'namespace' | 'name' | 'type' | 'reason', string>>): void;
}

const LABELS = ['namespace', 'name', 'type', 'reason'] as const;

export function createNotificationMetrics(registry: Registry): NotificationMetrics {
  const success = counter(registry, 'notification_send_success', 'Notification sent successfully', LABELS);
  const error = counter(registry, 'notification_send_error', 'Error sending notification', LABELS);
  return {
    sent: (l) => success.inc({ ...l }),
    failed: (l) => error.inc({ ...l }),
  };
}

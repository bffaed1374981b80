// Argo Rollouts' notification metrics (controller/metrics/prommetrics.go): the counters
// notification_send_success and notification_send_error, labelled namespace, name (the Rollout), type and
// reason (of the Event that fired the trigger), and the histogram notification_send_performance (seconds
// per send, labelled namespace and name, Argo's buckets). Sluice counts every attempt: a send retried twice
// before it succeeds counts two errors and one success.

import { counter, histogram, type Registry } from './registry.ts';

export interface NotificationMetrics {
  sent(labels: Readonly<Record<'namespace' | 'name' | 'type' | 'reason', string>>): void;
  failed(labels: Readonly<Record<'namespace' | 'name' | 'type' | 'reason', string>>): void;
  sendDuration(labels: Readonly<Record<'namespace' | 'name', string>>, seconds: number): void;
}

/** Argo's buckets for notification_send_performance. */
export const NOTIFICATION_SEND_BUCKETS_S = [0.01, 0.15, 0.25, 0.5, 1];

const LABELS = ['namespace', 'name', 'type', 'reason'] as const;

export function createNotificationMetrics(registry: Registry): NotificationMetrics {
  const success = counter(registry, 'notification_send_success', 'Notification sent successfully', LABELS);
  const error = counter(registry, 'notification_send_error', 'Error sending notification', LABELS);
  const performance = histogram(
    registry,
    'notification_send_performance',
    'Notification send performance.',
    ['namespace', 'name'],
    NOTIFICATION_SEND_BUCKETS_S,
  );
  return {
    sent: (l) => success.inc({ ...l }),
    failed: (l) => error.inc({ ...l }),
    sendDuration: (l, seconds) => performance.observe({ namespace: l.namespace, name: l.name }, seconds),
  };
}

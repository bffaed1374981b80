// The control server's Prometheus metrics (sluice_control_*), registered on the controller's registry.
// The returned object has the shape of src/control/server.ts's ControlServerMetrics (metrics/ may not
// import control/; the lifecycle passes one to the other, and the type checker matches them there).

import type { Histogram } from 'prom-client';
import { collectedGauge, histogram, type Registry, Tally } from './registry.ts';

/** Send -> ACK, seconds: a push within a millisecond or two on a LAN, seconds when a proxy is struggling. */
export const ACK_LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface ControlMetrics {
  readonly ackLatency: Histogram;
  readonly snapshotsSent: Tally;
  readonly acks: Tally;
  readonly nacks: Tally;
  readonly unauthenticatedStreams: Tally;
  readonly unknownRouteSubscriptions: Tally;
  readonly reportsIngested: Tally;
  readonly reportsRejected: Tally;
  connectedProxies(count: number): void;
  snapshotVersion(version: number): void;
  snapshotSent(): void;
  ack(latencySeconds: number | undefined): void;
  nack(): void;
  unauthenticated(): void;
  unknownRouteSubscription(): void;
  reportIngested(result: string): void;
  reportRejected(reason: string): void;
}

export function createControlMetrics(registry: Registry): ControlMetrics {
  let connected = 0;
  let version = 0;
  collectedGauge(
    registry,
    'sluice_control_connected_proxies',
    'Proxies subscribed to this controller now.',
    [],
    () => [{ labels: {}, value: connected }],
  );
  collectedGauge(
    registry,
    'sluice_control_snapshot_version',
    'Version of the route table the proxies are sent snapshots of.',
    [],
    () => [{ labels: {}, value: version }],
  );
  const snapshotsSent = new Tally(
    registry,
    'sluice_control_snapshots_sent_total',
    'Route snapshots written to proxy streams.',
    [],
  );
  const ackLatency = histogram(
    registry,
    'sluice_control_ack_latency_seconds',
    'Time from writing a snapshot to a proxy until its ACK.',
    [],
    ACK_LATENCY_BUCKETS_S,
  );
  const acks = new Tally(registry, 'sluice_control_acks_total', 'Snapshots ACKed by proxies.', []);
  const nacks = new Tally(
    registry,
    'sluice_control_nacks_total',
    'Snapshots rejected (NACKed) by proxies.',
    [],
  );
  const unauthenticatedStreams = new Tally(
    registry,
    'sluice_control_unauthenticated_total',
    'Control streams refused for a missing or wrong bearer token.',
    [],
  );
  const unknownRouteSubscriptions = new Tally(
    registry,
    'sluice_control_unknown_route_subscriptions_total',
    'Control streams refused because they subscribe to a route no Rollout declares.',
    [],
  );
  const reportsIngested = new Tally(
    registry,
    'sluice_control_reports_ingested_total',
    'Histogram reports received from proxies and accepted, by result (stored, duplicate, stale).',
    ['result'],
  );
  const reportsRejected = new Tally(
    registry,
    'sluice_control_reports_rejected_total',
    'Histogram reports rejected (their stream is closed), by reason.',
    ['reason'],
  );
  return {
    ackLatency,
    snapshotsSent,
    acks,
    nacks,
    unauthenticatedStreams,
    unknownRouteSubscriptions,
    reportsIngested,
    reportsRejected,
    connectedProxies: (count) => {
      connected = count;
    },
    snapshotVersion: (v) => {
      version = v;
    },
    snapshotSent: () => snapshotsSent.inc({}),
    ack: (latencySeconds) => {
      acks.inc({});
      if (latencySeconds !== undefined) ackLatency.observe(latencySeconds);
    },
    nack: () => nacks.inc({}),
    unauthenticated: () => unauthenticatedStreams.inc({}),
    unknownRouteSubscription: () => unknownRouteSubscriptions.inc({}),
    reportIngested: (result) => reportsIngested.inc({ result }),
    reportRejected: (reason) => reportsRejected.inc({ reason }),
  };
}

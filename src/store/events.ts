// The one builder of core/v1 Events, shared by both stores (the Kubernetes store's EventRecorder and the
// in-memory store), so the fast test double writes the same Event the cluster gets: named
// `<object>.<hex nanoseconds>` as client-go names them, the involved object's reference, the message cut
// to MAX_EVENT_MESSAGE_LENGTH characters, second-precision timestamps, count 1, the reporting component.
// Aggregation of repeats uses eventAggregateKey; how repeats are written (and the spam filter that the
// Kubernetes store adds in front of the API server) is each store's business.

import type { KubeObject } from '../api/meta.ts';

/** source.component of the controller's Events (Argo's is `rollouts-controller`). */
export const DEFAULT_EVENT_COMPONENT = 'sluice-controller';

/** Longest Event message written; longer ones end in "..." (client-go's cap). */
export const MAX_EVENT_MESSAGE_LENGTH = 1024;
const ELLIPSIS = '...';

export type EventType = 'Normal' | 'Warning';

/** core/v1 Event as the stores write it. */
export interface CoreEvent extends KubeObject {
  involvedObject: {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  reason: string;
  message: string;
  type: EventType;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
}

export interface EventSource {
  /** source.component and reportingComponent (`sluice-controller`). */
  readonly component: string;
  /** source.host and reportingInstance, when known. */
  readonly host?: string;
}

/** metav1.Time as the API server serialises it: RFC 3339 with second precision. */
export function toMetaTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

export function truncateEventMessage(message: string): string {
  return message.length > MAX_EVENT_MESSAGE_LENGTH
    ? `${message.slice(0, MAX_EVENT_MESSAGE_LENGTH - ELLIPSIS.length)}${ELLIPSIS}`
    : message;
}

/** Events about cluster-scoped objects live in `default`, as client-go puts them. */
export function eventNamespace(obj: KubeObject): string {
  return obj.metadata.namespace || 'default';
}

/**
 * Identity of an Event for aggregation (client-go's EventAggregator key, without source): repeats of the
 * same object, type, reason and message raise one Event's count.
 */
export function eventAggregateKey(obj: KubeObject, type: EventType, reason: string, message: string): string {
  return `${obj.kind}/${eventNamespace(obj)}/${obj.metadata.name}/${obj.metadata.uid ?? ''}/${type}/${reason}/${message}`;
}

/**
 * `<object name>.<hex>` where hex is the time in nanoseconds (client-go: `%v.%x` of UnixNano); nonce
 * (0..999999) fills the sub-millisecond digits so that events of one millisecond get distinct names.
 */
export function eventName(objectName: string, nowMs: number, nonce: number): string {
  return `${objectName}.${(BigInt(nowMs) * 1_000_000n + BigInt(nonce % 1_000_000)).toString(16)}`;
}

export interface BuildEventOptions {
  readonly name: string;
  /** firstTimestamp and lastTimestamp (toMetaTime of when the event was recorded). */
  readonly timestamp: string;
  readonly source: EventSource;
}

/** A new Event (count 1) about `obj`. */
export function buildEvent(
  obj: KubeObject,
  type: EventType,
  reason: string,
  message: string,
  options: BuildEventOptions,
): CoreEvent {
  const namespace = eventNamespace(obj);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: options.name, namespace },
    involvedObject: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name,
      namespace,
      ...(obj.metadata.uid !== undefined ? { uid: obj.metadata.uid } : {}),
      ...(obj.metadata.resourceVersion !== undefined
        ? { resourceVersion: obj.metadata.resourceVersion }
        : {}),
    },
    reason,
    message: truncateEventMessage(message),
    type,
    count: 1,
    firstTimestamp: options.timestamp,
    lastTimestamp: options.timestamp,
    source: {
      component: options.source.component,
      ...(options.source.host ? { host: options.source.host } : {}),
    },
    reportingComponent: options.source.component,
    reportingInstance: options.source.host ?? '',
  };
}

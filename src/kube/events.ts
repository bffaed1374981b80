// Kubernetes Events (core/v1) as client-go's EventRecorder writes them (the Event itself is built by
// store/events.ts, shared with the in-memory store): identical events (same object,
// type, reason, message) within the cache are aggregated into one Event whose count and lastTimestamp are
// patched; a per-object token bucket (burst 25, one token per 5 minutes: EventSourceObjectSpamFilter)
// drops floods. Writing is asynchronous and best effort: failures are logged, never thrown. At most
// MAX_QUEUED_EVENTS wait to be written (client-go's broadcaster queue, DropIfChannelFull): the API client
// sends events only when no reconcile request is waiting, so after a burst they queue here, bounded.

import { randomBytes } from 'node:crypto';
import { errorText } from '../api/errors.ts';
import type { KubeObject } from '../api/meta.ts';
import {
  buildEvent,
  type CoreEvent,
  type EventType,
  eventAggregateKey,
  eventName,
  eventNamespace,
  toMetaTime,
} from '../store/events.ts';
import { collectionPath, objectPath } from '../store/resources.ts';
import type { KubeClient } from './client.ts';

export const EVENT_SPAM_BURST = 25;
export const EVENT_SPAM_REFILL_MS = 300_000;
const MAX_CACHED = 4096;
export const MAX_QUEUED_EVENTS = 1000;

export type { EventType } from '../store/events.ts';

export interface EventSink {
  create(namespace: string, event: CoreEvent): Promise<{ ok: boolean; status: number }>;
  patchCount(
    namespace: string,
    name: string,
    count: number,
    lastTimestamp: string,
  ): Promise<{ ok: boolean; status: number }>;
}

export interface EventRecorderOptions {
  readonly component: string;
  readonly host?: string;
  readonly now?: () => number;
  readonly onError?: (message: string) => void;
  /** Called for every event accepted (for rollout_events_total). */
  readonly onEvent?: (obj: KubeObject, type: EventType, reason: string) => void;
  /** Called for an event dropped because MAX_QUEUED_EVENTS are already waiting. */
  readonly onDropped?: (obj: KubeObject, reason: string) => void;
  readonly maxQueued?: number;
}

interface Aggregate {
  name: string;
  count: number;
  firstTimestamp: string;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class EventRecorder {
  readonly #sink: EventSink;
  readonly #options: EventRecorderOptions;
  readonly #now: () => number;
  readonly #aggregates = new Map<string, Aggregate>();
  readonly #buckets = new Map<string, Bucket>();
  /** Serialises writes per aggregate key so counts never go backwards. */
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;

  constructor(sink: EventSink, options: EventRecorderOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  record(obj: KubeObject, type: EventType, reason: string, message: string): void {
    const namespace = eventNamespace(obj);
    const objectKey = `${obj.kind}/${namespace}/${obj.metadata.name}/${obj.metadata.uid ?? ''}`;
    if (!this.#take(objectKey)) return;
    if (this.#queued >= (this.#options.maxQueued ?? MAX_QUEUED_EVENTS)) {
      this.#options.onDropped?.(obj, reason);
      return;
    }
    this.#options.onEvent?.(obj, type, reason);
    const key = eventAggregateKey(obj, type, reason, message);
    const nowTs = toMetaTime(this.#now());
    this.#queued += 1;
    this.#chain = this.#chain
      .then(() => this.#write(obj, namespace, key, type, reason, message, nowTs))
      .finally(() => {
        this.#queued -= 1;
      });
  }

  /** Events accepted and not yet written. */
  get queued(): number {
    return this.#queued;
  }

  /** Resolves when every event recorded so far has been written (or failed). */
  flush(): Promise<void> {
    return this.#chain;
  }

  #take(objectKey: string): boolean {
    const nowMs = this.#now();
    let bucket = this.#buckets.get(objectKey);
    if (bucket === undefined) {
      if (this.#buckets.size >= MAX_CACHED) this.#buckets.delete(this.#buckets.keys().next().value!);
      bucket = { tokens: EVENT_SPAM_BURST, lastMs: nowMs };
      this.#buckets.set(objectKey, bucket);
    }
    bucket.tokens = Math.min(
      EVENT_SPAM_BURST,
      bucket.tokens + (nowMs - bucket.lastMs) / EVENT_SPAM_REFILL_MS,
    );
    bucket.lastMs = nowMs;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  async #write(
    obj: KubeObject,
    namespace: string,
    key: string,
    type: EventType,
    reason: string,
    message: string,
    nowTs: string,
  ): Promise<void> {
    try {
      const existing = this.#aggregates.get(key);
      if (existing !== undefined) {
        const res = await this.#sink.patchCount(namespace, existing.name, existing.count + 1, nowTs);
        if (res.ok) {
          existing.count += 1;
          return;
        }
        this.#aggregates.delete(key);
        if (res.status !== 404) {
          this.#options.onError?.(`patch event ${existing.name}: HTTP ${res.status}`);
          return;
        }
      }
      const name = eventName(obj.metadata.name, this.#now(), randomBytes(2).readUInt16BE());
      const event = buildEvent(obj, type, reason, message, {
        name,
        timestamp: nowTs,
        source: {
          component: this.#options.component,
          ...(this.#options.host ? { host: this.#options.host } : {}),
        },
      });
      const res = await this.#sink.create(namespace, event);
      if (!res.ok) {
        this.#options.onError?.(
          `create event ${reason} for ${obj.kind} ${namespace}/${obj.metadata.name}: HTTP ${res.status}`,
        );
        return;
      }
      if (this.#aggregates.size >= MAX_CACHED) this.#aggregates.delete(this.#aggregates.keys().next().value!);
      this.#aggregates.set(key, { name, count: 1, firstTimestamp: nowTs });
    } catch (error) {
      this.#options.onError?.(`event ${reason}: ${errorText(error)}`);
    }
  }
}

/** The EventSink that writes to the API server. */
export function kubeEventSink(client: KubeClient): EventSink {
  return {
    async create(namespace, event) {
      const res = await client.request('POST', collectionPath('Event', namespace), {
        body: event,
        lane: 'low',
        record: {
          verb: 'Create',
          resource: 'events',
          namespace,
          name: event.metadata.name,
        },
      });
      return { ok: res.status === 201 || res.status === 200, status: res.status };
    },
    async patchCount(namespace, name, count, lastTimestamp) {
      const res = await client.request('PATCH', objectPath('Event', namespace, name), {
        body: { count, lastTimestamp },
        contentType: 'application/merge-patch+json',
        lane: 'low',
        record: { verb: 'Patch', resource: 'events', namespace, name },
      });
      return { ok: res.status === 200, status: res.status };
    },
  };
}

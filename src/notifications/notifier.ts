// The notification controller: Argo Rollouts sends notifications on its Kubernetes Events (utils/record:
// the Event reason `RolloutAborted` fires the trigger `on-rollout-aborted` for the Rollout's subscribers),
// and so does Sluice: `withNotifications` wraps the ObjectStore so every Event recorded about a Rollout is
// also handed to the Notifier, which never blocks the reconcile: it queues the event and works it off
// asynchronously (config read, trigger conditions, templates, delivery with retries), the Events of one
// Rollout in the order they were recorded, its destinations in parallel.
//
// Once per subscription: each delivery has a key `<trigger>:<event fingerprint>:<service>:<recipient>`
// recorded after a successful send in the Rollout's annotation `notified.notifications.argoproj.io` (a JSON
// map key -> unix seconds, notifications-engine's annotation), and a delivery whose key is already there is
// skipped, so a restarted controller, or a new leader, that records the same Event again does not resend.
// The fingerprint (eventFingerprint) is the Event's reason and message with the Rollout state it is about.
//
// Failures: a send that fails is retried with exponential backoff (DEFAULT_RETRY) and every attempt is
// counted (notification_send_success / notification_send_error, labels namespace, name, type, reason as
// Argo's); a template that does not parse or render is a Warning Event `NotificationTemplateError` on the
// Rollout and does not stop the other templates and destinations.

import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { evaluateProgram } from '../analysis/expr/index.ts';
import type { KubeObject } from '../api/meta.ts';
import { abortableSleep } from '../api/sleep.ts';
import type { ObjectStore } from '../store/object-store.ts';
import { BUILTIN_CONFIG_DATA } from './builtins.ts';
import {
  NOTIFICATION_CONFIGMAP,
  NOTIFICATION_SECRET,
  type NotificationConfig,
  parseNotificationConfig,
  secretValues,
} from './config.ts';
import { renderNotification } from './render.ts';
import { sendNotification } from './services.ts';
import { type Destination, destinationsFor, triggerForReason } from './subscriptions.ts';

export const NOTIFIED_ANNOTATION = 'notified.notifications.argoproj.io';
export const TEMPLATE_ERROR_REASON = 'NotificationTemplateError';
/** Keys kept in the notified annotation (the newest). */
export const MAX_NOTIFIED_KEYS = 100;
export const MAX_QUEUED_EVENTS = 1_000;
/** Delivery keys remembered in memory (besides the annotations). */
export const MAX_CLAIMED_KEYS = 10_000;
/** How long a namespace's parsed ConfigMap and Secret are reused before they are read again. */
export const CONFIG_TTL_MS = 5_000;

export interface RetryPolicy {
  /** Attempts in all (the first included). */
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 1_000, maxDelayMs: 30_000 };

export interface NotificationLabels {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly reason: string;
}

export interface NotifierMetrics {
  sent(labels: NotificationLabels): void;
  failed(labels: NotificationLabels): void;
  /** Seconds one send (one attempt) took. */
  sendDuration?(labels: NotificationLabels, seconds: number): void;
}

export interface NotifierLog {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  debug(fields: object, msg: string): void;
}

export interface NotifierOptions {
  /** The store the config is read from, the annotation written to and template errors recorded on. */
  readonly store: ObjectStore;
  /** Where `argo-rollouts-notification-configmap` and its Secret are read (the controller's namespace). */
  readonly namespace: string;
  /** Argo's --self-service-notification-enabled: the Rollout's namespace's ConfigMap and Secret too. */
  readonly selfService?: boolean;
  readonly log?: NotifierLog;
  readonly metrics?: NotifierMetrics;
  readonly retry?: RetryPolicy;
  readonly now?: () => number;
  /** HTTP dispatcher for the services (tests). */
  readonly dispatcher?: Dispatcher;
  readonly sendTimeoutMs?: number;
  /** CONFIG_TTL_MS unless given (0: read on every Event). */
  readonly configTtlMs?: number;
}

interface QueuedEvent {
  readonly rollout: KubeObject;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

const SILENT: NotifierLog = { info() {}, warn() {}, debug() {} };

interface FingerprintedStatus {
  readonly currentStepIndex?: number;
  readonly abortedAt?: string;
  readonly pauseConditions?: readonly { readonly reason?: string; readonly startTime?: string }[];
  readonly conditions?: readonly {
    readonly type?: string;
    readonly status?: string;
    readonly reason?: string;
    readonly lastTransitionTime?: string;
  }[];
}

/**
 * A short hash of the Event and of the Rollout state it is about: the revision, the step, when it was
 * aborted, its pause conditions and its conditions' transitions. The same Event recorded again for the same
 * state (a restarted controller, a second replica) has the same fingerprint; the same message after the
 * Rollout moved on (paused at step 1 again after a retry, aborted again) has a new one.
 */
export function eventFingerprint(rollout: KubeObject, reason: string, message: string): string {
  const status = (rollout as KubeObject & { status?: FingerprintedStatus }).status ?? {};
  const parts = [
    reason,
    message,
    rollout.metadata.annotations?.['rollout.argoproj.io/revision'] ?? '',
    String(status.currentStepIndex ?? ''),
    status.abortedAt ?? '',
    ...(status.pauseConditions ?? []).map((p) => `${p.reason}@${p.startTime}`),
    ...(status.conditions ?? []).map((c) => `${c.type}=${c.status}/${c.reason}@${c.lastTransitionTime}`),
  ];
  return createHash('sha1').update(parts.join('\n')).digest('base64url').slice(0, 12);
}

export function deliveryKey(trigger: string, fingerprint: string, d: Destination): string {
  return `${trigger}:${fingerprint}:${d.service}:${d.recipient}`;
}

export function notifiedKeys(obj: KubeObject): Record<string, number> {
  const raw = obj.metadata.annotations?.[NOTIFIED_ANNOTATION];
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'number')) as Record<
      string,
      number
    >;
  } catch {
    return {};
  }
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #log: NotifierLog;
  readonly #retry: RetryPolicy;
  readonly #now: () => number;
  readonly #pending = new Set<Promise<void>>();
  /** Keys delivered or being delivered by this process (the annotation may not show them yet). */
  readonly #claimed = new Set<string>();
  /** Per-Rollout chain serialising the annotation writes. */
  readonly #writes = new Map<string, Promise<void>>();
  /** Per-Rollout chain keeping its Events in order. */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;
  readonly #closing = new AbortController();
  readonly #configCache = new Map<
    string,
    { readonly atMs: number; readonly config: NotificationConfig | undefined }
  >();

  constructor(o: NotifierOptions) {
    this.#o = o;
    this.#log = o.log ?? SILENT;
    this.#retry = o.retry ?? DEFAULT_RETRY;
    this.#now = o.now ?? Date.now;
  }

  /**
   * Called for every Event recorded; returns at once. The Rollout is taken from the cache now (its status
   * was written just before the Event), and the Events of one Rollout are worked off in order.
   */
  onEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.#closed || obj.kind !== 'Rollout' || reason === TEMPLATE_ERROR_REASON) return;
    const ns = obj.metadata.namespace ?? '';
    const id = `${ns}/${obj.metadata.name}`;
    if (this.#pending.size >= MAX_QUEUED_EVENTS) {
      this.#log.warn({ rollout: id, reason }, 'notification queue full; event dropped');
      return;
    }
    const rollout = this.#o.store.get<KubeObject>('Rollout', ns, obj.metadata.name) ?? obj;
    const p: Promise<void> = (this.#chains.get(id) ?? Promise.resolve())
      .then(() => this.#process({ rollout, type, reason, message }))
      .catch((err: unknown) =>
        this.#log.warn(
          { rollout: id, err: err instanceof Error ? err.message : String(err), reason },
          'notification failed',
        ),
      )
      .finally(() => {
        this.#pending.delete(p);
        if (this.#chains.get(id) === p) this.#chains.delete(id);
      });
    this.#chains.set(id, p);
    this.#pending.add(p);
  }

  /** Resolves once everything queued so far (and what it queued) is done. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops taking events; in-flight sends finish, pending retries are given up (not recorded as notified). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await this.idle();
  }

  async #configs(namespace: string): Promise<NotificationConfig[]> {
    const namespaces = [this.#o.namespace];
    if (this.#o.selfService && namespace !== this.#o.namespace) namespaces.push(namespace);
    const out: NotificationConfig[] = [];
    for (const ns of namespaces) {
      const config = await this.#config(ns);
      if (config !== undefined) out.push(config);
    }
    return out;
  }

  /**
   * The namespace's configuration (read at most every configTtlMs): the built-in catalogue, then the
   * ConfigMap's keys. The controller's namespace always has one; another namespace only when it has a
   * ConfigMap.
   */
  async #config(ns: string): Promise<NotificationConfig | undefined> {
    const ttl = this.#o.configTtlMs ?? CONFIG_TTL_MS;
    const cached = this.#configCache.get(ns);
    if (cached !== undefined && this.#now() - cached.atMs < ttl) return cached.config;
    type WithData = KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
    const cm = await this.#o.store.read<WithData>('ConfigMap', ns, NOTIFICATION_CONFIGMAP);
    let config: NotificationConfig | undefined;
    if (cm !== undefined || ns === this.#o.namespace) {
      // Without a ConfigMap no service is configured: nothing can be sent, the Secret is not needed.
      const secret =
        cm === undefined ? undefined : await this.#o.store.read<WithData>('Secret', ns, NOTIFICATION_SECRET);
      const data = { ...BUILTIN_CONFIG_DATA, ...(cm?.data ?? {}) };
      config = parseNotificationConfig(ns, data, secretValues(secret));
      for (const e of config.errors)
        this.#log.warn({ namespace: ns, error: e }, 'notification configuration');
    }
    this.#configCache.set(ns, { atMs: this.#now(), config });
    return config;
  }

  async #process(e: QueuedEvent): Promise<void> {
    const rollout = e.rollout;
    const ns = rollout.metadata.namespace ?? '';
    const name = rollout.metadata.name;
    const trigger = triggerForReason(e.reason);
    const labels: NotificationLabels = { namespace: ns, name, type: e.type, reason: e.reason };
    const annotations = rollout.metadata.annotations ?? {};
    const fingerprint = eventFingerprint(rollout, e.reason, e.message);
    const vars = { rollout: JSON.parse(JSON.stringify(rollout)) as unknown };
    for (const config of await this.#configs(ns)) {
      const destinations =
        destinationsFor(config, rollout.metadata.labels ?? {}, annotations).get(trigger) ?? [];
      if (destinations.length === 0) continue;
      const conditions = config.triggers.get(trigger);
      if (conditions === undefined) {
        this.#log.debug({ trigger }, 'no such trigger configured');
        continue;
      }
      const templates: string[] = [];
      for (const c of conditions) {
        if (c.program !== undefined) {
          if (!c.program.ok) {
            this.#templateError(rollout, labels, `trigger ${trigger}: ${c.program.error}`);
            continue;
          }
          const r = evaluateProgram(c.program.program, vars as Record<string, unknown>, {
            nowMs: this.#now(),
          });
          if (!r.ok || r.value !== true) {
            if (!r.ok) this.#templateError(rollout, labels, `trigger ${trigger}: ${r.error.message}`);
            continue;
          }
        }
        templates.push(...c.send);
      }
      // Destinations in parallel (one slow or failing endpoint does not hold the others back). The same key
      // from two namespaces' configurations is delivered once (#deliver's claim), by the first with the service.
      const context = { ...vars, context: config.context };
      await Promise.all(
        destinations.map((dest) =>
          this.#deliver(
            config,
            rollout,
            context,
            templates,
            dest,
            deliveryKey(trigger, fingerprint, dest),
            labels,
          ),
        ),
      );
    }
  }

  async #deliver(
    config: NotificationConfig,
    rollout: KubeObject,
    vars: Record<string, unknown>,
    templates: readonly string[],
    dest: Destination,
    key: string,
    labels: NotificationLabels,
  ): Promise<void> {
    const where = `${labels.namespace}/${labels.name}`;
    const current = this.#o.store.get<KubeObject>('Rollout', labels.namespace, labels.name) ?? rollout;
    if (this.#claimed.has(key) || key in notifiedKeys(current)) {
      this.#log.debug({ rollout: where, key }, 'already notified');
      return;
    }
    const service = config.services.get(dest.service);
    if (service === undefined) {
      this.#log.warn({ rollout: where, service: dest.service }, 'notification service not configured');
      this.#o.metrics?.failed(labels);
      return;
    }
    this.#claimed.add(key);
    // Bounded: the oldest claims are long recorded in their Rollouts' annotations.
    if (this.#claimed.size > MAX_CLAIMED_KEYS) this.#claimed.delete(this.#claimed.values().next().value!);
    let delivered = false;
    for (const name of templates) {
      const t = config.templates.get(name);
      if (t === undefined) {
        this.#templateError(rollout, labels, `template ${name} is not defined`);
        continue;
      }
      const rendered = renderNotification(t, service, vars, this.#now());
      if (!rendered.ok) {
        this.#templateError(rollout, labels, `template ${name} for ${dest.service}: ${rendered.error}`);
        continue;
      }
      if (await this.#sendWithRetry(service, rendered.notification, dest, labels, name)) delivered = true;
    }
    if (delivered) await this.#markNotified(labels.namespace, labels.name, key);
    else this.#claimed.delete(key);
  }

  async #sendWithRetry(
    service: Parameters<typeof sendNotification>[0],
    n: Parameters<typeof sendNotification>[1],
    dest: Destination,
    labels: NotificationLabels,
    template: string,
  ): Promise<boolean> {
    const policy = (service.type === 'webhook' ? service.retry : undefined) ?? this.#retry;
    let delay = policy.initialDelayMs;
    for (let attempt = 1; ; attempt++) {
      const startMs = performance.now();
      const r = await sendNotification(service, n, dest, {
        ...(this.#o.dispatcher ? { dispatcher: this.#o.dispatcher } : {}),
        ...(this.#o.sendTimeoutMs !== undefined ? { timeoutMs: this.#o.sendTimeoutMs } : {}),
      });
      this.#o.metrics?.sendDuration?.(labels, (performance.now() - startMs) / 1000);
      if (r.ok) {
        if (r.skipped) return false;
        this.#o.metrics?.sent(labels);
        this.#log.info(
          {
            rollout: `${labels.namespace}/${labels.name}`,
            reason: labels.reason,
            service: dest.service,
            recipient: dest.recipient,
            template,
          },
          'notification sent',
        );
        return true;
      }
      this.#o.metrics?.failed(labels);
      const last = !r.retryable || attempt >= policy.attempts || this.#closed;
      this.#log.warn(
        {
          rollout: `${labels.namespace}/${labels.name}`,
          service: dest.service,
          attempt,
          error: r.error,
          retrying: !last,
        },
        'notification send failed',
      );
      if (last) return false;
      await abortableSleep(delay, this.#closing.signal);
      if (this.#closed) return false;
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }

  #templateError(rollout: KubeObject, labels: NotificationLabels, message: string): void {
    this.#o.metrics?.failed(labels);
    this.#log.warn(
      { rollout: `${labels.namespace}/${labels.name}`, error: message },
      'notification template error',
    );
    this.#o.store.recordEvent(rollout, 'Warning', TEMPLATE_ERROR_REASON, message);
  }

  /** Adds `key` to the Rollout's notified annotation (serialised per Rollout; newest MAX_NOTIFIED_KEYS kept). */
  #markNotified(namespace: string, name: string, key: string): Promise<void> {
    const id = `${namespace}/${name}`;
    const prev = this.#writes.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      const current = this.#o.store.get<KubeObject>('Rollout', namespace, name);
      if (current === undefined) return;
      const keys = notifiedKeys(current);
      keys[key] = Math.floor(this.#now() / 1000);
      const kept = Object.entries(keys)
        .sort((a, b) => a[1] - b[1])
        .slice(-MAX_NOTIFIED_KEYS);
      try {
        await this.#o.store.patch('Rollout', namespace, name, {
          metadata: { annotations: { [NOTIFIED_ANNOTATION]: JSON.stringify(Object.fromEntries(kept)) } },
        });
      } catch (err) {
        this.#log.warn(
          { rollout: id, err: err instanceof Error ? err.message : String(err) },
          'could not record notified annotation',
        );
      }
    });
    const tail = next.finally(() => {
      if (this.#writes.get(id) === tail) this.#writes.delete(id);
    });
    this.#writes.set(id, tail);
    return next;
  }
}

/**
 * The store the reconcilers get: `inner` with recordEvent also handing the Event to the notifier (after
 * recording it, as Argo's EventRecorderAdapter does).
 */
export function withNotifications<S extends ObjectStore>(inner: S, notifier: Notifier): ObjectStore {
  const recordEvent = (
    obj: KubeObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): void => {
    inner.recordEvent(obj, type, reason, message);
    notifier.onEvent(obj, type, reason, message);
  };
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'recordEvent') return recordEvent;
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      let f = bound.get(prop);
      if (f === undefined) {
        f = v.bind(target);
        bound.set(prop, f);
      }
      return f;
    },
  });
}

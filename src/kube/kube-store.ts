// The ObjectStore over a real API server. Reads come from informer caches of the kinds the controller
// watches (Secrets, Events and Leases are never cached: `get`/`list` return nothing for them, `read` asks
// the API server). Writes go straight to the API server; the object it returns is folded into the cache at
// once, so a reconcile never acts on a cache that misses its own writes. A stale resourceVersion comes back
// as StoreError('Conflict'); the caller re-reads and retries (level-triggered).

import type { Kind, KubeObject } from '../api/meta.ts';
import { DEFAULT_EVENT_COMPONENT } from '../store/events.ts';
import { deepFreeze } from '../store/freeze.ts';
import { type ObjectStore, type PatchType, StoreError, type WatchEventType } from '../store/object-store.ts';
import { omitEmptyStrings } from '../store/patch.ts';
import { type ApiVersions, apiVersionOf, collectionPath, objectPath, RESOURCES } from '../store/resources.ts';
import { type KubeClient, type KubeResponse, toStoreError } from './client.ts';
import { EventRecorder, type EventRecorderOptions, kubeEventSink } from './events.ts';
import { Informer, type InformerLogger } from './informer.ts';

export const CACHED_KINDS: readonly Kind[] = [
  'Rollout',
  'ReplicaSet',
  'Service',
  'Endpoints',
  'Pod',
  'AnalysisRun',
  'AnalysisTemplate',
  'ClusterAnalysisTemplate',
  'Experiment',
  'Deployment',
  'Job',
];

const CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export interface KubeStoreOptions {
  /** Watch only this namespace (cluster-scoped kinds are still watched cluster-wide). */
  readonly namespace?: string;
  /** Kinds to cache (default CACHED_KINDS). */
  readonly kinds?: readonly Kind[];
  readonly logger?: InformerLogger;
  readonly events?: Omit<EventRecorderOptions, 'component'> & { component?: string };
  /** The served versions of kinds that differ between clusters (the traffic routers' objects). */
  readonly apiVersions?: ApiVersions;
}

/** A 404 that is about the pod (a metav1.Status naming pods), not an unserved Eviction version. */
function isPodNotFound(body: unknown): boolean {
  const details = (body as { details?: { kind?: unknown } } | undefined)?.details;
  return details?.kind === 'pods';
}

/**
 * A 404 about the object, not the API. The API server answers a kind it does not serve with a plain-text
 * "404 page not found" (an unknown group/version) or a Status saying "the server could not find the
 * requested resource" (a known group/version without that resource); an absent object gets a Status of
 * its own ("rollouts.argoproj.io \"x\" not found", details naming it).
 */
function isObjectNotFound(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const status = body as { kind?: unknown; message?: unknown };
  return status.kind === 'Status' && status.message !== 'the server could not find the requested resource';
}

function isCustom(kind: Kind): boolean {
  return RESOURCES[kind].apiVersion.startsWith('argoproj.io/');
}

function matches(obj: KubeObject, selector: Readonly<Record<string, string>> | undefined): boolean {
  if (selector === undefined) return true;
  const labels = obj.metadata.labels ?? {};
  for (const k in selector) if (labels[k] !== selector[k]) return false;
  return true;
}

export class KubeStore implements ObjectStore {
  readonly client: KubeClient;
  readonly #informers = new Map<Kind, Informer>();
  readonly #recorder: EventRecorder;
  /** The Eviction version this API server accepts (policy/v1beta1 before Kubernetes 1.22). */
  #evictionVersion: 'policy/v1' | 'policy/v1beta1' = 'policy/v1';
  readonly #versions: ApiVersions;
  readonly #namespace: string | undefined;
  readonly #logger: InformerLogger | undefined;

  constructor(client: KubeClient, options: KubeStoreOptions = {}) {
    this.client = client;
    this.#versions = options.apiVersions ?? {};
    this.#namespace = options.namespace;
    this.#logger = options.logger;
    for (const kind of options.kinds ?? CACHED_KINDS) {
      this.#informers.set(
        kind,
        new Informer(client, kind, options.namespace, options.logger, this.#versions),
      );
    }
    this.#recorder = new EventRecorder(kubeEventSink(client), {
      component: DEFAULT_EVENT_COMPONENT,
      ...options.events,
      onError: (message) => {
        options.events?.onError?.(message);
        options.logger?.warn({ event: true }, message);
      },
    });
  }

  /**
   * Caches (and so watches) one more kind from now on, e.g. a router's CRD found served after the start;
   * resolves once its first list is in (false if stopped first). A kind already cached is left as is.
   */
  async cacheKind(kind: Kind): Promise<boolean> {
    let informer = this.#informers.get(kind);
    if (informer === undefined) {
      informer = new Informer(this.client, kind, this.#namespace, this.#logger, this.#versions);
      this.#informers.set(kind, informer);
    }
    return informer.start();
  }

  /** Starts every informer; resolves once all caches hold their first list (false if stopped first). */
  async start(): Promise<boolean> {
    const results = await Promise.all([...this.#informers.values()].map((i) => i.start()));
    return results.every(Boolean);
  }

  get synced(): boolean {
    return [...this.#informers.values()].every((i) => i.synced);
  }

  /** Objects held in each cache, for metrics and diagnostics. */
  cacheSizes(): Record<string, number> {
    return Object.fromEntries([...this.#informers].map(([k, i]) => [k, i.size]));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.stop()));
    await this.#recorder.flush();
  }

  get<T extends KubeObject>(kind: Kind, namespace: string, name: string): T | undefined {
    return this.#informers.get(kind)?.get(namespace, name) as T | undefined;
  }

  list<T extends KubeObject>(
    kind: Kind,
    namespace?: string,
    selector?: Readonly<Record<string, string>>,
  ): T[] {
    const informer = this.#informers.get(kind);
    if (informer === undefined) return [];
    const out: T[] = [];
    const byNamespace = namespace !== undefined && RESOURCES[kind].namespaced;
    for (const obj of informer.list()) {
      if (byNamespace && obj.metadata.namespace !== namespace) continue;
      if (matches(obj, selector)) out.push(obj as T);
    }
    return out;
  }

  async read<T extends KubeObject>(kind: Kind, namespace: string, name: string): Promise<T | undefined> {
    const res = await this.client.request('GET', objectPath(kind, namespace, name, this.#versions), {
      record: this.#record('Get', kind, namespace, name),
    });
    // A 404 about the API (the kind is not served here, e.g. a router's CRD is not installed) is an error,
    // not an absent object.
    if (res.status === 404 && isObjectNotFound(res.body)) return undefined;
    if (res.status === 404)
      throw new StoreError(
        'NotFound',
        404,
        `the server could not find the requested resource (${RESOURCES[kind].plural}.${apiVersionOf(kind, this.#versions)} is not served)`,
      );
    if (res.status !== 200) throw toStoreError(res.status, res.body, `get ${RESOURCES[kind].plural} ${name}`);
    return deepFreeze(this.#withKind(kind, res.body as T));
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    this.#checkKind(kind);
    const namespace = obj.metadata.namespace ?? '';
    const res = await this.client.request(
      'POST',
      collectionPath(kind, RESOURCES[kind].namespaced ? namespace : undefined, this.#versions),
      {
        body: {
          ...(isCustom(kind) ? (omitEmptyStrings(obj, false) as T) : obj),
          apiVersion: obj.apiVersion || apiVersionOf(kind, this.#versions),
        },
        record: this.#record('Create', kind, namespace, obj.metadata.name || obj.metadata.generateName || ''),
      },
    );
    return this.#written(kind, res, `create ${RESOURCES[kind].plural} ${obj.metadata.name}`);
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    const kind = obj.kind as Kind;
    this.#checkKind(kind);
    const namespace = obj.metadata.namespace ?? '';
    const res = await this.client.request(
      'PUT',
      objectPath(kind, namespace, obj.metadata.name, this.#versions),
      {
        body: isCustom(kind) ? omitEmptyStrings(obj, false) : obj,
        record: this.#record('Update', kind, namespace, obj.metadata.name),
      },
    );
    return this.#written(kind, res, `update ${RESOURCES[kind].plural} ${obj.metadata.name}`);
  }

  async patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
    type: PatchType = 'merge',
  ): Promise<T> {
    const res = await this.client.request('PATCH', objectPath(kind, namespace, name, this.#versions), {
      body: isCustom(kind) && type !== 'json' ? omitEmptyStrings(patch, type === 'merge') : patch,
      contentType: CONTENT_TYPES[type],
      record: this.#record('Patch', kind, namespace, name),
    });
    return this.#written(kind, res, `patch ${RESOURCES[kind].plural} ${name}`);
  }

  async patchStatus<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T> {
    const res = await this.client.request(
      'PATCH',
      `${objectPath(kind, namespace, name, this.#versions)}/status`,
      {
        body: isCustom(kind) ? omitEmptyStrings(patch, true) : patch,
        contentType: CONTENT_TYPES.merge,
        record: this.#record('Patch', kind, namespace, name),
      },
    );
    return this.#written(kind, res, `patch ${RESOURCES[kind].plural}/status ${name}`);
  }

  async delete(
    kind: Kind,
    namespace: string,
    name: string,
    options: { propagation?: 'Foreground' | 'Background' | 'Orphan' } = {},
  ): Promise<void> {
    const res = await this.client.request('DELETE', objectPath(kind, namespace, name, this.#versions), {
      body: {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: options.propagation ?? 'Background',
      },
      record: this.#record('Delete', kind, namespace, name),
    });
    if (res.status !== 200 && res.status !== 202) {
      throw toStoreError(res.status, res.body, `delete ${RESOURCES[kind].plural} ${name}`);
    }
    const body = res.body as (KubeObject & { metadata?: { deletionTimestamp?: string } }) | undefined;
    const informer = this.#informers.get(kind);
    if (body?.kind === kind && body.metadata?.deletionTimestamp !== undefined) informer?.observe(body);
    else informer?.forget(namespace, name);
  }

  /**
   * POST pods/NAME/eviction. policy/v1 Eviction is served from Kubernetes 1.22; an older API server
   * answers 400 ("no kind Eviction is registered for version policy/v1") or 404, and then policy/v1beta1
   * is used, and remembered for this store. 429 (a PodDisruptionBudget) is TooManyRequests.
   */
  async evict(namespace: string, name: string): Promise<void> {
    const path = `${objectPath('Pod', namespace, name)}/eviction`;
    const send = (apiVersion: string) =>
      this.client.request('POST', path, {
        body: { apiVersion, kind: 'Eviction', metadata: { name, namespace } },
        record: { verb: 'Create', resource: 'pods', namespace, name },
      });
    let res = await send(this.#evictionVersion);
    if (this.#evictionVersion === 'policy/v1' && (res.status === 400 || res.status === 404)) {
      const notServed = res.status === 400 && JSON.stringify(res.body ?? '').includes('policy/v1');
      if (notServed || (res.status === 404 && !isPodNotFound(res.body))) {
        this.#evictionVersion = 'policy/v1beta1';
        res = await send(this.#evictionVersion);
      }
    }
    // The pod now terminates gracefully; the watch brings its deletionTimestamp.
    if (res.status === 200 || res.status === 201) return;
    const what = `evict pods ${name}`;
    if (res.status === 429) {
      const err = toStoreError(res.status, res.body, what);
      throw new StoreError('TooManyRequests', 429, err.message);
    }
    throw toStoreError(res.status, res.body, what);
  }

  watch(kind: Kind, handler: (type: WatchEventType, obj: KubeObject) => void): () => void {
    const informer = this.#informers.get(kind);
    if (informer === undefined) return () => {};
    return informer.on(handler);
  }

  recordEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#recorder.record(obj, type, reason, message);
  }

  #record(
    verb: 'Get' | 'Create' | 'Update' | 'Patch' | 'Delete',
    kind: Kind,
    namespace: string,
    name: string,
  ) {
    return { verb, resource: RESOURCES[kind].plural, namespace, name };
  }

  #checkKind(kind: Kind): void {
    if (!Object.hasOwn(RESOURCES, kind))
      throw toStoreError(422, { message: `kind: unsupported kind "${kind}"` }, 'write');
  }

  #withKind<T extends KubeObject>(kind: Kind, obj: T): T {
    if (obj.kind && obj.apiVersion) return obj;
    return { ...obj, kind, apiVersion: RESOURCES[kind].apiVersion };
  }

  #written<T extends KubeObject>(kind: Kind, res: KubeResponse, what: string): T {
    if (res.status !== 200 && res.status !== 201) throw toStoreError(res.status, res.body, what);
    // Frozen like everything a store returns (the cache shares its parts with it anyway).
    const obj = deepFreeze(this.#withKind(kind, res.body as T));
    this.#informers.get(kind)?.observe(obj);
    return obj;
  }
}

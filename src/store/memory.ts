// An in-memory ObjectStore with the API server's write semantics, for fast unit tests of reconcilers
// (never used against the cluster): a global resourceVersion counter; generation = 1 on create and bumped
// only by changes outside metadata and status (kinds the API server keeps no generation for have none);
// Conflict on a stale resourceVersion (update, or a patch carrying metadata.resourceVersion), and an update
// without one refused for the kinds whose API server strategy requires it; status ignored by
// create/update/patch of kinds with a status subresource and written only by patchStatus; no-op writes keep
// the resourceVersion and emit nothing; deletes cascade through ownerReferences as the garbage collector
// would (synchronously: a dependent goes once none of its owners remain, and loses the references to
// deleted owners while another lives), or orphan. Everything returned (reads, watch events, written
// objects) is a deeply frozen copy, as the cluster store's are: mutating it throws.
// test/contract/ runs the same ObjectStore contract against this store and the cluster's.

import { randomUUID } from 'node:crypto';
import type { Kind, KubeObject } from '../api/meta.ts';
import {
  buildEvent,
  type CoreEvent,
  DEFAULT_EVENT_COMPONENT,
  type EventType,
  eventAggregateKey,
  eventName,
  eventNamespace,
  toMetaTime,
} from './events.ts';
import { deepFreeze } from './freeze.ts';
import { type ObjectStore, type PatchType, StoreError, type WatchEventType } from './object-store.ts';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.ts';
import { type ApiVersions, apiVersionOf, isKind, RESOURCES } from './resources.ts';

export interface MemoryStoreOptions {
  /** Clock for creationTimestamp and Event timestamps (ms since epoch). */
  readonly now?: () => number;
  /** The served versions of kinds that differ between clusters (as KubeStoreOptions.apiVersions). */
  readonly apiVersions?: ApiVersions;
  /**
   * Kinds this "cluster" does not serve (a CRD not installed): every read and write of them fails as the
   * API server answers an unknown resource (404, "the server could not find the requested resource").
   */
  readonly unservedKinds?: readonly Kind[];
}

/** The store's objects and resourceVersion counter, as snapshot() takes and restore() puts back. */
export interface MemorySnapshot {
  readonly resourceVersion: number;
  readonly objects: readonly KubeObject[];
}

export type WriteVerb = 'create' | 'update' | 'patch' | 'patchStatus' | 'delete' | 'evict';

/** A write about to happen, shown to a fault injector. */
export interface WriteAttempt {
  readonly verb: WriteVerb;
  readonly kind: Kind;
  readonly namespace: string;
  readonly name: string;
}

type Handler = (type: WatchEventType, obj: KubeObject) => void;

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Everything except metadata and status: a change here bumps generation. */
function specPart(obj: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = obj as KubeObject & { status?: unknown };
  return JSON.stringify(rest);
}

/**
 * The first path holding a JSON null. The API server's structural schemas reject nulls in custom
 * resources ("must be of type string: null"); merge patches prune nulls only outside arrays.
 */
export function findNull(value: unknown, path = ''): string | undefined {
  if (value === null) return path || '(root)';
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findNull(v, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  } else if (typeof value === 'object' && value !== undefined) {
    for (const [k, v] of Object.entries(value)) {
      const found = findNull(v, path ? `${path}.${k}` : k);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Kinds the API server keeps no metadata.generation for (their strategies never set it). */
const WITHOUT_GENERATION: ReadonlySet<Kind> = new Set(['Service', 'Secret', 'Event', 'Lease']);

/**
 * Kinds whose strategy refuses an update without metadata.resourceVersion (AllowUnconditionalUpdate is
 * false): Services, Leases and every custom resource; the other built-in kinds take it as "overwrite".
 */
const CUSTOM_GROUPS = [
  'argoproj.io/',
  'networking.istio.io/',
  'split.smi-spec.io/',
  'gateway.networking.k8s.io/',
];

function requiresResourceVersion(kind: Kind): boolean {
  return (
    kind === 'Service' ||
    kind === 'Lease' ||
    CUSTOM_GROUPS.some((g) => RESOURCES[kind].apiVersion.startsWith(g))
  );
}

function checkNoNull(kind: Kind, obj: KubeObject): void {
  if (!RESOURCES[kind].apiVersion.startsWith('argoproj.io/')) return;
  const path = findNull(obj);
  if (path !== undefined) {
    throw new StoreError(
      'Invalid',
      422,
      `${kind}.argoproj.io "${obj.metadata?.name}" is invalid: ${path}: Invalid value: "null": ${path} in body must not be null`,
    );
  }
}

export class MemoryStore implements ObjectStore {
  readonly #objects = new Map<Kind, Map<string, KubeObject>>();
  readonly #handlers = new Map<Kind, Set<Handler>>();
  readonly #now: () => number;
  #resourceVersion = 0;
  /** Aggregate key (store/events.ts) -> name of the Event that repeats raise the count of. */
  readonly #eventNames = new Map<string, string>();
  #faults: ((attempt: WriteAttempt) => StoreError | undefined) | undefined;
  /** Number of writes by verb and kind (`create Rollout`), for tests that count API calls. */
  readonly writes = new Map<string, number>();

  readonly #versions: ApiVersions;
  readonly #unserved: ReadonlySet<Kind>;

  constructor(options: MemoryStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#versions = options.apiVersions ?? {};
    this.#unserved = new Set(options.unservedKinds ?? []);
  }

  /** The API server's answer for a resource type it does not serve (a CRD not installed). */
  #checkServed(kind: Kind): void {
    if (this.#unserved.has(kind))
      throw new StoreError('NotFound', 404, 'the server could not find the requested resource');
  }

  /** Makes matching writes fail with the returned error (undefined lets the write through). */
  injectFaults(fn: ((attempt: WriteAttempt) => StoreError | undefined) | undefined): void {
    this.#faults = fn;
  }

  /**
   * Inserts or replaces an object exactly as given (status included), assigning uid, resourceVersion
   * and generation when absent: for setting up a test's starting state.
   */
  seed<T extends KubeObject>(obj: T): T {
    const kind = this.#kindOf(obj);
    const namespace = this.#namespaceOf(kind, obj);
    const stored = structuredClone(obj) as T;
    stored.apiVersion ||= apiVersionOf(kind, this.#versions);
    stored.metadata.namespace = RESOURCES[kind].namespaced ? namespace : undefined;
    if (!RESOURCES[kind].namespaced) delete stored.metadata.namespace;
    stored.metadata.uid ??= randomUUID();
    if (!WITHOUT_GENERATION.has(kind)) stored.metadata.generation ??= 1;
    stored.metadata.creationTimestamp ??= toMetaTime(this.#now());
    stored.metadata.resourceVersion = this.#nextVersion();
    const existed = this.#bucket(kind).has(key(namespace, obj.metadata.name));
    this.#bucket(kind).set(key(namespace, obj.metadata.name), stored);
    this.#emit(kind, existed ? 'MODIFIED' : 'ADDED', stored);
    return structuredClone(stored);
  }

  /**
   * Every stored object of the given kinds (all kinds when omitted) exactly as stored (status, uid,
   * resourceVersion, generation, creationTimestamp), and the resourceVersion counter: for persisting the
   * store (standalone mode's state file). Plain copies, not frozen.
   */
  snapshot(kinds?: readonly Kind[]): MemorySnapshot {
    const objects: KubeObject[] = [];
    for (const [kind, bucket] of this.#objects) {
      if (kinds !== undefined && !kinds.includes(kind)) continue;
      for (const obj of bucket.values()) objects.push(structuredClone(obj));
    }
    return { resourceVersion: this.#resourceVersion, objects };
  }

  /**
   * Puts back objects taken by snapshot() with their metadata unchanged (unlike seed, no new
   * resourceVersion), replacing any with the same kind, namespace and name, and moves the counter to at
   * least the snapshot's (and every restored object's) resourceVersion, so later writes continue after it.
   * Watchers see ADDED (MODIFIED for a replaced object).
   */
  restore(snapshot: MemorySnapshot): void {
    let highest = Math.max(this.#resourceVersion, snapshot.resourceVersion);
    for (const obj of snapshot.objects) {
      const kind = this.#kindOf(obj);
      const namespace = this.#namespaceOf(kind, obj);
      const stored = structuredClone(obj);
      const version = Number(stored.metadata.resourceVersion);
      if (Number.isInteger(version) && version > highest) highest = version;
      const k = key(namespace, stored.metadata.name);
      const existed = this.#bucket(kind).has(k);
      this.#bucket(kind).set(k, stored);
      if (kind === 'Event') {
        // Repeats after the restore raise the restored Event's count, as they did before.
        const ev = stored as CoreEvent;
        const involved = {
          apiVersion: ev.involvedObject?.apiVersion ?? '',
          kind: ev.involvedObject?.kind ?? '',
          metadata: { name: ev.involvedObject?.name ?? '', namespace, uid: ev.involvedObject?.uid },
        };
        this.#eventNames.set(eventAggregateKey(involved, ev.type, ev.reason, ev.message), ev.metadata.name);
      }
      this.#emit(kind, existed ? 'MODIFIED' : 'ADDED', stored);
    }
    this.#resourceVersion = highest;
  }

  get<T extends KubeObject>(kind: Kind, namespace: string, name: string): T | undefined {
    const obj = this.#bucket(kind).get(key(RESOURCES[kind].namespaced ? namespace : '', name));
    return obj === undefined ? undefined : (deepFreeze(structuredClone(obj)) as T);
  }

  async read<T extends KubeObject>(kind: Kind, namespace: string, name: string): Promise<T | undefined> {
    this.#checkServed(kind);
    return this.get<T>(kind, namespace, name);
  }

  list<T extends KubeObject>(
    kind: Kind,
    namespace?: string,
    selector?: Readonly<Record<string, string>>,
  ): T[] {
    const out: T[] = [];
    for (const obj of this.#bucket(kind).values()) {
      if (namespace !== undefined && RESOURCES[kind].namespaced && obj.metadata.namespace !== namespace)
        continue;
      if (selector !== undefined) {
        const labels = obj.metadata.labels ?? {};
        if (!Object.entries(selector).every(([k, v]) => labels[k] === v)) continue;
      }
      out.push(deepFreeze(structuredClone(obj)) as T);
    }
    return out.sort((a, b) =>
      key(a.metadata.namespace ?? '', a.metadata.name).localeCompare(
        key(b.metadata.namespace ?? '', b.metadata.name),
      ),
    );
  }

  async create<T extends KubeObject>(obj: T): Promise<T> {
    const kind = this.#kindOf(obj);
    const namespace = this.#namespaceOf(kind, obj);
    let name = obj.metadata.name;
    if (!name) {
      if (!obj.metadata.generateName) {
        throw new StoreError('Invalid', 422, `${kind}: metadata.name or metadata.generateName is required`);
      }
      do {
        name = obj.metadata.generateName;
        for (let i = 0; i < 5; i++) name += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
      } while (this.#bucket(kind).has(key(namespace, name)));
    }
    this.#checkFault('create', kind, namespace, name);
    if (this.#bucket(kind).has(key(namespace, name))) {
      throw new StoreError('AlreadyExists', 409, `${RESOURCES[kind].plural} "${name}" already exists`);
    }
    const stored = structuredClone(obj) as T & { status?: unknown };
    if (RESOURCES[kind].statusSubresource) delete stored.status;
    stored.apiVersion ||= apiVersionOf(kind, this.#versions);
    stored.metadata = {
      ...stored.metadata,
      name,
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: toMetaTime(this.#now()),
      resourceVersion: this.#nextVersion(),
    };
    if (WITHOUT_GENERATION.has(kind)) delete stored.metadata.generation;
    if (RESOURCES[kind].namespaced) stored.metadata.namespace = namespace;
    else delete stored.metadata.namespace;
    delete stored.metadata.deletionTimestamp;
    checkNoNull(kind, stored);
    this.#bucket(kind).set(key(namespace, name), stored);
    this.#count('create', kind);
    this.#emit(kind, 'ADDED', stored);
    return deepFreeze(structuredClone(stored));
  }

  async update<T extends KubeObject>(obj: T): Promise<T> {
    const kind = this.#kindOf(obj);
    const namespace = this.#namespaceOf(kind, obj);
    this.#checkFault('update', kind, namespace, obj.metadata.name);
    const current = this.#mustGet(kind, namespace, obj.metadata.name);
    if (!obj.metadata.resourceVersion && requiresResourceVersion(kind)) {
      throw new StoreError(
        'Invalid',
        422,
        `${RESOURCES[kind].plural} "${obj.metadata.name}" is invalid: metadata.resourceVersion: Invalid value: "": must be specified for an update`,
      );
    }
    this.#checkVersion(kind, current, obj.metadata.resourceVersion);
    return this.#commit(kind, namespace, current, structuredClone(obj), 'update') as Promise<T>;
  }

  // Deliberately parallel signatures: memory.ts and kube/kube-store.ts implement the same ObjectStore
  // methods; test/contract/ holds them to the same behaviour.
  async patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
    type: PatchType = 'merge',
  ): Promise<T> {
    const ns = RESOURCES[kind].namespaced ? namespace : '';
    this.#checkFault('patch', kind, ns, name);
    const current = this.#mustGet(kind, ns, name);
    const next = this.#applyPatch(kind, current, patch, type);
    this.#checkVersion(kind, current, next.metadata?.resourceVersion);
    return this.#commit(kind, ns, current, next, 'patch') as Promise<T>;
  }

  async patchStatus<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
  ): Promise<T> {
    const ns = RESOURCES[kind].namespaced ? namespace : '';
    if (!RESOURCES[kind].statusSubresource) {
      throw new StoreError('NotFound', 404, `${RESOURCES[kind].plural} has no status subresource`);
    }
    this.#checkFault('patchStatus', kind, ns, name);
    const current = this.#mustGet(kind, ns, name);
    const patched = this.#applyPatch(kind, current, patch, 'merge') as KubeObject & { status?: unknown };
    this.#checkVersion(kind, current, patched.metadata?.resourceVersion);
    // Through the status subresource only status changes; everything else is kept.
    const next = structuredClone(current) as KubeObject & { status?: unknown };
    if (patched.status === undefined) delete next.status;
    else next.status = patched.status;
    return this.#commit(kind, ns, current, next, 'patchStatus') as Promise<T>;
  }

  /**
   * The eviction subresource without PodDisruptionBudgets: the Pod is deleted. A fault injector sees
   * verb `evict` and can refuse it, e.g. with StoreError('TooManyRequests', 429, ...) as a budget would.
   */
  async evict(namespace: string, name: string): Promise<void> {
    this.#checkFault('evict', 'Pod', namespace, name);
    this.#mustGet('Pod', namespace, name);
    this.#count('evict', 'Pod');
    await this.delete('Pod', namespace, name);
  }

  async delete(
    kind: Kind,
    namespace: string,
    name: string,
    options: { propagation?: 'Foreground' | 'Background' | 'Orphan' } = {},
  ): Promise<void> {
    const ns = RESOURCES[kind].namespaced ? namespace : '';
    this.#checkFault('delete', kind, ns, name);
    const current = this.#mustGet(kind, ns, name);
    this.#bucket(kind).delete(key(ns, name));
    this.#count('delete', kind);
    this.#emit(kind, 'DELETED', current);
    const uid = current.metadata.uid;
    if (uid === undefined) return;
    const orphan = options.propagation === 'Orphan';
    for (const [depKind, bucket] of this.#objects) {
      for (const dep of [...bucket.values()]) {
        const refs = dep.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === uid)) continue;
        const depNs = dep.metadata.namespace ?? '';
        if (orphan) {
          const next = structuredClone(dep);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          next.metadata.resourceVersion = this.#nextVersion();
          bucket.set(key(depNs, dep.metadata.name), next);
          this.#emit(depKind, 'MODIFIED', next);
        } else if (refs.every((r) => r.uid === uid || !this.#uidExists(r.uid))) {
          // The garbage collector deletes a dependent once none of its owners remain.
          await this.delete(depKind, depNs, dep.metadata.name, options);
        } else {
          // Another owner lives: the garbage collector only drops the references to owners that are gone.
          const next = structuredClone(dep);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== uid && this.#uidExists(r.uid));
          next.metadata.resourceVersion = this.#nextVersion();
          bucket.set(key(depNs, dep.metadata.name), next);
          this.#emit(depKind, 'MODIFIED', next);
        }
      }
    }
  }

  watch(kind: Kind, handler: Handler): () => void {
    let set = this.#handlers.get(kind);
    if (set === undefined) {
      set = new Set();
      this.#handlers.set(kind, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }

  /**
   * Written at once (no spam filter: that guards a real API server), built by store/events.ts as the
   * Kubernetes store builds it; a repeat raises the count of the Event it aggregates into, unless that
   * Event was deleted meanwhile.
   */
  recordEvent(obj: KubeObject, type: EventType, reason: string, message: string): void {
    const namespace = eventNamespace(obj);
    const nowMs = this.#now();
    const aggregateKey = eventAggregateKey(obj, type, reason, message);
    const name = this.#eventNames.get(aggregateKey);
    const existing = name === undefined ? undefined : this.#bucket('Event').get(key(namespace, name));
    if (existing !== undefined) {
      const next = structuredClone(existing) as CoreEvent;
      next.count += 1;
      next.lastTimestamp = toMetaTime(nowMs);
      next.metadata.resourceVersion = this.#nextVersion();
      this.#bucket('Event').set(key(namespace, next.metadata.name), next);
      this.#emit('Event', 'MODIFIED', next);
      return;
    }
    const event = buildEvent(obj, type, reason, message, {
      name: eventName(obj.metadata.name, nowMs, this.#resourceVersion),
      timestamp: toMetaTime(nowMs),
      source: { component: DEFAULT_EVENT_COMPONENT },
    });
    event.metadata = {
      ...event.metadata,
      uid: randomUUID(),
      creationTimestamp: toMetaTime(nowMs),
      resourceVersion: this.#nextVersion(),
    };
    this.#eventNames.set(aggregateKey, event.metadata.name);
    this.#bucket('Event').set(key(namespace, event.metadata.name), event);
    this.#emit('Event', 'ADDED', event);
  }

  // ---- internals ----

  #bucket(kind: Kind): Map<string, KubeObject> {
    let bucket = this.#objects.get(kind);
    if (bucket === undefined) {
      bucket = new Map();
      this.#objects.set(kind, bucket);
    }
    return bucket;
  }

  #nextVersion(): string {
    this.#resourceVersion += 1;
    return String(this.#resourceVersion);
  }

  #kindOf(obj: KubeObject): Kind {
    if (typeof obj?.kind !== 'string' || !isKind(obj.kind)) {
      throw new StoreError('Invalid', 422, `kind: unsupported kind ${JSON.stringify(obj?.kind)}`);
    }
    if (typeof obj.metadata !== 'object' || obj.metadata === null) {
      throw new StoreError('Invalid', 422, `${obj.kind}: metadata is required`);
    }
    return obj.kind;
  }

  #namespaceOf(kind: Kind, obj: KubeObject): string {
    if (!RESOURCES[kind].namespaced) return '';
    const ns = obj.metadata.namespace;
    if (!ns)
      throw new StoreError('Invalid', 422, `${kind} ${obj.metadata.name}: metadata.namespace is required`);
    return ns;
  }

  #mustGet(kind: Kind, namespace: string, name: string): KubeObject {
    const current = this.#bucket(kind).get(key(namespace, name));
    if (current === undefined) {
      throw new StoreError('NotFound', 404, `${RESOURCES[kind].plural} "${name}" not found`);
    }
    return current;
  }

  #uidExists(uid: string): boolean {
    for (const bucket of this.#objects.values()) {
      for (const obj of bucket.values()) if (obj.metadata.uid === uid) return true;
    }
    return false;
  }

  #checkVersion(kind: Kind, current: KubeObject, wanted: string | undefined): void {
    if (wanted !== undefined && wanted !== '' && wanted !== current.metadata.resourceVersion) {
      throw new StoreError(
        'Conflict',
        409,
        `Operation cannot be fulfilled on ${RESOURCES[kind].plural} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
  }

  #checkFault(verb: WriteVerb, kind: Kind, namespace: string, name: string): void {
    this.#checkServed(kind);
    const error = this.#faults?.({ verb, kind, namespace, name });
    if (error !== undefined) throw error;
  }

  #applyPatch(kind: Kind, current: KubeObject, patch: unknown, type: PatchType): KubeObject {
    let value: unknown;
    if (type === 'json') {
      const result = applyJsonPatch(current, patch);
      if (!result.ok) throw new StoreError('Invalid', 422, result.error);
      value = result.value;
    } else if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new StoreError('Invalid', 422, `${type} patch: must be a JSON object`);
    } else {
      value = type === 'merge' ? applyMergePatch(current, patch) : applyStrategicMergePatch(current, patch);
    }
    if (typeof value !== 'object' || value === null || typeof (value as KubeObject).metadata !== 'object') {
      throw new StoreError('Invalid', 422, `${RESOURCES[kind].plural}: patch removed metadata`);
    }
    return value as KubeObject;
  }

  /** Validates immutable fields, keeps server-owned metadata, bumps versions, stores and notifies. */
  async #commit(
    kind: Kind,
    namespace: string,
    current: KubeObject,
    next: KubeObject & { status?: unknown },
    verb: WriteVerb,
  ): Promise<KubeObject> {
    if (next.kind !== current.kind) throw new StoreError('Invalid', 422, `kind: may not be changed`);
    if (next.metadata.name !== current.metadata.name) {
      throw new StoreError('Invalid', 422, `metadata.name: field is immutable`);
    }
    if ((next.metadata.namespace ?? '') !== (current.metadata.namespace ?? '')) {
      throw new StoreError('Invalid', 422, `metadata.namespace: field is immutable`);
    }
    if (verb !== 'patchStatus' && RESOURCES[kind].statusSubresource) {
      const currentStatus = (current as KubeObject & { status?: unknown }).status;
      if (currentStatus === undefined) delete next.status;
      else next.status = structuredClone(currentStatus);
    }
    next.metadata = {
      ...next.metadata,
      uid: current.metadata.uid,
      creationTimestamp: current.metadata.creationTimestamp,
      resourceVersion: current.metadata.resourceVersion,
      generation: current.metadata.generation,
    };
    for (const field of ['uid', 'creationTimestamp', 'generation'] as const) {
      if (next.metadata[field] === undefined) delete next.metadata[field];
    }
    checkNoNull(kind, next);
    if (JSON.stringify(next) === JSON.stringify(current)) return deepFreeze(structuredClone(current));
    if (specPart(next) !== specPart(current) && !WITHOUT_GENERATION.has(kind))
      next.metadata.generation = (current.metadata.generation ?? 0) + 1;
    next.metadata.resourceVersion = this.#nextVersion();
    this.#bucket(kind).set(key(namespace, current.metadata.name), next);
    this.#count(verb, kind);
    this.#emit(kind, 'MODIFIED', next);
    return deepFreeze(structuredClone(next));
  }

  #count(verb: WriteVerb, kind: Kind): void {
    const k = `${verb} ${kind}`;
    this.writes.set(k, (this.writes.get(k) ?? 0) + 1);
  }

  #emit(kind: Kind, type: WatchEventType, obj: KubeObject): void {
    const handlers = this.#handlers.get(kind);
    if (handlers === undefined) return;
    for (const handler of [...handlers]) handler(type, deepFreeze(structuredClone(obj)));
  }
}

export type { CoreEvent } from './events.ts';

export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  return new MemoryStore(options);
}

// The ObjectStore seam (ARCHITECTURE.md): everything the reconcilers know about the API server.
// Reads come from an informer cache (cluster mode) or memory (embedded mode), so they are
// synchronous; writes are asynchronous and may fail with a conflict (optimistic concurrency on
// resourceVersion) or not-found, reported as StoreError, never as a crash of the reconciler.

import { type ControllerErrorCode, SluiceError } from '../api/errors.ts';
import type { Kind, KubeObject } from '../api/meta.ts';

export type PatchType = 'merge' | 'json' | 'strategic';

export type StoreErrorReason =
  | 'NotFound'
  | 'Conflict'
  | 'AlreadyExists'
  | 'Invalid'
  | 'Forbidden'
  /** 429: a pod eviction a PodDisruptionBudget does not allow now (retry later). */
  | 'TooManyRequests'
  | 'Unavailable';

const STORE_CODES: Readonly<Record<StoreErrorReason, ControllerErrorCode>> = {
  NotFound: 'SLUICE_STORE_NOT_FOUND',
  Conflict: 'SLUICE_STORE_CONFLICT',
  AlreadyExists: 'SLUICE_STORE_ALREADY_EXISTS',
  Invalid: 'SLUICE_STORE_INVALID',
  Forbidden: 'SLUICE_STORE_FORBIDDEN',
  TooManyRequests: 'SLUICE_STORE_TOO_MANY_REQUESTS',
  Unavailable: 'SLUICE_STORE_UNAVAILABLE',
};

/** A failed read or write, with the API server's reason, status and message, and its catalogue code. */
export class StoreError extends SluiceError {
  readonly reason: StoreErrorReason;
  readonly status: number;
  constructor(reason: StoreErrorReason, status: number, message: string) {
    super(STORE_CODES[reason], message);
    this.name = 'StoreError';
    this.reason = reason;
    this.status = status;
  }

  override describe(): string {
    return `${this.reason}: ${this.message}`;
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectStore {
  /**
   * From the cache; undefined when absent. Cluster-scoped kinds use namespace "". Every object a store
   * returns (get, read, list, watch, and the result of a write) is deeply frozen: copy (structuredClone)
   * before changing anything.
   */
  get<T extends KubeObject>(kind: Kind, namespace: string, name: string): T | undefined;
  /**
   * A fresh read from the API server, bypassing the cache; undefined when absent. Secrets are only
   * available this way (they are never cached, so the controller holds no copy of them).
   */
  read<T extends KubeObject>(kind: Kind, namespace: string, name: string): Promise<T | undefined>;
  /** From the cache; all namespaces when namespace is undefined; label selector as equality map. */
  list<T extends KubeObject>(
    kind: Kind,
    namespace?: string,
    selector?: Readonly<Record<string, string>>,
  ): T[];
  create<T extends KubeObject>(obj: T): Promise<T>;
  /** Full update; fails with Conflict when metadata.resourceVersion is stale. */
  update<T extends KubeObject>(obj: T): Promise<T>;
  patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
    type?: PatchType,
  ): Promise<T>;
  /** Through the status subresource. */
  patchStatus<T extends KubeObject>(kind: Kind, namespace: string, name: string, patch: unknown): Promise<T>;
  delete(
    kind: Kind,
    namespace: string,
    name: string,
    options?: { propagation?: 'Foreground' | 'Background' | 'Orphan' },
  ): Promise<void>;
  /**
   * Evicts a Pod through its eviction subresource, so PodDisruptionBudgets are honoured: fails with
   * TooManyRequests (429) when a budget does not allow it now, NotFound when the pod is gone.
   */
  evict(namespace: string, name: string): Promise<void>;
  /** Change notifications for a kind; returns an unsubscribe function. */
  watch(kind: Kind, handler: (type: WatchEventType, obj: KubeObject) => void): () => void;
  /** A Kubernetes Event about `obj` (best effort: failures are logged, never thrown). */
  recordEvent(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

// A reflector + cache for one kind (client-go's Reflector/Informer): list (paged), then watch from the
// list's resourceVersion with bookmarks; on a closed watch re-watch from the last seen version, on 410 Gone
// or errors re-list (backing off 1 s .. 30 s) and emit the difference. Handlers see ADDED / MODIFIED /
// DELETED for every change the API server reports. Writes by this process can be folded into the cache at
// once (`observe`), so a reconcile that follows its own create never sees a cache without that object.

import { errorText } from '../api/errors.ts';
import type { Kind, KubeObject } from '../api/meta.ts';
import { abortableSleep } from '../api/sleep.ts';
import { deepFreeze } from '../store/freeze.ts';
import { StoreError, type WatchEventType } from '../store/object-store.ts';
import { type ApiVersions, collectionPath, RESOURCES } from '../store/resources.ts';
import { type KubeClient, toStoreError } from './client.ts';
import { errorBody, streamLines } from './stream.ts';

const LIST_PAGE_SIZE = 500;
const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const MIN_WATCH_TIMEOUT_S = 300;

export type InformerHandler = (type: WatchEventType, obj: KubeObject) => void;

export interface InformerLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

function cacheKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** resourceVersions are opaque, but etcd's are integers: compare numerically when both are. */
export function isNewer(candidate: string | undefined, current: string | undefined): boolean {
  if (candidate === undefined) return false;
  if (current === undefined) return true;
  if (/^\d+$/.test(candidate) && /^\d+$/.test(current)) return BigInt(candidate) > BigInt(current);
  return candidate !== current;
}

export class Informer {
  readonly kind: Kind;
  readonly #client: KubeClient;
  readonly #namespace: string | undefined;
  readonly #objects = new Map<string, KubeObject>();
  readonly #handlers = new Set<InformerHandler>();
  readonly #logger: InformerLogger | undefined;
  #resourceVersion = '';
  #abort = new AbortController();
  #running = false;
  #synced = false;
  #syncWaiters: ((ok: boolean) => void)[] = [];
  #loop: Promise<void> | undefined;

  readonly #versions: ApiVersions;

  constructor(
    client: KubeClient,
    kind: Kind,
    namespace: string | undefined,
    logger?: InformerLogger,
    versions: ApiVersions = {},
  ) {
    this.#client = client;
    this.#versions = versions;
    this.kind = kind;
    this.#namespace = RESOURCES[kind].namespaced ? namespace : undefined;
    this.#logger = logger;
  }

  get synced(): boolean {
    return this.#synced;
  }

  get size(): number {
    return this.#objects.size;
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.#objects.get(cacheKey(RESOURCES[this.kind].namespaced ? namespace : '', name));
  }

  list(): IterableIterator<KubeObject> {
    return this.#objects.values();
  }

  on(handler: InformerHandler): () => void {
    this.#handlers.add(handler);
    return () => {
      this.#handlers.delete(handler);
    };
  }

  /** Starts the list/watch loop; resolves once the first list has filled the cache (false if stopped first). */
  start(): Promise<boolean> {
    if (!this.#running) {
      this.#running = true;
      this.#abort = new AbortController();
      this.#loop = this.#run();
    }
    if (this.#synced) return Promise.resolve(true);
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    for (const w of this.#syncWaiters.splice(0)) w(false);
    await this.#loop;
  }

  /** Folds an object this process just wrote into the cache (only if newer than what is cached). */
  observe(obj: KubeObject): void {
    const key = cacheKey(obj.metadata.namespace, obj.metadata.name);
    const current = this.#objects.get(key);
    if (current === undefined || isNewer(obj.metadata.resourceVersion, current.metadata.resourceVersion)) {
      this.#objects.set(key, this.#withKind(obj));
    }
  }

  /** Drops an object this process just deleted. */
  forget(namespace: string, name: string): void {
    this.#objects.delete(cacheKey(RESOURCES[this.kind].namespaced ? namespace : '', name));
  }

  /**
   * Cached objects are frozen (reconcilers must copy before changing anything) and lose
   * metadata.managedFields, which no reconciler reads and which roughly doubles an object's size.
   */
  #withKind(obj: KubeObject): KubeObject {
    let out = obj;
    if ((obj.metadata as { managedFields?: unknown }).managedFields !== undefined) {
      const { managedFields: _dropped, ...metadata } = obj.metadata as KubeObject['metadata'] & {
        managedFields?: unknown;
      };
      out = { ...obj, metadata };
    }
    // List responses carry kind/apiVersion on the list, not on the items.
    if (!out.kind || !out.apiVersion)
      out = { ...out, kind: this.kind, apiVersion: RESOURCES[this.kind].apiVersion };
    return deepFreeze(out);
  }

  #emit(type: WatchEventType, obj: KubeObject): void {
    for (const h of [...this.#handlers]) {
      try {
        h(type, obj);
      } catch (error) {
        this.#logger?.warn({ kind: this.kind, err: errorText(error) }, 'informer handler threw');
      }
    }
  }

  async #run(): Promise<void> {
    let backoffMs = 0;
    while (this.#running) {
      try {
        if (this.#resourceVersion === '') await this.#relist();
        backoffMs = 0;
        await this.#watch();
      } catch (error) {
        if (!this.#running) break;
        if (error instanceof StoreError && error.status === 410) {
          this.#resourceVersion = '';
          continue;
        }
        backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, backoffMs * 2));
        this.#logger?.warn(
          { kind: this.kind, err: errorText(error), backoffMs },
          'list/watch failed; retrying',
        );
        this.#resourceVersion = '';
        await abortableSleep(backoffMs, this.#abort.signal);
      }
    }
  }

  async #relist(): Promise<void> {
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    const path = collectionPath(this.kind, this.#namespace, this.#versions);
    do {
      const res = await this.#client.request('GET', path, {
        query: { limit: LIST_PAGE_SIZE, ...(continueToken ? { continue: continueToken } : {}) },
        signal: this.#abort.signal,
        record: {
          verb: 'List',
          resource: RESOURCES[this.kind].plural,
          namespace: this.#namespace ?? '',
          name: 'N/A',
        },
      });
      if (res.status !== 200) throw toStoreError(res.status, res.body, `list ${RESOURCES[this.kind].plural}`);
      const body = res.body as {
        items?: KubeObject[];
        metadata?: { continue?: string; resourceVersion?: string };
      };
      for (const item of body.items ?? []) items.push(this.#withKind(item));
      continueToken = body.metadata?.continue || undefined;
      resourceVersion = body.metadata?.resourceVersion ?? '';
    } while (continueToken !== undefined);
    const fresh = new Map(items.map((o) => [cacheKey(o.metadata.namespace, o.metadata.name), o]));
    const previous = new Map(this.#objects);
    this.#objects.clear();
    for (const [k, o] of fresh) this.#objects.set(k, o);
    for (const [k, old] of previous) if (!fresh.has(k)) this.#emit('DELETED', old);
    for (const [k, o] of fresh) {
      const old = previous.get(k);
      if (old === undefined) this.#emit('ADDED', o);
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.#emit('MODIFIED', o);
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters.splice(0)) w(true);
    }
  }

  async #watch(): Promise<void> {
    const timeoutSeconds = MIN_WATCH_TIMEOUT_S + Math.floor(Math.random() * MIN_WATCH_TIMEOUT_S);
    const res = await this.#client.stream(
      collectionPath(this.kind, this.#namespace, this.#versions),
      { watch: 1, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      this.#abort.signal,
      { verb: 'Watch', resource: RESOURCES[this.kind].plural, namespace: this.#namespace ?? '', name: '' },
    );
    if (res.status !== 200) {
      throw toStoreError(res.status, await errorBody(res.body), `watch ${RESOURCES[this.kind].plural}`);
    }
    try {
      for await (const line of streamLines(res.body)) this.#handleLine(line);
    } catch (error) {
      if (!this.#running) return;
      throw error;
    } finally {
      res.body.destroy();
    }
  }

  #handleLine(line: string): void {
    let event: { type?: string; object?: KubeObject & { code?: number; message?: string } };
    try {
      event = JSON.parse(line);
    } catch {
      this.#logger?.warn({ kind: this.kind }, 'unparseable watch event');
      return;
    }
    const obj = event.object;
    if (obj === undefined || event.type === undefined) return;
    if (event.type === 'ERROR') {
      // Typically 410 Gone: our resourceVersion is too old; relist.
      throw new StoreError('Unavailable', obj.code ?? 500, obj.message ?? 'watch error');
    }
    const rv = obj.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.#resourceVersion = rv;
      return;
    }
    const full = this.#withKind(obj);
    const key = cacheKey(full.metadata.namespace, full.metadata.name);
    if (event.type === 'DELETED') {
      this.#objects.delete(key);
      this.#emit('DELETED', full);
    } else if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const current = this.#objects.get(key);
      // Keep a newer copy written by this process; still notify, the change is real. An object this
      // process created may already be cached (observe) when its ADDED arrives: still ADDED to watchers.
      if (current === undefined || !isNewer(current.metadata.resourceVersion, rv))
        this.#objects.set(key, full);
      this.#emit(current === undefined || event.type === 'ADDED' ? 'ADDED' : 'MODIFIED', full);
    }
    if (rv) this.#resourceVersion = rv;
  }
}

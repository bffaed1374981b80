// A small list-then-watch cache for the CLI's watch modes (get --watch, status, list --watch): lists a
// collection, then follows its watch from the list's resourceVersion, relisting when the server says the
// version is gone (410) or the stream fails, until the signal aborts. Calls onChange after every change.

import type { Kind, KubeObject } from '../../api/meta.ts';
import type { WatchEventType } from '../../store/object-store.ts';
import { type CliApi, CliApiError, type ListQuery } from '../kube.ts';

const RETRY_DELAY_MS = 1_000;

function key(obj: KubeObject): string {
  return obj.metadata.uid ?? `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
}

export class ListWatch<T extends KubeObject> {
  readonly #api: CliApi;
  readonly #kind: Kind;
  readonly #namespace: string | undefined;
  readonly #query: ListQuery;
  readonly #onChange: (type: WatchEventType, obj: T) => void;
  readonly #items = new Map<string, T>();
  #resourceVersion = '';

  constructor(
    api: CliApi,
    kind: Kind,
    namespace: string | undefined,
    query: ListQuery,
    onChange: (type: WatchEventType, obj: T) => void,
  ) {
    this.#api = api;
    this.#kind = kind;
    this.#namespace = namespace;
    this.#query = query;
    this.#onChange = onChange;
  }

  values(): T[] {
    return [...this.#items.values()];
  }

  async #list(): Promise<void> {
    const listed = await this.#api.list<T>(this.#kind, this.#namespace, this.#query);
    this.#items.clear();
    for (const item of listed.items) this.#items.set(key(item), item);
    this.#resourceVersion = listed.resourceVersion;
  }

  /**
   * Lists once (errors propagate), then follows the watch in the background. The returned `done`
   * settles (never rejects) when the signal aborts. (Wrapped in an object: an async function returning
   * a bare promise would be awaited through.)
   */
  async start(signal: AbortSignal): Promise<{ done: Promise<void> }> {
    await this.#list();
    return { done: this.#loop(signal) };
  }

  async #loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#api.watch(
          this.#kind,
          this.#namespace,
          this.#query,
          this.#resourceVersion,
          (type, obj) => {
            const item = obj as T;
            if (type === 'DELETED') this.#items.delete(key(item));
            else this.#items.set(key(item), item);
            if (item.metadata.resourceVersion !== undefined)
              this.#resourceVersion = item.metadata.resourceVersion;
            this.#onChange(type, item);
          },
          signal,
        );
      } catch (error) {
        if (signal.aborted) return;
        if (!(error instanceof CliApiError && error.status === 410)) await sleep(RETRY_DELAY_MS, signal);
        try {
          await this.#list();
        } catch {
          await sleep(RETRY_DELAY_MS, signal);
        }
      }
    }
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

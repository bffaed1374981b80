// Kubernetes access for the `sluice` CLI: the standard kubeconfig flags (--kubeconfig, --context,
// -n/--namespace, as kubectl resolves them) over the controller's client (src/kube/client.ts), and the
// few calls the verbs make: get, list, patch (merge or JSON patch, optionally on the status
// subresource), update, and list-then-watch. API failures become CliApiError carrying the API server's
// own message (e.g. `rollouts.argoproj.io "x" not found`), which the CLI prints as Argo's plugin does.

import { errorText, SluiceError } from '../api/errors.ts';
import type { Kind, KubeObject } from '../api/meta.ts';
import { KubeClient, loadKubeConfig } from '../kube/client.ts';
import { errorBody, streamLines } from '../kube/stream.ts';
import type { WatchEventType } from '../store/object-store.ts';
import { collectionPath, objectPath } from '../store/resources.ts';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export type PatchKind = 'merge' | 'json';

const CONTENT_TYPES: Readonly<Record<PatchKind, string>> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
};

export class CliApiError extends SluiceError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super('SLUICE_API_REFUSED', message);
    this.name = 'CliApiError';
    this.status = status;
    this.reason = reason;
  }
}

export interface ObjectList<T> {
  items: T[];
  resourceVersion: string;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
}

/** What the verbs need from the API server; tests may substitute a recording fake. */
export interface CliApi {
  /** The namespace from -n, else the kubeconfig context's, else `default`. */
  readonly namespace: string;
  get<T extends KubeObject>(kind: Kind, namespace: string, name: string): Promise<T>;
  list<T extends KubeObject>(
    kind: Kind,
    namespace: string | undefined,
    query?: ListQuery,
  ): Promise<ObjectList<T>>;
  patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
    patchKind: PatchKind,
    subresource?: 'status',
  ): Promise<T>;
  update<T extends KubeObject>(kind: Kind, namespace: string, name: string, obj: T): Promise<T>;
  /**
   * Watches a collection from `resourceVersion` until the server ends the stream or `signal` aborts;
   * rejects with CliApiError status 410 when the version is too old (the caller lists again).
   */
  watch(
    kind: Kind,
    namespace: string | undefined,
    query: ListQuery,
    resourceVersion: string,
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

function apiError(status: number, body: unknown, what: string): CliApiError {
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const message = typeof record.message === 'string' ? record.message : `${what}: HTTP ${status}`;
  const reason = typeof record.reason === 'string' ? record.reason : '';
  return new CliApiError(status, reason, message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withSubresource(path: string, subresource: string | undefined): string {
  return subresource === undefined ? path : `${path}/${subresource}`;
}

class KubeCliApi implements CliApi {
  readonly namespace: string;
  readonly #client: KubeClient;

  constructor(client: KubeClient, namespace: string) {
    this.#client = client;
    this.namespace = namespace;
  }

  async #call<T>(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> {
    const res = await this.#client.request(method, path, {
      ...(body === undefined ? {} : { body }),
      ...(contentType === undefined ? {} : { contentType }),
    });
    if (res.status < 200 || res.status >= 300) throw apiError(res.status, res.body, what);
    return res.body as T;
  }

  get<T extends KubeObject>(kind: Kind, namespace: string, name: string): Promise<T> {
    return this.#call<T>('GET', objectPath(kind, namespace, name), `get ${kind} ${name}`);
  }

  /** A GET of any API path, answered as is (discovery, and router objects at their served version). */
  async rawGet(path: string): Promise<{ status: number; body: unknown }> {
    const res = await this.#client.request('GET', path);
    return { status: res.status, body: res.body };
  }

  async list<T extends KubeObject>(
    kind: Kind,
    namespace: string | undefined,
    query: ListQuery = {},
  ): Promise<ObjectList<T>> {
    const res = await this.#client.request('GET', collectionPath(kind, namespace), { query: { ...query } });
    if (res.status < 200 || res.status >= 300) throw apiError(res.status, res.body, `list ${kind}`);
    const body = isRecord(res.body) ? res.body : {};
    const items = Array.isArray(body.items) ? (body.items as T[]) : [];
    const meta = isRecord(body.metadata) ? body.metadata : {};
    // List items carry no kind; fill it in so renderers can rely on it.
    for (const item of items)
      if (isRecord(item) && item.kind === undefined) (item as { kind: string }).kind = kind;
    return { items, resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '' };
  }

  // Deliberately parallel to the CliApi interface above: this class implements it.
  patch<T extends KubeObject>(
    kind: Kind,
    namespace: string,
    name: string,
    patch: unknown,
    patchKind: PatchKind,
    subresource?: 'status',
  ): Promise<T> {
    const path = withSubresource(objectPath(kind, namespace, name), subresource);
    return this.#call<T>('PATCH', path, `patch ${kind} ${name}`, patch, CONTENT_TYPES[patchKind]);
  }

  update<T extends KubeObject>(kind: Kind, namespace: string, name: string, obj: T): Promise<T> {
    return this.#call<T>('PUT', objectPath(kind, namespace, name), `update ${kind} ${name}`, obj);
  }

  async watch(
    kind: Kind,
    namespace: string | undefined,
    query: ListQuery,
    resourceVersion: string,
    onEvent: (type: WatchEventType, obj: KubeObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let res: Awaited<ReturnType<KubeClient['stream']>>;
    try {
      res = await this.#client.stream(
        collectionPath(kind, namespace),
        { ...query, watch: 1, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
        signal,
      );
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    }
    if (res.status !== 200) throw apiError(res.status, await errorBody(res.body), `watch ${kind}`);
    try {
      for await (const line of streamLines(res.body)) {
        const event: unknown = JSON.parse(line);
        if (!isRecord(event) || !isRecord(event.object)) continue;
        if (event.type === 'ERROR') {
          const status = typeof event.object.code === 'number' ? event.object.code : 500;
          throw apiError(status, event.object, `watch ${kind}`);
        }
        if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
          const obj = event.object as unknown as KubeObject;
          if (obj.kind === undefined) (obj as { kind: string }).kind = kind;
          onEvent(event.type, obj);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw error;
    } finally {
      res.body.destroy();
    }
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}

export type ConnectResult = { ok: true; api: CliApi } | { ok: false; error: string };

/** Resolves the kubeconfig and namespace as kubectl does, and connects. Never throws. */
export async function connect(
  flags: KubeFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConnectResult> {
  const loaded = await loadKubeConfig({
    ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
    ...(flags.context === undefined ? {} : { context: flags.context }),
    env,
  });
  if (!loaded.ok) return { ok: false, error: loaded.error };
  const kc = loaded.config;
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  const namespace = flags.namespace || contextNamespace || 'default';
  try {
    const client = await KubeClient.create(kc);
    return { ok: true, api: new KubeCliApi(client, namespace) };
  } catch (error) {
    return {
      ok: false,
      error: `kubeconfig ${loaded.source}: ${errorText(error)}`,
    };
  }
}

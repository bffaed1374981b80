// A minimal Kubernetes API client for the test control plane (undici, bearer token, the cluster's own CA):
// JSON requests, merge patches and watch streams. It is test plumbing, not the controller's client (the
// controller has src/kube/client.ts); it only understands the kubeconfig shapes kubectl writes.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { parse as parseYaml } from 'yaml';

/** How long the server keeps a watch open before the client must re-watch from the last resourceVersion. */
export const DEFAULT_WATCH_TIMEOUT_S = 300;

export interface KubeConnection {
  /** e.g. https://127.0.0.1:6443 (no trailing slash) */
  server: string;
  token: string;
  /** PEM of the CA that signed the apiserver's certificate; undefined = system roots. */
  caPem: string | undefined;
  insecureSkipTlsVerify: boolean;
}

export interface KubeResponse {
  status: number;
  body: unknown;
}

/** A Kubernetes API error: the HTTP status, the Status reason and message, and the request that failed. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(method: string, path: string, status: number, body: unknown) {
    const message = statusField(body, 'message') ?? JSON.stringify(body)?.slice(0, 500) ?? '';
    super(`${method} ${path}: HTTP ${status}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = statusField(body, 'reason') ?? '';
  }
}

function statusField(body: unknown, field: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function namedEntry(list: unknown, name: string, field: string, path: string): Record<string, unknown> {
  if (!Array.isArray(list)) throw new Error(`kubeconfig: ${path} must be a list`);
  const entry = list.find((item) => isRecord(item) && item.name === name);
  if (!isRecord(entry) || !isRecord(entry[field])) {
    throw new Error(`kubeconfig: ${path} has no entry named "${name}" with a "${field}" object`);
  }
  return entry[field] as Record<string, unknown>;
}

function optionalString(record: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = record[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`kubeconfig: ${path}.${key} must be a string`);
  return value;
}

/** Reads a kubeconfig (current context, or `context`) into a connection: server, token, CA. */
export async function loadKubeconfig(path: string, context?: string): Promise<KubeConnection> {
  const doc: unknown = parseYaml(await readFile(path, 'utf8'));
  if (!isRecord(doc)) throw new Error(`kubeconfig ${path}: not a YAML mapping`);
  const contextName = context ?? doc['current-context'];
  if (typeof contextName !== 'string' || contextName === '') {
    throw new Error(`kubeconfig ${path}: current-context is not set and no context was given`);
  }
  const ctx = namedEntry(doc.contexts, contextName, 'context', 'contexts');
  const clusterName = optionalString(ctx, 'cluster', `contexts[${contextName}].context`) ?? '';
  const userName = optionalString(ctx, 'user', `contexts[${contextName}].context`) ?? '';
  const cluster = namedEntry(doc.clusters, clusterName, 'cluster', 'clusters');
  const user = namedEntry(doc.users, userName, 'user', 'users');
  const server = optionalString(cluster, 'server', `clusters[${clusterName}].cluster`);
  if (server === undefined)
    throw new Error(`kubeconfig ${path}: clusters[${clusterName}].cluster.server is missing`);
  const token = optionalString(user, 'token', `users[${userName}].user`);
  if (token === undefined) {
    throw new Error(
      `kubeconfig ${path}: users[${userName}].user.token is missing (only token auth is supported)`,
    );
  }
  let caPem: string | undefined;
  const caData = optionalString(cluster, 'certificate-authority-data', `clusters[${clusterName}].cluster`);
  const caFile = optionalString(cluster, 'certificate-authority', `clusters[${clusterName}].cluster`);
  if (caData !== undefined) caPem = Buffer.from(caData, 'base64').toString('utf8');
  else if (caFile !== undefined)
    caPem = await readFile(isAbsolute(caFile) ? caFile : resolve(dirname(path), caFile), 'utf8');
  return {
    server: server.replace(/\/+$/, ''),
    token,
    caPem,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
  };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: Record<string, unknown>;
}

export class KubeClient {
  readonly connection: KubeConnection;
  readonly #agent: Agent;

  constructor(connection: KubeConnection) {
    this.connection = connection;
    this.#agent = new Agent({
      connect: {
        ...(connection.caPem === undefined ? {} : { ca: connection.caPem }),
        rejectUnauthorized: !connection.insecureSkipTlsVerify,
      },
      // Watches stay open for minutes; the server ends them (timeoutSeconds), not the client.
      bodyTimeout: 0,
      headersTimeout: 30_000,
    });
  }

  static async fromKubeconfig(path: string): Promise<KubeClient> {
    return new KubeClient(await loadKubeconfig(path));
  }

  /** Any request; resolves with the status and parsed JSON body whatever the status. */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<KubeResponse> {
    const response = await request(`${this.connection.server}${path}`, {
      method: method as 'GET',
      dispatcher: this.#agent,
      headers: {
        authorization: `Bearer ${this.connection.token}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': contentType }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Non-JSON bodies (e.g. /readyz "ok") are returned as text.
    }
    return { status: response.statusCode, body: parsed };
  }

  /** A request that must succeed (2xx); throws KubeApiError otherwise. */
  async call(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<Record<string, unknown>> {
    const response = await this.raw(method, path, body, contentType);
    if (response.status < 200 || response.status >= 300)
      throw new KubeApiError(method, path, response.status, response.body);
    return isRecord(response.body) ? response.body : {};
  }

  get(path: string): Promise<Record<string, unknown>> {
    return this.call('GET', path);
  }

  create(path: string, body: unknown): Promise<Record<string, unknown>> {
    return this.call('POST', path, body);
  }

  mergePatch(path: string, patch: unknown): Promise<Record<string, unknown>> {
    return this.call('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** DELETE; a 404 counts as done. */
  async delete(
    path: string,
    options?: { gracePeriodSeconds?: number; propagationPolicy?: string },
  ): Promise<void> {
    const response = await this.raw(
      'DELETE',
      path,
      options === undefined ? undefined : { kind: 'DeleteOptions', apiVersion: 'v1', ...options },
    );
    if (response.status === 404) return;
    if (response.status < 200 || response.status >= 300)
      throw new KubeApiError('DELETE', path, response.status, response.body);
  }

  /**
   * Opens a watch on a collection path (e.g. /api/v1/pods) from `resourceVersion`, calling onEvent for each
   * event in order. Resolves when the server ends the stream; rejects on a transport error or non-200.
   */
  async watch(
    path: string,
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    signal?: AbortSignal,
    timeoutSeconds = DEFAULT_WATCH_TIMEOUT_S,
  ): Promise<void> {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${this.connection.server}${path}${separator}watch=1&allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}&resourceVersion=${encodeURIComponent(resourceVersion)}`;
    const response = await request(url, {
      method: 'GET',
      dispatcher: this.#agent,
      headers: { authorization: `Bearer ${this.connection.token}`, accept: 'application/json' },
      ...(signal === undefined ? {} : { signal }),
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {}
      throw new KubeApiError('WATCH', path, response.statusCode, body);
    }
    let buffered = '';
    for await (const chunk of response.body) {
      buffered += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== '') {
          const parsed: unknown = JSON.parse(line);
          if (isRecord(parsed) && typeof parsed.type === 'string' && isRecord(parsed.object)) {
            onEvent({ type: parsed.type as WatchEventType, object: parsed.object });
          }
        }
        newline = buffered.indexOf('\n');
      }
    }
  }

  /** Closes every connection, ending open watches. */
  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}

// Which kubeconfig the controller and the CLI connect with, resolved as kubectl does: --kubeconfig, then the
// $KUBECONFIG list, then the in-cluster service account, then ~/.kube/config. Files are read by
// @kubernetes/client-node's KubeConfig: contexts, client certificates (files and inline data), exec
// credential plugins (spawned asynchronously, cached until the credential's expirationTimestamp),
// auth-provider (oidc, azure, gcp), `proxy-url` and `as` (Impersonate-User). Our transport (./client.ts)
// takes its TLS settings and headers through applyToHTTPSOptions and routes `proxy-url` itself.
// Importing client-node costs about 70 MiB of RSS (KubeConfig pulls in its generated API models), so it is
// imported only when a file is used; the in-cluster service account, the controller's production path,
// stays here and small (docs/controller.md, "Memory").

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Cluster, Context, KubeConfig, User } from '@kubernetes/client-node';
import { errorText } from '../api/errors.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
export const IN_CLUSTER_CONTEXT = 'inClusterContext';

/** What KubeClient needs from a kubeconfig; client-node's KubeConfig and InClusterConfig both have it. */
export interface KubeConfigLike {
  getCurrentCluster(): { readonly server: string; readonly proxyUrl?: string | undefined } | null;
  getCurrentContext(): string;
  getContextObject(name: string): { readonly namespace?: string | undefined } | null;
  /** Fills TLS fields (ca, cert, key, rejectUnauthorized, servername), `auth` and `headers` into opts. */
  applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void>;
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA, token file and namespace. */
export class InClusterConfig implements KubeConfigLike {
  readonly #server: string;
  readonly #dir: string;
  readonly #namespace: string | undefined;

  constructor(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR, namespace?: string) {
    const host = env.KUBERNETES_SERVICE_HOST ?? '';
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    this.#server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.#dir = dir;
    this.#namespace = namespace;
  }

  /** Reads the namespace file once; a missing file means no default namespace. */
  static async load(
    env: NodeJS.ProcessEnv = process.env,
    dir = SERVICE_ACCOUNT_DIR,
  ): Promise<InClusterConfig> {
    const namespace = await readFile(join(dir, 'namespace'), 'utf8').then(
      (text) => text.trim() || undefined,
      () => undefined,
    );
    return new InClusterConfig(env, dir, namespace);
  }

  getCurrentCluster(): { readonly server: string } {
    return { server: this.#server };
  }

  getCurrentContext(): string {
    return IN_CLUSTER_CONTEXT;
  }

  getContextObject(name: string): { readonly namespace?: string } | null {
    if (name !== IN_CLUSTER_CONTEXT) return null;
    return this.#namespace === undefined ? {} : { namespace: this.#namespace };
  }

  /** The token file is re-read on every call: projected service-account tokens rotate (about hourly). */
  async applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void> {
    const [ca, token] = await Promise.all([
      readFile(join(this.#dir, 'ca.crt')),
      readFile(join(this.#dir, 'token'), 'utf8'),
    ]);
    opts.ca = ca;
    const headers = typeof opts.headers === 'object' && opts.headers !== null ? opts.headers : {};
    opts.headers = { ...headers, Authorization: `Bearer ${token.trim()}` };
  }
}

export interface LoadKubeConfigOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Environment to read KUBECONFIG / KUBERNETES_SERVICE_HOST from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** The service account's directory (default SERVICE_ACCOUNT_DIR; tests). */
  readonly serviceAccountDir?: string;
}

export type LoadedKubeConfig =
  | { readonly ok: true; readonly config: KubeConfigLike; readonly source: string }
  | { readonly ok: false; readonly error: string };

/** Resolves the kubeconfig the way kubectl and controllers do; never throws. */
export async function loadKubeConfig(options: LoadKubeConfigOptions = {}): Promise<LoadedKubeConfig> {
  const env = options.env ?? process.env;
  let files: string[];
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    if (!existsSync(options.kubeconfig))
      return { ok: false, error: `--kubeconfig: ${options.kubeconfig} does not exist` };
    files = [options.kubeconfig];
  } else if (env.KUBECONFIG) {
    // kubectl skips the list's missing files and fails only when none exists.
    files = env.KUBECONFIG.split(delimiter).filter((p) => p !== '' && existsSync(p));
    if (files.length === 0) return { ok: false, error: `KUBECONFIG: no file of ${env.KUBECONFIG} exists` };
  } else if (env.KUBERNETES_SERVICE_HOST) {
    const config = await InClusterConfig.load(env, options.serviceAccountDir);
    return withContext(config, options.context, 'in-cluster service account');
  } else {
    const home = join(homedir(), '.kube', 'config');
    if (!existsSync(home))
      return { ok: false, error: 'no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a cluster' };
    files = [home];
  }
  const source = files.join(delimiter);
  let config: KubeConfig;
  try {
    config = await mergeKubeconfigFiles(files);
  } catch (error) {
    return { ok: false, error: `kubeconfig: ${errorText(error)}` };
  }
  return withContext(config, options.context, source);
}

function withContext(
  config: KubeConfigLike & { setCurrentContext?(name: string): void },
  context: string | undefined,
  source: string,
): LoadedKubeConfig {
  if (context !== undefined && context !== '') {
    if (config.getContextObject(context) === null)
      return { ok: false, error: `--context: no context named "${context}" in ${source}` };
    config.setCurrentContext?.(context);
  }
  if (config.getCurrentCluster() === null)
    return { ok: false, error: `kubeconfig ${source}: no current cluster` };
  return { ok: true, config, source };
}

/**
 * Reads kubeconfig files with client-node and merges them as client-go merges $KUBECONFIG: the first file
 * to name a cluster, user or context wins, and so does the first current-context set. (client-node's own
 * loadFromDefault throws on a name in two files and cannot skip a missing first file.) Throws with the file
 * name and client-node's field path on malformed content.
 */
export async function mergeKubeconfigFiles(files: readonly string[]): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const parts = files.map((file) => {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (error) {
      throw new Error(`${file}: ${errorText(error)}`, { cause: error });
    }
    return kc;
  });
  const merged = new KubeConfig();
  merged.loadFromOptions({
    // kubectl talks to an http:// server without TLS settings; client-node refuses one unless
    // insecure-skip-tls-verify is set, which means nothing without TLS.
    clusters: firstByName(parts.flatMap((kc) => kc.getClusters())).map(
      (c): Cluster => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c),
    ),
    users: firstByName<User>(parts.flatMap((kc) => kc.getUsers())),
    contexts: firstByName<Context>(parts.flatMap((kc) => kc.getContexts())),
    currentContext: parts.map((kc) => kc.getCurrentContext()).find((name) => !!name) ?? '',
  });
  return merged;
}

function firstByName<T extends { readonly name: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    if (seen.has(item.name)) return false;
    seen.add(item.name);
    return true;
  });
}

// The kubeconfig, read the way kubectl reads it: clusters, users and contexts from a YAML file (relative
// certificate and token paths resolved against the file's directory), or the in-cluster service account.
// It replaces @kubernetes/client-node's KubeConfig, whose import alone (the generated API models) cost
// the controller about 84 MB of RSS; the method names are the same, so either satisfies KubeConfigLike.
// Supported credentials: bearer token and tokenFile, client certificate and key (file or data), basic
// auth, and exec plugins (client.authentication.k8s.io ExecCredential). Legacy auth-provider plugins
// (gcp, azure, oidc) are reported as unsupported.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SluiceError } from '../api/errors.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const EXEC_TIMEOUT_MS = 30_000;

export interface KubeCluster {
  readonly name: string;
  readonly server: string;
  readonly caData?: string;
  readonly caFile?: string;
  readonly skipTLSVerify?: boolean;
  readonly tlsServerName?: string;
}

export interface KubeExec {
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value: string }[];
  readonly apiVersion?: string;
}

export interface KubeUser {
  readonly name: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly certData?: string;
  readonly certFile?: string;
  readonly keyData?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly password?: string;
  readonly exec?: KubeExec;
  /** Name of a legacy auth-provider plugin (unsupported). */
  readonly authProvider?: string;
}

export interface KubeContext {
  readonly name: string;
  readonly cluster: string;
  readonly user: string;
  readonly namespace?: string;
}

/** What KubeClient needs from a kubeconfig (client-node's KubeConfig has the same shape). */
export interface KubeConfigLike {
  getCurrentCluster(): { readonly server: string } | null;
  getCurrentContext(): string;
  getContextObject(name: string): { readonly namespace?: string } | null;
  /** Fills TLS fields (ca, cert, key, rejectUnauthorized, servername) and auth headers into opts. */
  applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void>;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(record: Json, key: string, path: string): string | undefined {
  const value = record[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new SluiceError('SLUICE_KUBECONFIG', `${path}.${key} must be a string`);
  return value;
}

function entries(doc: Json, key: string, field: string): { name: string; value: Json; path: string }[] {
  const list = doc[key];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new SluiceError('SLUICE_KUBECONFIG', `${key} must be a list`);
  return list.map((item, i) => {
    const path = `${key}[${i}]`;
    if (!isRecord(item) || typeof item.name !== 'string')
      throw new SluiceError('SLUICE_KUBECONFIG', `${path}.name must be a string`);
    const value = item[field] ?? {};
    if (!isRecord(value)) throw new SluiceError('SLUICE_KUBECONFIG', `${path}.${field} must be a mapping`);
    return { name: item.name, value, path: `${path}.${field}` };
  });
}

export class KubeConfig implements KubeConfigLike {
  clusters: KubeCluster[] = [];
  users: KubeUser[] = [];
  contexts: KubeContext[] = [];
  currentContext = '';

  /** Reads a kubeconfig file; throws with the field path on malformed content. */
  loadFromFile(file: string): void {
    const base = dirname(resolve(file));
    const abs = (p: string | undefined): string | undefined =>
      p === undefined || p === '' ? undefined : isAbsolute(p) ? p : resolve(base, p);
    const doc: unknown = parseYaml(readFileSync(file, 'utf8'));
    if (!isRecord(doc)) throw new SluiceError('SLUICE_KUBECONFIG', `${file}: not a YAML mapping`);
    this.clusters = entries(doc, 'clusters', 'cluster').map(({ name, value, path }) => {
      const server = str(value, 'server', path);
      if (server === undefined) throw new SluiceError('SLUICE_KUBECONFIG', `${path}.server is missing`);
      return {
        name,
        server,
        caData: str(value, 'certificate-authority-data', path),
        caFile: abs(str(value, 'certificate-authority', path)),
        skipTLSVerify: value['insecure-skip-tls-verify'] === true,
        tlsServerName: str(value, 'tls-server-name', path),
      };
    });
    this.users = entries(doc, 'users', 'user').map(({ name, value, path }) => {
      let exec: KubeExec | undefined;
      if (isRecord(value.exec)) {
        const command = str(value.exec, 'command', `${path}.exec`);
        if (command === undefined)
          throw new SluiceError('SLUICE_KUBECONFIG', `${path}.exec.command is missing`);
        const args = value.exec.args;
        const env = value.exec.env;
        exec = {
          command,
          args: Array.isArray(args) ? args.map(String) : [],
          env: Array.isArray(env)
            ? env.filter(isRecord).map((e) => ({ name: String(e.name), value: String(e.value) }))
            : [],
          apiVersion: str(value.exec, 'apiVersion', `${path}.exec`),
        };
      }
      const provider = isRecord(value['auth-provider']) ? value['auth-provider'].name : undefined;
      return {
        name,
        token: str(value, 'token', path),
        tokenFile: abs(str(value, 'tokenFile', path)),
        certData: str(value, 'client-certificate-data', path),
        certFile: abs(str(value, 'client-certificate', path)),
        keyData: str(value, 'client-key-data', path),
        keyFile: abs(str(value, 'client-key', path)),
        username: str(value, 'username', path),
        password: str(value, 'password', path),
        exec,
        authProvider: typeof provider === 'string' ? provider : undefined,
      };
    });
    this.contexts = entries(doc, 'contexts', 'context').map(({ name, value, path }) => ({
      name,
      cluster: str(value, 'cluster', path) ?? '',
      user: str(value, 'user', path) ?? '',
      namespace: str(value, 'namespace', path),
    }));
    const current = doc['current-context'];
    this.currentContext = typeof current === 'string' ? current : '';
  }

  /** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA, token file and namespace. */
  loadFromCluster(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): void {
    const host = env.KUBERNETES_SERVICE_HOST ?? '';
    const port = env.KUBERNETES_SERVICE_PORT ?? '443';
    const hostPart = host.includes(':') ? `[${host}]` : host;
    let namespace: string | undefined;
    try {
      namespace = readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined;
    } catch {
      namespace = undefined;
    }
    this.clusters = [{ name: 'inCluster', server: `https://${hostPart}:${port}`, caFile: `${dir}/ca.crt` }];
    this.users = [{ name: 'inClusterUser', tokenFile: `${dir}/token` }];
    this.contexts = [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', namespace }];
    this.currentContext = 'inClusterContext';
  }

  /** Programmatic configuration (tests), as client-node's loadFromOptions. */
  loadFromOptions(options: {
    clusters: KubeCluster[];
    users: KubeUser[];
    contexts: KubeContext[];
    currentContext: string;
  }): void {
    this.clusters = [...options.clusters];
    this.users = [...options.users];
    this.contexts = [...options.contexts];
    this.currentContext = options.currentContext;
  }

  getCurrentContext(): string {
    return this.currentContext;
  }

  setCurrentContext(name: string): void {
    this.currentContext = name;
  }

  getContextObject(name: string): KubeContext | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCurrentCluster(): KubeCluster | null {
    const context = this.getContextObject(this.currentContext);
    return context === null ? null : (this.clusters.find((c) => c.name === context.cluster) ?? null);
  }

  getCurrentUser(): KubeUser | null {
    const context = this.getContextObject(this.currentContext);
    return context === null ? null : (this.users.find((u) => u.name === context.user) ?? null);
  }

  async applyToHTTPSOptions(opts: Record<string, unknown>): Promise<void> {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    if (cluster !== null) {
      if (cluster.caData !== undefined) opts.ca = Buffer.from(cluster.caData, 'base64');
      else if (cluster.caFile !== undefined) opts.ca = readFileSync(cluster.caFile);
      if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
      if (cluster.tlsServerName !== undefined) opts.servername = cluster.tlsServerName;
    }
    if (user === null) return;
    if (user.certData !== undefined) opts.cert = Buffer.from(user.certData, 'base64');
    else if (user.certFile !== undefined) opts.cert = readFileSync(user.certFile);
    if (user.keyData !== undefined) opts.key = Buffer.from(user.keyData, 'base64');
    else if (user.keyFile !== undefined) opts.key = readFileSync(user.keyFile);
    if (user.username !== undefined && user.password !== undefined)
      opts.auth = `${user.username}:${user.password}`;
    let token = user.token;
    if (token === undefined && user.tokenFile !== undefined)
      token = readFileSync(user.tokenFile, 'utf8').trim();
    if (token === undefined && user.exec !== undefined) {
      const credential = runExec(user.exec);
      token = credential.token;
      if (credential.cert !== undefined) opts.cert = credential.cert;
      if (credential.key !== undefined) opts.key = credential.key;
    }
    if (token === undefined && user.authProvider !== undefined) {
      throw new SluiceError(
        'SLUICE_KUBECONFIG',
        `users[${user.name}]: auth-provider "${user.authProvider}" is not supported; use an exec plugin`,
      );
    }
    if (token !== undefined) {
      const headers = isRecord(opts.headers) ? opts.headers : {};
      headers.Authorization = `Bearer ${token}`;
      opts.headers = headers;
    }
  }
}

/** Runs an exec credential plugin and reads its ExecCredential status (token or client certificate). */
function runExec(exec: KubeExec): { token?: string; cert?: string; key?: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const e of exec.env ?? []) env[e.name] = e.value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: exec.apiVersion ?? 'client.authentication.k8s.io/v1beta1',
    kind: 'ExecCredential',
    spec: { interactive: false },
  });
  const out = execFileSync(exec.command, [...(exec.args ?? [])], {
    env,
    encoding: 'utf8',
    timeout: EXEC_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const parsed: unknown = JSON.parse(out);
  const status = isRecord(parsed) && isRecord(parsed.status) ? parsed.status : undefined;
  if (status === undefined)
    throw new SluiceError('SLUICE_KUBECONFIG', `exec plugin ${exec.command}: output has no status`);
  const pick = (key: string): string | undefined =>
    typeof status[key] === 'string' ? status[key] : undefined;
  const token = pick('token');
  const cert = pick('clientCertificateData');
  const key = pick('clientKeyData');
  return {
    ...(token !== undefined ? { token } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
  };
}

// Kubeconfig files read by @kubernetes/client-node and the in-cluster service account, as our transport
// (src/kube/client.ts) uses them against local servers on port 0: contexts and --context, merged KUBECONFIG
// lists, exec credential plugins, client certificates (files and inline data), impersonation, the oidc
// auth-provider and `proxy-url` through a CONNECT proxy.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeClient } from '../../../src/kube/client.ts';
import { InClusterConfig, loadKubeConfig } from '../../../src/kube/kubeconfig.ts';
import { startConnectProxy } from '../../fixtures/connect-proxy.ts';
import { generatePki, hasOpenssl, type Pki } from '../../fixtures/pki.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64');

interface Seen {
  readonly authorization: string | undefined;
  readonly impersonateUser: string | undefined;
  /** CN of the client certificate, on an HTTPS server. */
  readonly clientCn: string | undefined;
}

/** An API server stand-in answering `{}` to everything and recording what each request carried. */
async function apiServer(pki?: Pki): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket as Partial<TLSSocket>;
    const cn = socket.getPeerCertificate?.()?.subject?.CN;
    seen.push({
      authorization: req.headers.authorization,
      impersonateUser: req.headers['impersonate-user'] as string | undefined,
      clientCn: typeof cn === 'string' ? cn : undefined,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  };
  const server =
    pki === undefined
      ? createHttpServer(handler)
      : createHttpsServer(
          {
            cert: pki.serverCert,
            key: pki.serverKey,
            ca: pki.ca,
            requestCert: true,
            rejectUnauthorized: true,
          },
          handler,
        );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `${pki === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, seen };
}

function writeKubeconfig(file: string, doc: Record<string, unknown>): string {
  writeFileSync(file, stringify({ apiVersion: 'v1', kind: 'Config', ...doc }));
  return file;
}

async function clientFor(options: Parameters<typeof loadKubeConfig>[0]): Promise<KubeClient> {
  const loaded = await loadKubeConfig(options);
  if (!loaded.ok) throw new Error(loaded.error);
  const client = await KubeClient.create(loaded.config);
  cleanups.push(() => client.close());
  return client;
}

describe('kubeconfig files (client-node)', () => {
  it('reads the current context (CA file relative to the file, token, namespace) and switches with --context', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.crt'), 'CA-PEM');
    const file = writeKubeconfig(join(dir, 'config'), {
      'current-context': 'dev',
      clusters: [
        {
          name: 'c1',
          cluster: {
            server: 'https://127.0.0.1:6443',
            'certificate-authority': 'ca.crt',
            'tls-server-name': 'api',
          },
        },
        {
          name: 'c2',
          cluster: {
            server: 'https://10.0.0.1',
            'certificate-authority-data': b64('OTHER'),
            'insecure-skip-tls-verify': true,
          },
        },
      ],
      users: [
        { name: 'u1', user: { token: 't0k3n' } },
        { name: 'u2', user: { username: 'admin', password: 'pw' } },
      ],
      contexts: [
        { name: 'dev', context: { cluster: 'c1', user: 'u1', namespace: 'team-a' } },
        { name: 'other', context: { cluster: 'c2', user: 'u2' } },
      ],
    });
    const loaded = await loadKubeConfig({ kubeconfig: file });
    if (!loaded.ok) throw new Error(loaded.error);
    const kc = loaded.config;
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('team-a');
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    expect(String(opts.ca)).toBe('CA-PEM');
    expect(opts.servername).toBe('api');
    expect(opts.headers).toMatchObject({ Authorization: 'Bearer t0k3n' });

    const other = await loadKubeConfig({ kubeconfig: file, context: 'other' });
    if (!other.ok) throw new Error(other.error);
    expect(other.config.getCurrentCluster()?.server).toBe('https://10.0.0.1');
    expect(other.config.getContextObject(other.config.getCurrentContext())?.namespace).toBeUndefined();
    const otherOpts: Record<string, unknown> = {};
    await other.config.applyToHTTPSOptions(otherOpts);
    expect(String(otherOpts.ca)).toBe('OTHER');
    expect(otherOpts.rejectUnauthorized).toBe(false);
    expect(otherOpts.auth).toBe('admin:pw');
    expect(await loadKubeConfig({ kubeconfig: file, context: 'nope' })).toEqual({
      ok: false,
      error: `--context: no context named "nope" in ${file}`,
    });
  });

  it('names the file and the field of a malformed kubeconfig', async () => {
    const dir = tempDir();
    const file = join(dir, 'config');
    writeFileSync(file, 'clusters:\n- name: c\n  cluster: { certificate-authority: x }\n');
    expect(await loadKubeConfig({ kubeconfig: file })).toEqual({
      ok: false,
      error: `kubeconfig: ${file}: clusters[0].cluster.server is missing`,
    });
  });

  it('merges a KUBECONFIG list as kubectl: missing files skipped, first name and first current-context win', async () => {
    const dir = tempDir();
    const api = await apiServer();
    const other = await apiServer();
    const first = writeKubeconfig(join(dir, 'a'), {
      'current-context': 'shared',
      clusters: [{ name: 'c', cluster: { server: api.url } }],
      users: [{ name: 'u', user: { token: 'from-a' } }],
      contexts: [{ name: 'shared', context: { cluster: 'c', user: 'u', namespace: 'ns-a' } }],
    });
    const second = writeKubeconfig(join(dir, 'b'), {
      'current-context': 'only-b',
      clusters: [
        { name: 'c', cluster: { server: 'https://ignored.invalid' } },
        { name: 'c-b', cluster: { server: other.url } },
      ],
      users: [
        { name: 'u', user: { token: 'ignored' } },
        { name: 'u-b', user: { token: 'from-b' } },
      ],
      contexts: [
        { name: 'shared', context: { cluster: 'c-b', user: 'u-b' } },
        { name: 'only-b', context: { cluster: 'c-b', user: 'u-b', namespace: 'ns-b' } },
      ],
    });
    const env = { KUBECONFIG: [join(dir, 'missing'), first, second].join(':') };
    const loaded = await loadKubeConfig({ env });
    if (!loaded.ok) throw new Error(loaded.error);
    expect(loaded.source).toBe(`${first}:${second}`);
    expect(loaded.config.getCurrentContext()).toBe('shared');
    expect(loaded.config.getContextObject('shared')?.namespace).toBe('ns-a');
    await (await clientFor({ env })).request('GET', '/api');
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer from-a']);

    // A context only the second file defines, through the merged users and clusters.
    await (await clientFor({ env, context: 'only-b' })).request('GET', '/api');
    expect(other.seen.map((s) => s.authorization)).toEqual(['Bearer from-b']);
    expect(await loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'x')}:${join(dir, 'y')}` } })).toEqual({
      ok: false,
      error: `KUBECONFIG: no file of ${join(dir, 'x')}:${join(dir, 'y')} exists`,
    });
  });

  it('runs an exec plugin asynchronously, once while its credential is valid, again after expirationTimestamp', async () => {
    const dir = tempDir();
    const api = await apiServer();
    const calls = join(dir, 'calls');
    writeFileSync(calls, '');
    const plugin = join(dir, 'plugin.mjs');
    // Sleeps before answering, so a synchronous run would stall the event loop that long.
    writeFileSync(
      plugin,
      [
        "import { appendFileSync, readFileSync } from 'node:fs';",
        'const [calls, ttlMs, sleepMs] = process.argv.slice(2);',
        "appendFileSync(calls, 'x');",
        "const n = readFileSync(calls, 'utf8').length;",
        'await new Promise((r) => setTimeout(r, Number(sleepMs)));',
        'const expirationTimestamp = new Date(Date.now() + Number(ttlMs)).toISOString();',
        "const status = { token: process.env.TOKEN_PREFIX + '-' + n, expirationTimestamp };",
        "process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status }));",
      ].join('\n'),
    );
    const ttlMs = 2_500;
    const sleepMs = 600;
    const file = writeKubeconfig(join(dir, 'config'), {
      'current-context': 'x',
      clusters: [{ name: 'c', cluster: { server: api.url } }],
      users: [
        {
          name: 'u',
          user: {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: process.execPath,
              args: [plugin, calls, String(ttlMs), String(sleepMs)],
              env: [{ name: 'TOKEN_PREFIX', value: 'exec' }],
              interactiveMode: 'Never',
            },
          },
        },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    });
    const callCount = (): number => readFileSync(calls, 'utf8').length;

    let last = performance.now();
    let maxGapMs = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    }, 10);
    let client: KubeClient;
    try {
      client = await clientFor({ kubeconfig: file });
    } finally {
      clearInterval(ticker);
    }
    expect(callCount()).toBe(1);
    expect(maxGapMs).toBeLessThan(sleepMs / 2);

    const issuedMs = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => client.request('GET', '/api')));
    // Past the client's header refresh: client-node answers from its cache while the credential is valid.
    await new Promise((r) => setTimeout(r, 1_200));
    await client.request('GET', '/api');
    expect(callCount()).toBe(1);
    expect(new Set(api.seen.map((s) => s.authorization))).toEqual(new Set(['Bearer exec-1']));

    await new Promise((r) => setTimeout(r, Math.max(0, issuedMs + ttlMs + 1_200 - Date.now())));
    await Promise.all(Array.from({ length: 3 }, () => client.request('GET', '/api')));
    expect(callCount()).toBe(2);
    expect(api.seen.at(-1)?.authorization).toBe('Bearer exec-2');
  });

  it('sends an oidc auth-provider id-token while it is valid', async () => {
    const dir = tempDir();
    const api = await apiServer();
    const payload = Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 })).toString(
      'base64url',
    );
    const idToken = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.sig`;
    const file = writeKubeconfig(join(dir, 'config'), {
      'current-context': 'x',
      clusters: [{ name: 'c', cluster: { server: api.url } }],
      users: [
        {
          name: 'u',
          user: {
            'auth-provider': {
              name: 'oidc',
              config: { 'id-token': idToken, 'client-id': 'sluice', 'idp-issuer-url': 'https://idp.invalid' },
            },
          },
        },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    });
    await (await clientFor({ kubeconfig: file })).request('GET', '/api');
    expect(api.seen.map((s) => s.authorization)).toEqual([`Bearer ${idToken}`]);
  });

  describe.runIf(hasOpenssl())('over TLS', () => {
    // One PKI for both cases; the kubeconfigs name its files relative to their own directory.
    let dir = '';
    let pki: Pki;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-pki-'));
      pki = generatePki(dir);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('presents a client certificate from files and from inline data, and impersonates with `as`', async () => {
      const api = await apiServer(pki);
      const file = writeKubeconfig(join(dir, 'files.config'), {
        'current-context': 'files',
        clusters: [{ name: 'c', cluster: { server: api.url, 'certificate-authority': 'test-ca.crt' } }],
        users: [
          { name: 'files', user: { 'client-certificate': 'client.crt', 'client-key': 'client.key' } },
          {
            name: 'inline',
            user: {
              'client-certificate-data': b64(pki.clientCert),
              'client-key-data': b64(pki.clientKey),
              as: 'jane',
            },
          },
        ],
        contexts: [
          { name: 'files', context: { cluster: 'c', user: 'files' } },
          { name: 'inline', context: { cluster: 'c', user: 'inline' } },
        ],
      });
      await (await clientFor({ kubeconfig: file })).request('GET', '/api');
      await (await clientFor({ kubeconfig: file, context: 'inline' })).request('GET', '/api');
      expect(api.seen).toEqual([
        { authorization: undefined, impersonateUser: undefined, clientCn: 'client' },
        { authorization: undefined, impersonateUser: 'jane', clientCn: 'client' },
      ]);
    });

    it('routes through the proxy-url with CONNECT, TLS to the API server inside the tunnel', async () => {
      const api = await apiServer(pki);
      const proxy = await startConnectProxy();
      cleanups.push(() => proxy.close());
      const file = writeKubeconfig(join(dir, 'proxy.config'), {
        'current-context': 'x',
        clusters: [
          {
            name: 'c',
            cluster: { server: api.url, 'certificate-authority-data': b64(pki.ca), 'proxy-url': proxy.url },
          },
        ],
        users: [
          {
            name: 'u',
            user: { token: 'via-proxy', 'client-certificate': 'client.crt', 'client-key': 'client.key' },
          },
        ],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      });
      const client = await clientFor({ kubeconfig: file });
      for (let i = 0; i < 3; i++) expect((await client.request('GET', '/api')).status).toBe(200);
      expect(proxy.connects.length).toBeGreaterThanOrEqual(1);
      expect(new Set(proxy.connects)).toEqual(new Set([new URL(api.url).host]));
      expect(api.seen.map((s) => [s.authorization, s.clientCn])).toEqual(
        Array.from({ length: 3 }, () => ['Bearer via-proxy', 'client']),
      );
    });
  });
});

describe('in-cluster service account (ours, no client-node)', () => {
  it('reads the server from the environment and the token file on every apply', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'sa-token-1\n');
    writeFileSync(join(dir, 'ca.crt'), 'SA-CA');
    writeFileSync(join(dir, 'namespace'), 'rollouts');
    const loaded = await loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '8443' },
      serviceAccountDir: dir,
    });
    if (!loaded.ok) throw new Error(loaded.error);
    expect(loaded.config).toBeInstanceOf(InClusterConfig);
    const kc = loaded.config;
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:8443');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('rollouts');
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    expect(String(opts.ca)).toBe('SA-CA');
    expect(opts.headers).toEqual({ Authorization: 'Bearer sa-token-1' });
    writeFileSync(join(dir, 'token'), 'sa-token-2\n');
    const again: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(again);
    expect(again.headers).toEqual({ Authorization: 'Bearer sa-token-2' });
  });

  it('never loads client-node, which a kubeconfig file does load', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 't');
    writeFileSync(join(dir, 'ca.crt'), 'CA');
    const kubeconfig = writeKubeconfig(join(dir, 'config'), {
      'current-context': 'x',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    });
    // A fresh process per case (this file imports client-node itself), counting the modules it resolves.
    const clientNodeModules = (options: Parameters<typeof loadKubeConfig>[0]): number => {
      const script = [
        "import { registerHooks } from 'node:module';",
        'let n = 0;',
        "registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes('/@kubernetes/client-node/')) n++; return r; } });",
        "const { loadKubeConfig } = await import('./src/kube/kubeconfig.ts');",
        "const { KubeClient } = await import('./src/kube/client.ts');",
        `const loaded = await loadKubeConfig(${JSON.stringify(options)});`,
        'if (!loaded.ok) throw new Error(loaded.error);',
        'await (await KubeClient.create(loaded.config)).close();',
        'process.stdout.write(String(n));',
      ].join('\n');
      const out = execFileSync(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      );
      return Number(out);
    };
    expect(clientNodeModules({ env: { KUBERNETES_SERVICE_HOST: '127.0.0.1' }, serviceAccountDir: dir })).toBe(
      0,
    );
    expect(clientNodeModules({ kubeconfig })).toBeGreaterThan(0);
  });
});

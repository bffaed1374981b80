// The kubeconfig loader that replaced @kubernetes/client-node's KubeConfig: files with relative paths,
// inline data, contexts, the in-cluster service account and exec credential plugins.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadKubeConfig } from '../../../src/kube/client.ts';
import { KubeConfig } from '../../../src/kube/kubeconfig.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-'));
  dirs.push(dir);
  return dir;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describe('KubeConfig', () => {
  it('reads the current context: CA file relative to the kubeconfig, token, namespace', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.crt'), 'CA-PEM');
    writeFileSync(
      join(dir, 'config'),
      [
        'apiVersion: v1',
        'kind: Config',
        'current-context: dev',
        'clusters:',
        '- name: c1',
        '  cluster: { server: "https://127.0.0.1:6443", certificate-authority: ca.crt, tls-server-name: api }',
        '- name: c2',
        `  cluster: { server: "https://10.0.0.1", certificate-authority-data: ${b64('OTHER')}, insecure-skip-tls-verify: true }`,
        'users:',
        '- name: u1',
        '  user: { token: t0k3n }',
        '- name: u2',
        '  user: { username: admin, password: pw }',
        'contexts:',
        '- name: dev',
        '  context: { cluster: c1, user: u1, namespace: team-a }',
        '- name: other',
        '  context: { cluster: c2, user: u2 }',
      ].join('\n'),
    );
    const loaded = loadKubeConfig({ kubeconfig: join(dir, 'config') });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const kc = loaded.config;
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('team-a');
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    expect(String(opts.ca)).toBe('CA-PEM');
    expect(opts.servername).toBe('api');
    expect(opts.headers).toEqual({ Authorization: 'Bearer t0k3n' });

    const other = loadKubeConfig({ kubeconfig: join(dir, 'config'), context: 'other' });
    expect(other.ok).toBe(true);
    if (!other.ok) return;
    const otherOpts: Record<string, unknown> = {};
    await other.config.applyToHTTPSOptions(otherOpts);
    expect(String(otherOpts.ca)).toBe('OTHER');
    expect(otherOpts.rejectUnauthorized).toBe(false);
    expect(otherOpts.auth).toBe('admin:pw');
    expect(loadKubeConfig({ kubeconfig: join(dir, 'config'), context: 'nope' })).toEqual({
      ok: false,
      error: `--context: no context named "nope" in ${join(dir, 'config')}`,
    });
  });

  it('names the field of a malformed kubeconfig', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config'), 'clusters:\n- name: c\n  cluster: { certificate-authority: x }\n');
    expect(loadKubeConfig({ kubeconfig: join(dir, 'config') })).toEqual({
      ok: false,
      error: 'kubeconfig: clusters[0].cluster.server is missing',
    });
  });

  it('uses the in-cluster service account (token file re-read on every apply)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), 'sa-token-1\n');
    writeFileSync(join(dir, 'ca.crt'), 'SA-CA');
    writeFileSync(join(dir, 'namespace'), 'rollouts');
    const kc = new KubeConfig();
    kc.loadFromCluster({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '8443' }, dir);
    expect(kc.getCurrentCluster()?.server).toBe('https://[fd00::1]:8443');
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('rollouts');
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    expect(opts.headers).toEqual({ Authorization: 'Bearer sa-token-1' });
    writeFileSync(join(dir, 'token'), 'sa-token-2\n');
    const again: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(again);
    expect(again.headers).toEqual({ Authorization: 'Bearer sa-token-2' });
  });

  it('runs an exec credential plugin with its env and reads the token', async () => {
    const dir = tempDir();
    const plugin = join(dir, 'plugin.sh');
    writeFileSync(
      plugin,
      '#!/bin/sh\necho "{\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$PREFIX-$1\\"}}"\n',
    );
    chmodSync(plugin, 0o755);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u', exec: { command: plugin, args: ['abc'], env: [{ name: 'PREFIX', value: 'x' }] } }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    });
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    expect(opts.headers).toEqual({ Authorization: 'Bearer x-abc' });
  });

  it('reports a legacy auth-provider as unsupported instead of sending no credentials', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u', authProvider: 'gcp' }],
      contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
      currentContext: 'ctx',
    });
    await expect(kc.applyToHTTPSOptions({})).rejects.toThrow('auth-provider "gcp" is not supported');
  });
});

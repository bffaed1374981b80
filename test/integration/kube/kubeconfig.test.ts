// Kubeconfig files (client-node) against the real test API server: `proxy-url` through a local CONNECT
// proxy, an exec credential plugin's token, and a merged KUBECONFIG list with --context choosing the user and
// the namespace, through the controller's client and the CLI's connect. Needs SLUICE_TEST_KUBECONFIG (the
// cluster project's global setup sets it).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { connect } from '../../../src/cli/kube.ts';
import { KubeClient, loadKubeConfig } from '../../../src/kube/client.ts';
import { useNamespace } from '../../cluster/namespace.ts';
import { startConnectProxy } from '../../fixtures/connect-proxy.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run `npm run cluster:up`, then export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`kubeconfig integration tests skipped: ${SKIP_REASON}`);

interface TestCluster {
  readonly clusterName: string;
  readonly userName: string;
  readonly server: string;
  readonly caData: string;
  readonly token: string;
}

/** The fields of the test cluster's kubeconfig (one cluster, one token user) the cases rewrite. */
function readTestCluster(file: string): TestCluster {
  const doc = parse(readFileSync(file, 'utf8'));
  const cluster = doc.clusters[0];
  const user = doc.users[0];
  return {
    clusterName: cluster.name,
    userName: user.name,
    server: cluster.cluster.server,
    caData: cluster.cluster['certificate-authority-data'],
    token: user.user.token,
  };
}

function kubeconfig(
  file: string,
  doc: { clusters?: unknown[]; users?: unknown[]; contexts?: unknown[]; current?: string },
): string {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: doc.clusters ?? [],
      users: doc.users ?? [],
      contexts: doc.contexts ?? [],
      ...(doc.current === undefined ? {} : { 'current-context': doc.current }),
    }),
  );
  return file;
}

async function clientFor(options: Parameters<typeof loadKubeConfig>[0]): Promise<KubeClient> {
  const loaded = await loadKubeConfig(options);
  if (!loaded.ok) throw new Error(loaded.error);
  return await KubeClient.create(loaded.config);
}

describe.skipIf(!KUBECONFIG)('kubeconfig files against the test API server', () => {
  const ns = useNamespace('kubeconfig');
  let cluster: TestCluster;
  let dir: string;

  beforeAll(() => {
    cluster = readTestCluster(KUBECONFIG!);
    dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-it-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reaches the API server through the cluster proxy-url, every connection a CONNECT tunnel', async () => {
    const proxy = await startConnectProxy();
    const file = kubeconfig(join(dir, 'proxied'), {
      clusters: [
        {
          name: 'c',
          cluster: {
            server: cluster.server,
            'certificate-authority-data': cluster.caData,
            'proxy-url': proxy.url,
          },
        },
      ],
      users: [{ name: 'u', user: { token: cluster.token } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      current: 'x',
    });
    const client = await clientFor({ kubeconfig: file });
    try {
      const res = await client.request('GET', `/api/v1/namespaces/${ns.name}`);
      expect(res.status).toBe(200);
      expect((res.body as { metadata: { name: string } }).metadata.name).toBe(ns.name);
      const stream = await client.stream(
        `/api/v1/namespaces/${ns.name}/configmaps`,
        { watch: 'true', timeoutSeconds: 1 },
        new AbortController().signal,
      );
      expect(stream.status).toBe(200);
      await stream.body.text();
      expect(proxy.connects.length).toBeGreaterThanOrEqual(1);
      expect(new Set(proxy.connects)).toEqual(new Set([new URL(cluster.server).host]));
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it("authenticates with an exec plugin's token, and a wrong one gets 401", async () => {
    const plugin = join(dir, 'plugin.mjs');
    writeFileSync(
      plugin,
      [
        'const status = { token: process.argv[2], expirationTimestamp: new Date(Date.now() + 600_000).toISOString() };',
        "process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status }));",
      ].join('\n'),
    );
    const execUser = (token: string) => ({
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: process.execPath,
        args: [plugin, token],
      },
    });
    const file = kubeconfig(join(dir, 'exec'), {
      clusters: [
        { name: 'c', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
      ],
      users: [
        { name: 'good', user: execUser(cluster.token) },
        { name: 'bad', user: execUser('not-a-token') },
      ],
      contexts: [
        { name: 'good', context: { cluster: 'c', user: 'good' } },
        { name: 'bad', context: { cluster: 'c', user: 'bad' } },
      ],
      current: 'good',
    });
    for (const [context, status] of [
      ['good', 200],
      ['bad', 401],
    ] as const) {
      const client = await clientFor({ kubeconfig: file, context });
      try {
        expect((await client.request('GET', `/api/v1/namespaces/${ns.name}`)).status).toBe(status);
      } finally {
        await client.close();
      }
    }
  });

  it("merges KUBECONFIG=a:b; the CLI's --context picks b's context, its user from a and its namespace", async () => {
    const extra = kubeconfig(join(dir, 'extra'), {
      users: [{ name: 'nobody', user: { token: 'not-a-token' } }],
      contexts: [
        {
          name: 'team',
          context: { cluster: cluster.clusterName, user: cluster.userName, namespace: ns.name },
        },
        { name: 'stranger', context: { cluster: cluster.clusterName, user: 'nobody', namespace: ns.name } },
      ],
      current: 'team',
    });
    const env = { KUBECONFIG: `${KUBECONFIG}:${extra}` };

    const team = await connect({ context: 'team' }, env);
    if (!team.ok) throw new Error(team.error);
    try {
      expect(team.api.namespace).toBe(ns.name);
      const listed = await team.api.list('ConfigMap', team.api.namespace);
      for (const item of listed.items) expect(item.metadata.namespace).toBe(ns.name);
    } finally {
      await team.api.close();
    }

    const flagged = await connect({ context: 'team', namespace: 'default' }, env);
    if (!flagged.ok) throw new Error(flagged.error);
    expect(flagged.api.namespace).toBe('default');
    await flagged.api.close();

    const stranger = await connect({ context: 'stranger' }, env);
    if (!stranger.ok) throw new Error(stranger.error);
    try {
      await expect(stranger.api.list('ConfigMap', ns.name)).rejects.toThrow();
    } finally {
      await stranger.api.close();
    }
    expect(await connect({ context: 'missing' }, env)).toEqual({
      ok: false,
      error: `--context: no context named "missing" in ${KUBECONFIG}:${extra}`,
    });
  });
});

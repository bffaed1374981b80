// Test helpers for the shared test cluster: the kubeconfig the global setup exposes, an API client on it,
// and a unique namespace per test (labelled so leftovers can be found) that is deleted afterwards.

import { randomBytes } from 'node:crypto';
import { KUBECONFIG_ENV } from './global-setup.ts';
import { KubeClient } from './kube-client.ts';

export const TEST_NAMESPACE_LABEL = 'sluice.test/namespace';
const NAMESPACE_GONE_TIMEOUT_MS = 60_000;

/** The kubeconfig of the test cluster; throws with a how-to when the global setup did not run. */
export function testKubeconfig(): string {
  const path = process.env[KUBECONFIG_ENV];
  if (path === undefined || path === '') {
    throw new Error(
      `${KUBECONFIG_ENV} is not set: run cluster tests through the vitest project that has test/cluster/global-setup.ts as globalSetup, or export ${KUBECONFIG_ENV}=$PWD/.cluster/kubeconfig after \`npm run cluster:up\``,
    );
  }
  return path;
}

export function testClient(): Promise<KubeClient> {
  return KubeClient.fromKubeconfig(testKubeconfig());
}

export interface TestNamespace {
  name: string;
  /** Deletes the namespace (its contents go with it); with wait, resolves once it is gone. */
  delete(options?: { wait?: boolean }): Promise<void>;
}

/** A DNS-1123 name: prefix (lowercased, trimmed) plus 8 random hex characters. */
export function uniqueNamespaceName(prefix: string): string {
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'test';
  return `${clean}-${randomBytes(4).toString('hex')}`;
}

export async function createTestNamespace(client: KubeClient, prefix = 'test'): Promise<TestNamespace> {
  const name = uniqueNamespaceName(prefix);
  await client.create('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: 'true' } },
  });
  return {
    name,
    async delete(options) {
      await client.delete(`/api/v1/namespaces/${name}`, { propagationPolicy: 'Background' });
      if (!options?.wait) return;
      const deadline = Date.now() + NAMESPACE_GONE_TIMEOUT_MS;
      while ((await client.raw('GET', `/api/v1/namespaces/${name}`)).status !== 404) {
        if (Date.now() > deadline)
          throw new Error(`namespace ${name} still exists ${NAMESPACE_GONE_TIMEOUT_MS} ms after delete`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
}

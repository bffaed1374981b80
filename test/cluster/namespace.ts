// The cluster-test namespace fixture, the one way a test gets a namespace on the shared test cluster: the
// kubeconfig the global setup exposes, an API client on it, the CRDs from crds/ (applied once per test
// process), and a unique namespace (labelled so leftovers can be found) that is deleted afterwards.
//
//   const ns = useNamespace('kube-store', { crds: true });   // at collection time, in a file or describe
//   beforeAll(async () => { ... ns.name ... });               // hooks registered after it see the namespace
//
// `createTestNamespace` is the imperative form, for fixtures that own their lifecycle (test/e2e/fixture.ts)
// and tests about namespaces themselves.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { KubeClient as ControllerKubeClient, loadKubeConfig } from '../../src/kube/client.ts';
import { KUBECONFIG_ENV } from './global-setup.ts';
import { KubeClient } from './kube-client.ts';
import { kubectl } from './kubectl.ts';
import { REPO_ROOT } from './paths.ts';
import { waitFor } from './wait.ts';

export const TEST_NAMESPACE_LABEL = 'sluice.test/namespace';
const NAMESPACE_GONE_TIMEOUT_MS = 60_000;
const CRDS_ESTABLISHED_TIMEOUT_S = 60;

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

/** The controller's own API client (src/kube/client.ts) on the test cluster, as `sluice controller` builds it. */
export async function controllerClient(): Promise<ControllerKubeClient> {
  const loaded = await loadKubeConfig({ kubeconfig: testKubeconfig() });
  if (!loaded.ok) throw new Error(loaded.error);
  return await ControllerKubeClient.create(loaded.config);
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
      await waitFor(async () => (await client.raw('GET', `/api/v1/namespaces/${name}`)).status === 404, {
        what: `namespace ${name} gone after delete`,
        timeoutMs: NAMESPACE_GONE_TIMEOUT_MS,
        intervalMs: 200,
      });
    },
  };
}

const crdsApplied = new Map<string, Promise<void>>();

/** The repository's CRDs (crds/: Argo's kinds) and the test-only CRDs of the routers' objects. */
export const ARGO_CRDS_DIR = join(REPO_ROOT, 'crds');
export const ROUTER_CRDS_DIR = join(REPO_ROOT, 'test', 'cluster', 'router-crds');

/** `kubectl apply -f <dir>` once per test process, resolved once every CRD is Established. */
export function ensureCrds(dir: string = ARGO_CRDS_DIR): Promise<void> {
  let applied = crdsApplied.get(dir);
  if (applied !== undefined) return applied;
  applied = (async () => {
    const kubeconfig = testKubeconfig();
    const result = await kubectl(kubeconfig, ['apply', '-f', dir]);
    if (result.code !== 0) throw new Error(`kubectl apply -f ${dir}: ${result.stderr}`);
    const established = await kubectl(
      kubeconfig,
      ['wait', '--for=condition=Established', `--timeout=${CRDS_ESTABLISHED_TIMEOUT_S}s`, '-f', dir],
      { timeoutMs: (CRDS_ESTABLISHED_TIMEOUT_S + 10) * 1000 },
    );
    if (established.code !== 0) throw new Error(`CRDs of ${dir} not Established: ${established.stderr}`);
  })();
  crdsApplied.set(dir, applied);
  applied.catch(() => crdsApplied.delete(dir));
  return applied;
}

export interface UseNamespaceOptions {
  /** Apply crds/ (once per process) before the first namespace is created. */
  crds?: boolean;
  /** A fresh namespace for every test instead of one for all tests of the file or describe. */
  perTest?: boolean;
}

export interface NamespaceRef {
  /** The namespace's name; read it in hooks and tests (it does not exist at collection time). */
  readonly name: string;
}

/**
 * Registers hooks in the calling file or describe that create a unique namespace `<prefix>-<8 hex>` before
 * its tests (before each test with perTest) and delete it after them. Call it before the describe's own
 * hooks that use the namespace: before-hooks run in registration order and after-hooks in reverse, so the
 * namespace exists first and goes last (after the test's controllers are stopped).
 */
export function useNamespace(prefix: string, options: UseNamespaceOptions = {}): NamespaceRef {
  let client: KubeClient | undefined;
  let current: TestNamespace | undefined;
  const create = async () => {
    current = await createTestNamespace(client!, prefix);
  };
  const remove = async () => {
    const ns = current;
    current = undefined;
    await ns?.delete();
  };
  beforeAll(async () => {
    if (options.crds) await ensureCrds();
    client = await testClient();
    if (!options.perTest) await create();
  });
  if (options.perTest) {
    beforeEach(create);
    afterEach(remove);
  }
  afterAll(async () => {
    try {
      if (!options.perTest) await remove();
    } finally {
      await client?.close();
    }
  });
  return {
    get name(): string {
      if (current === undefined)
        throw new Error(`useNamespace('${prefix}'): the namespace exists only inside hooks and tests`);
      return current.name;
    },
  };
}

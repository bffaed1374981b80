// deploy/ against a real Kubernetes 1.20 API server (test/cluster/), applied with its kubectl 1.20: the
// rendered controller, NetworkPolicy, gateway and sidecar example are created in a test namespace and
// stored with every field as sent (nothing pruned as unknown to 1.20); the cluster-scoped objects and the
// mutual-TLS example pass a server-side dry run; and pods from the controller's and the gateway's pod
// templates become the endpoints of their Services on the named ports (the test control plane runs no
// Deployment controller, so the test creates their ReplicaSets, as it would).
//
// Needs SLUICE_TEST_KUBECONFIG, which the `cluster` vitest project's global setup sets; skipped with that
// message otherwise.

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../../cluster/kube-client.ts';
import { kubectl } from '../../cluster/kubectl.ts';
import { ensureCrds, testClient, useNamespace } from '../../cluster/namespace.ts';
import { REPO_ROOT } from '../../cluster/paths.ts';
import { waitFor } from '../../cluster/wait.ts';
import { DEPLOY_DIR, findKustomizers, type Manifest, render, selects, type Workload } from './manifests.ts';

const KUBECONFIG = process.env.SLUICE_TEST_KUBECONFIG;
const SKIP_REASON =
  'needs SLUICE_TEST_KUBECONFIG (run it in the `cluster` vitest project, or `npm run cluster:up` and export SLUICE_TEST_KUBECONFIG=$PWD/.cluster/kubeconfig)';
if (!KUBECONFIG) console.warn(`deploy apply tests skipped: ${SKIP_REASON}`);

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
]);
const ENDPOINTS_TIMEOUT_MS = 30_000;
const AGGREGATION_TIMEOUT_MS = 30_000;
const MONITORING_CRDS_DIR = join(REPO_ROOT, 'test', 'cluster', 'monitoring-crds');

type Json = Record<string, unknown>;

interface EndpointSubset {
  addresses?: { ip: string }[];
  ports?: { name?: string; port: number }[];
}

describe.skipIf(!KUBECONFIG)('deploy/ applied to Kubernetes 1.20', () => {
  const ns = useNamespace('deploy-apply');
  const kustomizers = findKustomizers();
  // The sidecar Component and the TLS example need kustomize >= 3.7; the rest renders with kubectl 1.20.
  const binary = kustomizers.modern?.binary ?? kustomizers.legacy?.binary;
  let client: KubeClient;
  let installed: Manifest[];
  let clusterScoped: Manifest[];
  let tlsExample: Manifest[] | undefined;

  /** Namespaced objects moved into the test namespace; cluster-scoped ones kept apart, unchanged. */
  function intoTestNamespace(objects: Manifest[]): Manifest[] {
    return objects
      .filter((o) => !CLUSTER_SCOPED.has(o.kind))
      .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns.name } }));
  }

  /**
   * The object as the API returns it: Go's omitempty leaves empty strings out (an env entry without a
   * value still defines the variable, empty, which is what NODE_OPTIONS: '' is for).
   */
  function withoutEmptyStrings(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(withoutEmptyStrings);
    if (typeof value !== 'object' || value === null) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => [k, withoutEmptyStrings(v)]),
    );
  }

  function list(items: readonly unknown[]): string {
    // JSON, not YAML: kubectl reads YAML 1.1, where a stray `yes` would become a boolean.
    return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  }

  async function kubectlOk(args: string[], input?: string): Promise<string> {
    const result = await kubectl(KUBECONFIG!, args, input === undefined ? {} : { input });
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  beforeAll(async () => {
    if (binary === undefined)
      throw new Error(`no kubectl to render deploy/: ${kustomizers.missing.join('; ')}`);
    if (kustomizers.modern === undefined)
      console.warn(`sidecar and TLS examples not applied: ${kustomizers.missing[0]}`);
    client = await testClient();
    const dirs = ['base', 'network-policy', 'proxy/gateway'];
    if (kustomizers.modern !== undefined) dirs.push('examples/sidecar');
    const rendered = (await Promise.all(dirs.map((dir) => render(binary, join(DEPLOY_DIR, dir))))).flat();
    installed = intoTestNamespace(rendered);
    clusterScoped = rendered.filter((o) => CLUSTER_SCOPED.has(o.kind));
    if (kustomizers.modern !== undefined)
      tlsExample = intoTestNamespace(await render(binary, join(DEPLOY_DIR, 'examples', 'control-tls')));
  });

  afterAll(async () => {
    await client?.close();
  });

  it('creates the control token Secret the way docs/deploy.md does', async () => {
    const token = randomBytes(32).toString('hex');
    const out = await kubectlOk([
      '-n',
      ns.name,
      'create',
      'secret',
      'generic',
      'sluice-control-token',
      `--from-literal=token=${token}`,
    ]);
    expect(out).toMatch(/secret\/sluice-control-token created/);
  });

  it('accepts every namespaced object and stores each field as sent', async () => {
    const out = await kubectlOk(['apply', '-n', ns.name, '-f', '-'], list(installed));
    for (const o of installed)
      expect(out, `${o.kind}/${o.metadata.name}`).toMatch(
        new RegExp(`^${o.kind.toLowerCase()}[./][^ ]*${o.metadata.name} created$`, 'm'),
      );
    const stored = JSON.parse(
      await kubectlOk(['get', '-n', ns.name, '-o', 'json', '-f', '-'], list(installed)),
    ) as {
      items: Json[];
    };
    expect(stored.items).toHaveLength(installed.length);
    installed.forEach((sent, i) => {
      const { metadata, ...rest } = sent;
      // Server defaults are added (protocol, imagePullPolicy...); nothing sent may be missing or changed.
      expect(stored.items[i], `${sent.kind}/${sent.metadata.name}`).toMatchObject({
        ...(withoutEmptyStrings(rest) as Json),
        metadata: { name: metadata.name, labels: metadata.labels ?? {} },
      });
    });
    const kinds = new Set(installed.map((o) => o.kind));
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'NetworkPolicy', 'Role', 'RoleBinding'])
      expect(kinds.has(kind), kind).toBe(true);
  });

  it('accepts the cluster-scoped objects in a server-side dry run', async () => {
    expect(clusterScoped.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Namespace',
    ]);
    const out = await kubectlOk(['apply', '--dry-run=server', '-f', '-'], list(clusterScoped));
    expect(out.trim().split('\n')).toHaveLength(clusterScoped.length);
  });

  it('accepts the mutual-TLS example in a server-side dry run', async ({ skip }) => {
    if (tlsExample === undefined) skip('needs kustomize >= 3.7 to render');
    const out = await kubectlOk(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], list(tlsExample!));
    expect(out).toMatch(/deployment\.apps\/sluice-controller configured \(server dry run\)/);
    expect(out).toMatch(/deployment\.apps\/sluice-gateway configured \(server dry run\)/);
  });

  it.each([
    ['sluice-controller', 'sluice-controller', 'control', 8443],
    ['sluice-gateway', 'sluice-gateway', 'http', 8080],
  ])(
    'puts pods of the %s template behind Service %s, port %s -> %i',
    async (deployment, service, portName, port) => {
      const workload = installed.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === deployment,
      ) as Workload;
      // What the Deployment controller would create: a ReplicaSet with the Deployment's selector and template.
      await client.create(`/apis/apps/v1/namespaces/${ns.name}/replicasets`, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: `${deployment}-test` },
        spec: { replicas: 1, selector: workload.spec.selector, template: workload.spec.template },
      });
      const subset = await waitFor(
        async () => {
          const ep = await client.get(`/api/v1/namespaces/${ns.name}/endpoints/${service}`);
          const subsets = (ep.subsets ?? []) as EndpointSubset[];
          return subsets.find((s) => (s.addresses ?? []).length > 0);
        },
        { what: `ready endpoints behind Service ${service}`, timeoutMs: ENDPOINTS_TIMEOUT_MS },
      );
      expect(subset.addresses).toHaveLength(1);
      expect(subset.ports).toEqual([expect.objectContaining({ name: portName, port })]);
    },
  );
});

/** The documents of a generated single-file install (deploy/install.yaml, deploy/namespace-install.yaml). */
function generated(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8'))
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

describe.skipIf(!KUBECONFIG)(
  'deploy/install.yaml, namespace-install.yaml and observability on Kubernetes 1.20',
  () => {
    const ns = useNamespace('deploy-install');
    const install = generated('install.yaml');
    const namespaceInstall = generated('namespace-install.yaml');
    const kustomizers = findKustomizers();
    let client: KubeClient;
    const aggregateRoles = install.filter((o) => o.metadata.name.startsWith('sluice-aggregate-to-'));

    function list(items: readonly unknown[]): string {
      return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
    }

    async function kubectlOk(args: string[], input?: string): Promise<string> {
      const result = await kubectl(KUBECONFIG!, args, input === undefined ? {} : { input });
      if (result.code !== 0)
        throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
      return result.stdout;
    }

    function namespaced(objects: readonly Manifest[], kinds?: (kind: string) => boolean): Manifest[] {
      return objects
        .filter((o) => !CLUSTER_SCOPED.has(o.kind) && (kinds === undefined || kinds(o.kind)))
        .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: ns.name } }));
    }

    beforeAll(async () => {
      client = await testClient();
      await ensureCrds(MONITORING_CRDS_DIR);
    });

    afterAll(async () => {
      // Deleting them also takes their rules out of view/edit/admin again (the aggregation controller).
      for (const role of aggregateRoles)
        await kubectl(KUBECONFIG!, ['delete', 'clusterrole', role.metadata.name, '--ignore-not-found']);
      await client?.close();
    });

    it('creates every namespaced object of install.yaml but the PodDisruptionBudgets (policy/v1 is 1.21+)', async () => {
      const objects = namespaced(install, (kind) => kind !== 'PodDisruptionBudget');
      expect(new Set(objects.map((o) => o.kind))).toEqual(
        new Set(['ServiceAccount', 'Role', 'RoleBinding', 'Service', 'Deployment']),
      );
      const out = await kubectlOk(['apply', '-n', ns.name, '-f', '-'], list(objects));
      expect(out.trim().split('\n')).toHaveLength(objects.length);
      for (const workload of objects.filter((o) => o.kind === 'Deployment') as Workload[])
        expect(workload.spec.template.spec.containers[0]!.image).toBe('sluice:0.1.0');
    });

    it('accepts the PodDisruptionBudgets as policy/v1beta1, the version 1.20 serves (same fields)', async () => {
      const pdbs = namespaced(install, (kind) => kind === 'PodDisruptionBudget');
      expect(pdbs.map((o) => `${o.apiVersion} ${o.metadata.name}`)).toEqual([
        'policy/v1 sluice-controller',
        'policy/v1 sluice-gateway',
      ]);
      const asV1 = await kubectl(KUBECONFIG!, ['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], {
        input: list(pdbs),
      });
      expect(asV1.stderr).toMatch(/no matches for kind "PodDisruptionBudget" in version "policy\/v1"/);
      const v1beta1 = pdbs.map((o) => ({ ...o, apiVersion: 'policy/v1beta1' }));
      const out = await kubectlOk(['apply', '-n', ns.name, '-f', '-'], list(v1beta1));
      expect(out).toMatch(/poddisruptionbudget.policy\/sluice-controller created/);
      expect(out).toMatch(/poddisruptionbudget.policy\/sluice-gateway created/);
    });

    it('accepts the cluster-scoped objects of install.yaml in a server-side dry run', async () => {
      const objects = install.filter((o) => CLUSTER_SCOPED.has(o.kind));
      expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(5);
      expect(aggregateRoles).toHaveLength(3);
      const out = await kubectlOk(['apply', '--dry-run=server', '-f', '-'], list(objects));
      expect(out.trim().split('\n')).toHaveLength(objects.length);
    });

    it('aggregates into view (read-only on Rollouts), edit and admin (which patch Rollouts and their status)', async () => {
      await kubectlOk(['apply', '-f', '-'], list(aggregateRoles));
      // The built-in roles select what aggregates into them by label: ours must match their selectors.
      for (const builtIn of ['view', 'edit', 'admin']) {
        const role = await client.get(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${builtIn}`);
        const selectors = (
          role.aggregationRule as { clusterRoleSelectors: { matchLabels: Record<string, string> }[] }
        ).clusterRoleSelectors;
        const ours = aggregateRoles.find((r) => r.metadata.name === `sluice-aggregate-to-${builtIn}`)!;
        expect(
          selectors.some((s) => selects(s, ours.metadata.labels ?? {})),
          `${ours.metadata.name} selected by ${builtIn}`,
        ).toBe(true);
      }
      // The test control plane runs no clusterrole-aggregation controller (test/cluster/control-plane.ts), so
      // the rules are checked by binding our roles directly, which is what aggregation adds to view and edit.
      for (const [sa, role] of [
        ['viewer', 'sluice-aggregate-to-view'],
        ['editor', 'sluice-aggregate-to-edit'],
      ] as const) {
        await kubectlOk(['-n', ns.name, 'create', 'serviceaccount', sa]);
        await kubectlOk([
          '-n',
          ns.name,
          'create',
          'rolebinding',
          sa,
          `--clusterrole=${role}`,
          `--serviceaccount=${ns.name}:${sa}`,
        ]);
      }
      const can = async (sa: string, verb: string, resource: string): Promise<boolean> => {
        const r = await kubectl(KUBECONFIG!, [
          'auth',
          'can-i',
          verb,
          resource,
          '-n',
          ns.name,
          `--as=system:serviceaccount:${ns.name}:${sa}`,
        ]);
        return r.stdout.trim() === 'yes';
      };
      await waitFor(async () => (await can('editor', 'patch', 'rollouts.argoproj.io')) || undefined, {
        what: 'the editor binding to take effect',
        timeoutMs: AGGREGATION_TIMEOUT_MS,
      });
      expect(await can('viewer', 'list', 'rollouts.argoproj.io')).toBe(true);
      expect(await can('viewer', 'get', 'analysisruns.argoproj.io')).toBe(true);
      expect(await can('viewer', 'patch', 'rollouts.argoproj.io')).toBe(false);
      expect(await can('viewer', 'patch', 'rollouts.argoproj.io/status')).toBe(false);
      expect(await can('editor', 'patch', 'rollouts.argoproj.io/status')).toBe(true);
      expect(await can('editor', 'create', 'analysistemplates.argoproj.io')).toBe(true);
      expect(await can('editor', 'delete', 'secrets')).toBe(false);
    });

    it('accepts namespace-install.yaml: namespaced objects in a server dry run, its one ClusterRole too', async () => {
      const objects = namespaced(namespaceInstall, (kind) => kind !== 'PodDisruptionBudget');
      const out = await kubectlOk(['apply', '--dry-run=server', '-n', ns.name, '-f', '-'], list(objects));
      expect(out.trim().split('\n')).toHaveLength(objects.length);
      const cluster = namespaceInstall.filter((o) => CLUSTER_SCOPED.has(o.kind));
      expect(cluster.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
        'ClusterRole/sluice-controller-cluster-analysis-templates',
        'ClusterRoleBinding/sluice-controller-cluster-analysis-templates',
      ]);
      await kubectlOk(['apply', '--dry-run=server', '-f', '-'], list(cluster));
    });

    it('creates deploy/observability (ServiceMonitor, PodMonitor, PrometheusRule, dashboard ConfigMap)', async ({
      skip,
    }) => {
      if (kustomizers.modern === undefined) skip('needs kustomize >= 4 to render deploy/observability');
      const objects = namespaced(await render(kustomizers.modern!.binary, join(DEPLOY_DIR, 'observability')));
      expect(objects.map((o) => o.kind).sort()).toEqual([
        'ConfigMap',
        'PodMonitor',
        'PrometheusRule',
        'ServiceMonitor',
      ]);
      const out = await kubectlOk(['apply', '-n', ns.name, '-f', '-'], list(objects));
      expect(out.trim().split('\n')).toHaveLength(objects.length);
      const stored = JSON.parse(
        await kubectlOk(['get', '-n', ns.name, '-o', 'json', 'prometheusrule', 'sluice-alerts']),
      ) as { spec: unknown };
      expect(stored.spec).toEqual(
        (objects.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: unknown }).spec,
      );
    });
  },
);

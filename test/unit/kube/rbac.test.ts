// The deploy/ RBAC grants what the controller does, and no more: every cached kind can be listed and
// watched, Secrets can only be read one at a time, Leases are namespaced, and every verb granted is one
// some part of the controller uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONTROLLER_NODE_OPTIONS } from '../../../src/cli/controller.ts';
import { CACHED_KINDS } from '../../../src/kube/kube-store.ts';
import { RESOURCES } from '../../../src/store/resources.ts';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const BASE = join(import.meta.dirname, '..', '..', '..', 'deploy', 'base');

function rules(file: string): Rule[] {
  return (parse(readFileSync(join(BASE, file), 'utf8')) as { rules: Rule[] }).rules;
}

function verbsFor(all: Rule[], group: string, resource: string): Set<string> {
  const out = new Set<string>();
  for (const r of all)
    if (r.apiGroups.includes(group) && r.resources.includes(resource)) for (const v of r.verbs) out.add(v);
  return out;
}

function group(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
}

/** The verbs each resource needs: informers (get/list/watch) plus the writes the reconcilers perform. */
const NEEDED: Record<string, string[]> = {
  rollouts: ['get', 'list', 'watch', 'update', 'patch'],
  'rollouts/status': ['update', 'patch'],
  analysisruns: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  'analysisruns/status': ['update', 'patch'],
  'experiments/status': ['update', 'patch'],
  experiments: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  analysistemplates: ['get', 'list', 'watch'],
  clusteranalysistemplates: ['get', 'list', 'watch'],
  replicasets: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  deployments: ['get', 'list', 'watch', 'update', 'patch'],
  services: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  endpoints: ['get', 'list', 'watch'],
  pods: ['get', 'list', 'watch', 'patch'],
  'pods/eviction': ['create'],
  secrets: ['get'],
  events: ['create', 'patch'],
  jobs: ['get', 'list', 'watch', 'create', 'delete'],
  // The traffic routers' objects: read fresh and written (src/traffic/<router>/router.ts); the ones Argo
  // keeps informers on are watched too (src/kube/discovery.ts WATCHED_ROUTER_KINDS).
  ingresses: ['get', 'list', 'watch', 'create', 'patch'],
  virtualservices: ['get', 'list', 'watch', 'update'],
  destinationrules: ['get', 'list', 'watch', 'update'],
  trafficsplits: ['get', 'create', 'patch'],
  httproutes: ['get', 'update'],
  grpcroutes: ['get', 'update'],
  tcproutes: ['get', 'update'],
  configmaps: ['get', 'create', 'update'],
};

describe('deploy RBAC', () => {
  const cluster = rules('cluster-role.yaml');

  it('lets the informers list and watch every cached kind', () => {
    for (const kind of CACHED_KINDS) {
      const info = RESOURCES[kind];
      const verbs = verbsFor(cluster, group(info.apiVersion), info.plural);
      for (const v of ['get', 'list', 'watch']) expect(verbs.has(v), `${info.plural} ${v}`).toBe(true);
    }
  });

  it('grants exactly the verbs the controller uses', () => {
    const granted: Record<string, string[]> = {};
    for (const r of cluster)
      for (const res of r.resources) granted[res] = [...(granted[res] ?? []), ...r.verbs];
    for (const [res, verbs] of Object.entries(NEEDED))
      expect(new Set(granted[res]), res).toEqual(new Set(verbs));
    const extra = Object.keys(granted).filter((r) => !(r in NEEDED) && !r.endsWith('/finalizers'));
    expect(extra).toEqual([]);
  });

  it('never lets the controller list or watch Secrets, and keeps Leases namespaced', () => {
    expect([...verbsFor(cluster, '', 'secrets')]).toEqual(['get']);
    expect(verbsFor(cluster, 'coordination.k8s.io', 'leases').size).toBe(0);
    expect([...verbsFor(rules('role.yaml'), 'coordination.k8s.io', 'leases')].sort()).toEqual([
      'create',
      'get',
      'update',
    ]);
  });

  it('runs two replicas with POD_NAMESPACE for the Lease and probes on /healthz', () => {
    const deployment = parse(readFileSync(join(BASE, 'deployment.yaml'), 'utf8'));
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.env).toContainEqual({
      name: 'POD_NAMESPACE',
      valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } },
    });
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.ports.map((p: { containerPort: number }) => p.containerPort).sort()).toEqual([
      8080, 8090, 8443,
    ]);
  });

  it('runs the controller with the same node flags in the Deployment, the image and the benchmark', () => {
    const deployment = parse(readFileSync(join(BASE, 'deployment.yaml'), 'utf8'));
    const env = deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === 'NODE_OPTIONS')?.value).toBe(CONTROLLER_NODE_OPTIONS);
    const dockerfile = readFileSync(join(BASE, '..', 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`ENV NODE_OPTIONS=${CONTROLLER_NODE_OPTIONS}\n`);
    expect(readFileSync(join(BASE, '..', '..', 'bench', 'controller.ts'), 'utf8')).toContain(
      'CONTROLLER_NODE_OPTIONS',
    );
  });
});

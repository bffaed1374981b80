// deploy/ rendered by kustomize, as `kubectl apply -k` would send it: every kustomization renders (the
// ones meant for it with kubectl 1.20's kustomize v2.0.3 too, to the same objects), and the rendered
// objects fit together: the proxies dial the controller's control Service with the token its Deployment
// mounts, ports and probes match the flags, the NetworkPolicy lets exactly the proxy pods reach the
// control port, and every container runs non-root on a read-only root filesystem. The proxies' args are
// parsed by the proxy's own flag parser.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../../../src/cli/controller.ts';
import { parseProxyArgs } from '../../../src/cli/proxy.ts';
import { PROXY_MALLOC_ENV, PROXY_NODE_FLAGS } from '../../../src/cli/proxy-exec.ts';
import {
  type Container,
  container,
  DEPLOY_DIR,
  find,
  findKustomizers,
  flag,
  flags,
  KUSTOMIZATIONS,
  type LabelSelector,
  type Manifest,
  type NetworkPolicy,
  namedPort,
  render,
  type Service,
  selects,
  type Workload,
} from './manifests.ts';

const kustomizers = findKustomizers();
if (kustomizers.missing.length > 0)
  console.warn(`deploy render tests partly skipped: ${kustomizers.missing.join('; ')}`);
const modern = kustomizers.modern?.binary;
const legacy = kustomizers.legacy?.binary;

const TOKEN_DIR = '/etc/sluice/control';
const TOKEN_SECRET = 'sluice-control-token';

/** Kustomization directories under deploy/, relative to it. */
function kustomizationDirs(dir = DEPLOY_DIR): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...kustomizationDirs(path));
    else if (entry === 'kustomization.yaml') out.push(relative(DEPLOY_DIR, dir));
  }
  return out.sort();
}

/** The container hardening both proxies and the controller share. */
function expectHardened(c: Container, pod: Workload['spec']['template']['spec']): void {
  const effective = { ...pod.securityContext, ...c.securityContext };
  expect(effective.runAsNonRoot, `${c.name} runAsNonRoot`).toBe(true);
  expect(effective.runAsUser, `${c.name} runAsUser`).not.toBe(0);
  expect(effective.seccompProfile?.type, `${c.name} seccomp`).toBe('RuntimeDefault');
  expect(c.securityContext?.readOnlyRootFilesystem, `${c.name} read-only root`).toBe(true);
  expect(c.securityContext?.allowPrivilegeEscalation, `${c.name} no privilege escalation`).toBe(false);
  expect(c.securityContext?.capabilities?.drop, `${c.name} drops capabilities`).toEqual(['ALL']);
  expect(c.resources?.requests?.cpu, `${c.name} cpu request`).toBeDefined();
  expect(c.resources?.requests?.memory, `${c.name} memory request`).toBeDefined();
  expect(c.resources?.limits?.memory, `${c.name} memory limit`).toBeDefined();
}

/** $(VAR) expanded the way the kubelet expands container args. */
function expand(args: readonly string[], env: Record<string, string>): string[] {
  return args.map((a) =>
    a.replaceAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_, name: string) => env[name] ?? ''),
  );
}

function envFrom(c: Container, name: string) {
  return c.env?.find((e) => e.name === name);
}

describe('every kustomization under deploy/', () => {
  it('is listed in the tests (a new one is rendered and checked here)', () => {
    expect(kustomizationDirs()).toEqual(KUSTOMIZATIONS.map((k) => k.dir).sort());
  });

  describe.skipIf(modern === undefined)(
    `renders with a current kustomize (${kustomizers.modern?.kustomizeVersion})`,
    () => {
      it.each(KUSTOMIZATIONS.filter((k) => k.kind === 'kustomization').map((k) => k.dir))(
        '%s',
        async (dir) => {
          const objects = await render(modern!, join(DEPLOY_DIR, dir));
          expect(objects.length).toBeGreaterThan(0);
        },
      );
    },
  );

  describe.skipIf(modern === undefined || legacy === undefined)(
    "renders with kubectl 1.20's kustomize v2.0.3 to the same objects",
    () => {
      it.each(KUSTOMIZATIONS.filter((k) => k.legacy).map((k) => k.dir))('%s', async (dir) => {
        const [old, current] = await Promise.all([
          render(legacy!, join(DEPLOY_DIR, dir)),
          render(modern!, join(DEPLOY_DIR, dir)),
        ]);
        // v2.0.3 orders objects of one kind by name, current kustomize by input order.
        const key = (m: Manifest) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`;
        const sorted = (ms: Manifest[]) => [...ms].sort((a, b) => key(a).localeCompare(key(b)));
        expect(sorted(old)).toEqual(sorted(current));
      });

      it('and cannot render the sidecar Component (why deploy/proxy/sidecar needs kubectl >= 1.21)', async () => {
        await expect(render(legacy!, join(DEPLOY_DIR, 'examples', 'sidecar'))).rejects.toThrow(/components/);
      });
    },
  );
});

describe.skipIf(modern === undefined)('the rendered manifests', () => {
  let base: Manifest[];
  let gateway: Manifest[];
  let policyObjects: Manifest[];
  let sidecarExample: Manifest[];
  let tlsExample: Manifest[];
  let controller: Workload;
  let controlService: Service;
  let tmp: string;

  beforeAll(async () => {
    [base, gateway, policyObjects, sidecarExample, tlsExample] = await Promise.all(
      ['base', 'proxy/gateway', 'network-policy', 'examples/sidecar', 'examples/control-tls'].map((dir) =>
        render(modern!, join(DEPLOY_DIR, dir)),
      ),
    );
    controller = find<Workload>(base, 'Deployment', 'sluice-controller');
    controlService = find<Service>(base, 'Service', 'sluice-controller');
    tmp = mkdtempSync(join(tmpdir(), 'sluice-deploy-render-'));
  });

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  /** What the proxies put in --control: the control Service's in-cluster name and port. */
  function controlAddress(): string {
    const port = controlService.spec.ports.find((p) => p.name === 'control')!.port;
    return `${controlService.metadata.name}.${controlService.metadata.namespace}.svc:${port}`;
  }

  /**
   * The proxy's own parser on a container's args, with the pod's env, and the files the pod mounts under
   * /etc/sluice/ (token, certificates) stood in for by files in a temporary directory: the token file holds
   * "a-token", the others their own name.
   */
  function parseProxy(c: Container, env: Record<string, string>) {
    const [command, ...rest] = expand(c.args ?? [], env);
    expect(command).toBe('proxy');
    const args = rest.map((a) => {
      const m = /^(--[a-z-]+)=(\/etc\/sluice\/.+)$/.exec(a);
      if (m === null) return a;
      const stand = join(tmp, m[2]!.replaceAll('/', '_'));
      writeFileSync(stand, m[2]!.endsWith('/token') ? 'a-token\n' : m[2]!);
      return `${m[1]}=${stand}`;
    });
    return parseProxyArgs(args, {}).options;
  }

  describe('the controller (deploy/base)', () => {
    it('serves the control port on 8443 with the token file from the sluice-control-token Secret', () => {
      const c = container(controller, 'controller');
      expect(flag(c.args, 'control-listen')).toBe('0.0.0.0:8443');
      expect(namedPort(c, 'control')).toBe(8443);
      expect(flag(c.args, 'control-token-file')).toBe(`${TOKEN_DIR}/token`);
      const mount = c.volumeMounts?.find((m) => m.mountPath === TOKEN_DIR);
      expect(mount?.readOnly).toBe(true);
      const volume = controller.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret).toEqual({
        secretName: TOKEN_SECRET,
        items: [{ key: 'token', path: 'token' }],
        defaultMode: 0o440,
      });
      // 0440 is readable by uid 1000 only through the group fsGroup gives the files.
      expect(controller.spec.template.spec.securityContext?.fsGroup).toBe(
        controller.spec.template.spec.securityContext?.runAsGroup,
      );
      expectHardened(c, controller.spec.template.spec);
    });

    it("passes the controller's own flag parser with the control API on", () => {
      const [command, ...args] = container(controller, 'controller').args!;
      expect(command).toBe('controller');
      const parsed = parseControllerArgs(args);
      expect(parsed).toMatchObject({
        ok: true,
        control: { host: '0.0.0.0', port: 8443, tokenFile: `${TOKEN_DIR}/token` },
      });
    });

    it('exposes it as Service sluice-controller, port control 8443 to the named container port', () => {
      expect(controlService.metadata.namespace).toBe('sluice-system');
      expect(controlService.spec.ports).toEqual([
        { name: 'control', port: 8443, targetPort: 'control', appProtocol: 'grpc' },
      ]);
      expect(
        selects({ matchLabels: controlService.spec.selector }, controller.spec.template.metadata.labels),
      ).toBe(true);
    });

    it('ships no Secret: the token is made by hand, never generated into the manifests', () => {
      for (const objects of [base, gateway, policyObjects, sidecarExample, tlsExample])
        expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    });
  });

  describe('the gateway (deploy/proxy/gateway)', () => {
    let deployment: Workload;
    let proxy: Container;

    beforeAll(() => {
      deployment = find<Workload>(gateway, 'Deployment', 'sluice-gateway');
      proxy = container(deployment, 'proxy');
    });

    it('runs two replicas as its own ServiceAccount with no API token and no RBAC', () => {
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.template.spec.serviceAccountName).toBe('sluice-gateway');
      expect(deployment.spec.template.spec.automountServiceAccountToken).toBe(false);
      expect(find(gateway, 'ServiceAccount', 'sluice-gateway')).toMatchObject({
        automountServiceAccountToken: false,
      });
      expect(gateway.map((o) => o.kind).sort()).toEqual(['Deployment', 'Service', 'ServiceAccount']);
      expect(gateway.every((o) => o.metadata.namespace === 'sluice-system')).toBe(true);
    });

    it('subscribes to the control Service for the route in its sluice/route annotation, with the mounted token', () => {
      const options = parseProxy(proxy, {
        POD_NAME: 'gw-1',
        POD_NAMESPACE: 'sluice-system',
        SLUICE_ROUTE: 'shop/checkout',
      });
      expect(options.control?.target).toBe(controlAddress());
      expect(options.control?.token).toBe('a-token');
      expect(options.control?.proxyId).toBe('sluice-system/gw-1');
      expect(options.control?.routes).toEqual([{ namespace: 'shop', name: 'checkout' }]);
      expect(flags(proxy.args, 'route')).toEqual(['$(SLUICE_ROUTE)']);
      expect(envFrom(proxy, 'SLUICE_ROUTE')?.valueFrom?.fieldRef?.fieldPath).toBe(
        "metadata.annotations['sluice/route']",
      );
      expect(deployment.spec.template.metadata.annotations?.['sluice/route']).toBeDefined();

      const tokenFile = flag(proxy.args, 'token-file')!;
      const mount = proxy.volumeMounts?.find((m) => tokenFile.startsWith(`${m.mountPath}/`));
      expect(mount?.readOnly).toBe(true);
      const volume = deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret?.secretName).toBe(TOKEN_SECRET);
      expect(volume?.secret?.items).toEqual([{ key: 'token', path: 'token' }]);
    });

    it('serves port 80 of Service sluice-gateway from the data port, admin on its own port', () => {
      const options = parseProxy(proxy, { SLUICE_ROUTE: 'demo' });
      expect(options.listen).toEqual({ host: '0.0.0.0', port: namedPort(proxy, 'http') });
      expect(options.admin).toEqual({ host: '0.0.0.0', port: namedPort(proxy, 'admin') });
      const service = find<Service>(gateway, 'Service', 'sluice-gateway');
      expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http' }]);
      expect(selects({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels)).toBe(
        true,
      );
    });

    it('is ready on /ready and alive on /healthz of the admin port', () => {
      expect(proxy.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'admin' });
      expect(proxy.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    });

    it("runs hardened, with the proxy's start settings rather than the controller NODE_OPTIONS of the image", () => {
      expectHardened(proxy, deployment.spec.template.spec);
      expect(envFrom(proxy, 'NODE_OPTIONS')).toEqual({
        name: 'NODE_OPTIONS',
        value: PROXY_NODE_FLAGS.join(' '),
      });
      for (const [name, value] of Object.entries(PROXY_MALLOC_ENV))
        expect(envFrom(proxy, name)).toEqual({ name, value });
      expect(envFrom(proxy, 'SLUICE_COOKIE_KEYS')?.valueFrom?.secretKeyRef).toEqual({
        name: 'sluice-proxy-cookie-keys',
        key: 'keys',
        optional: true,
      });
    });
  });

  describe('the sidecar Component (deploy/proxy/sidecar, through deploy/examples/sidecar)', () => {
    let frontend: Workload;
    let proxy: Container;

    beforeAll(() => {
      frontend = find<Workload>(sidecarExample, 'Deployment', 'frontend');
      proxy = container(frontend, 'sluice-proxy');
    });

    it('adds the proxy container after the application container, which it leaves as it was', () => {
      expect(frontend.spec.template.spec.containers.map((c) => c.name)).toEqual(['frontend', 'sluice-proxy']);
      expect(container(frontend, 'frontend')).toEqual({
        name: 'frontend',
        image: 'example.com/shop/frontend:1.0',
        env: [{ name: 'CHECKOUT_URL', value: 'http://127.0.0.1:15080' }],
        ports: [{ name: 'http', containerPort: 8080 }],
      });
    });

    it('listens on localhost for the application, subscribed with the token from the Secret', () => {
      const options = parseProxy(proxy, {
        POD_NAME: 'frontend-1',
        POD_NAMESPACE: 'shop',
        SLUICE_ROUTE: frontend.spec.template.metadata.annotations!['sluice/route']!,
      });
      expect(options.listen).toEqual({ host: '127.0.0.1', port: 15_080 });
      expect(options.admin).toEqual({ host: '0.0.0.0', port: namedPort(proxy, 'sluice-admin') });
      expect(options.control?.target).toBe(controlAddress());
      expect(options.control?.routes).toEqual([{ namespace: 'shop', name: 'checkout' }]);
      expect(envFrom(proxy, 'SLUICE_CONTROL_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
        name: TOKEN_SECRET,
        key: 'token',
      });
      expect(proxy.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'sluice-admin' });
      expect(proxy.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'sluice-admin' });
    });

    it('refuses to start, naming --route, in a pod without the sluice/route annotation', () => {
      // The kubelet expands a missing annotation's $(SLUICE_ROUTE) to "".
      expect(() => parseProxy(proxy, { POD_NAME: 'frontend-1', POD_NAMESPACE: 'shop' })).toThrow(/--route/);
    });

    it('labels the pod sluice/proxy: sidecar and hardens its own container without touching the pod', () => {
      expect(frontend.spec.template.metadata.labels).toEqual({ app: 'frontend', 'sluice/proxy': 'sidecar' });
      expect(frontend.spec.template.spec.securityContext).toBeUndefined();
      expectHardened(proxy, frontend.spec.template.spec);
      expect(proxy.securityContext?.runAsNonRoot).toBe(true);
    });

    it('patches labelled Rollouts too, and leaves unlabelled workloads alone', async () => {
      const dir = mkdtempSync(join(tmp, 'component-'));
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        `resources: [workloads.yaml]\ncomponents: [${relative(dir, join(DEPLOY_DIR, 'proxy', 'sidecar'))}]\n`,
      );
      const template = (app: string) => ({
        selector: { matchLabels: { app } },
        template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: 'x' }] } },
      });
      writeFileSync(
        join(dir, 'workloads.yaml'),
        [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            metadata: { name: 'ro', labels: { 'sluice/proxy': 'sidecar' } },
            spec: template('ro'),
          },
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'plain' }, spec: template('plain') },
        ]
          .map((o) => JSON.stringify(o))
          .join('\n---\n'),
      );
      const objects = await render(modern!, dir);
      const rollout = find<Workload>(objects, 'Rollout', 'ro');
      expect(rollout.spec.template.spec.containers.map((c) => c.name)).toEqual(['app', 'sluice-proxy']);
      expect(container(rollout, 'sluice-proxy')).toEqual(proxy);
      expect(rollout.spec.template.metadata.labels['sluice/proxy']).toBe('sidecar');
      const plain = find<Workload>(objects, 'Deployment', 'plain');
      expect(plain.spec.template).toEqual(template('plain').template);
    });
  });

  describe('the NetworkPolicy (deploy/network-policy)', () => {
    let policy: NetworkPolicy;

    beforeAll(() => {
      policy = find<NetworkPolicy>(policyObjects, 'NetworkPolicy', 'sluice-controller');
    });

    it("selects the controller's pods, in the controller's namespace, for ingress only", () => {
      expect(policyObjects).toHaveLength(1);
      expect(policy.metadata.namespace).toBe(controller.metadata.namespace);
      expect(selects(policy.spec.podSelector, controller.spec.template.metadata.labels)).toBe(true);
      expect(policy.spec.policyTypes).toEqual(['Ingress']);
    });

    it('lets only proxy pods, from any namespace, reach the control port', () => {
      const rule = policy.spec.ingress!.find((r) => r.ports?.some((p) => p.port === 'control'))!;
      expect(rule.ports).toEqual([{ protocol: 'TCP', port: 'control' }]);
      for (const peer of rule.from!) expect(peer.namespaceSelector).toEqual({});
      const admitted = (labels: Record<string, string>) =>
        rule.from!.some((peer) => selects(peer.podSelector, labels));

      const gatewayPods = find<Workload>(gateway, 'Deployment', 'sluice-gateway').spec.template.metadata
        .labels;
      const sidecarPods = find<Workload>(sidecarExample, 'Deployment', 'frontend').spec.template.metadata
        .labels;
      expect(admitted(gatewayPods)).toBe(true);
      expect(admitted(sidecarPods)).toBe(true);
      expect(admitted(controller.spec.template.metadata.labels)).toBe(false);
      expect(admitted({ app: 'frontend' })).toBe(false);
      expect(admitted({})).toBe(false);
      expect(rule.from).toEqual([
        {
          namespaceSelector: {},
          podSelector: { matchLabels: { 'app.kubernetes.io/component': 'sluice-proxy' } },
        },
        { namespaceSelector: {}, podSelector: { matchLabels: { 'sluice/proxy': 'sidecar' } } },
      ]);
    });

    it('keeps metrics and health open to every pod in the cluster, and names only ports the controller has', () => {
      const rule = policy.spec.ingress!.find((r) => r.ports?.some((p) => p.port === 'metrics'))!;
      expect(rule.ports).toEqual([
        { protocol: 'TCP', port: 'metrics' },
        { protocol: 'TCP', port: 'healthz' },
      ]);
      expect(rule.from).toEqual([{ namespaceSelector: {} }]);
      expect(policy.spec.ingress).toHaveLength(2);
      const c = container(controller, 'controller');
      const named = new Set(c.ports?.map((p) => p.name));
      for (const r of policy.spec.ingress!)
        for (const p of r.ports ?? []) expect(named.has(String(p.port))).toBe(true);
      // Every port the controller serves is covered by one rule.
      expect(policy.spec.ingress!.flatMap((r) => r.ports!.map((p) => p.port)).sort()).toEqual(
        [...named].sort(),
      );
    });
  });

  describe('the mutual-TLS example (deploy/examples/control-tls)', () => {
    it('gives the controller its certificate, key and client CA, and the gateway the CA and a client certificate', () => {
      const c = container(find<Workload>(tlsExample, 'Deployment', 'sluice-controller'), 'controller');
      expect(flag(c.args, 'control-listen')).toBe('0.0.0.0:8443');
      expect(flag(c.args, 'control-cert')).toBe('/etc/sluice/control-tls/tls.crt');
      expect(flag(c.args, 'control-key')).toBe('/etc/sluice/control-tls/tls.key');
      expect(flag(c.args, 'control-client-ca')).toBe('/etc/sluice/control-tls/ca.crt');

      const [, ...args] = c.args!;
      expect(parseControllerArgs(args)).toMatchObject({
        ok: true,
        control: {
          port: 8443,
          certFile: '/etc/sluice/control-tls/tls.crt',
          keyFile: '/etc/sluice/control-tls/tls.key',
          clientCaFile: '/etc/sluice/control-tls/ca.crt',
        },
      });

      const gw = find<Workload>(tlsExample, 'Deployment', 'sluice-gateway');
      const proxy = container(gw, 'proxy');
      expect(flag(proxy.args, 'control-ca')).toBe('/etc/sluice/control-tls/ca.crt');
      expect(flag(proxy.args, 'control-cert')).toBe('/etc/sluice/control-tls/tls.crt');
      expect(flag(proxy.args, 'control-key')).toBe('/etc/sluice/control-tls/tls.key');

      const options = parseProxy(proxy, { SLUICE_ROUTE: 'demo' });
      expect(options.control?.tls).toEqual({
        ca: Buffer.from('/etc/sluice/control-tls/ca.crt'),
        cert: Buffer.from('/etc/sluice/control-tls/tls.crt'),
        key: Buffer.from('/etc/sluice/control-tls/tls.key'),
      });
      expect(options.control?.token).toBe('a-token');

      for (const [workload, secret] of [
        [find<Workload>(tlsExample, 'Deployment', 'sluice-controller'), 'sluice-control-tls'],
        [gw, 'sluice-proxy-tls'],
      ] as const) {
        const ctr = workload.spec.template.spec.containers[0]!;
        const mount = ctr.volumeMounts?.find((m) => m.mountPath === '/etc/sluice/control-tls');
        expect(mount?.readOnly).toBe(true);
        const volume = workload.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
        expect(volume?.secret?.secretName).toBe(secret);
        // The token stays: TLS is on top of it, not instead of it.
        expect(ctr.volumeMounts?.some((m) => m.mountPath === TOKEN_DIR)).toBe(true);
      }
    });

    it('changes nothing else in the controller and the gateway', () => {
      const strip = (w: Workload) => {
        const copy = structuredClone(w);
        const ctr = copy.spec.template.spec.containers[0]!;
        ctr.args = ctr.args?.filter((a) => !/^--control-(cert|key|client-ca|ca)=/.test(a));
        ctr.volumeMounts = ctr.volumeMounts?.filter((m) => m.name !== 'control-tls');
        copy.spec.template.spec.volumes = copy.spec.template.spec.volumes?.filter(
          (v) => v.name !== 'control-tls',
        );
        return copy;
      };
      expect(strip(find<Workload>(tlsExample, 'Deployment', 'sluice-controller'))).toEqual(controller);
      expect(strip(find<Workload>(tlsExample, 'Deployment', 'sluice-gateway'))).toEqual(
        find<Workload>(gateway, 'Deployment', 'sluice-gateway'),
      );
      expect(tlsExample).toHaveLength(base.length + gateway.length);
    });
  });

  describe('the single-file installs and the namespaced install', () => {
    interface Rule {
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }
    type RbacRole = Manifest & { rules: Rule[] };
    let install: Manifest[];
    let namespaced: Manifest[];
    let observability: Manifest[];

    beforeAll(async () => {
      [install, namespaced, observability] = await Promise.all([
        render(modern!, join(DEPLOY_DIR, 'install')),
        render(modern!, join(DEPLOY_DIR, 'namespace-install')),
        render(modern!, join(DEPLOY_DIR, 'observability')),
      ]);
    });

    it('tags every Sluice image with package.json version', () => {
      const version = (
        JSON.parse(readFileSync(join(DEPLOY_DIR, '..', 'package.json'), 'utf8')) as { version: string }
      ).version;
      for (const objects of [install, namespaced])
        for (const w of objects.filter((o) => o.kind === 'Deployment') as Workload[])
          expect(w.spec.template.spec.containers.map((c) => c.image)).toEqual([`sluice:${version}`]);
    });

    it('gives the controller and the gateway a PodDisruptionBudget selecting their pods', () => {
      for (const name of ['sluice-controller', 'sluice-gateway']) {
        const pdb = find<Manifest & { spec: { minAvailable: number; selector: LabelSelector } }>(
          install,
          'PodDisruptionBudget',
          name,
        );
        const workload = find<Workload>(install, 'Deployment', name);
        expect(selects(pdb.spec.selector, workload.spec.template.metadata.labels)).toBe(true);
        expect(pdb.spec.minAvailable).toBeLessThan(workload.spec.replicas ?? 1);
      }
    });

    it('namespace-install: the controller reconciles its own namespace and the gateway dials it there', () => {
      const controller = find<Workload>(namespaced, 'Deployment', 'sluice-controller');
      const c = container(controller, 'controller');
      const [, ...args] = expand(c.args!, { POD_NAMESPACE: 'team-a' });
      expect(parseControllerArgs(args)).toMatchObject({ ok: true, options: { namespace: 'team-a' } });
      const gateway = find<Workload>(namespaced, 'Deployment', 'sluice-gateway');
      const g = container(gateway, 'proxy');
      expect(flag(expand(g.args!, { POD_NAMESPACE: 'team-a' }), 'control')).toBe(
        'sluice-controller.team-a.svc:8443',
      );
    });

    it('namespace-install: a Role with the ClusterRole rules but ClusterAnalysisTemplates, read through the one ClusterRole', () => {
      const clusterRole = find<RbacRole>(install, 'ClusterRole', 'sluice-controller');
      const role = find<RbacRole>(namespaced, 'Role', 'sluice-controller');
      const withoutCats = clusterRole.rules.map((r) => ({
        ...r,
        resources: r.resources.filter((x) => x !== 'clusteranalysistemplates'),
      }));
      expect(role.rules).toEqual(withoutCats);
      expect(
        namespaced.filter((o) => o.kind.startsWith('Cluster')).map((o) => `${o.kind}/${o.metadata.name}`),
      ).toEqual([
        'ClusterRole/sluice-controller-cluster-analysis-templates',
        'ClusterRoleBinding/sluice-controller-cluster-analysis-templates',
      ]);
      expect(namespaced.some((o) => o.kind === 'Namespace')).toBe(false);
    });

    it('observability: the ServiceMonitor and PodMonitor select the metrics Service and the gateway pods by port name', () => {
      const sm = find<Manifest & { spec: { selector: LabelSelector; endpoints: { port: string }[] } }>(
        observability,
        'ServiceMonitor',
        'sluice-controller',
      );
      const metricsService = find<Service>(install, 'Service', 'sluice-controller-metrics');
      expect(selects(sm.spec.selector, metricsService.metadata.labels ?? {})).toBe(true);
      expect(metricsService.spec.ports.map((p) => p.name)).toContain(sm.spec.endpoints[0]!.port);
      const pm = find<
        Manifest & { spec: { selector: LabelSelector; podMetricsEndpoints: { port: string }[] } }
      >(observability, 'PodMonitor', 'sluice-gateway');
      const gateway = find<Workload>(install, 'Deployment', 'sluice-gateway');
      expect(selects(pm.spec.selector, gateway.spec.template.metadata.labels)).toBe(true);
      expect(namedPort(container(gateway, 'proxy'), pm.spec.podMetricsEndpoints[0]!.port)).toBe(9901);
      const dashboard = find<Manifest & { data: Record<string, string> }>(
        observability,
        'ConfigMap',
        'sluice-grafana-dashboard',
      );
      expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
      expect(dashboard.data['sluice.json']).toBe(
        readFileSync(join(DEPLOY_DIR, 'observability', 'dashboard.json'), 'utf8'),
      );
    });
  });
});

// The desired canary Ingress and the patch to it, ported from Argo's nginx_test.go (TestCanaryIngress*,
// TestReconciler_canaryIngress) and ingress_test.go (TestBuildIngressPath): same inputs, same canary
// Ingress (names, annotations, rules, TLS, class, owner) and same patches, in networking.k8s.io/v1 form.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { canaryIngressName, type NginxConfig, nginxConfig } from '../../../../src/api/routers/nginx.ts';
import {
  canaryIngressPatch,
  desiredCanaryIngress,
  type Ingress,
  stableIngressReferenceError,
} from '../../../../src/traffic/nginx/canary-ingress.ts';
import {
  CANARY_INGRESS,
  CANARY_SERVICE,
  fakeRollout,
  MULTI_INGRESS_CASES,
  networkingIngress,
  plainIngress,
  ROLLOUT_UID,
  STABLE_INGRESS,
  STABLE_SERVICE,
  withAnnotations,
} from './fixtures.ts';

function configOf(ro: Rollout): NginxConfig {
  const parsed = nginxConfig(ro);
  if (parsed === undefined || !parsed.ok) throw new Error(`bad config: ${JSON.stringify(parsed)}`);
  return parsed.config;
}

function build(ro: Rollout, stable: Ingress, weight: number): Ingress {
  const result = desiredCanaryIngress({
    rollout: ro,
    config: configOf(ro),
    stable,
    name: canaryIngressName(ro.metadata.name, stable.metadata.name),
    weight,
    apiVersion: 'networking.k8s.io/v1',
  });
  if (!result.ok) throw new Error(result.error);
  return result.ingress;
}

function backendNames(ing: Ingress): (string | undefined)[] {
  return (ing.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend.service?.name));
}

describe('desired canary Ingress (buildCanaryIngress)', () => {
  describe.each(MULTI_INGRESS_CASES)('$name', ({ nginx, ingresses, canaryIngresses }) => {
    it('points the copied rules at the canary Service and sets canary, canary-weight and the class (TestCanaryIngressCreate)', () => {
      const ro = fakeRollout(nginx);
      for (const [i, name] of ingresses.entries()) {
        const stable = networkingIngress(name, 80, STABLE_SERVICE);
        stable.spec!.ingressClassName = 'nginx-ext';
        const desired = build(ro, stable, 10);
        expect(desired.metadata.name).toBe(canaryIngresses[i]);
        expect(backendNames(desired)).toEqual([CANARY_SERVICE]);
        expect(desired.metadata.annotations?.['nginx.ingress.kubernetes.io/canary']).toBe('true');
        expect(desired.metadata.annotations?.['nginx.ingress.kubernetes.io/canary-weight']).toBe('10');
        expect(desired.spec?.ingressClassName).toBe('nginx-ext');
      }
    });

    it('patches only the weight when only the weight changed (TestCanaryIngressPatchWeight)', () => {
      const ro = fakeRollout(nginx);
      for (const name of ingresses) {
        const stable = plainIngress(name, 80, STABLE_SERVICE);
        const canary = withAnnotations(plainIngress('canary-ingress', 80, CANARY_SERVICE), {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '10',
        });
        const desired = build(ro, stable, 15);
        expect(backendNames(desired)).toEqual([CANARY_SERVICE]);
        expect(canaryIngressPatch(canary, desired)).toEqual({
          metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '15' } },
        });
      }
    });

    it('patches the rules when the stable Ingress changed its paths (TestCanaryIngressUpdateRoute)', () => {
      const ro = fakeRollout(nginx);
      for (const [i, name] of ingresses.entries()) {
        const stable = plainIngress(name, 80, STABLE_SERVICE);
        stable.spec!.rules![0]!.http!.paths[0]!.path = '/bar';
        const canary = withAnnotations(plainIngress(canaryIngresses[i]!, 80, CANARY_SERVICE), {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '15',
        });
        const desired = build(ro, stable, 15);
        expect(canaryIngressPatch(canary, desired)).toEqual({
          spec: {
            rules: [
              {
                host: 'fakehost.example.com',
                http: {
                  paths: [
                    { backend: { service: { name: 'canary-service', port: { number: 80 } } }, path: '/bar' },
                  ],
                },
              },
            ],
          },
        });
      }
    });

    it('keeps the kubernetes.io/ingress.class annotation (TestCanaryIngressRetainIngressClass)', () => {
      const ro = fakeRollout(nginx);
      for (const name of ingresses) {
        const stable = withAnnotations(plainIngress(name, 80, STABLE_SERVICE), {
          'kubernetes.io/ingress.class': 'nginx-foo',
        });
        const annotations = build(ro, stable, 15).metadata.annotations;
        expect(annotations).toEqual({
          'kubernetes.io/ingress.class': 'nginx-foo',
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '15',
        });
      }
    });

    it('adds additionalIngressAnnotations under the prefix (TestCanaryIngressAdditionalAnnotations)', () => {
      const ro = fakeRollout({
        ...nginx,
        additionalIngressAnnotations: { 'canary-by-header': 'X-Foo', 'canary-by-header-value': 'DoCanary' },
      });
      for (const name of ingresses) {
        const annotations = build(ro, plainIngress(name, 80, STABLE_SERVICE), 15).metadata.annotations;
        expect(annotations).toEqual({
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '15',
          'nginx.ingress.kubernetes.io/canary-by-header': 'X-Foo',
          'nginx.ingress.kubernetes.io/canary-by-header-value': 'DoCanary',
        });
      }
    });
  });

  it('copies TLS (TestCanaryIngressRetainTLS)', () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    const stable = networkingIngress(STABLE_INGRESS, 80, STABLE_SERVICE);
    stable.spec!.tls = [
      { hosts: ['fakehost.example.com'], secretName: 'tls-secret-name' },
      { hosts: ['fakehost.example.com', '*.example.com'], secretName: 'tls-secret-name-two' },
    ];
    expect(build(ro, stable, 15).spec?.tls).toEqual([
      { hosts: ['fakehost.example.com'], secretName: 'tls-secret-name' },
      { hosts: ['fakehost.example.com', '*.example.com'], secretName: 'tls-secret-name-two' },
    ]);
  });

  it("copies each stable Ingress's own TLS to its canary (TestCanaryIngressRetainTLSWithMultipleStableIngresses)", () => {
    const ro = fakeRollout({ stableIngresses: [STABLE_INGRESS, 'additional-stable-ingress'] });
    const main = networkingIngress(STABLE_INGRESS, 80, STABLE_SERVICE);
    main.spec!.tls = [{ hosts: ['fakehost.example.com'], secretName: 'tls-secret-name' }];
    const additional = networkingIngress('additional-stable-ingress', 80, STABLE_SERVICE);
    additional.spec!.tls = [
      { hosts: ['fakehost-additional.example.com'], secretName: 'tls-secret-name-additional' },
    ];
    expect(build(ro, main, 15).spec?.tls).toEqual([
      { hosts: ['fakehost.example.com'], secretName: 'tls-secret-name' },
    ]);
    expect(build(ro, additional, 15).spec?.tls).toEqual([
      { hosts: ['fakehost-additional.example.com'], secretName: 'tls-secret-name-additional' },
    ]);
  });

  it('adds no TLS when the stable Ingress has none (TestCanaryIngressNotAddTLS)', () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    expect(build(ro, networkingIngress(STABLE_INGRESS, 80, STABLE_SERVICE), 15).spec?.tls).toBeUndefined();
    const emptyTls = networkingIngress(STABLE_INGRESS, 80, STABLE_SERVICE);
    emptyTls.spec!.tls = [];
    expect(build(ro, emptyTls, 15).spec).not.toHaveProperty('tls');
  });

  it('is the whole object Argo builds: name, owner, only the canary annotations, no labels or default backend', () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    expect(build(ro, networkingIngress(STABLE_INGRESS, 80, STABLE_SERVICE), 10)).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: CANARY_INGRESS,
        namespace: 'default',
        annotations: {
          'nginx.ingress.kubernetes.io/canary': 'true',
          'nginx.ingress.kubernetes.io/canary-weight': '10',
        },
        ownerReferences: [
          {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            name: 'rollout',
            uid: ROLLOUT_UID,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        ingressClassName: 'ingress-name',
        rules: [
          {
            host: 'fakehost.example.com',
            http: {
              paths: [
                {
                  path: '/foo',
                  pathType: 'Prefix',
                  backend: { service: { name: CANARY_SERVICE, port: { name: 'http', number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    });
  });

  it('copies only rules that use the stable Service, keeping their other paths', () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    const stable = plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE);
    stable.spec!.rules = [
      {
        host: 'a.example.com',
        http: {
          paths: [
            { path: '/', backend: { service: { name: STABLE_SERVICE, port: { number: 80 } } } },
            { path: '/static', backend: { service: { name: 'static', port: { number: 80 } } } },
          ],
        },
      },
      { host: 'b.example.com', http: { paths: [{ path: '/', backend: { service: { name: 'other' } } }] } },
      { host: 'c.example.com' },
      {
        host: 'd.example.com',
        http: { paths: [{ path: '/', backend: { resource: { kind: 'Bucket', name: 'x' } } }] },
      },
    ];
    expect(build(ro, stable, 20).spec?.rules).toEqual([
      {
        host: 'a.example.com',
        http: {
          paths: [
            { path: '/', backend: { service: { name: CANARY_SERVICE, port: { number: 80 } } } },
            { path: '/static', backend: { service: { name: 'static', port: { number: 80 } } } },
          ],
        },
      },
    ]);
    // The stable Ingress itself is not touched.
    expect(stable.spec!.rules![0]!.http!.paths[0]!.backend.service?.name).toBe(STABLE_SERVICE);
  });

  it("fails with Argo's message when no rule uses the stable Service (TestReconcileStableIngressFoundWrongBackend)", () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
    const result = desiredCanaryIngress({
      rollout: ro,
      config: configOf(ro),
      stable: plainIngress(STABLE_INGRESS, 80, 'other-service'),
      name: CANARY_INGRESS,
      weight: 10,
      apiVersion: 'networking.k8s.io/v1',
    });
    expect(result).toEqual({
      ok: false,
      error: 'ingress `stable-ingress` has no rules using service stable-service backend',
    });
  });

  it('writes canaryIngressAnnotations verbatim and a custom prefix on every nginx key', () => {
    const prefix = 'customingress.nginx.ingress.kubernetes.io';
    const ro = fakeRollout({
      stableIngress: STABLE_INGRESS,
      annotationPrefix: prefix,
      additionalIngressAnnotations: { 'canary-by-header': 'X-Canary', [`${prefix}/canary-by-cookie`]: 'c' },
      canaryIngressAnnotations: { 'external-dns.alpha.kubernetes.io/exclude': 'true' },
    });
    expect(build(ro, plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE), 5).metadata.annotations).toEqual({
      [`${prefix}/canary-by-header`]: 'X-Canary',
      [`${prefix}/canary-by-cookie`]: 'c',
      'external-dns.alpha.kubernetes.io/exclude': 'true',
      [`${prefix}/canary`]: 'true',
      [`${prefix}/canary-weight`]: '5',
    });
  });

  it('never lets configured annotations override canary or canary-weight', () => {
    const ro = fakeRollout({
      stableIngress: STABLE_INGRESS,
      additionalIngressAnnotations: { canary: 'false', 'canary-weight': '99' },
      canaryIngressAnnotations: { 'nginx.ingress.kubernetes.io/canary-weight': '98' },
    });
    const annotations = build(ro, plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE), 7).metadata.annotations;
    expect(annotations?.['nginx.ingress.kubernetes.io/canary']).toBe('true');
    expect(annotations?.['nginx.ingress.kubernetes.io/canary-weight']).toBe('7');
  });

  it('writes canary-weight-total only when the Rollout sets maxTrafficWeight', () => {
    const stable = plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE);
    const without = build(fakeRollout({ stableIngress: STABLE_INGRESS }), stable, 10).metadata.annotations;
    expect(without).not.toHaveProperty('nginx.ingress.kubernetes.io/canary-weight-total');
    const withMax = build(
      fakeRollout({ stableIngress: STABLE_INGRESS }, { maxTrafficWeight: 1000 }),
      stable,
      250,
    ).metadata.annotations;
    expect(withMax?.['nginx.ingress.kubernetes.io/canary-weight']).toBe('250');
    expect(withMax?.['nginx.ingress.kubernetes.io/canary-weight-total']).toBe('1000');
  });
});

describe('canary Ingress patch (BuildIngressPatch)', () => {
  const ro = fakeRollout({ stableIngress: STABLE_INGRESS });
  const desired = () => build(ro, plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE), 10);

  it('is nothing when the canary Ingress is as desired', () => {
    expect(canaryIngressPatch(desired(), desired())).toBeUndefined();
  });

  it("keeps annotations others put on the canary Ingress (Argo's fix for issue #1070)", () => {
    const current = desired();
    current.metadata.annotations!['field.cattle.io/publicEndpoints'] = '[]';
    expect(canaryIngressPatch(current, desired())).toBeUndefined();
    current.metadata.annotations!['nginx.ingress.kubernetes.io/canary-weight'] = '30';
    expect(canaryIngressPatch(current, desired())).toEqual({
      metadata: { annotations: { 'nginx.ingress.kubernetes.io/canary-weight': '10' } },
    });
  });

  it('removes labels and spec fields the router does not set, as Argo patches them to the desired', () => {
    const current = desired();
    current.metadata.labels = { team: 'payments' };
    current.spec!.defaultBackend = { service: { name: 'x', port: { number: 80 } } };
    expect(canaryIngressPatch(current, desired())).toEqual({
      metadata: { labels: null },
      spec: { defaultBackend: null },
    });
  });
});

describe('stable Ingress reference validation (validateNginxIngress)', () => {
  it('passes an Ingress with a path to the stable Service', () => {
    const config = configOf(fakeRollout({ stableIngress: STABLE_INGRESS }));
    expect(
      stableIngressReferenceError(config, plainIngress(STABLE_INGRESS, 80, STABLE_SERVICE)),
    ).toBeUndefined();
  });

  it("names the field and gives Argo's message otherwise", () => {
    const single = configOf(fakeRollout({ stableIngress: STABLE_INGRESS }));
    expect(stableIngressReferenceError(single, plainIngress(STABLE_INGRESS, 80, 'other-service'))).toEqual({
      field: 'spec.strategy.canary.trafficRouting.nginx.stableIngress',
      message: 'ingress `stable-ingress` has no rules using service stable-service backend',
    });
    const multi = configOf(fakeRollout({ stableIngresses: [STABLE_INGRESS, 'additional-stable-ingress'] }));
    expect(stableIngressReferenceError(multi, plainIngress('additional-stable-ingress', 80, 'x'))).toEqual({
      field: 'spec.strategy.canary.trafficRouting.nginx.stableIngresses[1]',
      message: 'ingress `additional-stable-ingress` has no rules using service stable-service backend',
    });
  });
});

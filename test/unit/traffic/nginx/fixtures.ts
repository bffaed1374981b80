// Shared inputs of the NGINX router tests, shaped as Argo's nginx_test.go builds them (fakeRollout,
// networkingIngress, extensionsIngress, which here is the same Ingress in networking.k8s.io/v1 form).
import type { Rollout } from '../../../../src/api/rollout.ts';
import type { Ingress } from '../../../../src/traffic/nginx/canary-ingress.ts';

export const NS = 'default';
export const STABLE_INGRESS = 'stable-ingress';
export const CANARY_INGRESS = 'rollout-stable-ingress-canary';
export const ADDITIONAL_STABLE_INGRESS = 'additional-stable-ingress';
export const STABLE_SERVICE = 'stable-service';
export const CANARY_SERVICE = 'canary-service';
export const ROLLOUT_UID = '4b712b69-5de9-11ea-a10a-0a9ba5899dd1';

/** Argo's generateMultiIngressTestData: one stable Ingress, or two through stableIngresses. */
export const MULTI_INGRESS_CASES = [
  {
    name: 'singleIngress',
    nginx: { stableIngress: STABLE_INGRESS },
    ingresses: [STABLE_INGRESS],
    canaryIngresses: [CANARY_INGRESS],
  },
  {
    name: 'multiIngress',
    nginx: { stableIngresses: [STABLE_INGRESS, ADDITIONAL_STABLE_INGRESS] },
    ingresses: [STABLE_INGRESS, ADDITIONAL_STABLE_INGRESS],
    canaryIngresses: [CANARY_INGRESS, 'rollout-additional-stable-ingress-canary'],
  },
] as const;

/** Argo's fakeRollout. */
export function fakeRollout(
  nginx: Record<string, unknown>,
  trafficRouting: Record<string, unknown> = {},
  uid = ROLLOUT_UID,
): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'rollout', namespace: NS, uid },
    spec: {
      strategy: {
        canary: {
          stableService: STABLE_SERVICE,
          canaryService: CANARY_SERVICE,
          trafficRouting: { nginx, ...trafficRouting },
        },
      },
    },
  } as Rollout;
}

/** Argo's extensionsIngress, as a v1 Ingress: one host rule, /foo to the service on port 80. */
export function plainIngress(name: string, port: number, serviceName: string): Ingress {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: NS },
    spec: {
      rules: [
        {
          host: 'fakehost.example.com',
          http: {
            paths: [{ path: '/foo', backend: { service: { name: serviceName, port: { number: port } } } }],
          },
        },
      ],
    },
  };
}

/** Argo's networkingIngress: annotations, labels, an ingressClassName and a default backend besides. */
export function networkingIngress(name: string, port: number, serviceName: string): Ingress {
  const backend = { service: { name: serviceName, port: { name: 'http', number: port } } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: NS,
      annotations: { 'annotation-key1': 'annotation-value1' },
      labels: { 'label-key1': 'label-value1', 'label-key2': 'label-value2' },
    },
    spec: {
      ingressClassName: 'ingress-name',
      defaultBackend: structuredClone(backend),
      rules: [
        {
          host: 'fakehost.example.com',
          http: { paths: [{ path: '/foo', pathType: 'Prefix', backend: structuredClone(backend) }] },
        },
      ],
    },
  };
}

/** Argo's setIngressOwnerRef: a controller reference to `ro`. */
export function ownedBy(ing: Ingress, ro: Rollout): Ingress {
  ing.metadata.ownerReferences = [
    {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      name: ro.metadata.name,
      uid: ro.metadata.uid ?? '',
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  return ing;
}

export function withAnnotations(ing: Ingress, annotations: Record<string, string>): Ingress {
  ing.metadata.annotations = annotations;
  return ing;
}

/** The object without what the API server adds (uid, resourceVersion, generation, creationTimestamp). */
export function userFields(ing: Ingress | undefined): unknown {
  if (ing === undefined) return undefined;
  const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, ...metadata } = ing.metadata;
  return { ...ing, metadata };
}

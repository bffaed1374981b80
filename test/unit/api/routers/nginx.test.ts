// The NGINX router's config (`trafficRouting.nginx`): defaults, Argo's validation messages, every field
// checked, errors naming the field path; and Argo's canary Ingress name (GetCanaryIngressName).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Rollout } from '../../../../src/api/rollout.ts';
import {
  BOTH_STABLE_INGRESSES_MESSAGE,
  canaryIngressName,
  INVALID_TRAFFIC_ROUTING_MESSAGE,
  NEITHER_STABLE_INGRESS_MESSAGE,
  nginxConfig,
  prefixedAnnotationKey,
} from '../../../../src/api/routers/nginx.ts';

const PATH = 'spec.strategy.canary.trafficRouting.nginx';

function rollout(nginx: unknown, canary: Record<string, unknown> = {}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'rollout', namespace: 'default' },
    spec: {
      strategy: {
        canary: {
          stableService: 'stable-service',
          canaryService: 'canary-service',
          trafficRouting: { nginx } as Record<string, unknown>,
          ...canary,
        },
      },
    },
  } as Rollout;
}

describe('nginx router config', () => {
  it('is undefined when the Rollout does not use the NGINX router', () => {
    const ro = rollout(undefined);
    delete ro.spec.strategy.canary?.trafficRouting?.nginx;
    expect(nginxConfig(ro)).toBeUndefined();
    expect(nginxConfig({ ...ro, spec: { strategy: { blueGreen: { activeService: 'a' } } } })).toBeUndefined();
  });

  it('takes stableIngress as a one-element list and defaults the annotation prefix', () => {
    expect(nginxConfig(rollout({ stableIngress: 'stable-ingress' }))).toEqual({
      ok: true,
      config: {
        stableIngresses: ['stable-ingress'],
        stableIngressField: 'stableIngress',
        annotationPrefix: 'nginx.ingress.kubernetes.io',
        additionalIngressAnnotations: {},
        canaryIngressAnnotations: {},
        stableService: 'stable-service',
        canaryService: 'canary-service',
      },
    });
  });

  it('reads every field', () => {
    expect(
      nginxConfig(
        rollout({
          stableIngresses: ['stable-ingress', 'additional-stable-ingress'],
          annotationPrefix: 'customingress.nginx.ingress.kubernetes.io',
          additionalIngressAnnotations: {
            'canary-by-header': 'X-Canary',
            'canary-by-header-value': 'iwantsit',
          },
          canaryIngressAnnotations: { 'my-custom-annotation.mygroup.com/key': 'value' },
        }),
      ),
    ).toEqual({
      ok: true,
      config: {
        stableIngresses: ['stable-ingress', 'additional-stable-ingress'],
        stableIngressField: 'stableIngresses',
        annotationPrefix: 'customingress.nginx.ingress.kubernetes.io',
        additionalIngressAnnotations: {
          'canary-by-header': 'X-Canary',
          'canary-by-header-value': 'iwantsit',
        },
        canaryIngressAnnotations: { 'my-custom-annotation.mygroup.com/key': 'value' },
        stableService: 'stable-service',
        canaryService: 'canary-service',
      },
    });
  });

  it("treats an empty annotationPrefix as the default (Argo's GetCanaryIngressAnnotationPrefixOrDefault)", () => {
    expect(nginxConfig(rollout({ stableIngress: 'ing', annotationPrefix: '' }))).toMatchObject({
      ok: true,
      config: { annotationPrefix: 'nginx.ingress.kubernetes.io' },
    });
  });

  it('accepts the guide manifest verbatim', () => {
    const ro = parse(
      readFileSync(new URL('../../../fixtures/guides/canary-nginx-rollout.yaml', import.meta.url), 'utf8'),
    ) as Rollout;
    expect(nginxConfig(ro)).toMatchObject({
      ok: true,
      config: {
        stableIngresses: ['payment-service-ingress'],
        stableService: 'payment-service-stable',
        canaryService: 'payment-service-canary',
      },
    });
  });

  it.each([
    // Argo's ValidateRolloutNginxIngressesConfig.
    [{ stableIngress: 'a', stableIngresses: ['b'] }, PATH, BOTH_STABLE_INGRESSES_MESSAGE],
    [{}, PATH, NEITHER_STABLE_INGRESS_MESSAGE],
    [null, PATH, NEITHER_STABLE_INGRESS_MESSAGE],
    [{ stableIngress: '' }, PATH, NEITHER_STABLE_INGRESS_MESSAGE],
    [{ annotationPrefix: 'x' }, PATH, NEITHER_STABLE_INGRESS_MESSAGE],
    ['ing', PATH, 'must be an object'],
    [{ stableIngress: 'a', weight: 10 }, `${PATH}.weight`, 'unknown field'],
    [{ stableIngress: 'Stable_Ingress' }, `${PATH}.stableIngress`, 'Ingress name'],
    [{ stableIngress: 7 }, `${PATH}.stableIngress`, 'Ingress name'],
    [{ stableIngresses: 'a' }, `${PATH}.stableIngresses`, 'list of Ingress names'],
    [{ stableIngresses: [] }, `${PATH}.stableIngresses`, 'at least one Ingress'],
    [{ stableIngresses: ['a', 'B'] }, `${PATH}.stableIngresses[1]`, 'Ingress name'],
    [{ stableIngresses: ['a', ''] }, `${PATH}.stableIngresses[1]`, 'Ingress name'],
    [{ stableIngresses: ['a', 'b', 'a'] }, `${PATH}.stableIngresses[2]`, 'duplicate Ingress "a"'],
    [{ stableIngresses: ['a', 'rollout-a-canary'] }, `${PATH}.stableIngresses[0]`, 'also a stable Ingress'],
    [
      { stableIngress: 'a', annotationPrefix: 'Not A Prefix' },
      `${PATH}.annotationPrefix`,
      'annotation prefix',
    ],
    [{ stableIngress: 'a', annotationPrefix: 5 }, `${PATH}.annotationPrefix`, 'annotation prefix'],
    [
      { stableIngress: 'a', additionalIngressAnnotations: ['x'] },
      `${PATH}.additionalIngressAnnotations`,
      'map',
    ],
    [
      { stableIngress: 'a', additionalIngressAnnotations: { 'canary-weight': 10 } },
      `${PATH}.additionalIngressAnnotations.canary-weight`,
      'must be a string',
    ],
    [
      // Argo's issue #2225: another prefix under the nginx prefix is not a valid key.
      { stableIngress: 'a', additionalIngressAnnotations: { 'other.io/key': 'v' } },
      `${PATH}.additionalIngressAnnotations.other.io/key`,
      '"nginx.ingress.kubernetes.io/other.io/key" is not a valid annotation key',
    ],
    [
      { stableIngress: 'a', canaryIngressAnnotations: { 'bad key': 'v' } },
      `${PATH}.canaryIngressAnnotations.bad key`,
      'not a valid annotation key',
    ],
    [
      { stableIngress: 'a', canaryIngressAnnotations: { 'example.com/k': true } },
      `${PATH}.canaryIngressAnnotations.example.com/k`,
      'must be a string',
    ],
  ])('refuses %j at %s', (nginx, field, message) => {
    const result = nginxConfig(rollout(nginx));
    expect(result).toMatchObject({ ok: false, field });
    expect(result?.ok === false && result.message).toContain(message);
  });

  it("needs both Services (Argo's InvalidTrafficRoutingMessage)", () => {
    expect(nginxConfig(rollout({ stableIngress: 'a' }, { stableService: undefined }))).toEqual({
      ok: false,
      field: 'spec.strategy.canary.stableService',
      message: INVALID_TRAFFIC_ROUTING_MESSAGE,
    });
    expect(nginxConfig(rollout({ stableIngress: 'a' }, { canaryService: '' }))).toEqual({
      ok: false,
      field: 'spec.strategy.canary.canaryService',
      message: INVALID_TRAFFIC_ROUTING_MESSAGE,
    });
  });

  it('prefixes additional annotation keys unless they already start with the prefix (a plain string test, as Argo)', () => {
    const prefix = 'nginx.ingress.kubernetes.io';
    expect(prefixedAnnotationKey(prefix, 'canary-by-header')).toBe(`${prefix}/canary-by-header`);
    expect(prefixedAnnotationKey(prefix, `${prefix}/affinity`)).toBe(`${prefix}/affinity`);
    expect(
      nginxConfig(rollout({ stableIngress: 'a', additionalIngressAnnotations: { [`${prefix}/x`]: 'v' } })),
    ).toMatchObject({ ok: true });
  });
});

describe('canary Ingress name (GetCanaryIngressName)', () => {
  it('is <rollout>-<stableIngress>-canary', () => {
    expect(canaryIngressName('myrollout', 'stable-ingress')).toBe('myrollout-stable-ingress-canary');
    expect(canaryIngressName('myrollout', 'stable-ingress-additional')).toBe(
      'myrollout-stable-ingress-additional-canary',
    );
  });

  it('cuts the name to 253 characters, keeping the -canary suffix', () => {
    const name = canaryIngressName('myrollout', `stable-ingress${'a'.repeat(260)}`);
    expect(name).toHaveLength(253);
    expect(name.endsWith('-canary')).toBe(true);
    expect(name.startsWith('myrollout-stable-ingressaaa')).toBe(true);
  });

  it('is empty without a stable Ingress', () => {
    expect(canaryIngressName('myrollout', '')).toBe('');
  });
});

// observedNginxWeight: the weight a canary Ingress routes, read back from the annotations the router writes.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/api/meta.ts';
import { type NginxConfig, nginxConfig } from '../../../../src/api/routers/nginx.ts';
import { desiredCanaryIngress, type Ingress } from '../../../../src/traffic/nginx/canary-ingress.ts';
import { observedNginxWeight } from '../../../../src/traffic/nginx/observed.ts';
import { CANARY_SERVICE, fakeRollout, NS, STABLE_INGRESS, STABLE_SERVICE } from './fixtures.ts';

const P = 'nginx.ingress.kubernetes.io';

function ingress(annotations: Record<string, string>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'c', annotations } };
}

describe('observedNginxWeight', () => {
  it('reads canary-weight out of the default total of 100', () => {
    expect(
      observedNginxWeight(ingress({ [`${P}/canary`]: 'true', [`${P}/canary-weight`]: '30' }), P),
    ).toEqual({
      ok: true,
      canary: 30,
      stable: 70,
      total: 100,
      enabled: true,
    });
  });

  it('uses canary-weight-total when set, and the prefix given', () => {
    const obs = observedNginxWeight(
      ingress({ 'x.io/canary': 'true', 'x.io/canary-weight': '250', 'x.io/canary-weight-total': '1000' }),
      'x.io',
    );
    expect(obs).toEqual({ ok: true, canary: 250, stable: 750, total: 1000, enabled: true });
  });

  it('routes nothing to the canary when the canary annotation is not "true"', () => {
    expect(observedNginxWeight(ingress({ [`${P}/canary-weight`]: '30' }), P)).toMatchObject({
      ok: true,
      canary: 0,
      enabled: false,
    });
  });

  it('a missing weight is 0; a malformed one is an error naming the annotation', () => {
    expect(observedNginxWeight(ingress({ [`${P}/canary`]: 'true' }), P)).toMatchObject({
      ok: true,
      canary: 0,
    });
    expect(observedNginxWeight(ingress({ [`${P}/canary`]: 'true', [`${P}/canary-weight`]: 'x' }), P)).toEqual(
      {
        ok: false,
        error: `annotation ${P}/canary-weight is not an integer: "x"`,
      },
    );
  });

  it('reads back what the router writes', () => {
    const ro = fakeRollout({ stableIngress: STABLE_INGRESS }, { maxTrafficWeight: 1000 });
    const parsed = nginxConfig(ro);
    if (!parsed?.ok) throw new Error('bad config');
    const config: NginxConfig = parsed.config;
    const stable: Ingress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: STABLE_INGRESS, namespace: NS },
      spec: { rules: [{ http: { paths: [{ backend: { service: { name: STABLE_SERVICE } } }] } }] },
    };
    const built = desiredCanaryIngress({
      rollout: ro,
      config,
      stable,
      name: 'c',
      weight: 300,
      apiVersion: 'networking.k8s.io/v1',
    });
    if (!built.ok) throw new Error(built.error);
    expect(built.ingress.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe(CANARY_SERVICE);
    expect(observedNginxWeight(built.ingress, config.annotationPrefix)).toEqual({
      ok: true,
      canary: 300,
      stable: 700,
      total: 1000,
      enabled: true,
    });
  });
});

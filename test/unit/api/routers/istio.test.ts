// trafficRouting.istio parsed with Argo's spec-level rules: one of virtualService / virtualServices, names
// `name` or `name.namespace`, required destinationRule fields, canary and stable Services for a host-level
// split, and every unknown or malformed field refused by its full path.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { istioConfig, parseIstioConfig, splitObjectRef } from '../../../../src/api/routers/istio.ts';

const P = 'spec.strategy.canary.trafficRouting.istio';
const SERVICES = { canaryService: 'canary', stableService: 'stable' };

describe('parseIstioConfig', () => {
  it('parses a host-level config with http, tls and tcp routes', () => {
    const r = parseIstioConfig(
      {
        virtualService: {
          name: 'vs',
          routes: ['primary'],
          tlsRoutes: [{ port: 443, sniHosts: ['a.example.com'] }, { sniHosts: ['b.example.com'] }],
          tcpRoutes: [{ port: 5432 }, {}],
        },
      },
      SERVICES,
    );
    expect(r).toEqual({
      ok: true,
      config: {
        multiple: false,
        virtualServices: [
          {
            ref: 'vs',
            name: 'vs',
            routes: ['primary'],
            tlsRoutes: [
              { port: 443, sniHosts: ['a.example.com'] },
              { port: 0, sniHosts: ['b.example.com'] },
            ],
            tcpRoutes: [{ port: 5432 }, { port: 0 }],
            path: `${P}.virtualService`,
          },
        ],
      },
    });
  });

  it('parses virtualServices[] with name.namespace and a destinationRule without Services', () => {
    const r = parseIstioConfig(
      {
        virtualServices: [{ name: 'a' }, { name: 'b.mesh', routes: ['r'] }],
        destinationRule: {
          name: 'dr',
          canarySubsetName: 'c',
          stableSubsetName: 's',
          additionalSubsetNames: ['m'],
        },
      },
      {},
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.multiple).toBe(true);
    expect(r.config.virtualServices[1]).toMatchObject({
      ref: 'b.mesh',
      name: 'b',
      namespace: 'mesh',
      path: `${P}.virtualServices[1]`,
    });
    expect(r.config.destinationRule).toEqual({
      name: 'dr',
      canarySubsetName: 'c',
      stableSubsetName: 's',
      additionalSubsetNames: ['m'],
    });
  });

  const refused: [string, unknown, { canaryService?: string; stableService?: string }, string, string][] = [
    [
      'both virtualService and virtualServices',
      { virtualService: { name: 'a' }, virtualServices: [{ name: 'b' }] },
      SERVICES,
      P,
      'either VirtualService or VirtualServices must be configured',
    ],
    ['neither', {}, SERVICES, P, 'either VirtualService or VirtualServices must be configured'],
    [
      'an unknown istio field',
      { virtualService: { name: 'a' }, gateway: 'x' },
      SERVICES,
      `${P}.gateway`,
      'unknown field',
    ],
    [
      'an unknown virtualService field',
      { virtualService: { name: 'a', route: ['x'] } },
      SERVICES,
      `${P}.virtualService.route`,
      'unknown field',
    ],
    [
      'a missing name',
      { virtualService: { routes: ['x'] } },
      SERVICES,
      `${P}.virtualService.name`,
      "missing field 'name'",
    ],
    [
      'a name with two dots',
      { virtualService: { name: 'a.b.c' } },
      SERVICES,
      `${P}.virtualService.name`,
      'name.namespace',
    ],
    [
      'a route that is not a string',
      { virtualService: { name: 'a', routes: [1] } },
      SERVICES,
      `${P}.virtualService.routes[0]`,
      'non-empty string',
    ],
    [
      'a tls port out of range',
      { virtualService: { name: 'a', tlsRoutes: [{ port: 70000 }] } },
      SERVICES,
      `${P}.virtualService.tlsRoutes[0].port`,
      'port number',
    ],
    [
      'an unknown tcpRoutes field',
      { virtualService: { name: 'a', tcpRoutes: [{ port: 1, sni: [] }] } },
      SERVICES,
      `${P}.virtualService.tcpRoutes[0].sni`,
      'unknown field',
    ],
    [
      'an empty virtualServices list',
      { virtualServices: [] },
      SERVICES,
      `${P}.virtualServices`,
      'at least one',
    ],
    [
      'a bad entry of virtualServices',
      { virtualServices: [{ name: 'a' }, 'b'] },
      SERVICES,
      `${P}.virtualServices[1]`,
      'must be an object',
    ],
    [
      'a destinationRule without stableSubsetName',
      { virtualService: { name: 'a' }, destinationRule: { name: 'dr', canarySubsetName: 'c' } },
      {},
      `${P}.destinationRule.stableSubsetName`,
      "missing field 'stableSubsetName'",
    ],
    [
      'an unknown destinationRule field',
      {
        virtualService: { name: 'a' },
        destinationRule: { name: 'dr', canarySubsetName: 'c', stableSubsetName: 's', host: 'x' },
      },
      {},
      `${P}.destinationRule.host`,
      'unknown field',
    ],
    [
      'a host-level split without stableService',
      { virtualService: { name: 'a' } },
      { canaryService: 'canary' },
      'spec.strategy.canary.stableService',
      'Canary service and Stable service must to be set to use Traffic Routing',
    ],
    [
      'a host-level split without canaryService',
      { virtualService: { name: 'a' } },
      { stableService: 'stable' },
      'spec.strategy.canary.canaryService',
      'Canary service and Stable service must to be set to use Traffic Routing',
    ],
  ];
  for (const [name, raw, canary, field, message] of refused) {
    it(`refuses ${name}`, () => {
      const r = parseIstioConfig(raw, canary);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.field).toBe(field);
      expect(r.message).toContain(message);
    });
  }
});

describe('istioConfig', () => {
  const ro = (istio?: unknown): Rollout =>
    ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: { name: 'r', namespace: 'ns' },
      spec: {
        strategy: { canary: { ...SERVICES, trafficRouting: istio === undefined ? {} : { istio } } },
      },
    }) as Rollout;

  it('is undefined when trafficRouting.istio is not set', () => {
    expect(istioConfig(ro())).toBeUndefined();
  });

  it('parses the Rollout’s istio block', () => {
    expect(istioConfig(ro({ virtualService: { name: 'vs' } }))).toMatchObject({ ok: true });
  });
});

describe('splitObjectRef', () => {
  it('splits name.namespace (Argo’s GetVirtualServiceNamespaceName)', () => {
    expect(splitObjectRef('vs')).toEqual({ name: 'vs' });
    expect(splitObjectRef('vs.mesh')).toEqual({ name: 'vs', namespace: 'mesh' });
  });
});

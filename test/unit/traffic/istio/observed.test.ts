// observedIstioWeights: the weights a VirtualService's selected routes give the canary and the stable.

import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { type IstioVirtualService, parseIstioConfig } from '../../../../src/api/routers/istio.ts';
import { istioSplitTargets, observedIstioWeights } from '../../../../src/traffic/istio/observed.ts';
import { type SplitTargets, withWeights } from '../../../../src/traffic/istio/virtual-service.ts';
import { regularTcpVsvc, regularVsvc, yaml } from './fixtures.ts';

const HOST: SplitTargets = {
  canaryService: 'canary',
  stableService: 'stable',
  canarySubset: '',
  stableSubset: '',
  additionalSubsets: [],
  subsetLevel: false,
};

function ref(over: Partial<IstioVirtualService> = {}): IstioVirtualService {
  return { ref: 'vsvc', name: 'vsvc', routes: [], tlsRoutes: [], tcpRoutes: [], path: 'p', ...over };
}

describe('observedIstioWeights', () => {
  it('one entry per selected HTTP route, canary and stable apart', () => {
    const vs = withWeights(yaml(regularVsvc), ref({ routes: ['primary'] }), 30, [], HOST, []);
    const obs = observedIstioWeights(vs, ref({ routes: ['primary', 'secondary'] }), HOST);
    expect(obs).toEqual({
      ok: true,
      value: [
        { kind: 'http', index: 0, name: 'primary', canary: 30, stable: 70, other: [] },
        { kind: 'http', index: 1, name: 'secondary', canary: 0, stable: 100, other: [] },
      ],
    });
  });

  it('a named route missing is the router’s error', () => {
    expect(observedIstioWeights(yaml(regularVsvc), ref({ routes: ['nope'] }), HOST)).toEqual({
      ok: false,
      error: "HTTP Route 'nope' is not found in the defined Virtual Service.",
    });
  });

  it('TCP routes by port; other destinations with weight are listed', () => {
    const vs = yaml(regularTcpVsvc) as { spec: { tcp: { route: unknown[] }[] } };
    vs.spec.tcp[1]!.route = [
      { destination: { host: 'stable' }, weight: 60 },
      { destination: { host: 'canary' }, weight: 20 },
      { destination: { host: 'exp.ns.svc.cluster.local' }, weight: 20 },
    ];
    const obs = observedIstioWeights(vs, ref({ tcpRoutes: [{ port: 3001 }] }), HOST);
    expect(obs).toEqual({
      ok: true,
      value: [
        {
          kind: 'tcp',
          index: 1,
          name: '[1]',
          canary: 20,
          stable: 60,
          other: [{ destination: 'exp', weight: 20 }],
        },
      ],
    });
  });

  it('subset-level: canary and stable by subset; a lone destination without weight takes 100', () => {
    const ro = {
      spec: { strategy: { canary: {} } },
    } as unknown as Rollout;
    const parsed = parseIstioConfig(
      {
        virtualService: { name: 'vs' },
        destinationRule: { name: 'dr', canarySubsetName: 'c', stableSubsetName: 's' },
      },
      {},
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const targets = istioSplitTargets(ro, parsed.config);
    const vs = {
      spec: {
        http: [
          {
            route: [
              { destination: { host: 'web', subset: 's' }, weight: 90 },
              { destination: { host: 'web', subset: 'c' }, weight: 10 },
            ],
          },
        ],
      },
    };
    expect(observedIstioWeights(vs, ref(), targets)).toMatchObject({
      ok: true,
      value: [{ name: '[0]', canary: 10, stable: 90 }],
    });
    const lone = { spec: { http: [{ route: [{ destination: { host: 'web', subset: 's' } }] }] } };
    expect(observedIstioWeights(lone, ref(), targets)).toMatchObject({
      ok: true,
      value: [{ canary: undefined, stable: 100 }],
    });
  });

  it('a VirtualService without routes is an error', () => {
    expect(observedIstioWeights({ spec: {} }, ref(), HOST)).toEqual({
      ok: false,
      error: 'no route of the VirtualService is selected by the Rollout',
    });
  });
});

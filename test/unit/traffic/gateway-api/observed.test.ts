// observedRouteWeights: the weights a Gateway API route's rules give the canary and the stable Service.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/api/meta.ts';
import {
  observedHttpRouteWeights,
  observedRouteWeights,
} from '../../../../src/traffic/gateway-api/observed.ts';
import { type RouteRule, withWeights } from '../../../../src/traffic/gateway-api/rules.ts';

function route(rules: RouteRule[]): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'r' },
    spec: { rules },
  } as KubeObject;
}

const RULES: RouteRule[] = [
  {
    backendRefs: [
      { name: 'stable', port: 80, weight: 100 },
      { name: 'canary', port: 80, weight: 0 },
    ],
  },
  { matches: [{ path: { value: '/other' } }], backendRefs: [{ name: 'other', port: 80 }] },
];

describe('observedRouteWeights', () => {
  it('reads back what the router writes, one entry per rule naming canary or stable', () => {
    const rules = withWeights(
      RULES,
      {
        canaryService: 'canary',
        stableService: 'stable',
        canaryWeight: 30,
        maxWeight: 100,
        additional: [{ serviceName: 'exp', podTemplateHash: 'h', weight: 10 }],
        previousAdditional: [],
        managedIndices: new Set(),
      },
      'httpRoute',
    );
    if (typeof rules === 'string') throw new Error(rules);
    expect(observedHttpRouteWeights(route(rules), 'canary', 'stable')).toEqual({
      ok: true,
      rules: [{ rule: 0, canary: 30, stable: 60, other: [{ service: 'exp', weight: 10 }] }],
    });
  });

  it('a backendRef without weight weighs 1; managed header rules are skipped', () => {
    const rules: RouteRule[] = [
      { backendRefs: [{ name: 'canary' }] },
      { backendRefs: [{ name: 'stable' }, { name: 'canary' }] },
    ];
    expect(observedRouteWeights(route(rules), 'canary', 'stable', new Set([0]))).toEqual({
      ok: true,
      rules: [{ rule: 1, canary: 1, stable: 1, other: [] }],
    });
  });

  it('no rule naming either Service is an error', () => {
    expect(observedRouteWeights(route([RULES[1]!]), 'canary', 'stable')).toEqual({
      ok: false,
      error: 'no rule routes to the canary Service "canary" or the stable Service "stable"',
    });
  });
});

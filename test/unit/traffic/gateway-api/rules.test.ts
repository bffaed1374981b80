// The Gateway API router's pure rule decisions: header match types (the plugin's table), the header rule
// built from a weighted HTTP or gRPC rule, weights with experiment destinations, and the managed-routes
// record's index bookkeeping.
import { describe, expect, it } from 'vitest';
import { grpcHeaderRule } from '../../../../src/traffic/gateway-api/grpc-route.ts';
import { httpHeaderRule } from '../../../../src/traffic/gateway-api/http-route.ts';
import {
  headerMatches,
  managedIndicesOf,
  type RouteRule,
  withManagedRule,
  withoutManagedRule,
  withWeights,
} from '../../../../src/traffic/gateway-api/rules.ts';

describe('headerMatches', () => {
  it.each([
    [{ exact: 'a' }, { type: 'Exact', value: 'a' }],
    [{ prefix: 'test' }, { type: 'RegularExpression', value: 'test.*' }],
    [{ prefix: 'v1.2' }, { type: 'RegularExpression', value: 'v1\\.2.*' }],
    [{ regex: '^a|b$' }, { type: 'RegularExpression', value: '^a|b$' }],
    [
      { exact: 'a', regex: 'b' },
      { type: 'Exact', value: 'a' },
    ],
  ])('%j -> %j', (headerValue, want) => {
    expect(headerMatches([{ headerName: 'x', headerValue }])).toEqual([{ name: 'x', ...want }]);
  });

  it('refuses a match with no value', () => {
    expect(headerMatches([{ headerName: 'x', headerValue: {} }])).toBe('invalid header match type');
  });
});

describe('header rules', () => {
  const canaryRef = { name: 'canary', port: 8080, weight: 10, namespace: 'apps' };
  const headers = [{ name: 'X-Canary', type: 'Exact' as const, value: 'yes' }];

  it('HTTP: keeps each match narrow (path, method, query, own headers) and copies filters and timeouts', () => {
    const base: RouteRule = {
      matches: [
        {
          path: { type: 'PathPrefix', value: '/api' },
          method: 'POST',
          queryParams: [{ name: 'q', value: '1' }],
          headers: [
            { name: 'x-tenant', value: 'a' },
            { name: 'x-canary', value: 'replaced' },
          ],
        },
      ],
      filters: [{ type: 'URLRewrite' }],
      timeouts: { request: '5s' },
      backendRefs: [],
    };
    expect(httpHeaderRule(base, canaryRef, headers)).toEqual({
      matches: [
        {
          path: { type: 'PathPrefix', value: '/api' },
          method: 'POST',
          queryParams: [{ name: 'q', value: '1' }],
          headers: [{ name: 'x-tenant', value: 'a' }, ...headers],
        },
      ],
      filters: [{ type: 'URLRewrite' }],
      timeouts: { request: '5s' },
      backendRefs: [{ group: '', kind: 'Service', name: 'canary', namespace: 'apps', port: 8080 }],
    });
  });

  it('HTTP: a rule without matches gets one match of headers alone, never a match-all', () => {
    expect(httpHeaderRule({ backendRefs: [] }, canaryRef, headers).matches).toEqual([{ headers }]);
  });

  it('gRPC: keeps the method of each match', () => {
    const base: RouteRule = { matches: [{ method: { service: 'shop.Cart', method: 'Add' } }] };
    expect(grpcHeaderRule(base, canaryRef, headers).matches).toEqual([
      { method: { service: 'shop.Cart', method: 'Add' }, headers },
    ]);
  });
});

describe('withWeights', () => {
  const plan = {
    canaryService: 'canary',
    stableService: 'stable',
    canaryWeight: 30,
    maxWeight: 100,
    additional: [],
    previousAdditional: [],
    managedIndices: new Set<number>(),
  };

  it('does not change its input', () => {
    const rules: RouteRule[] = [{ backendRefs: [{ name: 'stable' }, { name: 'canary' }] }];
    const frozen = structuredClone(rules);
    withWeights(rules, plan, 'httpRoute');
    expect(rules).toEqual(frozen);
  });

  it('subtracts experiment weights from stable and updates an existing experiment backend', () => {
    const rules: RouteRule[] = [
      { backendRefs: [{ name: 'stable' }, { name: 'canary', port: 80 }, { name: 'exp', port: 81 }] },
    ];
    const additional = [{ serviceName: 'exp', podTemplateHash: 'h', weight: 15 }];
    expect(withWeights(rules, { ...plan, additional }, 'httpRoute')).toEqual([
      {
        backendRefs: [
          { name: 'stable', weight: 55 },
          { name: 'canary', port: 80, weight: 30 },
          { name: 'exp', port: 81, weight: 15 },
        ],
      },
    ]);
  });

  it('skips managed rules', () => {
    const rules: RouteRule[] = [
      { backendRefs: [{ name: 'stable' }, { name: 'canary' }] },
      { backendRefs: [{ name: 'canary' }] },
    ];
    const out = withWeights(rules, { ...plan, managedIndices: new Set([1]) }, 'httpRoute') as RouteRule[];
    expect(out[1]).toEqual({ backendRefs: [{ name: 'canary' }] });
  });
});

describe('managed-routes record', () => {
  const canaryRule: RouteRule = { backendRefs: [{ name: 'canary' }] };
  const weighted: RouteRule = { backendRefs: [{ name: 'stable' }, { name: 'canary' }] };

  it('appends, records, then replaces in place', () => {
    const first = withManagedRule([weighted], {}, 'h', 'route', canaryRule, 'canary');
    expect(first.record).toEqual({ h: { route: 1 } });
    const again = withManagedRule(
      first.rules,
      first.record,
      'h',
      'route',
      { ...canaryRule, matches: [{}] },
      'canary',
    );
    expect(again.rules).toHaveLength(2);
    expect(again.rules[1]!.matches).toEqual([{}]);
  });

  it('removes and shifts later indices of the same route only', () => {
    const rules = [weighted, canaryRule, canaryRule, canaryRule];
    const record = { a: { route: 1, other: 1 }, b: { route: 2 }, c: { route: 3, other: 2 } };
    const out = withoutManagedRule(rules, record, 'b', 'route', 'canary');
    expect(out.rules).toHaveLength(3);
    expect(out.record).toEqual({ a: { route: 1, other: 1 }, c: { route: 2, other: 2 } });
    expect([...managedIndicesOf(out.record, 'route')].sort()).toEqual([1, 2]);
  });
});

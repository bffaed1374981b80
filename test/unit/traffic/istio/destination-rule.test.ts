// The pure DestinationRule rewrite of UpdateHash: hash labels, experiment subsets, dropped strangers,
// additionalSubsetNames kept, the managed-by annotation, and "unchanged" returning the same object.
import { describe, expect, it } from 'vitest';
import type { IstioDestinationRule } from '../../../../src/api/routers/istio.ts';
import { destinationRuleHost, withSubsetHashes } from '../../../../src/traffic/istio/destination-rule.ts';

const CONFIG: IstioDestinationRule = {
  name: 'dr',
  canarySubsetName: 'canary',
  stableSubsetName: 'stable',
  additionalSubsetNames: ['mobile'],
};
const HASH = 'rollouts-pod-template-hash';
const MANAGED = 'argo-rollouts.argoproj.io/managed-by-rollouts';

describe('withSubsetHashes (Argo UpdateHash)', () => {
  it('labels canary and stable, keeps additional subsets, drops others, marks the rule managed', () => {
    const dr = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'DestinationRule',
      metadata: { name: 'dr', namespace: 'ns', annotations: { team: 'shop' }, resourceVersion: '7' },
      spec: {
        host: 'svc',
        exportTo: ['.'],
        subsets: [
          { name: 'old-exp', labels: { [HASH]: 'x' } },
          { name: 'stable', labels: { app: 'svc' } },
          { name: 'mobile', labels: { track: 'mobile' } },
          { name: 'canary', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
        ],
      },
    };
    const out = withSubsetHashes(dr, CONFIG, 'c1', 's1', [], 'checkout');
    expect(out).toEqual({
      ...dr,
      metadata: { ...dr.metadata, annotations: { team: 'shop', [MANAGED]: 'checkout' } },
      spec: {
        host: 'svc',
        exportTo: ['.'],
        subsets: [
          { name: 'stable', labels: { app: 'svc', [HASH]: 's1' } },
          { name: 'mobile', labels: { track: 'mobile' } },
          { name: 'canary', labels: { [HASH]: 'c1' }, trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
        ],
      },
    });
    expect(dr.spec.subsets).toHaveLength(4); // input untouched
  });

  it('removes the hash label when a hash is empty', () => {
    const dr = {
      metadata: { annotations: { [MANAGED]: 'r' } },
      spec: { subsets: [{ name: 'canary', labels: { [HASH]: 'old', app: 'a' } }] },
    };
    const out = withSubsetHashes(dr, CONFIG, '', 's', [], 'r');
    expect((out.spec as { subsets: unknown[] }).subsets).toEqual([{ name: 'canary', labels: { app: 'a' } }]);
  });

  it('returns the same object when nothing changes', () => {
    const dr = {
      metadata: { annotations: { [MANAGED]: 'r' } },
      spec: {
        subsets: [
          { name: 'stable', labels: { [HASH]: 's' } },
          { name: 'canary', labels: { [HASH]: 'c' } },
          { name: 'exp', labels: { [HASH]: 'e' } },
        ],
      },
    };
    expect(
      withSubsetHashes(dr, CONFIG, 'c', 's', [{ serviceName: 'exp', podTemplateHash: 'e', weight: 5 }], 'r'),
    ).toBe(dr);
  });

  it('reads the host', () => {
    expect(destinationRuleHost({ spec: { host: 'svc.ns.svc.cluster.local' } })).toBe(
      'svc.ns.svc.cluster.local',
    );
    expect(destinationRuleHost({})).toBe('');
  });
});

// observedSplitWeights: the weights of a TrafficSplit's backends, in v1alpha1 (Quantity) and v1alpha2+ form.

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../src/api/meta.ts';
import { observedSplitWeights, splitWeight } from '../../../../src/traffic/smi/observed.ts';
import { desiredSplit } from '../../../../src/traffic/smi/router.ts';

const config = {
  rootService: 'root',
  trafficSplitName: 'ts',
  canaryService: 'canary',
  stableService: 'stable',
};

function split(spec: unknown): KubeObject {
  return {
    apiVersion: 'split.smi-spec.io/v1alpha1',
    kind: 'TrafficSplit',
    metadata: { name: 'ts' },
    spec,
  } as KubeObject;
}

describe('observedSplitWeights', () => {
  it('reads back the v1alpha1 (Quantity strings) and v1alpha2 (integers) splits the router writes', () => {
    for (const version of ['v1alpha1', 'v1alpha2'] as const) {
      const spec = desiredSplit(config, version, 30, [
        { serviceName: 'exp', podTemplateHash: 'h', weight: 10 },
      ]);
      expect(observedSplitWeights(split(spec), 'canary', 'stable')).toEqual({
        ok: true,
        canary: 30,
        stable: 60,
        other: [{ service: 'exp', weight: 10 }],
        total: 100,
        rootService: 'root',
      });
    }
  });

  it('Quantity forms: "500m" is 0.5, "1k" 1000; junk is undefined', () => {
    expect(splitWeight('500m')).toBe(0.5);
    expect(splitWeight('1k')).toBe(1000);
    expect(splitWeight('x')).toBeUndefined();
  });

  it('a canary missing from the backends is undefined; malformed backends are errors', () => {
    expect(
      observedSplitWeights(split({ backends: [{ service: 'stable', weight: 100 }] }), 'canary', 'stable'),
    ).toMatchObject({ ok: true, canary: undefined, stable: 100 });
    expect(observedSplitWeights(split({}), 'canary', 'stable')).toEqual({
      ok: false,
      error: 'spec.backends is missing',
    });
    expect(
      observedSplitWeights(split({ backends: [{ service: 'a', weight: 'x' }] }), 'canary', 'stable'),
    ).toEqual({
      ok: false,
      error: 'spec.backends[0].weight is not a weight: "x"',
    });
  });
});

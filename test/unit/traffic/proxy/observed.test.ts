// observedProxyWeight: the proxy router's verdict, from the Rollout's status and WeightVerified condition.

import { describe, expect, it } from 'vitest';
import type { Rollout, RolloutStatus } from '../../../../src/api/rollout.ts';
import { observedProxyWeight } from '../../../../src/traffic/proxy/observed.ts';

function ro(status: RolloutStatus): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'r' },
    spec: { strategy: {} },
    status,
  } as Rollout;
}

const weights = (verified?: boolean) => ({
  canary: { weight: 30 },
  stable: { weight: 70 },
  ...(verified === undefined ? {} : { verified }),
});

const cond = (status: 'True' | 'False', message: string) => ({
  type: 'WeightVerified' as const,
  status,
  reason: status === 'True' ? 'WeightVerified' : 'WeightNotVerified',
  message,
  lastUpdateTime: '',
  lastTransitionTime: '',
});

describe('observedProxyWeight', () => {
  it('verified: the weight in status', () => {
    expect(observedProxyWeight(ro({ canary: { weights: weights(true) } }))).toEqual({
      state: 'verified',
      canary: 30,
    });
  });

  it('waiting: the condition says why', () => {
    expect(
      observedProxyWeight(
        ro({ canary: { weights: weights(false) }, conditions: [cond('False', 'proxy p-1 has not ACKed')] }),
      ),
    ).toEqual({ state: 'waiting', reason: 'proxy p-1 has not ACKed' });
    expect(observedProxyWeight(ro({ canary: { weights: weights(false) } }))).toEqual({
      state: 'waiting',
      reason: 'not verified yet',
    });
  });

  it('unknown without a verdict', () => {
    expect(observedProxyWeight(ro({ canary: { weights: weights() } }))).toEqual({ state: 'unknown' });
    expect(observedProxyWeight(ro({}))).toEqual({ state: 'unknown' });
  });
});

// The SMI router's config: Argo's defaults resolved, every field checked, errors naming the field path.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import { smiConfig } from '../../../../src/api/routers/smi.ts';

const PATH = 'spec.strategy.canary.trafficRouting.smi';

function rollout(smi: unknown, services: Record<string, string> = {}): Rollout {
  return {
    metadata: { name: 'checkout', namespace: 'shop' },
    spec: {
      strategy: {
        canary: {
          stableService: 'checkout-stable',
          canaryService: 'checkout-canary',
          ...services,
          trafficRouting: smi === undefined ? {} : { smi },
        },
      },
    },
  } as unknown as Rollout;
}

describe('SMI router config', () => {
  it('is undefined when the Rollout has no smi block', () => {
    expect(smiConfig(rollout(undefined))).toBeUndefined();
  });

  it('defaults the TrafficSplit to the Rollout name and the root to the stable Service', () => {
    const config = {
      rootService: 'checkout-stable',
      trafficSplitName: 'checkout',
      canaryService: 'checkout-canary',
      stableService: 'checkout-stable',
    };
    expect(smiConfig(rollout({}))).toEqual({ ok: true, config });
    expect(smiConfig(rollout(null))).toEqual({ ok: true, config });
    expect(smiConfig(rollout({ rootService: '', trafficSplitName: '' }))).toEqual({ ok: true, config });
  });

  it('reads rootService and trafficSplitName', () => {
    expect(smiConfig(rollout({ rootService: 'checkout', trafficSplitName: 'checkout.split' }))).toMatchObject(
      {
        ok: true,
        config: { rootService: 'checkout', trafficSplitName: 'checkout.split' },
      },
    );
  });

  it.each([
    [[], PATH, 'must be an object'],
    ['x', PATH, 'must be an object'],
    [{ splitName: 'a' }, `${PATH}.splitName`, 'unknown field'],
    [{ rootService: 'Root_Service' }, `${PATH}.rootService`, 'Service name'],
    [{ rootService: 7 }, `${PATH}.rootService`, 'Service name'],
    [{ trafficSplitName: 'A' }, `${PATH}.trafficSplitName`, 'DNS-1123 subdomain'],
  ])('refuses %j at %s', (smi, field, message) => {
    const result = smiConfig(rollout(smi));
    expect(result).toMatchObject({ ok: false, field });
    expect(result?.ok === false && result.message).toContain(message);
  });

  it('requires the canary and stable Services it splits between', () => {
    expect(smiConfig(rollout({}, { canaryService: '' }))).toMatchObject({
      ok: false,
      field: 'spec.strategy.canary.canaryService',
    });
    expect(smiConfig(rollout({}, { stableService: '' }))).toMatchObject({
      ok: false,
      field: 'spec.strategy.canary.stableService',
    });
  });
});

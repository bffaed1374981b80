import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SwrrPicker } from '../../../../proxy/routing/swrr.ts';

describe('smooth weighted round robin', () => {
  it('keeps each of two backends within one request of N x weight after every request', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 20_000 }), (canaryBp, n) => {
        const picker = new SwrrPicker([10_000 - canaryBp, canaryBp]);
        const counts = [0, 0];
        for (let i = 1; i <= n; i++) {
          counts[picker.pick()]! += 1;
          const idealCanary = (i * canaryBp) / 10_000;
          if (Math.abs(counts[1]! - idealCanary) > 1) return false;
          if (Math.abs(counts[0]! - (i - idealCanary)) > 1) return false;
        }
        return true;
      }),
      { numRuns: 150, seed: 20_260_801 },
    );
  });

  it('gives 1% exactly one request in every hundred', () => {
    const picker = new SwrrPicker([9_900, 100]);
    for (let block = 0; block < 50; block++) {
      let canary = 0;
      for (let i = 0; i < 100; i++) if (picker.pick() === 1) canary++;
      expect(canary).toBe(1);
    }
  });

  it('interleaves smoothly (nginx 5:1:1 gives a a b a c a a)', () => {
    const picker = new SwrrPicker([5, 1, 1]);
    const seq = Array.from({ length: 7 }, () => 'abc'[picker.pick()]).join('');
    expect(seq).toBe('aabacaa');
  });

  it('gives every backend exactly its weight per full cycle with many backends', () => {
    const weights = [3_333, 3_333, 3_334, 0];
    const picker = new SwrrPicker(weights);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 10_000 * 3; i++) counts[picker.pick()]! += 1;
    expect(counts).toEqual(weights.map((w) => w * 3));
  });

  it('never picks a backend of weight 0', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const picker = new SwrrPicker(weights);
        for (let i = 0; i < 200; i++) {
          const p = picker.pick();
          if (weights.every((w) => w === 0)) {
            if (p !== -1) return false;
          } else if (p < 0 || weights[p] === 0) {
            return false;
          }
        }
        return true;
      }),
      { seed: 7 },
    );
  });

  it('returns -1 when nothing is pickable', () => {
    expect(new SwrrPicker([0, 0]).pick()).toBe(-1);
    expect(new SwrrPicker([]).pick()).toBe(-1);
  });
});

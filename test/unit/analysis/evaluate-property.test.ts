// Random condition strings and random provider results never make the engine throw: every run ends in
// a terminal phase and every measurement has a valid phase.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateConditions } from '../../../src/analysis/evaluate.ts';
import type { ProviderResult } from '../../../src/analysis/providers/provider.ts';
import { isCompletedPhase } from '../../../src/api/analysis-run.ts';
import { metric, runOf, runScripted, scriptedProvider } from '../../fixtures/analysis/scripted.ts';

const TOKENS = [
  'result',
  '[0]',
  '[',
  ']',
  '(',
  ')',
  '<',
  '>',
  '==',
  '!=',
  '&&',
  '||',
  'and',
  'or',
  'not',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '**',
  '0.01',
  '1',
  '-1',
  '"x"',
  'true',
  'nil',
  'len(result)',
  'all(result, # < 1)',
  'any(result, {# > 0})',
  'map(result, # * 2)',
  'filter(result, # > 0)',
  'sum(result)',
  'max(result)',
  'mean(result)',
  'abs(-1)',
  'isNil(result)',
  'isNaN(result)',
  'isInf(result)',
  'asInt(result)',
  'asFloat(result)',
  'default(result, 0)',
  'in',
  '[1, 2]',
  '{',
  '}',
  '#',
  ',',
  '.',
  'result.a',
  '?',
  ':',
  ' ',
];

const expression = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 12 }).map((parts) => parts.join(' ')),
);

const providerValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.double(),
  fc.integer(),
  fc.string({ maxLength: 10 }),
  fc.boolean(),
  fc.array(fc.double(), { maxLength: 5 }),
  fc.array(fc.oneof(fc.double(), fc.string({ maxLength: 4 }), fc.constant(null)), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.double(), fc.string({ maxLength: 4 })), {
    maxKeys: 4,
  }),
);

const providerResult: fc.Arbitrary<ProviderResult> = fc.record(
  {
    phase: fc.constantFrom(undefined, 'Successful', 'Failed', 'Inconclusive', 'Error') as fc.Arbitrary<
      ProviderResult['phase']
    >,
    result: providerValue,
    message: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
  },
  { requiredKeys: [] },
);

describe('the engine never throws', () => {
  it('on random condition strings over random results', () => {
    fc.assert(
      fc.property(
        expression,
        fc.option(expression, { nil: undefined }),
        providerValue,
        (success, failure, result) => {
          const verdict = evaluateConditions(
            { successCondition: success, failureCondition: failure },
            result,
          );
          expect(['Successful', 'Failed', 'Inconclusive', 'Error']).toContain(verdict.phase);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('runs to a terminal phase with random conditions, limits and provider results', async () => {
    await fc.assert(
      fc.asyncProperty(
        expression,
        fc.array(providerResult, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 2 }),
        async (condition, script, count, failureLimit) => {
          const run = await runScripted(
            runOf([
              metric('m', {
                successCondition: condition,
                count: Math.max(count, failureLimit),
                interval: '1m',
                failureLimit,
                consecutiveErrorLimit: 2,
              }),
            ]),
            scriptedProvider({ m: script }),
          );
          expect(isCompletedPhase(run.status?.phase)).toBe(true);
          for (const m of run.status?.metricResults?.[0]?.measurements ?? []) {
            expect(['Successful', 'Failed', 'Inconclusive', 'Error']).toContain(m.phase);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

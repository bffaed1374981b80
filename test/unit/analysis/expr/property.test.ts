import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  evaluateCondition,
  evaluateProgram,
} from '../../../../src/analysis/expr/index.ts';

// Tokens that exercise every part of the grammar, including the unsafe-looking ones.
const TOKENS = [
  'result',
  '#',
  '#index',
  '#acc',
  '.',
  '?.',
  '.a',
  '[',
  ']',
  '(',
  ')',
  '{',
  '}',
  ',',
  ':',
  '?',
  '??',
  '|',
  '0',
  '1',
  '-1',
  '2.5',
  '1e308',
  '1_000',
  '"a"',
  "'b'",
  '""',
  'nil',
  'true',
  'false',
  '+',
  '-',
  '*',
  '/',
  '%',
  '**',
  '^',
  '==',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  'and',
  'or',
  'not',
  '!',
  'in',
  'matches',
  'contains',
  'startsWith',
  'endsWith',
  '..',
  'len',
  'all',
  'any',
  'map',
  'filter',
  'reduce',
  'sum',
  'max',
  'repeat',
  'split',
  'join',
  'default',
  'isNil',
  'asInt',
  'asFloat',
  'now',
  'duration',
  '"5m"',
  '"(a+)+"',
  'constructor',
  '__proto__',
  'prototype',
  '1..100000',
  '99999',
];

const SAFE_STEPS = 5_000;

function assertWellFormed(r: { ok: boolean; error?: { message: string; position?: number } }): void {
  if (!r.ok) {
    expect(typeof r.error?.message).toBe('string');
    expect(r.error?.message.length).toBeGreaterThan(0);
  }
}

const envArbitrary = fc.record({ result: fc.jsonValue({ maxDepth: 3 }) });

describe('robustness', () => {
  it('random strings never throw out of compileExpression or evaluateCondition', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120, unit: 'binary' }), envArbitrary, (source, env) => {
        const compiled = compileExpression(source);
        if (!compiled.ok) {
          expect(compiled.error.position).toBeGreaterThanOrEqual(0);
          expect(compiled.error.position).toBeLessThanOrEqual(source.length);
        }
        assertWellFormed(evaluateCondition(source, env, { maxSteps: SAFE_STEPS }));
      }),
      { numRuns: 2_000 },
    );
  });

  it('random token sequences never throw and always finish within the step budget', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 24 }), envArbitrary, (tokens, env) => {
        const source = tokens.join(' ');
        const compiled = compileExpression(source);
        if (!compiled.ok) return;
        const evaluated = evaluateProgram(compiled.program, env, { maxSteps: SAFE_STEPS, nowMs: 0 });
        assertWellFormed(evaluated);
        assertWellFormed(evaluateCondition(source, env, { maxSteps: SAFE_STEPS }));
      }),
      { numRuns: 3_000 },
    );
  });

  it('generated well-formed comparisons agree with a direct JavaScript evaluation', () => {
    const ops = ['<', '<=', '>', '>=', '==', '!='] as const;
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1, maxLength: 5 }),
        fc.constantFrom(...ops),
        fc.integer({ min: -1000, max: 1000 }),
        (result, op, threshold) => {
          const js = {
            '<': (a: number) => a < threshold,
            '<=': (a: number) => a <= threshold,
            '>': (a: number) => a > threshold,
            '>=': (a: number) => a >= threshold,
            '==': (a: number) => a === threshold,
            '!=': (a: number) => a !== threshold,
          }[op];
          expect(evaluateCondition(`result[0] ${op} ${threshold}`, { result })).toEqual({
            ok: true,
            value: js(result[0]!),
          });
          expect(evaluateCondition(`all(result, {# ${op} ${threshold}})`, { result })).toEqual({
            ok: true,
            value: result.every(js),
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

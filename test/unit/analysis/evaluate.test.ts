import { describe, expect, it } from 'vitest';
import { evaluateConditions } from '../../../src/analysis/evaluate.ts';

describe('measurement phase from conditions (Argo EvaluateResult)', () => {
  const table: Array<[string, { successCondition?: string; failureCondition?: string }, unknown, string]> = [
    ['no conditions -> Successful', {}, 5, 'Successful'],
    ['only success, true -> Successful', { successCondition: 'result > 1' }, 5, 'Successful'],
    ['only success, false -> Failed (not Inconclusive)', { successCondition: 'result > 10' }, 5, 'Failed'],
    ['only failure, true -> Failed', { failureCondition: 'result > 1' }, 5, 'Failed'],
    ['only failure, false -> Successful', { failureCondition: 'result > 10' }, 5, 'Successful'],
    [
      'both, failure true -> Failed (failure wins even if success true)',
      { successCondition: 'result > 1', failureCondition: 'result > 2' },
      5,
      'Failed',
    ],
    [
      'both, success true -> Successful',
      { successCondition: 'result > 1', failureCondition: 'result > 10' },
      5,
      'Successful',
    ],
    [
      'both false -> Inconclusive',
      { successCondition: 'result > 10', failureCondition: 'result < 1' },
      5,
      'Inconclusive',
    ],
    ['vector indexing', { successCondition: 'result[0] < 0.01' }, [0.005], 'Successful'],
    ['all() over a vector', { successCondition: 'all(result, # < 1)' }, [0.5, 2], 'Failed'],
    ['empty vector indexed -> Error', { successCondition: 'result[0] < 0.01' }, [], 'Error'],
    ['non-boolean -> Error', { successCondition: 'result + 1' }, 5, 'Error'],
    ['syntax error -> Error', { successCondition: 'result >' }, 5, 'Error'],
    [
      'failure condition error -> Error',
      { successCondition: 'true', failureCondition: 'result.x.y > 1' },
      5,
      'Error',
    ],
  ];
  it.each(table)('%s', (_name, conditions, result, phase) => {
    expect(evaluateConditions(conditions, result).phase).toBe(phase);
  });

  it('says the result is nil or empty when a condition fails on an empty result', () => {
    const verdict = evaluateConditions({ successCondition: 'result[0] < 0.01' }, []);
    expect(verdict.phase).toBe('Error');
    expect(verdict.message).toMatch(/^metric result is nil or empty/);
  });

  it('points at the position of a syntax error', () => {
    const verdict = evaluateConditions({ successCondition: 'result >> 1' }, 1);
    expect(verdict.phase).toBe('Error');
    expect(verdict.message).toMatch(/position \d+/);
  });

  it('reports a non-boolean value with its type', () => {
    expect(evaluateConditions({ successCondition: 'result' }, 0.5).message).toBe(
      'expected bool, but got float64',
    );
  });
});

// Conditions -> measurement phase (Argo's evaluate.EvaluateResult). Rules:
//   no conditions -> Successful; only successCondition -> Successful if true else Failed;
//   only failureCondition -> Failed if true else Successful; both -> Failed if failure is true (failure
//   wins), Successful if success is true, else Inconclusive. A compile or evaluation error, or a
//   non-boolean value, is Error; when the result is nil or empty the message says so.

import type { AnalysisPhase } from '../api/analysis-run.ts';
import { type ExprError, evaluateCondition } from './expr/index.ts';

export type ConditionPhase = Extract<AnalysisPhase, 'Successful' | 'Failed' | 'Inconclusive' | 'Error'>;

export interface ConditionVerdict {
  readonly phase: ConditionPhase;
  /** Set for Error: what went wrong, with the position in the expression when known. */
  readonly message?: string;
}

export function isNilOrEmpty(result: unknown): boolean {
  if (result === undefined || result === null) return true;
  if (Array.isArray(result) || typeof result === 'string') return result.length === 0;
  if (typeof result === 'object') return Object.keys(result).length === 0;
  return false;
}

export interface Conditions {
  readonly successCondition?: string | undefined;
  readonly failureCondition?: string | undefined;
}

export function evaluateConditions(conditions: Conditions, result: unknown): ConditionVerdict {
  const success = conditions.successCondition ?? '';
  const failure = conditions.failureCondition ?? '';
  let successValue = false;
  let failureValue = false;
  // One evaluateCondition and one program cache for production, tests and benchmarks (expr/index.ts);
  // the measurement message also names the 0-based position.
  const errorVerdict = (error: ExprError): ConditionVerdict => {
    const message = `${error.message}${error.position !== undefined ? ` (at position ${error.position})` : ''}`;
    return {
      phase: 'Error',
      message: isNilOrEmpty(result) ? `metric result is nil or empty: ${message}` : message,
    };
  };
  if (success !== '') {
    const r = evaluateCondition(success, { result });
    if (!r.ok) return errorVerdict(r.error);
    successValue = r.value;
  }
  if (failure !== '') {
    const r = evaluateCondition(failure, { result });
    if (!r.ok) return errorVerdict(r.error);
    failureValue = r.value;
  }
  if (success === '' && failure === '') return { phase: 'Successful' };
  if (success !== '' && failure === '') failureValue = !successValue;
  if (success === '' && failure !== '') successValue = !failureValue;
  if (failureValue) return { phase: 'Failed' };
  if (!successValue) return { phase: 'Inconclusive' };
  return { phase: 'Successful' };
}

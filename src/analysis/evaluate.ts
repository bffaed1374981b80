// Conditions -> measurement phase (Argo's evaluate.EvaluateResult). Rules:
//   no conditions -> Successful; only successCondition -> Successful if true else Failed;
//   only failureCondition -> Failed if true else Successful; both -> Failed if failure is true (failure
//   wins), Successful if success is true, else Inconclusive. A compile or evaluation error, or a
//   non-boolean value, is Error; when the result is nil or empty the message says so.

import type { AnalysisPhase } from '../api/analysis-run.ts';
import { compileExpression, evaluateProgram, type Program } from './expr/index.ts';

export type ConditionPhase = Extract<AnalysisPhase, 'Successful' | 'Failed' | 'Inconclusive' | 'Error'>;

export interface ConditionVerdict {
  readonly phase: ConditionPhase;
  /** Set for Error: what went wrong, with the position in the expression when known. */
  readonly message?: string;
}

const PROGRAM_CACHE_LIMIT = 256;
type Compiled = { ok: true; program: Program } | { ok: false; message: string };
const programCache = new Map<string, Compiled>();

function compile(source: string): Compiled {
  const cached = programCache.get(source);
  if (cached !== undefined) return cached;
  let compiled: Compiled;
  try {
    const r = compileExpression(source);
    compiled = r.ok
      ? { ok: true, program: r.program }
      : { ok: false, message: `${r.error.message} (at position ${r.error.position})` };
  } catch (error) {
    compiled = { ok: false, message: `cannot compile expression: ${String(error)}` };
  }
  if (programCache.size >= PROGRAM_CACHE_LIMIT) programCache.clear();
  programCache.set(source, compiled);
  return compiled;
}

export function isNilOrEmpty(result: unknown): boolean {
  if (result === undefined || result === null) return true;
  if (Array.isArray(result) || typeof result === 'string') return result.length === 0;
  if (typeof result === 'object') return Object.keys(result).length === 0;
  return false;
}

type Eval = { ok: true; value: boolean } | { ok: false; message: string };

/** Argo's EvalCondition: the expression must evaluate to a boolean. Never throws. */
export function evaluateCondition(source: string, result: unknown): Eval {
  const compiled = compile(source);
  if (!compiled.ok) return { ok: false, message: compiled.message };
  let evaluated: ReturnType<typeof evaluateProgram>;
  try {
    evaluated = evaluateProgram(compiled.program, { result });
  } catch (error) {
    evaluated = { ok: false, error: { message: String(error) } };
  }
  if (!evaluated.ok) {
    const at = evaluated.error.position !== undefined ? ` (at position ${evaluated.error.position})` : '';
    return { ok: false, message: `${evaluated.error.message}${at}` };
  }
  if (typeof evaluated.value !== 'boolean') {
    return { ok: false, message: `expected bool, but got ${describeType(evaluated.value)}` };
  }
  return { ok: true, value: evaluated.value };
}

function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  return typeof value;
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
  const errorVerdict = (message: string): ConditionVerdict => ({
    phase: 'Error',
    message: isNilOrEmpty(result) ? `metric result is nil or empty: ${message}` : message,
  });
  if (success !== '') {
    const r = evaluateCondition(success, result);
    if (!r.ok) return errorVerdict(r.message);
    successValue = r.value;
  }
  if (failure !== '') {
    const r = evaluateCondition(failure, result);
    if (!r.ok) return errorVerdict(r.message);
    failureValue = r.value;
  }
  if (success === '' && failure === '') return { phase: 'Successful' };
  if (success !== '' && failure === '') failureValue = !successValue;
  if (success === '' && failure !== '') successValue = !failureValue;
  if (failureValue) return { phase: 'Failed' };
  if (!successValue) return { phase: 'Inconclusive' };
  return { phase: 'Successful' };
}

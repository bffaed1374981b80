// The condition language of AnalysisTemplate successCondition / failureCondition: a safe
// re-implementation of the subset of github.com/expr-lang/expr v1.17 that Argo Rollouts exposes
// (utils/evaluate/evaluate.go), parsed once into an AST and interpreted with a step budget.
//
// ## Quirks kept on purpose (Argo compatibility)
// - `isNil(x)` and `default(x, d)` ignore their first argument: both look at the whole `result`
//   (Argo binds them to the provider value). `isNil(anything)` is true only when `result` is nil;
//   `default(x, d)` returns `d` when `result` is nil and otherwise the whole `result`, so
//   `default(result[0], 0) < 1` is an error when result is `[0.5]` (an array compared with a number),
//   and `default(result[0], 0)` does NOT protect against an index error on an empty result: the first
//   argument is still evaluated, and its error is the measurement's error.
// - An empty result (`[]`) is not nil: `isNil(result)` is false for `[]` (Go's non-nil empty slice).
// - `asInt` / `asFloat` accept numbers and numeric strings (Go strconv syntax: asInt("1.5") is an
//   error, asFloat("1e3") is 1000, asFloat("NaN") is NaN); anything else is an evaluation error with
//   Argo's panic text (`asInt() not supported on bool true`) instead of a panic.
// - `/` always yields a float (`7 / 2 == 3.5`), `%` needs integers, `**` and `^` are powers.
// - Comparisons chain like expr's parser: `1 < x < 3` means `1 < x && x < 3`.
// - A condition must evaluate to a boolean: otherwise the error is `expected bool, but got float64`.
// - Not copied: the pre-check on Argo's master branch (validateIndexedResultAccess) that fails any
//   condition containing `result[` when the result is empty, even `len(result) == 0 || result[0] < 5`;
//   here that condition is true on `[]`, as in released Argo with expr v1.17.
//
// ## Differences from expr-lang v1.17
// - One number type. expr distinguishes int and float64; here every number is a JS double. Where expr
//   requires an int (`%`, `..`, indexes, `repeat`) an integral value is accepted, so `4.0 % 3` works
//   here but fails in expr; ints beyond 2^53 lose precision and never wrap around like Go int64.
//   Type names in messages say `int` for integral values and `float64` otherwise, and string(1e6) is
//   "1000000" where expr prints a float64 1e6 as "1e+06".
// - No static type check against the environment: expr (with expr.Env) rejects `result.foo` at compile
//   time when `result` is a slice; here it is an evaluation error. Unknown function names and wrong
//   argument counts are still compile errors; unknown variables are evaluation errors (`unknown name x`).
// - `matches` runs on RE2 (re2js, see re2.ts) as expr runs on Go's regexp: the same syntax, the same
//   parse errors, linear-time matching; no pattern or subject length limit beyond the evaluation budget.
// - Strings are indexed, sliced and searched (indexOf) by UTF-16 code unit; `len` counts code points
//   like expr counts runes.
// - Not implemented: `let` bindings, `if {} else {}`, `$env`, `::` and bitwise builtins, date layouts
//   and time zones (`date()` takes RFC 3339 only), methods other than the common time.Duration /
//   time.Time ones (Hours, Minutes, Seconds, Milliseconds, Unix, Add, Sub, Before, After, ...).
// - Predicates iterate arrays only (not maps); `reduce` on an empty array without an initial value is
//   nil; `mean`/`median` of nothing is 0; `keys`/`values` keep insertion order (Go's is random).
// - Only data can be passed in `env` (functions in env are not callable); only own properties of
//   plain objects and arrays are visible, and `__proto__`, `constructor`, `prototype` are never read.
//
// ## Bounds
// Source length 10,000 characters; parser nesting 100 and tree depth 400; 100,000 steps per
// evaluation (node visits plus work charged by builtins, configurable by `maxSteps`); ranges, arrays
// built by builtins 100,000 elements; strings 1,000,000 characters. Exceeding any bound is an error
// result, never a hang or an exception.

import { errorText } from '../../api/errors.ts';
import type { Node } from './ast.ts';
import { ExprEvalError } from './eval-error.ts';
import { DEFAULT_MAX_STEPS, Interpreter } from './interpreter.ts';
import { parse } from './parser.ts';
import { ExprDuration, ExprTime, goTypeName, isNilValue } from './values.ts';

export { DEFAULT_MAX_STEPS } from './interpreter.ts';
export { MAX_NESTING_DEPTH, MAX_SOURCE_LENGTH, MAX_TREE_DEPTH } from './parser.ts';
export { ExprDuration, ExprTime } from './values.ts';

declare const programBrand: unique symbol;

/** A compiled expression: opaque, immutable, reusable across evaluations and environments. */
export type Program = { readonly [programBrand]: true };

interface ProgramData {
  readonly source: string;
  readonly root: Node;
}

export interface ExprError {
  readonly message: string;
  /** 0-based character offset in the source; the message also carries `(line:column)`, 1-based. */
  readonly position?: number;
}

export interface EvaluateOptions {
  /** The injected clock for now(); defaults to Date.now(). */
  readonly nowMs?: number;
  /** Step budget; defaults to DEFAULT_MAX_STEPS. */
  readonly maxSteps?: number;
}

export type CompileResult =
  | { ok: true; program: Program }
  | { ok: false; error: { message: string; position: number } };
export type EvaluateResult = { ok: true; value: unknown } | { ok: false; error: ExprError };
export type ConditionResult = { ok: true; value: boolean } | { ok: false; error: ExprError };

const programs = new WeakMap<Program, ProgramData>();

/** expr's file.Location formatting: `(line:column)`, both 1-based. */
function locate(source: string, position: number): string {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(position, source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `(${line}:${position - lineStart + 1})`;
}

export function compileExpression(source: string): CompileResult {
  if (typeof source !== 'string') {
    return { ok: false, error: { message: 'expression must be a string', position: 0 } };
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    return { ok: false, error: { message: `cannot compile expression: ${String(err)}`, position: 0 } };
  }
  if (!parsed.ok) {
    return {
      ok: false,
      error: { message: `${parsed.message} ${locate(source, parsed.position)}`, position: parsed.position },
    };
  }
  const program = Object.freeze({}) as Program;
  programs.set(program, { source, root: parsed.node });
  return { ok: true, program };
}

export function evaluateProgram(
  program: Program,
  env: Record<string, unknown>,
  opts: EvaluateOptions = {},
): EvaluateResult {
  const data = programs.get(program);
  if (!data) return { ok: false, error: { message: 'not a compiled program' } };
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const interpreter = new Interpreter(env ?? {}, opts.nowMs ?? Date.now(), maxSteps);
  try {
    return { ok: true, value: interpreter.run(data.root) };
  } catch (err) {
    if (err instanceof ExprEvalError) {
      if (err.position === undefined) return { ok: false, error: { message: err.message } };
      return {
        ok: false,
        error: { message: `${err.message} ${locate(data.source, err.position)}`, position: err.position },
      };
    }
    if (err instanceof RangeError) {
      return { ok: false, error: { message: `evaluation aborted: ${err.message}` } };
    }
    return {
      ok: false,
      error: { message: `evaluation failed: ${errorText(err)}` },
    };
  }
}

const MAX_CACHED_PROGRAMS = 1_000;
const cache = new Map<string, CompileResult>();

/** compileExpression with a bounded cache keyed by source (conditions repeat every measurement). */
export function compileCached(source: string): CompileResult {
  const hit = cache.get(source);
  if (hit) return hit;
  const compiled = compileExpression(source);
  if (cache.size >= MAX_CACHED_PROGRAMS) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(source, compiled);
  return compiled;
}

/**
 * Argo's EvalCondition: compile (cached), evaluate, and require a boolean. Never throws. The only one:
 * measurements (analysis/evaluate.ts), the property tests and the benchmark all go through it and its cache.
 */
export function evaluateCondition(
  source: string,
  env: Record<string, unknown>,
  opts: EvaluateOptions = {},
): ConditionResult {
  const compiled = compileCached(source);
  if (!compiled.ok) return { ok: false, error: compiled.error };
  const evaluated = evaluateProgram(compiled.program, env, opts);
  if (!evaluated.ok) return evaluated;
  if (typeof evaluated.value !== 'boolean') {
    return { ok: false, error: { message: `expected bool, but got ${goTypeName(evaluated.value)}` } };
  }
  return { ok: true, value: evaluated.value };
}

/**
 * Argo's EvalTime (Prometheus rangeQuery start/end, e.g. `now() - duration("5m")`): the expression must
 * yield a time; returns ms since the epoch.
 */
export function evaluateTime(
  source: string,
  opts: EvaluateOptions = {},
): { ok: true; valueMs: number } | { ok: false; error: ExprError } {
  const compiled = compileCached(source);
  if (!compiled.ok) return { ok: false, error: compiled.error };
  const evaluated = evaluateProgram(compiled.program, {}, opts);
  if (!evaluated.ok) return evaluated;
  if (!(evaluated.value instanceof ExprTime)) {
    return { ok: false, error: { message: `expected time.Time, but got ${goTypeName(evaluated.value)}` } };
  }
  return { ok: true, valueMs: evaluated.value.ms };
}

/** Argo's isNilOrEmpty: nil or an empty array (used for "metric result is nil or empty" messages). */
export function isNilOrEmptyResult(result: unknown): boolean {
  return isNilValue(result) || (Array.isArray(result) && result.length === 0);
}

/**
 * Argo's formatEvalError: the measurement message for a condition that could not be evaluated,
 * e.g. `could not evaluate successCondition "result[0] < 1": index out of range: 0 (array length is 0) (1:7)`.
 */
export function describeConditionError(
  conditionType: 'successCondition' | 'failureCondition',
  expression: string,
  result: unknown,
  error: ExprError,
): string {
  if (isNilOrEmptyResult(result)) {
    return `could not evaluate ${conditionType} "${expression}": metric result is nil or empty: no data returned from the metric provider`;
  }
  return `could not evaluate ${conditionType} "${expression}": ${error.message}`;
}

/** For callers that hold a value produced by duration(): its length in milliseconds. */
export function durationToMs(value: unknown): number | undefined {
  return value instanceof ExprDuration ? value.ns / 1e6 : undefined;
}

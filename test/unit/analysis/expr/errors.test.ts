import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  describeConditionError,
  evaluateCondition,
  evaluateProgram,
  evaluateTime,
} from '../../../../src/analysis/expr/index.ts';

function compileError(source: string): { message: string; position: number } {
  const r = compileExpression(source);
  if (r.ok) throw new Error(`expected a compile error for ${source}`);
  return r.error;
}

function evalError(source: string, env: Record<string, unknown> = {}, maxSteps?: number) {
  const compiled = compileExpression(source);
  if (!compiled.ok) throw new Error(`compile failed: ${compiled.error.message}`);
  const r = evaluateProgram(compiled.program, env, maxSteps === undefined ? {} : { maxSteps });
  if (r.ok) throw new Error(`expected an evaluation error for ${source}, got ${JSON.stringify(r.value)}`);
  return r.error;
}

const COMPILE_ERRORS: [source: string, message: string, position: number][] = [
  ['result[0] < )', 'unexpected token Bracket(")") (1:13)', 12],
  ['result[0] <', 'unexpected token EOF (1:12)', 11],
  ['', 'unexpected token EOF (1:1)', 0],
  ['(1 + 2', 'an opened parenthesis is not properly closed (1:7)', 6],
  ['1 2', 'unexpected token Number("2") (1:3)', 2],
  ['foo(1)', 'unknown func foo (1:1)', 0],
  ['len()', 'not enough arguments to call len (1:1)', 0],
  ['len(1, 2)', 'too many arguments to call len (1:1)', 0],
  ['1 @ 2', "unrecognized character: U+0040 '@' (1:3)", 2],
  ['"abc', 'literal not terminated (1:1)', 0],
  ['"a\\q"', 'invalid char escape (1:3)', 2],
  ['1x', 'bad number syntax: "1x" (1:1)', 0],
  ['# > 1', 'unexpected token Operator("#") (1:1)', 0],
  ['.a', 'unexpected token Operator(".") (1:1)', 0],
  ['all(result, #foo > 1)', 'unknown pointer #foo (1:14)', 13],
  [
    'nil ?? 1 + 2',
    'Operator (+) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses. (1:10)',
    9,
  ],
  ['1 not 2', 'unexpected token Number("2") (1:7)', 6],
  ['result.', 'expected name (1:8)', 7],
  ['true &&\n  result[0] >', 'unexpected token EOF (2:14)', 21],
  ['/* open', 'unclosed comment (1:1)', 0],
  ['1 = 2', 'unexpected token Operator("=") (1:3)', 2],
];

describe('compile errors point at the position like expr does', () => {
  it.each(COMPILE_ERRORS)('%j -> %s', (source, message, position) => {
    expect(compileError(source)).toEqual({ message, position });
  });

  it('rejects invalid and unsupported regular expressions at compile time when the pattern is a literal', () => {
    expect(compileError('"a" matches "(?=a)"').message).toContain('invalid or unsupported Perl syntax');
    expect(compileError('"a" matches "(a)\\\\1"').message).toBe(
      'error parsing regexp: invalid escape sequence: `\\1` (1:13)',
    );
    expect(compileError('"a" matches "("').message).toContain('error parsing regexp');
    expect(compileError('"a" matches "(?x)a"').message).toContain('unsupported Perl syntax');
  });
});

const EVAL_ERRORS: [source: string, env: Record<string, unknown>, message: string][] = [
  ['"a" < 1', {}, 'invalid operation: string < int (1:5)'],
  ['result[0] < 0.01', { result: [] }, 'index out of range: 0 (array length is 0) (1:7)'],
  ['result[5]', { result: [1, 2] }, 'index out of range: 5 (array length is 2) (1:7)'],
  ['result[-3]', { result: [1, 2] }, 'index out of range: -1 (array length is 2) (1:7)'],
  ['result.foo.bar', { result: {} }, 'cannot fetch bar from <nil> (1:12)'],
  ['result.foo', { result: [1] }, 'cannot fetch foo from []interface {} (1:8)'],
  ['result[0] > 1', { result: 5 }, 'cannot fetch 0 from int (1:7)'],
  ['missing > 1', {}, 'unknown name missing (1:1)'],
  ['asInt("abc") > 1', {}, 'strconv.ParseInt: parsing "abc": invalid syntax (1:1)'],
  ['asInt("1.5") > 1', {}, 'strconv.ParseInt: parsing "1.5": invalid syntax (1:1)'],
  ['asInt(true) > 1', {}, 'asInt() not supported on bool true (1:1)'],
  ['asFloat(result) > 1', { result: [1, 2] }, 'asFloat() not supported on []interface {} [1 2] (1:1)'],
  ['asFloat(nil) > 1', {}, 'asFloat() not supported on <nil> <nil> (1:1)'],
  ['isNaN("x")', {}, 'cannot use string as argument (type float64) to call isNaN (1:1)'],
  ['1 % 0', {}, 'integer divide by zero (1:3)'],
  ['1.5 % 1', {}, 'invalid operation: float64 % int (1:5)'],
  ['1 && true', {}, 'invalid operation: int && bool (1:3)'],
  ['!1', {}, 'invalid operation: ! (mismatched type int) (1:1)'],
  ['1 ? 2 : 3', {}, 'non-bool expression (type int) used as condition (1:3)'],
  ['all(1, # > 0)', {}, 'cannot iterate over int in all (1:5)'],
  ['all([1], #)', {}, 'predicate of all should return boolean (got int) (1:10)'],
  ['duration("5d") > duration("1s")', {}, 'time: unknown unit "d" in duration "5d" (1:1)'],
  ['duration("5") > duration("1s")', {}, 'time: missing unit in duration "5" (1:1)'],
  ['1 in "abc"', {}, 'operator "in" not defined on string (1:3)'],
  ['"a" contains 1', {}, 'invalid operation: string contains int (1:5)'],
  ['len(1)', {}, 'invalid argument for len (type int) (1:1)'],
  ['max([])', {}, 'not enough arguments to call max (1:1)'],
  ['1..2.5', {}, 'invalid operation: int .. float64 (1:2)'],
  ['"x" matches result', { result: '(a' }, 'error parsing regexp: missing closing ): `(a` (1:13)'],
  ['now().Foo()', {}, 'type time.Time has no method Foo (1:7)'],
  ['int("x")', {}, 'strconv.Atoi: parsing "x": invalid syntax (1:1)'],
  ['date("yesterday") < now()', {}, 'cannot parse "yesterday" as date (RFC 3339 expected) (1:1)'],
];

describe('evaluation errors are results with a message and position, never exceptions', () => {
  it.each(EVAL_ERRORS)('%s', (source, env, message) => {
    expect(evalError(source, env).message).toBe(message);
  });

  it('reports the position as a 0-based offset next to the line:column in the message', () => {
    expect(evalError('true &&\n  result[3] > 1', { result: [] })).toEqual({
      message: 'index out of range: 3 (array length is 0) (2:9)',
      position: 16,
    });
  });

  it('formats errors on an empty result the way Argo does', () => {
    const r = evaluateCondition('result[0] >= 0.95', { result: [] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(describeConditionError('successCondition', 'result[0] >= 0.95', [], r.error)).toBe(
      'could not evaluate successCondition "result[0] >= 0.95": metric result is nil or empty: no data returned from the metric provider',
    );
    expect(describeConditionError('failureCondition', 'result > "a"', 2, { message: 'boom (1:8)' })).toBe(
      'could not evaluate failureCondition "result > \\"a\\"": boom (1:8)'.replace('\\"a\\"', '"a"'),
    );
  });

  it('evaluateTime yields a time for rangeQuery expressions and rejects other values', () => {
    expect(evaluateTime('now() - duration("5m")', { nowMs: 600_000 })).toEqual({
      ok: true,
      valueMs: 300_000,
    });
    expect(evaluateTime('1', {})).toEqual({
      ok: false,
      error: { message: 'expected time.Time, but got int' },
    });
  });
});

describe('safety: no prototype access, bounded cost', () => {
  it.each([
    'result.constructor',
    'result.__proto__',
    'result["constructor"]',
    'result.prototype',
    '{a: 1}.constructor',
    'result?.constructor',
  ])('refuses %s', (source) => {
    expect(evalError(source, { result: { a: 1 } }).message).toMatch(/is not allowed/);
  });

  it('never reaches prototypes through arrays, strings or identifiers', () => {
    expect(evalError('[].constructor').message).toBe('access to property "constructor" is not allowed (1:4)');
    expect(evalError('"abc".constructor').message).toBe(
      'access to property "constructor" is not allowed (1:7)',
    );
    expect(evalError('constructor').message).toBe('unknown name constructor (1:1)');
    expect(evalError('__proto__').message).toBe('unknown name __proto__ (1:1)');
    expect(evalError('toString', { result: 1 }).message).toBe('unknown name toString (1:1)');
  });

  it('sees only own properties of plain objects', () => {
    expect(
      evaluateCondition('result.toString == nil && result.hasOwnProperty == nil', { result: {} }),
    ).toEqual({
      ok: true,
      value: true,
    });
    const inherited = Object.create({ secret: 1 }) as Record<string, unknown>;
    expect(evalError('result.secret', { result: inherited }).message).toBe(
      'cannot fetch secret from unsupported (1:8)',
    );
    expect(evaluateCondition('result.own == 1 && result.valueOf == nil', { result: { own: 1 } })).toEqual({
      ok: true,
      value: true,
    });
    const env = Object.create({ result: 1 }) as Record<string, unknown>;
    expect(evalError('result == 1', env).message).toBe('unknown name result (1:1)');
    class Secretive {
      x = 1;
    }
    expect(evalError('result.x', { result: new Secretive() }).message).toBe(
      'cannot fetch x from unsupported (1:8)',
    );
  });

  it('a JSON-parsed own __proto__ key is still refused', () => {
    const result = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    expect(evalError('result.__proto__.polluted', { result }).message).toMatch(/not allowed/);
  });

  it('rejects sources over the length limit', () => {
    expect(compileError(`1${' + 1'.repeat(2_500)}`).message).toMatch(
      /^expression too long \(10001 > 10000 characters\)/,
    );
  });

  it.each([
    ['parentheses', `${'('.repeat(150)}1${')'.repeat(150)}`],
    ['unary chain', `${'-'.repeat(300)}1`],
    ['negations', `${'!'.repeat(300)}true`],
    ['arrays', `${'['.repeat(150)}${']'.repeat(150)}`],
    ['left-leaning sums', `1${'+1'.repeat(2_000)}`],
    ['member chains', `result${'.a'.repeat(1_000)}`],
    ['calls', `${'abs('.repeat(150)}1${')'.repeat(150)}`],
  ])('rejects deep nesting (%s) with an error instead of a stack overflow', (_name, source) => {
    expect(compileError(source).message).toMatch(/nested too deeply/);
  });

  it('caps ranges', () => {
    expect(evalError('len(1..1000000000) > 0').message).toBe(
      'range 1..1000000000 too large (limit 100000 elements) (1:6)',
    );
  });

  it('stops long loops at the step limit', () => {
    expect(evalError('all(1..90000, {all(1..90000, {# > 0})})').message).toMatch(
      /exceeded the step limit \(100000\)/,
    );
    expect(evalError('map(1..50, # * 2)', {}, 20).message).toMatch(/exceeded the step limit \(20\)/);
  });

  it('stops exponential string and array growth', () => {
    expect(evalError('len(reduce(1..40, #acc + #acc, "ab"))').message).toMatch(/string too long|step limit/);
    expect(evalError('len(reduce(1..40, concat(#acc, #acc), [1]))').message).toMatch(
      /array too long|step limit/,
    );
    expect(evalError('len(repeat("a", 1000000000))').message).toMatch(/string too long/);
  });

  it('does not run a function placed in the environment', () => {
    let called = false;
    const env = {
      result: () => {
        called = true;
        return true;
      },
    };
    expect(compileError('result()').message).toBe('unknown func result (1:1)');
    expect(evaluateCondition('result == true', env)).toEqual({ ok: true, value: false });
    expect(called).toBe(false);
  });
});

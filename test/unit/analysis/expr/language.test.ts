import { describe, expect, it } from 'vitest';
import {
  compileExpression,
  evaluateCondition,
  evaluateProgram,
} from '../../../../src/analysis/expr/index.ts';

const NOW_MS = Date.UTC(2024, 0, 2, 3, 4, 5);

function run(source: string, env: Record<string, unknown> = {}): unknown {
  const compiled = compileExpression(source);
  if (!compiled.ok) throw new Error(`compile failed: ${compiled.error.message}`);
  const evaluated = evaluateProgram(compiled.program, env, { nowMs: NOW_MS });
  if (!evaluated.ok) throw new Error(`evaluation failed: ${evaluated.error.message}`);
  return evaluated.value;
}

// Conditions found in ../shared/guides and Argo's documentation, with a passing and a failing result.
const ARGO_CONDITIONS: [source: string, result: unknown, expected: boolean][] = [
  ['result[0] >= 99', [99.5], true],
  ['result[0] >= 99', [98.9], false],
  ['result[0] < 250', [120.4], true],
  ['result[0] < 250', [250], false],
  ['result[0] < 0.01', [0.004], true],
  ['result[0] < 0.01', [0.02], false],
  ['result[0] >= 0.95', [0.95], true],
  ['result[0] >= 0.95', [0.9], false],
  ['len(result) == 0 || result[0] < 5', [], true],
  ['len(result) == 0 || result[0] < 5', [7], false],
  ['asInt(result) == 0', '0', true],
  ['asInt(result) == 0', '3', false],
  ['asFloat(result) < 0.5', '0.25', true],
  ['all(result, {# < 500})', [100, 499], true],
  ['all(result, {# < 500})', [100, 500], false],
  ['all(result, # < 500)', [1, 2], true],
  ['result.successRate >= 99', { successRate: 99.2 }, true],
  ['result.successRate >= 99', { successRate: 42 }, false],
  ['result == true', true, true],
  ['result', false, false],
  ['isNaN(result[0]) || result[0] >= 0.9', [Number.NaN], true],
  ['!isNaN(result) && result < 0.05', 0.01, true],
  ['isInf(result)', Number.POSITIVE_INFINITY, true],
  ['isNil(result) || result[0] > 3', null, true],
  ['default(result, 0) < 0.05', null, true],
  ['default(result, 0) >= 0.05', 0.5, true],
  ['result.status == "ok" && result.data.count > 10', { status: 'ok', data: { count: 11 } }, true],
  ['result in ["healthy", "ready"]', 'ready', true],
  ['any(result, # > 0.5)', [0.1, 0.7], true],
  ['none(result, {# > 0.5})', [0.1, 0.7], false],
  ['one(result, # == 1)', [1, 2, 3], true],
  ['sum(result) / len(result) < 0.1', [0.05, 0.1], true],
  ['mean(result) < 0.1', [0.05, 0.1], true],
  ['max(result) <= 300 and min(result) >= 0', [12, 300], true],
  ['result[0] > 0.5 or result[1] > 0.5', [0.1, 0.9], true],
  ['not (result[0] > 0.5)', [0.1], true],
  ['count(result, # > 100) <= 1', [50, 150, 90], true],
  ['result.items[-1].latencyMs < 200', { items: [{ latencyMs: 400 }, { latencyMs: 150 }] }, true],
  ['len(filter(result, .code >= 500)) == 0', [{ code: 200 }, { code: 503 }], false],
];

describe('conditions from real AnalysisTemplates', () => {
  it.each(ARGO_CONDITIONS)('%s with result %j is %s', (source, result, expected) => {
    expect(evaluateCondition(source, { result })).toEqual({ ok: true, value: expected });
  });
});

const VALUES: [source: string, expected: unknown][] = [
  // literals
  ['1', 1],
  ['1_000', 1000],
  ['1e3', 1000],
  ['2.5e-1', 0.25],
  ['.5', 0.5],
  ['0x1F', 31],
  ['0o17', 15],
  ['0b101', 5],
  ['"a\\tb"', 'a\tb'],
  ["'it\\'s'", "it's"],
  ['"\\u00e9"', 'é'],
  ['`raw\\n`', 'raw\\n'],
  ['true', true],
  ['nil', null],
  ['[1, "a", nil]', [1, 'a', null]],
  ['[1, 2,]', [1, 2]],
  ['{a: 1, "b c": 2, 3: 4}', { a: 1, 'b c': 2, '3': 4 }],
  ['{("k" + "ey"): 1}.key', 1],
  // arithmetic
  ['1 + 2 * 3', 7],
  ['(1 + 2) * 3', 9],
  ['7 / 2', 3.5],
  ['6 / 3', 2],
  ['7 % 3', 1],
  ['-7 % 3', -1],
  ['2 ** 10', 1024],
  ['2 ^ 3 ^ 2', 512],
  ['-2 ** 2', -4],
  ['- 2 + 3', 1],
  ['10 - 2 - 3', 5],
  ['1 / 0', Number.POSITIVE_INFINITY],
  ['1 + 2.5', 3.5],
  ['"a" + "b"', 'ab'],
  // comparison and logic
  ['1 == 1.0', true],
  ['1 != 2', true],
  ['"a" < "b"', true],
  ['1 < 2 < 3', true],
  ['3 > 2 > 2', false],
  ['1 == "1"', false],
  ['nil == nil', true],
  ['[1, 2] == [1, 2.0]', true],
  ['{a: [1]} == {a: [1]}', true],
  ['true && false || true', true],
  ['true and not false', true],
  ['!true', false],
  ['not true == false', true],
  ['false && 1 > "x"', false],
  ['true || 1 > "x"', true],
  // membership and strings
  ['2 in [1, 2, 3]', true],
  ['"a" in {a: 1}', true],
  ['"b" not in {a: 1}', true],
  ['4 not in 1..3', true],
  ['"hello" contains "ell"', true],
  ['"hello" not contains "z"', true],
  ['"hello" startsWith "he"', true],
  ['"hello" endsWith "lo"', true],
  ['"v1.2.3" matches "^v\\\\d+\\\\.\\\\d+"', true],
  ['"ABC" matches "(?i)^abc$"', true],
  ['"abc" not matches "x"', true],
  ['"x" + "y" matches "xy"', true],
  // ternary, nil coalescing, optional chaining
  ['1 > 2 ? "a" : "b"', 'b'],
  ['true ? 1 : false ? 2 : 3', 1],
  ['false ? 1 : false ? 2 : 3', 3],
  ['nil ?? 5', 5],
  ['0 ?? 5', 0],
  ['nil ?? nil ?? 3', 3],
  ['nil?.a', null],
  ['nil?.a.b.c', null],
  ['{a: nil}.a?.b', null],
  ['{a: {b: 2}}?.a.b', 2],
  ['nil?.[0]', null],
  ['{a: 1}.missing', null],
  ['{a: 1}["a"]', 1],
  // indexing and slicing
  ['[1, 2, 3][0]', 1],
  ['[1, 2, 3][-1]', 3],
  ['[1, 2, 3][1.0]', 2],
  ['[1, 2, 3, 4][1:3]', [2, 3]],
  ['[1, 2, 3, 4][:2]', [1, 2]],
  ['[1, 2, 3, 4][2:]', [3, 4]],
  ['[1, 2, 3, 4][-2:]', [3, 4]],
  ['[1, 2, 3, 4][3:1]', []],
  ['[1, 2, 3][:10]', [1, 2, 3]],
  ['"hello"[1:3]', 'el'],
  ['"hello"[0]', 'h'],
  // ranges
  ['1..3', [1, 2, 3]],
  ['3..1', []],
  ['len(1..100)', 100],
  // pipes
  ['[1, 2, 3] | filter(# > 1) | len()', 2],
  ['"a,b" | split(",")', ['a', 'b']],
  // predicates and closures
  ['map([1, 2], # * 2)', [2, 4]],
  ['map([1, 2], {# * 10})', [10, 20]],
  ['map([{a: 1}, {a: 2}], .a)', [1, 2]],
  ['map([{a: 1}, {a: 2}], #.a + #index)', [1, 3]],
  ['filter([1, 2, 3, 4], # % 2 == 0)', [2, 4]],
  ['count([1, 2, 3], # > 1)', 2],
  ['count([true, false, true])', 2],
  ['sum([1, 2, 3])', 6],
  ['sum([{v: 1}, {v: 2}], .v)', 3],
  ['find([1, 2, 3], # > 1)', 2],
  ['find([1, 2, 3], # > 5)', null],
  ['findIndex([1, 2, 3], # > 1)', 1],
  ['findLast([1, 2, 3], # > 1)', 3],
  ['findLastIndex([1, 2, 3], # > 5)', -1],
  ['reduce(1..4, #acc * #, 1)', 24],
  ['reduce([1, 2, 3], #acc + #)', 6],
  ['sortBy([{n: 2}, {n: 1}], .n)', [{ n: 1 }, { n: 2 }]],
  ['sortBy([3, 1, 2], #, "desc")', [3, 2, 1]],
  ['groupBy([1, 2, 3], # % 2 == 0)', { false: [1, 3], true: [2] }],
  ['all([], # > 1)', true],
  ['any([], # > 1)', false],
  ['all([[1, 2], [3]], all(#, # > 0))', true],
  ['map([[1, 2], [3]], sum(#))', [3, 3]],
  // builtins
  ['len("héllo")', 5],
  ['len({a: 1, b: 2})', 2],
  ['abs(-2.5)', 2.5],
  ['ceil(1.2)', 2],
  ['floor(-1.2)', -2],
  ['round(2.5)', 3],
  ['round(-2.5)', -3],
  ['int(3.9)', 3],
  ['int(-3.9)', -3],
  ['int("42")', 42],
  ['float("1.5")', 1.5],
  ['string(1.5)', '1.5'],
  ['string([1, "a"])', '[1 a]'],
  ['string({b: 1, a: true})', 'map[a:true b:1]'],
  ['string(nil)', '<nil>'],
  ['type(1)', 'int'],
  ['type(1.5)', 'float'],
  ['type([])', 'array'],
  ['trim("  a  ")', 'a'],
  ['trim("xxaxx", "x")', 'a'],
  ['trimPrefix("prefix-a", "prefix-")', 'a'],
  ['upper("a") + lower("B")', 'Ab'],
  ['split("a,b,c", ",")', ['a', 'b', 'c']],
  ['split("a,b,c", ",", 2)', ['a', 'b,c']],
  ['splitAfter("a,b", ",")', ['a,', 'b']],
  ['join(["a", "b"], "-")', 'a-b'],
  ['replace("aaa", "a", "b")', 'bbb'],
  ['repeat("ab", 3)', 'ababab'],
  ['indexOf("hello", "l")', 2],
  ['lastIndexOf("hello", "l")', 3],
  ['hasPrefix("hello", "he")', true],
  ['max(1, 5, 3)', 5],
  ['max([1, 5], 7)', 7],
  ['min([4, 2, 8])', 2],
  ['mean([1, 2, 3, 4])', 2.5],
  ['median([5, 1, 3])', 3],
  ['median([4, 1, 3, 2])', 2.5],
  ['first([7, 8])', 7],
  ['last([7, 8])', 8],
  ['first([])', null],
  ['get([1, 2], 5)', null],
  ['get({a: 1}, "a")', 1],
  ['keys({a: 1, b: 2})', ['a', 'b']],
  ['values({a: 1, b: 2})', [1, 2]],
  ['toPairs({a: 1})', [['a', 1]]],
  ['fromPairs([["a", 1]]).a', 1],
  ['concat([1], [2, 3])', [1, 2, 3]],
  ['flatten([1, [2, [3]]])', [1, 2, 3]],
  ['uniq([1, 1, 2, "1"])', [1, 2, '1']],
  ['reverse([1, 2, 3])', [3, 2, 1]],
  ['sort([3, 1, 2])', [1, 2, 3]],
  ['sort(["b", "a"], "desc")', ['b', 'a']],
  ['toJSON({b: 1, a: [true]})', '{\n  "a": [\n    true\n  ],\n  "b": 1\n}'],
  ['fromJSON("{\\"a\\": [1, 2]}").a[1]', 2],
  // time
  ['now().Unix()', Math.floor(NOW_MS / 1000)],
  ['now() - duration("1h") < now()', true],
  ['(now() - (now() - duration("90s"))).Seconds()', 90],
  ['duration("1h30m").Minutes()', 90],
  ['duration("1.5s").Milliseconds()', 1500],
  ['duration("300ms") < duration("1s")', true],
  ['duration("1m") == duration("60s")', true],
  ['duration("2h45m").String()', '2h45m0s'],
  ['string(duration("-1.5s"))', '-1.5s'],
  ['date("2024-01-02T03:04:05Z") == now()', true],
  ['date("2024-01-02") < now()', true],
  ['date("2024-01-02T05:04:05+02:00").Unix() == now().Unix()', true],
  ['now().Year()', 2024],
  // Argo environment
  ['asInt("-12")', -12],
  ['asInt(3.99)', 3],
  ['asFloat("1e3")', 1000],
  ['asFloat(2)', 2],
  ['isNaN(asFloat("NaN"))', true],
  ['isInf(-1 / 0)', true],
  // comments and whitespace
  ['1 + /* two */ 2 // trailing', 3],
  ['1 +\n  2', 3],
];

describe('expression values (expr-lang semantics)', () => {
  it.each(VALUES)('%s evaluates to %j', (source, expected) => {
    expect(run(source)).toEqual(expected);
  });
});

describe("Argo's isNil/default quirk: they test the whole result, not their argument", () => {
  it('isNil ignores its argument and reports whether result is nil', () => {
    expect(run('isNil(1)', { result: null })).toBe(true);
    expect(run('isNil(nil)', { result: [1] })).toBe(false);
    expect(run('isNil(result)', { result: [] })).toBe(false);
    expect(run('isNil(1)', {})).toBe(true);
  });

  it('default returns the whole result when it is not nil, whatever its first argument', () => {
    expect(run('default(result[0], 0)', { result: [5, 6] })).toEqual([5, 6]);
    expect(run('default(123, 0)', { result: 'x' })).toBe('x');
    expect(run('default(nil, 7)', { result: null })).toBe(7);
  });

  it('default(result[0], 0) does not protect an index error on an empty result', () => {
    const r = evaluateCondition('default(result[0], 0) < 5', { result: [] });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('index out of range: 0 (array length is 0)');
  });

  it('default(result[0], 0) < 5 compares the whole array and fails when result has data', () => {
    const r = evaluateCondition('default(result[0], 0) < 5', { result: [1] });
    expect(r).toEqual({
      ok: false,
      error: { message: 'invalid operation: []interface {} < int (1:23)', position: 22 },
    });
  });
});

describe('evaluateCondition', () => {
  it('requires a boolean, naming the Go type it got', () => {
    expect(evaluateCondition('result[0]', { result: [0.5] })).toEqual({
      ok: false,
      error: { message: 'expected bool, but got float64' },
    });
    expect(evaluateCondition('result', { result: 'x' })).toEqual({
      ok: false,
      error: { message: 'expected bool, but got string' },
    });
  });

  it('reuses the compiled program and gives the same answer for different environments', () => {
    expect(evaluateCondition('result > 1', { result: 2 })).toEqual({ ok: true, value: true });
    expect(evaluateCondition('result > 1', { result: 0 })).toEqual({ ok: true, value: false });
  });

  it('uses the injected clock for now()', () => {
    expect(evaluateCondition('now().Unix() == 100', {}, { nowMs: 100_000 })).toEqual({
      ok: true,
      value: true,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { compileExpression, evaluateCondition } from '../../../../src/analysis/expr/index.ts';

// `matches` on RE2 semantics (re2js), checked against what Go's regexp (expr's engine) answers.

function matches(subject: string, pattern: string): boolean | string {
  const r = evaluateCondition('result matches pattern', { result: subject, pattern });
  return r.ok ? (r.value as boolean) : r.error.message;
}

describe('matches follows Go regexp (RE2)', () => {
  it.each([
    // [subject, pattern, Go's answer]
    ['héllo', '^\\pL+$', true],
    ['h3llo', '^\\pL+$', false],
    ['ABC', '(?i)abc', true],
    ['xAbC', 'x(?i)abc', true],
    ['XABC', 'x(?i)abc', false],
    ['ab12', '(?P<num>\\d+)', true],
    ['ab12', '^(?<num>\\d+)$', false],
    ['abc', '^[[:alpha:]]+$', true],
    ['a1', '^[[:^digit:]]+$', false],
    ['a\nb', 'a.b', false],
    ['a\nb', '(?s)a.b', true],
    ['a\nb', '^b', false],
    ['a\nb', '(?m)^b$', true],
    ['٣', '\\d', false],
    ['é', '\\w', false],
    ['a.b', '^\\Qa.b\\E$', true],
    ['axb', '^\\Qa.b\\E$', false],
    ['ab', 'b\\z', true],
    ['aaa', '(?U)a+', true],
    ['😀', '^.$', true],
    ['😀', '^\\x{1F600}$', true],
    ['error rate high', 'rate', true],
  ])('%j matches %j is %s', (subject, pattern, expected) => {
    expect(matches(subject, pattern)).toBe(expected);
  });

  it.each([
    ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
    ['(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['(?<=a)b', 'error parsing regexp: invalid named capture: `(?<=a)b`'],
    ['(?x)a', 'error parsing regexp: invalid or unsupported Perl syntax: `(?x`'],
    ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
    ['a{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ['[z-a]', 'error parsing regexp: invalid character class range: `z-a`'],
    ['(a', 'error parsing regexp: missing closing ): `(a`'],
    ['\\C', 'error parsing regexp: invalid escape sequence: `\\C`'],
  ])('refuses %j as Go does', (pattern, message) => {
    const literal = compileExpression(`"x" matches ${JSON.stringify(pattern)}`);
    expect(literal.ok ? 'compiled' : literal.error.message).toBe(`${message} (1:13)`);
    expect(matches('x', pattern)).toBe(`${message} (1:16)`);
  });

  it.each([
    // [pattern, Go's answer on 200,000 a's then "!"]
    ['(a+)+$', false],
    ['(a*)*b', false],
    ['(x+x+)+y', false],
    ['(\\w+\\s?)+$', false],
    ['(a{2,})+$', false],
    ['(a|a)*b', false],
    ['(a|aa)+$', false],
    ['((ab)*)+$', true],
    ['^(a+)+!$', true],
  ])(
    'accepts the backtracking-prone pattern %s and completes on a 200,000-character subject',
    (pattern, expected) => {
      // A backtracking engine takes exponential time on these; RE2 is linear in the subject.
      expect(matches(`${'a'.repeat(200_000)}!`, pattern)).toBe(expected);
    },
  );
});

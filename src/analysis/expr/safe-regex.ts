import { errorText } from '../../api/errors.ts';
// `matches` runs user patterns on JavaScript's backtracking RegExp engine, whereas expr uses Go's RE2
// (linear time). To keep evaluation bounded we accept only what RE2 accepts and refuse the shapes that
// make a backtracking engine go exponential:
//  - patterns longer than MAX_REGEX_LENGTH characters;
//  - backreferences (\1, \k<n>) and lookarounds ((?=, (?!, (?<=, (?<!): RE2 rejects them too;
//  - a quantified group that itself contains an unbounded quantifier, e.g. (a+)+, (a*b?)*, (x{2,})+;
//  - subjects longer than MAX_MATCH_SUBJECT_LENGTH characters (an evaluation error).
// Leading Go inline flags (?i) (?m) (?s) become JavaScript flags; (?P<name>...) becomes (?<name>...).
// Not detected: overlapping alternations under a quantifier such as (a|a)*; their cost is still capped
// by the subject length limit, but is not linear.

export const MAX_REGEX_LENGTH = 512;
export const MAX_MATCH_SUBJECT_LENGTH = 100_000;
const MAX_DYNAMIC_CACHE = 256;

export type RegexResult = { ok: true; re: RegExp } | { ok: false; message: string };

const dynamicCache = new Map<string, RegexResult>();

export function compileSafeRegex(pattern: string): RegexResult {
  const cached = dynamicCache.get(pattern);
  if (cached) return cached;
  const result = compileUncached(pattern);
  if (dynamicCache.size >= MAX_DYNAMIC_CACHE) dynamicCache.clear();
  dynamicCache.set(pattern, result);
  return result;
}

function fail(message: string): RegexResult {
  return { ok: false, message };
}

function compileUncached(pattern: string): RegexResult {
  if (pattern.length > MAX_REGEX_LENGTH) {
    return fail(`regular expression too long (${pattern.length} > ${MAX_REGEX_LENGTH} characters)`);
  }
  let body = pattern;
  let flags = '';
  const leading = /^\(\?([a-zA-Z]+)\)/.exec(body);
  if (leading) {
    for (const f of leading[1]!) {
      if (f === 'i' || f === 'm' || f === 's') {
        if (!flags.includes(f)) flags += f;
      } else {
        return fail(`error parsing regexp: invalid or unsupported Perl syntax: \`(?${f}\``);
      }
    }
    body = body.slice(leading[0].length);
  }
  body = body.replaceAll('(?P<', '(?<');
  const shape = checkShape(body);
  if (shape) return fail(shape);
  try {
    return { ok: true, re: new RegExp(body, flags) };
  } catch (err) {
    const message = errorText(err);
    return fail(`error parsing regexp: ${message}`);
  }
}

interface GroupState {
  hasUnbounded: boolean;
}

/** Returns an error message when the pattern uses unsupported or catastrophic constructs. */
function checkShape(p: string): string | undefined {
  const stack: GroupState[] = [{ hasUnbounded: false }];
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      const e = p[i + 1] ?? '';
      if (!inClass && ((e >= '1' && e <= '9') || e === 'k')) {
        return `error parsing regexp: invalid escape sequence: \`\\${e}\` (backreferences are not supported)`;
      }
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') {
      inClass = true;
      if (p[i + 1] === ']') i++;
      continue;
    }
    if (c === '(') {
      const ahead = p.slice(i, i + 4);
      if (ahead.startsWith('(?=') || ahead.startsWith('(?!') || ahead === '(?<=' || ahead === '(?<!') {
        return `error parsing regexp: invalid or unsupported Perl syntax: \`${ahead.startsWith('(?<') ? ahead : ahead.slice(0, 3)}\``;
      }
      stack.push({ hasUnbounded: false });
      continue;
    }
    if (c === ')') {
      const group = stack.pop();
      if (!group || stack.length === 0) return 'error parsing regexp: unexpected )';
      const q = quantifierAt(p, i + 1);
      if (q && group.hasUnbounded && q.repeats) {
        return `regular expression rejected: nested quantifier at offset ${i + 1} may backtrack catastrophically`;
      }
      const parent = stack[stack.length - 1]!;
      if (group.hasUnbounded || q?.unbounded) parent.hasUnbounded = true;
      if (q) {
        i += q.length;
        if (p[i + 1] === '?') i++;
      }
      continue;
    }
    const q = quantifierAt(p, i);
    if (q?.unbounded) stack[stack.length - 1]!.hasUnbounded = true;
  }
  return undefined;
}

interface Quantifier {
  readonly length: number;
  /** `*`, `+`, `{n,}`, or `{n,m}` with a large m. */
  readonly unbounded: boolean;
  /** Repeats its operand more than once (everything but `?`, `{0,1}`, `{1}`). */
  readonly repeats: boolean;
}

function quantifierAt(p: string, i: number): Quantifier | undefined {
  const c = p[i];
  if (c === '*' || c === '+') return { length: 1, unbounded: true, repeats: true };
  if (c === '?') return { length: 1, unbounded: false, repeats: false };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 16));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
    return { length: m[0].length, unbounded: max > 16, repeats: max > 1 };
  }
  return undefined;
}

// Regular expressions of the condition language (`matches`) on RE2 semantics, as expr runs them through
// Go's regexp: re2js, a port of RE2 to JavaScript, so matching is linear in the subject whatever the
// pattern (no catastrophic backtracking), every pattern Go accepts is accepted (`\pL`, `[[:alpha:]]`,
// `(?i)` anywhere, `(?P<name>...)`, `\z`, `(?U)`), and what Go refuses is refused with Go's message
// ("error parsing regexp: invalid escape sequence: `\1`"). `matches` is Go's regexp.MatchString:
// unanchored, true when the pattern matches anywhere in the subject.

import { RE2JS } from 're2js';
import { errorText } from '../../api/errors.ts';

const MAX_CACHE = 256;

/** A compiled pattern: `test` is an unanchored search, like Go's MatchString. */
export interface CompiledRegex {
  readonly source: string;
  test(subject: string): boolean;
}

export type RegexResult = { ok: true; re: CompiledRegex } | { ok: false; message: string };

const cache = new Map<string, RegexResult>();

export function compileRegex(pattern: string): RegexResult {
  const cached = cache.get(pattern);
  if (cached) return cached;
  const result = compileUncached(pattern);
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(pattern, result);
  return result;
}

function compileUncached(pattern: string): RegexResult {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (error) {
    // re2js throws RE2JSSyntaxException with Go's text: "error parsing regexp: <code>: `<arg>`".
    const message = errorText(error);
    return {
      ok: false,
      message: message.startsWith('error parsing regexp') ? message : `error parsing regexp: ${message}`,
    };
  }
  return { ok: true, re: { source: pattern, test: (subject) => re.test(subject) } };
}

// Go's time.ParseDuration and a strict RFC 3339 date parser for duration() and date().

import { ExprEvalError } from './eval-error.ts';
import { ExprDuration, ExprTime } from './values.ts';

const UNIT_NS: ReadonlyMap<string, number> = new Map([
  ['ns', 1],
  ['us', 1e3],
  ['µs', 1e3],
  ['μs', 1e3],
  ['ms', 1e6],
  ['s', 1e9],
  ['m', 6e10],
  ['h', 3.6e12],
]);

/** Go's time.ParseDuration: "300ms", "-1.5h", "2h45m", "0". */
export function parseGoDuration(text: string): ExprDuration {
  const quoted = JSON.stringify(text);
  let s = text;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return new ExprDuration(0);
  if (s === '') throw new ExprEvalError(`time: invalid duration ${quoted}`);
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(\.(\d*))?/.exec(s)!;
    const whole = m[1] ?? '';
    const frac = m[3] ?? '';
    if (whole === '' && frac === '') throw new ExprEvalError(`time: invalid duration ${quoted}`);
    s = s.slice(m[0].length);
    const unitMatch = /^[^\d.]+/.exec(s);
    if (!unitMatch) throw new ExprEvalError(`time: missing unit in duration ${quoted}`);
    const unit = unitMatch[0];
    const ns = UNIT_NS.get(unit);
    if (ns === undefined)
      throw new ExprEvalError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    s = s.slice(unit.length);
    total += Number(`${whole || '0'}.${frac || '0'}`) * ns;
  }
  if (total > 9.223372036854775e18) throw new ExprEvalError(`time: invalid duration ${quoted}`);
  return new ExprDuration(Math.round(neg ? -total : total));
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/** date("2024-01-02"), date("2024-01-02T03:04:05Z"), with an offset; no zone means UTC. */
export function parseDate(text: string): ExprTime {
  const m = RFC3339.exec(text);
  if (!m) throw new ExprEvalError(`cannot parse ${JSON.stringify(text)} as date (RFC 3339 expected)`);
  const [, y, mo, d, h = '00', mi = '00', sec = '00', frac = '', zone = 'Z'] = m;
  const ms = Number(frac ? frac.slice(1).padEnd(3, '0').slice(0, 3) : '0');
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (
    Number.isNaN(t) ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 59
  ) {
    throw new ExprEvalError(`cannot parse ${JSON.stringify(text)} as date: out of range`);
  }
  return new ExprTime(t);
}

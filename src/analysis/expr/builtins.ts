// Eager builtins (arguments already evaluated). Predicate builtins (all, any, map, ...) and Argo's
// isNil/default live in interpreter.ts because they need the closure or the environment. Every
// builtin charges the step budget in proportion to the work it does and caps what it allocates.

import { errorText } from '../../api/errors.ts';
import { ExprEvalError } from './eval-error.ts';
import { parseDate, parseGoDuration } from './time.ts';
// Deliberately parallel to interpreter.ts's import: both evaluate over the same value helpers.
import {
  ExprDuration,
  ExprTime,
  exprTypeName,
  formatGoValue,
  goTypeName,
  isNilValue,
  isPlainMap,
  type PlainMap,
  readOwn,
  valuesEqual,
} from './values.ts';

export const MAX_STRING_LENGTH = 1_000_000;
export const MAX_ARRAY_LENGTH = 100_000;

export interface BuiltinContext {
  readonly nowMs: number;
  /** Adds work units to the step budget; throws when the budget is exhausted. */
  charge(units: number): void;
}

export type Builtin = (args: readonly unknown[], ctx: BuiltinContext) => unknown;

function invalid(name: string, v: unknown): ExprEvalError {
  return new ExprEvalError(`invalid argument for ${name} (type ${goTypeName(v)})`);
}

function num(name: string, v: unknown): number {
  if (typeof v !== 'number') throw invalid(name, v);
  return v;
}

function str(name: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(name, v);
  return v;
}

function arr(name: string, v: unknown): readonly unknown[] {
  if (!Array.isArray(v)) throw invalid(name, v);
  return v;
}

function map(name: string, v: unknown): PlainMap {
  if (!isPlainMap(v)) throw invalid(name, v);
  return v;
}

export function checkString(s: string): string {
  if (s.length > MAX_STRING_LENGTH)
    throw new ExprEvalError(`string too long (limit ${MAX_STRING_LENGTH} characters)`);
  return s;
}

export function checkArray<T>(a: T[]): T[] {
  if (a.length > MAX_ARRAY_LENGTH)
    throw new ExprEvalError(`array too long (limit ${MAX_ARRAY_LENGTH} elements)`);
  return a;
}

/** Go's strconv.ParseFloat syntax (decimal, exponent, Inf, NaN; underscores only with a base prefix). */
export function parseGoFloat(s: string): number | undefined {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return Number(s);
  const lower = s.toLowerCase();
  if (/^[+]?(inf|infinity)$/.test(lower)) return Number.POSITIVE_INFINITY;
  if (/^-(inf|infinity)$/.test(lower)) return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  return undefined;
}

/** Go's strconv.ParseInt(s, 10, 64). */
export function parseGoInt(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isSafeInteger(v) || Math.abs(v) <= 9.223372036854775e18 ? v : undefined;
}

function flattenNumbers(name: string, args: readonly unknown[], ctx: BuiltinContext): number[] {
  const out: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (depth > 32) throw invalid(name, v);
      ctx.charge(v.length);
      for (const x of v) walk(x, depth + 1);
    } else {
      out.push(num(name, v));
    }
  };
  for (const a of args) walk(a, 0);
  return out;
}

function flattenDeep(v: readonly unknown[], out: unknown[], depth: number, ctx: BuiltinContext): void {
  ctx.charge(v.length);
  for (const x of v) {
    if (Array.isArray(x) && depth < 64) flattenDeep(x, out, depth + 1, ctx);
    else out.push(x);
    if (out.length > MAX_ARRAY_LENGTH) checkArray(out);
  }
}

/** Safe fetch for get()/first()/last(): nil instead of an error. */
function safeGet(from: unknown, key: unknown): unknown {
  if (Array.isArray(from) && typeof key === 'number' && Number.isInteger(key)) {
    const i = key < 0 ? from.length + key : key;
    return i >= 0 && i < from.length ? (from[i] ?? null) : null;
  }
  if (typeof from === 'string' && typeof key === 'number' && Number.isInteger(key)) {
    const i = key < 0 ? from.length + key : key;
    return i >= 0 && i < from.length ? from[i] : null;
  }
  if (isPlainMap(from) && typeof key === 'string') return readOwn(from, key);
  return null;
}

export function compareSortable(name: string, a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new ExprEvalError(`${name}: cannot compare ${goTypeName(a)} and ${goTypeName(b)}`);
}

export function sortValues(name: string, values: unknown[], order: unknown): unknown[] {
  if (order !== 'asc' && order !== 'desc')
    throw new ExprEvalError(`${name}: unknown order ${formatGoValue(order)}`);
  const sign = order === 'asc' ? 1 : -1;
  return values.sort((a, b) => sign * compareSortable(name, a, b));
}

/** Go's json.MarshalIndent(v, "", "  "): sorted keys, NaN/Inf rejected. */
function toJson(v: unknown, indent: string, depth: number): string {
  if (depth > 64) throw new ExprEvalError('json: value nested too deeply');
  if (isNilValue(v)) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new ExprEvalError(`json: unsupported value: ${formatGoValue(v)}`);
    return JSON.stringify(v);
  }
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (v instanceof ExprDuration) return String(v.ns);
  if (v instanceof ExprTime) return JSON.stringify(new Date(v.ms).toISOString());
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + toJson(x, inner, depth + 1)).join(',\n')}\n${indent}]`;
  }
  if (isPlainMap(v)) {
    const keys = Object.keys(v).sort();
    if (keys.length === 0) return '{}';
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${toJson(v[k], inner, depth + 1)}`).join(',\n')}\n${indent}}`;
  }
  throw new ExprEvalError(`json: unsupported type: ${goTypeName(v)}`);
}

function splitGo(s: string, sep: string, n: number, after: boolean): string[] {
  if (n === 0) return [];
  const parts: string[] = [];
  if (sep === '') {
    const chars = [...s];
    if (n < 0 || n >= chars.length) return chars;
    return [...chars.slice(0, n - 1), chars.slice(n - 1).join('')];
  }
  let rest = s;
  while (n < 0 || parts.length < n - 1) {
    const i = rest.indexOf(sep);
    if (i < 0) break;
    parts.push(after ? rest.slice(0, i + sep.length) : rest.slice(0, i));
    rest = rest.slice(i + sep.length);
  }
  parts.push(rest);
  return parts;
}

function trimCutset(s: string, cutset: string): string {
  const set = new Set(cutset);
  let a = 0;
  let b = s.length;
  while (a < b && set.has(s[a]!)) a++;
  while (b > a && set.has(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Go's math.Round: half away from zero. */
function goRound(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function truncToInt(name: string, x: number): number {
  if (!Number.isFinite(x)) throw new ExprEvalError(`${name}: cannot convert ${formatGoValue(x)} to int`);
  return Math.trunc(x) + 0; // + 0 turns -0 into 0
}

export const BUILTINS: ReadonlyMap<string, Builtin> = new Map<string, Builtin>([
  [
    'len',
    ([v], ctx) => {
      if (typeof v === 'string') {
        ctx.charge(v.length >> 6);
        let n = 0;
        for (const _ of v) n++;
        return n;
      }
      if (Array.isArray(v)) return v.length;
      if (isPlainMap(v)) return Object.keys(v).length;
      throw invalid('len', v);
    },
  ],
  [
    'abs',
    ([v]) => {
      if (v instanceof ExprDuration) return new ExprDuration(Math.abs(v.ns));
      return Math.abs(num('abs', v));
    },
  ],
  ['ceil', ([v]) => Math.ceil(num('ceil', v))],
  ['floor', ([v]) => Math.floor(num('floor', v))],
  ['round', ([v]) => goRound(num('round', v))],
  [
    'int',
    ([v]) => {
      if (typeof v === 'number') return truncToInt('int', v);
      if (typeof v === 'string') {
        const parsed = parseGoInt(v);
        if (parsed === undefined)
          throw new ExprEvalError(`strconv.Atoi: parsing ${JSON.stringify(v)}: invalid syntax`);
        return parsed;
      }
      if (v instanceof ExprDuration) return v.ns;
      throw invalid('int', v);
    },
  ],
  [
    'float',
    ([v]) => {
      if (typeof v === 'number') return v;
      if (typeof v === 'string') {
        const parsed = parseGoFloat(v);
        if (parsed === undefined)
          throw new ExprEvalError(`strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
        return parsed;
      }
      throw invalid('float', v);
    },
  ],
  [
    'string',
    ([v], ctx) => {
      if (Array.isArray(v) || isPlainMap(v)) ctx.charge(Array.isArray(v) ? v.length : Object.keys(v).length);
      return checkString(formatGoValue(v));
    },
  ],
  ['type', ([v]) => exprTypeName(v)],
  ['first', ([v]) => safeGet(v, 0)],
  ['last', ([v]) => safeGet(v, -1)],
  ['get', ([v, k]) => safeGet(v, k)],
  [
    'keys',
    ([v], ctx) => {
      const m = map('keys', v);
      const keys = Object.keys(m);
      ctx.charge(keys.length);
      return keys;
    },
  ],
  [
    'values',
    ([v], ctx) => {
      const m = map('values', v);
      const keys = Object.keys(m);
      ctx.charge(keys.length);
      return keys.map((k) => readOwn(m, k));
    },
  ],
  [
    'toPairs',
    ([v], ctx) => {
      const m = map('toPairs', v);
      const keys = Object.keys(m);
      ctx.charge(keys.length);
      return keys.map((k) => [k, readOwn(m, k)]);
    },
  ],
  [
    'fromPairs',
    ([v], ctx) => {
      const pairs = arr('fromPairs', v);
      ctx.charge(pairs.length);
      const out: PlainMap = Object.create(null);
      for (const p of pairs) {
        if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') throw invalid('fromPairs', p);
        out[p[0]] = p[1];
      }
      return out;
    },
  ],
  [
    'concat',
    (args, ctx) => {
      const out: unknown[] = [];
      for (const a of args) {
        const items = arr('concat', a);
        ctx.charge(items.length);
        if (out.length + items.length > MAX_ARRAY_LENGTH) checkArray(new Array(out.length + items.length));
        for (const x of items) out.push(x);
      }
      return out;
    },
  ],
  [
    'flatten',
    ([v], ctx) => {
      const out: unknown[] = [];
      flattenDeep(arr('flatten', v), out, 0, ctx);
      return out;
    },
  ],
  [
    'uniq',
    ([v], ctx) => {
      const items = arr('uniq', v);
      ctx.charge(items.length);
      const seen = new Set<string>();
      const out: unknown[] = [];
      for (const x of items) {
        if (x === null || typeof x !== 'object') {
          const key = `${typeof x}:${String(x)}`;
          if (!seen.has(key)) {
            seen.add(key);
            out.push(x);
          }
        } else {
          ctx.charge(out.length);
          if (!out.some((y) => valuesEqual(x, y))) out.push(x);
        }
      }
      return out;
    },
  ],
  [
    'reverse',
    ([v], ctx) => {
      const items = arr('reverse', v);
      ctx.charge(items.length);
      return [...items].reverse();
    },
  ],
  [
    'sort',
    ([v, order = 'asc'], ctx) => {
      const items = arr('sort', v);
      ctx.charge(items.length * Math.max(1, Math.ceil(Math.log2(items.length + 1))));
      return sortValues('sort', [...items], order);
    },
  ],
  [
    'toJSON',
    ([v], ctx) => {
      const out = toJson(v, '', 0);
      ctx.charge(out.length >> 4);
      return checkString(out);
    },
  ],
  [
    'fromJSON',
    ([v], ctx) => {
      const s = str('fromJSON', v);
      ctx.charge(s.length >> 4);
      try {
        return JSON.parse(s) as unknown;
      } catch (err) {
        throw new ExprEvalError(`fromJSON: ${errorText(err)}`);
      }
    },
  ],
  [
    'trim',
    ([s, cutset]) =>
      cutset === undefined ? str('trim', s).trim() : trimCutset(str('trim', s), str('trim', cutset)),
  ],
  [
    'trimPrefix',
    ([s, p]) => {
      const a = str('trimPrefix', s);
      const b = str('trimPrefix', p);
      return a.startsWith(b) ? a.slice(b.length) : a;
    },
  ],
  [
    'trimSuffix',
    ([s, p]) => {
      const a = str('trimSuffix', s);
      const b = str('trimSuffix', p);
      return b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a;
    },
  ],
  ['upper', ([s]) => str('upper', s).toUpperCase()],
  ['lower', ([s]) => str('lower', s).toLowerCase()],
  [
    'split',
    ([s, sep, n = -1], ctx) => {
      const a = str('split', s);
      ctx.charge(a.length >> 4);
      return checkArray(splitGo(a, str('split', sep), truncToInt('split', num('split', n)), false));
    },
  ],
  [
    'splitAfter',
    ([s, sep, n = -1], ctx) => {
      const a = str('splitAfter', s);
      ctx.charge(a.length >> 4);
      return checkArray(
        splitGo(a, str('splitAfter', sep), truncToInt('splitAfter', num('splitAfter', n)), true),
      );
    },
  ],
  [
    'replace',
    ([s, o, n], ctx) => {
      const a = str('replace', s);
      const old = str('replace', o);
      const rep = str('replace', n);
      const estimate =
        a.length + (old === '' ? a.length + 1 : Math.floor(a.length / old.length)) * rep.length;
      if (estimate > MAX_STRING_LENGTH) checkString(' '.repeat(MAX_STRING_LENGTH + 1));
      ctx.charge(a.length >> 4);
      return a.replaceAll(old, rep);
    },
  ],
  [
    'repeat',
    ([s, n], ctx) => {
      const a = str('repeat', s);
      const count = num('repeat', n);
      if (!Number.isInteger(count) || count < 0) throw new ExprEvalError('strings: negative Repeat count');
      if (a.length * count > MAX_STRING_LENGTH) {
        throw new ExprEvalError(`string too long (limit ${MAX_STRING_LENGTH} characters)`);
      }
      ctx.charge((a.length * count) >> 4);
      return a.repeat(count);
    },
  ],
  [
    'join',
    ([v, sep = ''], ctx) => {
      const items = arr('join', v);
      ctx.charge(items.length);
      const parts = items.map((x) => str('join', x));
      return checkString(parts.join(str('join', sep)));
    },
  ],
  ['indexOf', ([s, sub]) => str('indexOf', s).indexOf(str('indexOf', sub))],
  ['lastIndexOf', ([s, sub]) => str('lastIndexOf', s).lastIndexOf(str('lastIndexOf', sub))],
  ['hasPrefix', ([s, p]) => str('hasPrefix', s).startsWith(str('hasPrefix', p))],
  ['hasSuffix', ([s, p]) => str('hasSuffix', s).endsWith(str('hasSuffix', p))],
  [
    'max',
    (args, ctx) => {
      const xs = flattenNumbers('max', args, ctx);
      if (xs.length === 0) throw new ExprEvalError('not enough arguments to call max');
      let best = xs[0]!;
      for (const x of xs) if (x > best || Number.isNaN(x)) best = x;
      return best;
    },
  ],
  [
    'min',
    (args, ctx) => {
      const xs = flattenNumbers('min', args, ctx);
      if (xs.length === 0) throw new ExprEvalError('not enough arguments to call min');
      let best = xs[0]!;
      for (const x of xs) if (x < best || Number.isNaN(x)) best = x;
      return best;
    },
  ],
  [
    'mean',
    (args, ctx) => {
      const xs = flattenNumbers('mean', args, ctx);
      if (xs.length === 0) return 0;
      let total = 0;
      for (const x of xs) total += x;
      return total / xs.length;
    },
  ],
  [
    'median',
    (args, ctx) => {
      const xs = flattenNumbers('median', args, ctx);
      if (xs.length === 0) return 0;
      ctx.charge(xs.length * Math.ceil(Math.log2(xs.length + 1)));
      xs.sort((a, b) => a - b);
      const mid = xs.length >> 1;
      return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
    },
  ],
  ['now', (_args, ctx) => new ExprTime(ctx.nowMs)],
  ['duration', ([s]) => parseGoDuration(str('duration', s))],
  ['date', ([s]) => parseDate(str('date', s))],
  // Argo's environment functions (utils/evaluate/evaluate.go).
  [
    // Deliberately parallel to asFloat below: the same three cases, each with Go's own error text
    // (strconv.ParseInt vs ParseFloat), which Argo's messages carry verbatim.
    'asInt',
    ([v]) => {
      if (typeof v === 'number') return truncToInt('asInt', v);
      if (typeof v === 'string') {
        const parsed = parseGoInt(v);
        if (parsed === undefined)
          throw new ExprEvalError(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
        return parsed;
      }
      throw new ExprEvalError(`asInt() not supported on ${goTypeName(v)} ${formatGoValue(v)}`);
    },
  ],
  [
    'asFloat',
    ([v]) => {
      if (typeof v === 'number') return v;
      if (typeof v === 'string') {
        const parsed = parseGoFloat(v);
        if (parsed === undefined)
          throw new ExprEvalError(`strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
        return parsed;
      }
      throw new ExprEvalError(`asFloat() not supported on ${goTypeName(v)} ${formatGoValue(v)}`);
    },
  ],
  [
    'isNaN',
    ([v]) => {
      if (typeof v !== 'number')
        throw new ExprEvalError(`cannot use ${goTypeName(v)} as argument (type float64) to call isNaN`);
      return Number.isNaN(v);
    },
  ],
  [
    'isInf',
    ([v]) => {
      if (typeof v !== 'number')
        throw new ExprEvalError(`cannot use ${goTypeName(v)} as argument (type float64) to call isInf`);
      return v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY;
    },
  ],
]);

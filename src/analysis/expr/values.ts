// The value model of the condition language. Values are plain JavaScript data: null (expr's nil),
// boolean, number (one number type: expr's int and float64 are both JS numbers; see index.ts),
// string, arrays, plain objects (maps; only own properties are visible), plus two frozen classes for
// Go's time.Time and time.Duration. Go type names and %v formatting are reproduced for messages.

export class ExprDuration {
  /** Nanoseconds, like Go's time.Duration (exact up to 2^53 ns, about 104 days). */
  readonly ns: number;
  constructor(ns: number) {
    this.ns = ns;
    Object.freeze(this);
  }
}

export class ExprTime {
  /** Milliseconds since the Unix epoch, UTC. */
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
    Object.freeze(this);
  }
}

export type PlainMap = Record<string, unknown>;

/** Names that are never readable, even as own properties. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isPlainMap(v: unknown): v is PlainMap {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export function isNilValue(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

/** Go's %T for the value, as expr prints it in errors ("float64", "[]interface {}", "<nil>"). */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float64';
    case 'string':
      return 'string';
    case 'bigint':
      return 'int64';
    case 'function':
      return 'func';
    default:
      break;
  }
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof ExprDuration) return 'time.Duration';
  if (v instanceof ExprTime) return 'time.Time';
  if (isPlainMap(v)) return 'map[string]interface {}';
  return 'unsupported';
}

/** expr's type() builtin. */
export function exprTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (Array.isArray(v)) return 'array';
  if (isPlainMap(v)) return 'map';
  if (v instanceof ExprDuration) return 'time.Duration';
  if (v instanceof ExprTime) return 'time.Time';
  return 'unknown';
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64) as used by %v for float64. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Number.POSITIVE_INFINITY) return '+Inf';
  if (f === Number.NEGATIVE_INFINITY) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const exp = Number(f.toExponential().split('e')[1]);
  // Shortest representation; %v switches to exponent form when exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    const [mant, e] = f.toExponential().split('e');
    const en = Number(e);
    return `${mant}e${en < 0 ? '-' : '+'}${String(Math.abs(en)).padStart(2, '0')}`;
  }
  return String(f);
}

/** Go's time.Duration.String(), e.g. "1h2m0.5s", "300ms", "0s". */
export function formatGoDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let u = Math.abs(ns);
  let out: string;
  if (u < 1e9) {
    if (u < 1e3) out = `${u}ns`;
    else if (u < 1e6) out = `${trimFloat(u / 1e3)}µs`;
    else out = `${trimFloat(u / 1e6)}ms`;
  } else {
    const h = Math.floor(u / 3.6e12);
    u -= h * 3.6e12;
    const m = Math.floor(u / 6e10);
    u -= m * 6e10;
    const s = `${trimFloat(u / 1e9)}s`;
    out = h > 0 ? `${h}h${m}m${s}` : m > 0 ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}

/** Go's time.Time.String() in UTC, e.g. "2024-01-02 03:04:05.5 +0000 UTC". */
export function formatGoTime(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return 'invalid time';
  const iso = d.toISOString(); // 2024-01-02T03:04:05.500Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  frac = frac ? `.${frac}` : '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac} +0000 UTC`;
}

/** Go's %v formatting (used by string(), messages and groupBy keys). Depth-limited. */
export function formatGoValue(v: unknown, depth = 0): string {
  if (depth > 20) return '...';
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : formatGoFloat(v);
    case 'string':
      return v;
    case 'bigint':
      return String(v);
    default:
      break;
  }
  if (Array.isArray(v)) return `[${v.map((x) => formatGoValue(x, depth + 1)).join(' ')}]`;
  if (v instanceof ExprDuration) return formatGoDuration(v.ns);
  if (v instanceof ExprTime) return formatGoTime(v.ms);
  if (isPlainMap(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${formatGoValue(v[k], depth + 1)}`).join(' ')}]`;
  }
  return `<${typeof v}>`;
}

/** expr's runtime.Equal: numbers compare across int/float, arrays and maps deeply, mismatches are false. */
export function valuesEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (isNilValue(a) || isNilValue(b)) return isNilValue(a) && isNilValue(b);
  if (typeof a === 'number' || typeof b === 'number') return false; // NaN != NaN, as in Go
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (depth > 64) return false;
  if (a instanceof ExprDuration) return b instanceof ExprDuration && a.ns === b.ns;
  if (a instanceof ExprTime) return b instanceof ExprTime && a.ms === b.ms;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (isPlainMap(a) && isPlainMap(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    for (const k of ka) {
      if (!Object.hasOwn(b, k) || !valuesEqual(a[k], b[k], depth + 1)) return false;
    }
    return true;
  }
  return false;
}

/** Reads an own, non-forbidden property of a plain map; missing keys read as nil (as Go maps do). */
export function readOwn(map: PlainMap, key: string): unknown {
  if (!Object.hasOwn(map, key)) return null;
  const v = map[key];
  return v === undefined ? null : v;
}

// Tree-walking evaluator. Every node visit costs one step (builtins charge extra in proportion to the
// data they touch), so any program stops within `maxSteps`; no eval/Function, no prototype reads.
// Semantics follow expr-lang v1.17's runtime (runtime/runtime.go, builtin/builtin.go); differences
// are listed in index.ts.

import type { Node, NodeOf } from './ast.ts';
import {
  BUILTINS,
  type BuiltinContext,
  checkString,
  compareSortable,
  MAX_ARRAY_LENGTH,
  sortValues,
} from './builtins.ts';
import { ExprEvalError } from './eval-error.ts';
import { compileRegex } from './re2.ts';
import {
  ExprDuration,
  ExprTime,
  FORBIDDEN_KEYS,
  formatGoDuration,
  formatGoTime,
  formatGoValue,
  goTypeName,
  isNilValue,
  isPlainMap,
  type PlainMap,
  readOwn,
  valuesEqual,
} from './values.ts';

export const DEFAULT_MAX_STEPS = 100_000;

interface Scope {
  item: unknown;
  index: number;
  acc: unknown;
}

/** Marks "a `?.` met nil": propagates up the postfix chain and becomes nil at the chain node. */
const NIL_CHAIN: unique symbol = Symbol('nil-chain');

export class Interpreter implements BuiltinContext {
  private readonly env: Readonly<Record<string, unknown>>;
  readonly nowMs: number;
  private readonly maxSteps: number;
  private steps = 0;
  private readonly scopes: Scope[] = [];

  constructor(env: Readonly<Record<string, unknown>>, nowMs: number, maxSteps: number) {
    this.env = env;
    this.nowMs = nowMs;
    this.maxSteps = maxSteps;
  }

  get stepsUsed(): number {
    return this.steps;
  }

  charge(units: number): void {
    this.steps += units;
    if (this.steps > this.maxSteps) {
      throw new ExprEvalError(`evaluation exceeded the step limit (${this.maxSteps})`);
    }
  }

  run(node: Node): unknown {
    const v = this.eval(node);
    return v === NIL_CHAIN ? null : v;
  }

  private eval(node: Node): unknown {
    if (++this.steps > this.maxSteps) {
      throw new ExprEvalError(`evaluation exceeded the step limit (${this.maxSteps})`, node.pos);
    }
    // Deliberately parallel cases: the interpreter's dispatch, one per AST node kind (ast.ts).
    switch (node.k) {
      case 'num':
      case 'str':
      case 'bool':
        return node.v;
      case 'nil':
        return null;
      case 'ident':
        return this.identifier(node);
      case 'pointer':
        return this.pointer(node);
      case 'binary':
        return this.binary(node);
      case 'unary':
        return this.unary(node);
      case 'member':
        return this.member(node);
      case 'slice':
        return this.slice(node);
      case 'chain': {
        const v = this.eval(node.x);
        return v === NIL_CHAIN ? null : v;
      }
      case 'call':
        return this.call(node);
      case 'method':
        return this.method(node);
      case 'cond': {
        const c = this.eval(node.c);
        if (typeof c !== 'boolean') {
          throw new ExprEvalError(`non-bool expression (type ${goTypeName(c)}) used as condition`, node.pos);
        }
        return c ? this.eval(node.a) : this.eval(node.b);
      }
      case 'array': {
        const out = new Array<unknown>(node.items.length);
        for (let i = 0; i < node.items.length; i++) out[i] = this.value(node.items[i]!);
        return out;
      }
      case 'map': {
        const out: PlainMap = Object.create(null);
        for (const [k, v] of node.entries) {
          const key = k.k === 'str' ? k.v : this.value(k);
          if (typeof key !== 'string') {
            throw new ExprEvalError(`map key must be a string (got ${goTypeName(key)})`, k.pos);
          }
          out[key] = this.value(v);
        }
        return out;
      }
      case 'closure':
        throw new ExprEvalError('a predicate can only be used as an argument of a builtin', node.pos);
    }
  }

  /** Evaluates a node whose value is consumed (never the chain marker). */
  private value(node: Node): unknown {
    const v = this.eval(node);
    return v === NIL_CHAIN ? null : v;
  }

  private identifier(node: NodeOf<'ident'>): unknown {
    const name = node.name;
    if (FORBIDDEN_KEYS.has(name) || !Object.hasOwn(this.env, name)) {
      throw new ExprEvalError(`unknown name ${name}`, node.pos);
    }
    const v = this.env[name];
    return v === undefined ? null : v;
  }

  private pointer(node: NodeOf<'pointer'>): unknown {
    const scope = this.scopes[this.scopes.length - 1];
    if (!scope) throw new ExprEvalError('# used outside of a predicate', node.pos);
    if (node.name === 'index') return scope.index;
    if (node.name === 'acc') return scope.acc;
    return scope.item;
  }

  private unary(node: NodeOf<'unary'>): unknown {
    const x = this.value(node.x);
    if (node.op === '!') {
      if (typeof x !== 'boolean')
        throw new ExprEvalError(`invalid operation: ! (mismatched type ${goTypeName(x)})`, node.pos);
      return !x;
    }
    if (typeof x === 'number') return node.op === '-' ? -x : x;
    if (x instanceof ExprDuration) return node.op === '-' ? new ExprDuration(-x.ns) : x;
    throw new ExprEvalError(`invalid operation: ${node.op}${goTypeName(x)}`, node.pos);
  }

  private binary(node: NodeOf<'binary'>): unknown {
    const op = node.op;
    if (op === '&&' || op === '||') {
      const l = this.value(node.l);
      if (typeof l !== 'boolean') throw this.mismatch(node, l, true);
      if (op === '&&' ? !l : l) return l;
      const r = this.value(node.r);
      if (typeof r !== 'boolean') throw this.mismatch(node, l, r);
      return r;
    }
    if (op === '??') {
      const l = this.value(node.l);
      return isNilValue(l) ? this.value(node.r) : l;
    }
    const l = this.value(node.l);
    const r = this.value(node.r);
    switch (op) {
      case '==':
        return valuesEqual(l, r);
      case '!=':
        return !valuesEqual(l, r);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.compare(node, l, r);
      case '+':
        return this.add(node, l, r);
      case '-':
        return this.subtract(node, l, r);
      case '*':
        if (typeof l === 'number' && typeof r === 'number') return l * r;
        if (l instanceof ExprDuration && typeof r === 'number') return new ExprDuration(Math.round(l.ns * r));
        if (typeof l === 'number' && r instanceof ExprDuration) return new ExprDuration(Math.round(l * r.ns));
        throw this.mismatch(node, l, r);
      case '/':
        if (typeof l === 'number' && typeof r === 'number') return l / r;
        if (l instanceof ExprDuration && r instanceof ExprDuration) return l.ns / r.ns;
        throw this.mismatch(node, l, r);
      case '%':
        if (typeof l === 'number' && typeof r === 'number' && Number.isInteger(l) && Number.isInteger(r)) {
          if (r === 0) throw new ExprEvalError('integer divide by zero', node.pos);
          return (l % r) + 0;
        }
        throw this.mismatch(node, l, r);
      case '**':
        if (typeof l === 'number' && typeof r === 'number') return l ** r;
        throw this.mismatch(node, l, r);
      case '..':
        return this.range(node, l, r);
      default:
        return this.stringOrMembership(node, l, r);
    }
  }

  private stringOrMembership(node: NodeOf<'binary'>, l: unknown, r: unknown): boolean {
    let result: boolean;
    switch (node.op) {
      case 'in':
        result = this.membership(node, l, r);
        break;
      case 'contains':
      case 'startsWith':
      case 'endsWith':
        if (typeof l !== 'string' || typeof r !== 'string') throw this.mismatch(node, l, r);
        result =
          node.op === 'contains' ? l.includes(r) : node.op === 'startsWith' ? l.startsWith(r) : l.endsWith(r);
        break;
      case 'matches': {
        if (typeof l !== 'string' || typeof r !== 'string') throw this.mismatch(node, l, r);
        let re = node.re;
        if (!re) {
          const compiled = compileRegex(r);
          if (!compiled.ok) throw new ExprEvalError(compiled.message, node.r.pos);
          re = compiled.re;
        }
        this.charge(l.length >> 6);
        result = re.test(l);
        break;
      }
      default:
        throw new ExprEvalError(`unknown operator ${node.op}`, node.pos);
    }
    return node.negate ? !result : result;
  }

  private membership(node: NodeOf<'binary'>, needle: unknown, haystack: unknown): boolean {
    if (Array.isArray(haystack)) {
      this.charge(haystack.length);
      for (const x of haystack) if (valuesEqual(needle, x)) return true;
      return false;
    }
    if (isPlainMap(haystack)) {
      if (typeof needle !== 'string') {
        throw new ExprEvalError(`cannot use ${goTypeName(needle)} as type string in map key`, node.pos);
      }
      return !FORBIDDEN_KEYS.has(needle) && Object.hasOwn(haystack, needle);
    }
    throw new ExprEvalError(`operator "in" not defined on ${goTypeName(haystack)}`, node.pos);
  }

  private mismatch(node: NodeOf<'binary'>, l: unknown, r: unknown): ExprEvalError {
    const op = node.negate ? `not ${node.op}` : node.op;
    return new ExprEvalError(`invalid operation: ${goTypeName(l)} ${op} ${goTypeName(r)}`, node.pos);
  }

  private compare(node: NodeOf<'binary'>, l: unknown, r: unknown): boolean {
    let a: number | string;
    let b: number | string;
    if (typeof l === 'number' && typeof r === 'number') {
      a = l;
      b = r;
    } else if (typeof l === 'string' && typeof r === 'string') {
      a = l;
      b = r;
    } else if (l instanceof ExprDuration && r instanceof ExprDuration) {
      a = l.ns;
      b = r.ns;
    } else if (l instanceof ExprTime && r instanceof ExprTime) {
      a = l.ms;
      b = r.ms;
    } else {
      throw this.mismatch(node, l, r);
    }
    switch (node.op) {
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      default:
        return a >= b;
    }
  }

  private add(node: NodeOf<'binary'>, l: unknown, r: unknown): unknown {
    if (typeof l === 'number' && typeof r === 'number') return l + r;
    if (typeof l === 'string' && typeof r === 'string') {
      this.charge((l.length + r.length) >> 6);
      return checkString(l + r);
    }
    if (l instanceof ExprDuration && r instanceof ExprDuration) return new ExprDuration(l.ns + r.ns);
    if (l instanceof ExprTime && r instanceof ExprDuration) return new ExprTime(l.ms + r.ns / 1e6);
    if (l instanceof ExprDuration && r instanceof ExprTime) return new ExprTime(r.ms + l.ns / 1e6);
    throw this.mismatch(node, l, r);
  }

  private subtract(node: NodeOf<'binary'>, l: unknown, r: unknown): unknown {
    if (typeof l === 'number' && typeof r === 'number') return l - r;
    if (l instanceof ExprDuration && r instanceof ExprDuration) return new ExprDuration(l.ns - r.ns);
    if (l instanceof ExprTime && r instanceof ExprDuration) return new ExprTime(l.ms - r.ns / 1e6);
    if (l instanceof ExprTime && r instanceof ExprTime)
      return new ExprDuration(Math.round((l.ms - r.ms) * 1e6));
    throw this.mismatch(node, l, r);
  }

  private range(node: NodeOf<'binary'>, l: unknown, r: unknown): number[] {
    if (typeof l !== 'number' || typeof r !== 'number' || !Number.isInteger(l) || !Number.isInteger(r)) {
      throw this.mismatch(node, l, r);
    }
    const length = r - l + 1;
    if (length <= 0) return [];
    if (length > MAX_ARRAY_LENGTH) {
      throw new ExprEvalError(`range ${l}..${r} too large (limit ${MAX_ARRAY_LENGTH} elements)`, node.pos);
    }
    this.charge(length);
    const out = new Array<number>(length);
    for (let i = 0; i < length; i++) out[i] = l + i;
    return out;
  }

  private member(node: NodeOf<'member'>): unknown {
    const obj = this.eval(node.obj);
    if (obj === NIL_CHAIN) return NIL_CHAIN;
    const key = node.prop.k === 'str' ? node.prop.v : this.value(node.prop);
    if (isNilValue(obj)) {
      if (node.optional) return NIL_CHAIN;
      throw new ExprEvalError(`cannot fetch ${formatGoValue(key)} from <nil>`, node.pos);
    }
    return fetch(obj, key, node.pos);
  }

  private slice(node: NodeOf<'slice'>): unknown {
    const obj = this.eval(node.obj);
    if (obj === NIL_CHAIN) return NIL_CHAIN;
    if (!Array.isArray(obj) && typeof obj !== 'string') {
      throw new ExprEvalError(`cannot slice ${goTypeName(obj)}`, node.pos);
    }
    const length = obj.length;
    const bound = (n: Node | undefined, dflt: number): number => {
      if (!n) return dflt;
      const v = this.value(n);
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new ExprEvalError(`non-integer slice index (type ${goTypeName(v)})`, n.pos);
      }
      let i = v < 0 ? length + v : v;
      if (i < 0) i = 0;
      if (i > length) i = length;
      return i;
    };
    const to = bound(node.to, length);
    const from = Math.min(bound(node.from, 0), to);
    this.charge((to - from) >> 3);
    return obj.slice(from, to);
  }

  private method(node: NodeOf<'method'>): unknown {
    const obj = this.eval(node.obj);
    if (obj === NIL_CHAIN) return NIL_CHAIN;
    if (isNilValue(obj) && node.optional) return NIL_CHAIN;
    const args = node.args.map((a) => this.value(a));
    try {
      return callMethod(obj, node.name, args);
    } catch (err) {
      throw withPosition(err, node.pos);
    }
  }

  private call(node: NodeOf<'call'>): unknown {
    const name = node.name;
    switch (name) {
      case 'all':
      case 'any':
      case 'none':
      case 'one':
      case 'filter':
      case 'map':
      case 'count':
      case 'sum':
      case 'find':
      case 'findIndex':
      case 'findLast':
      case 'findLastIndex':
      case 'groupBy':
      case 'sortBy':
      case 'reduce':
        return this.predicateCall(node);
      case 'isNil':
      case 'default': {
        // Argo quirk (utils/evaluate/evaluate.go isNilFunc/defaultFunc): the first argument is evaluated
        // but ignored; both test the whole `result`, and default() returns the whole `result`.
        const args = node.args.map((a) => this.value(a));
        const result = Object.hasOwn(this.env, 'result') ? this.env.result : null;
        if (name === 'isNil') return isNilValue(result);
        return isNilValue(result) ? args[1] : result;
      }
      default: {
        const fn = BUILTINS.get(name);
        if (!fn) throw new ExprEvalError(`unknown func ${name}`, node.pos);
        const args = node.args.map((a) => this.value(a));
        try {
          return fn(args, this);
        } catch (err) {
          throw withPosition(err, node.pos);
        }
      }
    }
  }

  private predicateCall(node: NodeOf<'call'>): unknown {
    const name = node.name;
    const subject = this.value(node.args[0]!);
    if (!Array.isArray(subject)) {
      throw new ExprEvalError(`cannot iterate over ${goTypeName(subject)} in ${name}`, node.args[0]!.pos);
    }
    const items: readonly unknown[] = subject;
    const closure = node.args[1];
    const body = closure?.k === 'closure' ? closure.body : undefined;
    const extra = node.args[2] ? this.value(node.args[2]) : undefined;
    const scope: Scope = { item: null, index: 0, acc: null };
    this.scopes.push(scope);
    try {
      const apply = (i: number): unknown => {
        scope.item = items[i] ?? null;
        scope.index = i;
        return this.value(body!);
      };
      const test = (i: number): boolean => {
        const v = apply(i);
        if (typeof v !== 'boolean') {
          throw new ExprEvalError(
            `predicate of ${name} should return boolean (got ${goTypeName(v)})`,
            body!.pos,
          );
        }
        return v;
      };
      const n = items.length;
      switch (name) {
        case 'all':
          for (let i = 0; i < n; i++) if (!test(i)) return false;
          return true;
        case 'any':
          for (let i = 0; i < n; i++) if (test(i)) return true;
          return false;
        case 'none':
          for (let i = 0; i < n; i++) if (test(i)) return false;
          return true;
        case 'one': {
          let count = 0;
          for (let i = 0; i < n; i++) if (test(i) && ++count > 1) return false;
          return count === 1;
        }
        case 'filter': {
          const out: unknown[] = [];
          for (let i = 0; i < n; i++) if (test(i)) out.push(items[i] ?? null);
          return out;
        }
        case 'map': {
          const out = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = apply(i);
          return out;
        }
        case 'count': {
          let count = 0;
          for (let i = 0; i < n; i++) {
            if (body ? test(i) : items[i] === true) count++;
          }
          return count;
        }
        case 'sum': {
          let total = 0;
          for (let i = 0; i < n; i++) {
            const v = body ? apply(i) : items[i];
            if (typeof v !== 'number')
              throw new ExprEvalError(`invalid argument for sum (type ${goTypeName(v)})`, node.pos);
            total += v;
          }
          if (!body) this.charge(n);
          return total;
        }
        case 'find':
          for (let i = 0; i < n; i++) if (test(i)) return items[i] ?? null;
          return null;
        case 'findIndex':
          for (let i = 0; i < n; i++) if (test(i)) return i;
          return -1;
        case 'findLast':
          for (let i = n - 1; i >= 0; i--) if (test(i)) return items[i] ?? null;
          return null;
        case 'findLastIndex':
          for (let i = n - 1; i >= 0; i--) if (test(i)) return i;
          return -1;
        case 'groupBy': {
          const out: PlainMap = Object.create(null);
          for (let i = 0; i < n; i++) {
            const key = formatGoValue(apply(i));
            const group = (out[key] as unknown[] | undefined) ?? [];
            group.push(items[i] ?? null);
            out[key] = group;
          }
          return out;
        }
        case 'sortBy': {
          const keyed = new Array<[unknown, unknown]>(n);
          for (let i = 0; i < n; i++) keyed[i] = [apply(i), items[i] ?? null];
          this.charge(n * Math.ceil(Math.log2(n + 1)));
          const order = extra ?? 'asc';
          if (order !== 'asc' && order !== 'desc') sortValues('sortBy', [], order);
          const sign = order === 'asc' ? 1 : -1;
          keyed.sort((a, b) => sign * compareSortable('sortBy', a[0], b[0]));
          return keyed.map(([, v]) => v);
        }
        default: {
          // reduce
          let start = 0;
          if (node.args.length > 2) scope.acc = extra;
          else if (n === 0) return null;
          else {
            scope.acc = items[0] ?? null;
            start = 1;
          }
          for (let i = start; i < n; i++) scope.acc = apply(i);
          return scope.acc;
        }
      }
    } finally {
      this.scopes.pop();
    }
  }
}

function withPosition(err: unknown, pos: number): unknown {
  if (err instanceof ExprEvalError && err.position === undefined) return new ExprEvalError(err.message, pos);
  return err;
}

/** expr's runtime.Fetch on our value model. */
function fetch(obj: unknown, key: unknown, pos: number): unknown {
  if (typeof key === 'string' && FORBIDDEN_KEYS.has(key)) {
    throw new ExprEvalError(`access to property ${JSON.stringify(key)} is not allowed`, pos);
  }
  if (Array.isArray(obj) || typeof obj === 'string') {
    if (typeof key !== 'number') {
      throw new ExprEvalError(`cannot fetch ${formatGoValue(key)} from ${goTypeName(obj)}`, pos);
    }
    const length = obj.length;
    let i = Math.trunc(key);
    if (i < 0) i += length;
    if (!(i >= 0 && i < length)) {
      throw new ExprEvalError(`index out of range: ${i} (array length is ${length})`, pos);
    }
    const v = obj[i];
    return v === undefined ? null : v;
  }
  if (isPlainMap(obj) && typeof key === 'string') return readOwn(obj, key);
  throw new ExprEvalError(`cannot fetch ${formatGoValue(key)} from ${goTypeName(obj)}`, pos);
}

/** time.Time's methods without arguments (UTC: times here carry no zone). */
const TIME_GETTERS: Readonly<Record<string, (time: ExprTime, date: Date) => unknown>> = {
  Unix: (t) => Math.floor(t.ms / 1000),
  UnixMilli: (t) => Math.floor(t.ms),
  UnixNano: (t) => Math.round(t.ms * 1e6),
  Year: (_, d) => d.getUTCFullYear(),
  Month: (_, d) => d.getUTCMonth() + 1,
  Day: (_, d) => d.getUTCDate(),
  Hour: (_, d) => d.getUTCHours(),
  Minute: (_, d) => d.getUTCMinutes(),
  Second: (_, d) => d.getUTCSeconds(),
  UTC: (t) => t,
  String: (t) => formatGoTime(t.ms),
};

/** The Go methods of time.Duration and time.Time that conditions use. */
function callMethod(obj: unknown, name: string, args: unknown[]): unknown {
  const arity = (n: number): void => {
    if (args.length !== n) throw new ExprEvalError(`${name} expects ${n} argument(s), got ${args.length}`);
  };
  if (obj instanceof ExprDuration) {
    arity(0);
    switch (name) {
      case 'Hours':
        return obj.ns / 3.6e12;
      case 'Minutes':
        return obj.ns / 6e10;
      case 'Seconds':
        return obj.ns / 1e9;
      case 'Milliseconds':
        return Math.trunc(obj.ns / 1e6);
      case 'Microseconds':
        return Math.trunc(obj.ns / 1e3);
      case 'Nanoseconds':
        return obj.ns;
      case 'String':
        return formatGoDuration(obj.ns);
      case 'Abs':
        return new ExprDuration(Math.abs(obj.ns));
      default:
        break;
    }
  } else if (obj instanceof ExprTime) {
    const getter = Object.hasOwn(TIME_GETTERS, name) ? TIME_GETTERS[name] : undefined;
    if (getter !== undefined) {
      arity(0);
      return getter(obj, new Date(obj.ms));
    }
    switch (name) {
      case 'Add':
        arity(1);
        if (args[0] instanceof ExprDuration) return new ExprTime(obj.ms + args[0].ns / 1e6);
        break;
      case 'Sub':
        arity(1);
        if (args[0] instanceof ExprTime) return new ExprDuration(Math.round((obj.ms - args[0].ms) * 1e6));
        break;
      case 'Before':
      case 'After':
      case 'Equal': {
        arity(1);
        const other = args[0];
        if (other instanceof ExprTime) {
          return name === 'Before'
            ? obj.ms < other.ms
            : name === 'After'
              ? obj.ms > other.ms
              : obj.ms === other.ms;
        }
        break;
      }
      default:
        break;
    }
  }
  throw new ExprEvalError(
    `type ${goTypeName(obj)} has no method ${name}${args.length > 0 ? ' for these arguments' : ''}`,
  );
}

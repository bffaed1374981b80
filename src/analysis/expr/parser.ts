// Recursive-descent parser following expr-lang v1.17's parser (parser/parser.go): precedence
// climbing over the operator table below, postfix chains (`.`, `?.`, `[i]`, `[a:b]`, method calls),
// predicates for the closure builtins, `a ? b : c` and `a ?: b`, comparison chaining
// (`1 < x < 3` means `1 < x && x < 3`), the pipe `x | f(y)` = `f(x, y)`.

import type { BinaryOp, Node, PointerName } from './ast.ts';
import { FUNCTIONS } from './functions.ts';
import { ParseError, type Token, tokenize } from './lexer.ts';
import { compileRegex } from './re2.ts';

export const MAX_SOURCE_LENGTH = 10_000;
/** Parser recursion (parentheses, unary chains, nested calls). */
export const MAX_NESTING_DEPTH = 100;
/** Depth of the finished tree (also bounds left-leaning chains like 1+1+1+...). */
export const MAX_TREE_DEPTH = 400;

export type ParseResult = { ok: true; node: Node } | { ok: false; message: string; position: number };

interface OperatorInfo {
  readonly precedence: number;
  readonly right: boolean;
}

// expr-lang parser/operator/operator.go
const BINARY: ReadonlyMap<string, OperatorInfo> = new Map([
  ['|', { precedence: 0, right: false }],
  ['or', { precedence: 10, right: false }],
  ['||', { precedence: 10, right: false }],
  ['and', { precedence: 15, right: false }],
  ['&&', { precedence: 15, right: false }],
  ['==', { precedence: 20, right: false }],
  ['!=', { precedence: 20, right: false }],
  ['<', { precedence: 20, right: false }],
  ['>', { precedence: 20, right: false }],
  ['>=', { precedence: 20, right: false }],
  ['<=', { precedence: 20, right: false }],
  ['in', { precedence: 20, right: false }],
  ['matches', { precedence: 20, right: false }],
  ['contains', { precedence: 20, right: false }],
  ['startsWith', { precedence: 20, right: false }],
  ['endsWith', { precedence: 20, right: false }],
  ['..', { precedence: 25, right: false }],
  ['+', { precedence: 30, right: false }],
  ['-', { precedence: 30, right: false }],
  ['*', { precedence: 60, right: false }],
  ['/', { precedence: 60, right: false }],
  ['%', { precedence: 60, right: false }],
  ['**', { precedence: 100, right: true }],
  ['^', { precedence: 100, right: true }],
  ['??', { precedence: 500, right: false }],
]);

const UNARY: ReadonlyMap<string, number> = new Map([
  ['not', 50],
  ['!', 50],
  ['-', 90],
  ['+', 90],
]);

const NEGATABLE = new Set(['in', 'matches', 'contains', 'startsWith', 'endsWith']);

function normalizeOp(op: string): BinaryOp {
  if (op === 'or') return '||';
  if (op === 'and') return '&&';
  if (op === '^') return '**';
  return op as BinaryOp;
}

/** Go's %v of an expr token: `Operator(")")`, `EOF`. */
export function describeToken(t: Token): string {
  if (t.kind === 'EOF') return 'EOF';
  return `${t.kind}(${JSON.stringify(t.value)})`;
}

export function parse(source: string): ParseResult {
  if (source.length > MAX_SOURCE_LENGTH) {
    return {
      ok: false,
      message: `expression too long (${source.length} > ${MAX_SOURCE_LENGTH} characters)`,
      position: 0,
    };
  }
  const lexed = tokenize(source);
  if (!lexed.ok) return { ok: false, message: lexed.message, position: lexed.position };
  const parser = new Parser(lexed.tokens);
  try {
    const node = parser.parseProgram();
    const tooDeep = findTooDeep(node);
    if (tooDeep !== undefined) {
      return {
        ok: false,
        message: `expression nested too deeply (limit ${MAX_TREE_DEPTH})`,
        position: tooDeep,
      };
    }
    return { ok: true, node };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, message: err.message, position: err.position };
    if (err instanceof RangeError) return { ok: false, message: 'expression nested too deeply', position: 0 };
    throw err;
  }
}

class Parser {
  private readonly tokens: readonly Token[];
  private i = 0;
  private depth = 0;
  /** > 0 while parsing a predicate body, where `#` and `.field` are allowed. */
  private closureDepth = 0;

  constructor(tokens: readonly Token[]) {
    this.tokens = tokens;
  }

  private get cur(): Token {
    return this.tokens[this.i]!;
  }

  private next(): void {
    if (this.i < this.tokens.length - 1) this.i++;
  }

  private is(kind: Token['kind'], value?: string): boolean {
    const t = this.cur;
    return t.kind === kind && (value === undefined || t.value === value);
  }

  private unexpected(t: Token = this.cur): never {
    throw new ParseError(`unexpected token ${describeToken(t)}`, t.pos);
  }

  private expect(kind: Token['kind'], value: string): void {
    if (!this.is(kind, value)) this.unexpected();
    this.next();
  }

  parseProgram(): Node {
    if (this.is('EOF')) throw new ParseError('unexpected token EOF', this.cur.pos);
    const node = this.parseExpression(0);
    if (!this.is('EOF')) this.unexpected();
    return node;
  }

  private enter(pos: number): void {
    if (++this.depth > MAX_NESTING_DEPTH) {
      throw new ParseError(`expression nested too deeply (limit ${MAX_NESTING_DEPTH})`, pos);
    }
  }

  private parseExpression(precedence: number): Node {
    this.enter(this.cur.pos);
    let left = this.parsePrimary();
    let prevOp = '';
    while (this.is('Operator')) {
      let opToken = this.cur;
      let negate = false;
      if (opToken.value === 'not') {
        const save = this.i;
        this.next();
        const after = this.cur;
        if (after.kind !== 'Operator' || !NEGATABLE.has(after.value)) this.unexpected(after);
        const info = BINARY.get(after.value)!;
        if (info.precedence < precedence) {
          this.i = save;
          break;
        }
        negate = true;
        opToken = after;
      }
      const info = BINARY.get(opToken.value);
      if (!info || info.precedence < precedence) break;
      this.next();
      if (opToken.value === '|') {
        const name = this.cur;
        if (name.kind !== 'Identifier') this.unexpected(name);
        this.next();
        left = this.parseCall(name, [left]);
      } else {
        if (prevOp === '??' && opToken.value !== '??') {
          throw new ParseError(
            `Operator (${opToken.value}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.`,
            opToken.pos,
          );
        }
        if (info.precedence === 20) {
          left = this.parseComparison(left, opToken, negate);
        } else {
          const right = this.parseExpression(info.right ? info.precedence : info.precedence + 1);
          left = this.binary(opToken, left, right, negate);
        }
      }
      prevOp = opToken.value;
    }
    if (precedence === 0) left = this.parseConditional(left);
    this.depth--;
    return left;
  }

  private binary(opToken: Token, l: Node, r: Node, negate: boolean): Node {
    const op = normalizeOp(opToken.value);
    if (op === 'matches' && r.k === 'str') {
      const compiled = compileRegex(r.v);
      if (!compiled.ok) throw new ParseError(compiled.message, r.pos);
      return { k: 'binary', pos: opToken.pos, op, l, r, negate, re: compiled.re };
    }
    return { k: 'binary', pos: opToken.pos, op, l, r, negate };
  }

  /** `a < b <= c` becomes `a < b && b <= c` (expr parseComparison). */
  private parseComparison(left: Node, firstOp: Token, firstNegate: boolean): Node {
    let root: Node | undefined;
    let opToken = firstOp;
    let negate = firstNegate;
    let l = left;
    while (true) {
      const right = this.parseExpression(21);
      const cmp = this.binary(opToken, l, right, negate);
      root =
        root === undefined
          ? cmp
          : { k: 'binary', pos: opToken.pos, op: '&&', l: root, r: cmp, negate: false };
      l = right;
      const t = this.cur;
      if (t.kind !== 'Operator') break;
      if (t.value === 'not') {
        const save = this.i;
        this.next();
        if (this.cur.kind === 'Operator' && NEGATABLE.has(this.cur.value)) {
          opToken = this.cur;
          negate = true;
          this.next();
          continue;
        }
        this.i = save;
        break;
      }
      if (BINARY.get(t.value)?.precedence !== 20) break;
      opToken = t;
      negate = false;
      this.next();
    }
    return root;
  }

  private parseConditional(node: Node): Node {
    let result = node;
    while (this.is('Operator', '?')) {
      const pos = this.cur.pos;
      this.next();
      if (this.is('Operator', ':')) {
        // `a ?: b` is parsed as expr's parser does: `a ? a : b` (so `a` must be a bool).
        this.next();
        const b = this.parseExpression(0);
        result = { k: 'cond', pos, c: result, a: result, b };
      } else {
        const a = this.parseExpression(0);
        this.expect('Operator', ':');
        const b = this.parseExpression(0);
        result = { k: 'cond', pos, c: result, a, b };
      }
    }
    return result;
  }

  private parsePrimary(): Node {
    const t = this.cur;
    if (t.kind === 'Operator') {
      const precedence = UNARY.get(t.value);
      if (precedence !== undefined) {
        this.next();
        const x = this.parseExpression(precedence);
        const op = t.value === 'not' ? '!' : (t.value as '-' | '+' | '!');
        return this.parsePostfix({ k: 'unary', pos: t.pos, op, x });
      }
    }
    if (t.kind === 'Bracket' && t.value === '(') {
      this.next();
      const inner = this.parseExpression(0);
      if (!this.is('Bracket', ')')) {
        throw new ParseError('an opened parenthesis is not properly closed', this.cur.pos);
      }
      this.next();
      return this.parsePostfix(inner);
    }
    if (this.closureDepth > 0 && t.kind === 'Operator' && (t.value === '#' || t.value === '.')) {
      let name: PointerName = '';
      if (t.value === '#') {
        this.next();
        if (this.cur.kind === 'Identifier') {
          const n = this.cur.value;
          if (n !== 'index' && n !== 'acc') throw new ParseError(`unknown pointer #${n}`, this.cur.pos);
          name = n;
          this.next();
        }
      }
      // For `.field` the dot is left in place and parsed as member access on `#`.
      return this.parsePostfix({ k: 'pointer', pos: t.pos, name });
    }
    return this.parseSecondary();
  }

  private parseSecondary(): Node {
    const t = this.cur;
    let node: Node;
    switch (t.kind) {
      case 'Identifier':
        this.next();
        if (t.value === 'true' || t.value === 'false')
          node = { k: 'bool', pos: t.pos, v: t.value === 'true' };
        else if (t.value === 'nil') node = { k: 'nil', pos: t.pos };
        else if (this.is('Bracket', '(')) node = this.parseCall(t, []);
        else node = { k: 'ident', pos: t.pos, name: t.value };
        break;
      case 'Number':
        this.next();
        node = { k: 'num', pos: t.pos, v: parseNumber(t) };
        break;
      case 'String':
        this.next();
        node = { k: 'str', pos: t.pos, v: t.value };
        break;
      case 'Bracket':
        if (t.value === '[') node = this.parseArray();
        else if (t.value === '{') node = this.parseMap();
        else this.unexpected();
        break;
      default:
        this.unexpected();
    }
    return this.parsePostfix(node);
  }

  private parseCall(nameToken: Token, leading: Node[]): Node {
    const name = nameToken.value;
    const spec = FUNCTIONS.get(name);
    if (!spec) throw new ParseError(`unknown func ${name}`, nameToken.pos);
    this.enter(nameToken.pos);
    this.expect('Bracket', '(');
    const args = [...leading];
    while (!this.is('Bracket', ')')) {
      if (args.length > leading.length) {
        this.expect('Operator', ',');
        if (this.is('Bracket', ')')) break; // trailing comma
      }
      if (spec.predicate === args.length) args.push(this.parseClosure());
      else args.push(this.parseExpression(0));
    }
    this.next();
    this.depth--;
    if (args.length < spec.min) throw new ParseError(`not enough arguments to call ${name}`, nameToken.pos);
    if (args.length > spec.max) throw new ParseError(`too many arguments to call ${name}`, nameToken.pos);
    return { k: 'call', pos: nameToken.pos, name, args };
  }

  private parseClosure(): Node {
    const start = this.cur;
    const braced = this.is('Bracket', '{');
    if (braced) this.next();
    this.closureDepth++;
    const body = this.parseExpression(0);
    this.closureDepth--;
    if (braced) this.expect('Bracket', '}');
    return { k: 'closure', pos: start.pos, body };
  }

  /** Comma-separated expressions up to and including `close` (a trailing comma is allowed, as in expr). */
  private parseList(close: ')' | ']'): Node[] {
    const items: Node[] = [];
    while (!this.is('Bracket', close)) {
      if (items.length > 0) {
        this.expect('Operator', ',');
        if (this.is('Bracket', close)) break;
      }
      items.push(this.parseExpression(0));
    }
    this.next();
    return items;
  }

  private parseArgs(): Node[] {
    this.expect('Bracket', '(');
    return this.parseList(')');
  }

  private parseArray(): Node {
    const start = this.cur;
    this.enter(start.pos);
    this.next();
    const items = this.parseList(']');
    this.depth--;
    return { k: 'array', pos: start.pos, items };
  }

  private parseMap(): Node {
    const start = this.cur;
    this.enter(start.pos);
    this.next();
    const entries: [Node, Node][] = [];
    while (!this.is('Bracket', '}')) {
      if (entries.length > 0) {
        this.expect('Operator', ',');
        if (this.is('Bracket', '}')) break;
      }
      const k = this.cur;
      let key: Node;
      if (
        k.kind === 'String' ||
        k.kind === 'Identifier' ||
        (k.kind === 'Operator' && /^[a-zA-Z]+$/.test(k.value))
      ) {
        key = { k: 'str', pos: k.pos, v: k.value };
        this.next();
      } else if (k.kind === 'Number') {
        key = { k: 'str', pos: k.pos, v: String(parseNumber(k)) };
        this.next();
      } else if (k.kind === 'Bracket' && k.value === '(') {
        key = this.parseExpression(0);
      } else {
        throw new ParseError(
          'a map key must be a quoted string, a number, a identifier, or an expression enclosed in parentheses (unexpected token ' +
            `${describeToken(k)})`,
          k.pos,
        );
      }
      this.expect('Operator', ':');
      entries.push([key, this.parseExpression(0)]);
    }
    this.next();
    this.depth--;
    return { k: 'map', pos: start.pos, entries };
  }

  private parsePostfix(start: Node): Node {
    let node = start;
    let chained = false;
    while (this.cur.kind === 'Operator' || this.cur.kind === 'Bracket') {
      const t = this.cur;
      if (t.value === '.' || t.value === '?.') {
        const optional = t.value === '?.';
        this.next();
        if (optional && this.is('Bracket', '[')) {
          chained = true;
          node = this.parseIndex(node, true);
          continue;
        }
        const prop = this.cur;
        const validName =
          prop.kind === 'Identifier' ||
          (prop.kind === 'Operator' && /^[a-zA-Z_$][a-zA-Z0-9_$]*$/.test(prop.value));
        if (!validName) throw new ParseError('expected name', prop.pos);
        this.next();
        if (optional) chained = true;
        if (this.is('Bracket', '(')) {
          node = {
            k: 'method',
            pos: prop.pos,
            obj: node,
            name: prop.value,
            args: this.parseArgs(),
            optional,
          };
        } else {
          node = {
            k: 'member',
            pos: prop.pos,
            obj: node,
            prop: { k: 'str', pos: prop.pos, v: prop.value },
            optional,
          };
        }
      } else if (t.value === '[') {
        node = this.parseIndex(node, false);
      } else {
        break;
      }
    }
    return chained ? { k: 'chain', pos: start.pos, x: node } : node;
  }

  private parseIndex(obj: Node, optional: boolean): Node {
    const open = this.cur;
    this.next();
    if (this.is('Operator', ':')) {
      this.next();
      const to = this.is('Bracket', ']') ? undefined : this.parseExpression(0);
      this.expect('Bracket', ']');
      return { k: 'slice', pos: open.pos, obj, from: undefined, to };
    }
    const from = this.parseExpression(0);
    if (this.is('Operator', ':')) {
      this.next();
      const to = this.is('Bracket', ']') ? undefined : this.parseExpression(0);
      this.expect('Bracket', ']');
      return { k: 'slice', pos: open.pos, obj, from, to };
    }
    this.expect('Bracket', ']');
    return { k: 'member', pos: open.pos, obj, prop: from, optional };
  }
}

function parseNumber(t: Token): number {
  const text = t.value.replaceAll('_', '');
  let v: number;
  if (/^0[xX]/.test(text)) v = Number.parseInt(text.slice(2), 16);
  else if (/^0[oO]/.test(text)) v = Number.parseInt(text.slice(2), 8);
  else if (/^0[bB]/.test(text)) v = Number.parseInt(text.slice(2), 2);
  else v = Number(text);
  if (!Number.isFinite(v) || text.length === 0 || /^0[xXoObB]$/.test(text)) {
    const isFloat = /[.eE]/.test(text) && !/^0[xX]/.test(text);
    throw new ParseError(`invalid ${isFloat ? 'float' : 'integer'} literal: ${t.value}`, t.pos);
  }
  return v;
}

/** Returns the position of a node deeper than MAX_TREE_DEPTH, if any (iterative walk). */
function findTooDeep(root: Node): number | undefined {
  const stack: [Node, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_TREE_DEPTH) return node.pos;
    for (const child of children(node)) stack.push([child, depth + 1]);
  }
  return undefined;
}

export function children(node: Node): Node[] {
  switch (node.k) {
    case 'unary':
      return [node.x];
    case 'binary':
      return [node.l, node.r];
    case 'member':
      return [node.obj, node.prop];
    case 'slice':
      return [node.obj, ...(node.from ? [node.from] : []), ...(node.to ? [node.to] : [])];
    case 'chain':
      return [node.x];
    case 'call':
      return [...node.args];
    case 'method':
      return [node.obj, ...node.args];
    case 'cond':
      return [node.c, node.a, node.b];
    case 'array':
      return [...node.items];
    case 'map':
      return node.entries.flat();
    case 'closure':
      return [node.body];
    default:
      return [];
  }
}

// A safe interpreter for the subset of Go's text/template (plus the sprig functions) that Argo's
// notification templates use: `{{.rollout.metadata.name}}`, `{{if}}/{{else if}}/{{else}}/{{end}}`,
// `{{range $i, $c := ...}}`, `{{with}}`, variables, pipelines `x | f`, parenthesised calls, `{{- -}}` trim
// markers and comments. Parsed once into a tree, executed over plain JSON data (the Rollout as
// notifications-engine's toObjectMap gives it) with a step budget and an output cap; no eval.
//
// Go semantics kept: a missing map key is "no value" (printed `<no value>`, false in `if`, a chained field
// on it is no value too, not an error), JSON null prints `<nil>`; truth is Go's (false, 0, "", empty
// array/map, nil are false); `range` over a map visits its keys sorted; `and`/`or` short-circuit and
// return an operand; `eq` takes several right-hand operands. Sprig's `add`/`sub`/... convert with
// cast.ToInt64 (nil and non-numbers are 0), so `{{add .rollout.status.currentStepIndex 1}}` is `1` before
// the first step.
// Not kept: JSON numbers are one type here (Go decodes them as float64 and prints 1000000 as `1e+06`;
// here it prints `1000000`); no methods, `call`, `define`/`template`/`block`, or `html`/`js` escaping;
// `len` of a string counts UTF-8 bytes as Go does.

import { Buffer } from 'node:buffer';

export const MAX_TEMPLATE_SOURCE_LENGTH = 100_000;
export const MAX_TEMPLATE_OUTPUT_LENGTH = 1_000_000;
export const DEFAULT_TEMPLATE_MAX_STEPS = 200_000;
const MAX_PARSE_DEPTH = 100;

/** The absence of a value (a missing map key): Go's invalid reflect.Value, printed `<no value>`. */
const NO_VALUE: unique symbol = Symbol('no value');
type Value = unknown;

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// ---- lexing ----

type Tok =
  | { t: 'field'; path: string[]; pos: number } // .a.b ; path [] is `.`
  | { t: 'var'; name: string; path: string[]; pos: number } // $x.a
  | { t: 'ident'; name: string; pos: number }
  | { t: 'str'; v: string; pos: number }
  | { t: 'num'; v: number; pos: number }
  | { t: 'bool'; v: boolean; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'punct'; v: '(' | ')' | '|' | ':=' | '=' | ','; pos: number }
  | { t: 'fieldAfter'; path: string[]; pos: number }; // .a.b right after `)`

interface RawAction {
  readonly toks: Tok[];
  readonly pos: number;
}

type Piece = { kind: 'text'; text: string } | { kind: 'action'; action: RawAction };

function lineOf(src: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src.charCodeAt(i) === 10) line++;
  return line;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isIdentChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

function split(name: string, src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(src, pos)}: ${msg}`);
  };
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) pieces.push({ kind: 'text', text });
      break;
    }
    let j = open + 2;
    if (src[j] === '-' && isSpace(src[j + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      j += 2;
    }
    if (text) pieces.push({ kind: 'text', text });
    // Comment: {{/* ... */}}
    let k = j;
    while (isSpace(src[k] ?? '') && k < src.length) k++;
    if (src.startsWith('/*', k)) {
      const endC = src.indexOf('*/', k + 2);
      if (endC < 0) fail(open, 'unclosed comment');
      let m = endC + 2;
      while (isSpace(src[m] ?? '')) m++;
      if (src[m] === '-' && src[m + 1] === '}' && src[m + 2] === '}') {
        trimNext = true;
        i = m + 3;
      } else if (src.startsWith('}}', m)) i = m + 2;
      else fail(open, 'comment ends before closing delimiter');
      continue;
    }
    const { toks, end, trim } = lexAction(src, j, (pos, msg) => fail(pos, msg));
    pieces.push({ kind: 'action', action: { toks, pos: open } });
    trimNext = trim;
    i = end;
  }
  return pieces;
}

function lexAction(
  src: string,
  start: number,
  fail: (pos: number, msg: string) => never,
): { toks: Tok[]; end: number; trim: boolean } {
  const toks: Tok[] = [];
  let i = start;
  const readPath = (): string[] => {
    const path: string[] = [];
    while (src[i] === '.' && isIdentChar(src[i + 1] ?? '')) {
      i++;
      let s = i;
      while (i < src.length && isIdentChar(src[i]!)) i++;
      path.push(src.slice(s, i));
      s = i;
    }
    return path;
  };
  for (;;) {
    if (i >= src.length) fail(start, 'unclosed action');
    const c = src[i]!;
    if (isSpace(c)) {
      // ` -}}` trims the text after the action.
      let k = i;
      while (isSpace(src[k] ?? '')) k++;
      if (src[k] === '-' && src.startsWith('}}', k + 1)) return { toks, end: k + 3, trim: true };
      i = k;
      continue;
    }
    if (src.startsWith('}}', i)) return { toks, end: i + 2, trim: false };
    const pos = i;
    if (c === '.') {
      const afterParen =
        toks.length > 0 &&
        toks.at(-1)!.t === 'punct' &&
        (toks.at(-1) as { v: string }).v === ')' &&
        i > 0 &&
        src[i - 1] === ')';
      if (isIdentChar(src[i + 1] ?? '') && !/[0-9]/.test(src[i + 1]!)) {
        const path = readPath();
        toks.push(afterParen ? { t: 'fieldAfter', path, pos } : { t: 'field', path, pos });
      } else if (/[0-9]/.test(src[i + 1] ?? '')) {
        const m = /^\.[0-9]+(?:[eE][+-]?[0-9]+)?/.exec(src.slice(i))!;
        toks.push({ t: 'num', v: Number(m[0]), pos });
        i += m[0].length;
      } else {
        toks.push({ t: 'field', path: [], pos });
        i++;
      }
      continue;
    }
    if (c === '$') {
      i++;
      const s = i;
      while (i < src.length && isIdentChar(src[i]!)) i++;
      const name = src.slice(s, i);
      toks.push({ t: 'var', name: `$${name}`, path: readPath(), pos });
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let out = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') fail(pos, 'unterminated quoted string');
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            '"': '"',
            "'": "'",
            a: '\x07',
            b: '\b',
            f: '\f',
            v: '\v',
          };
          if (e !== undefined && map[e] !== undefined) {
            out += map[e];
            j += 2;
          } else if (e === 'u' || e === 'x') {
            const len = e === 'u' ? 4 : 2;
            const hex = src.slice(j + 2, j + 2 + len);
            if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail(pos, 'bad escape in string');
            out += String.fromCodePoint(Number.parseInt(hex, 16));
            j += 2 + len;
          } else fail(pos, 'unknown escape sequence in string');
        } else out += src[j++];
      }
      if (j >= src.length) fail(pos, 'unterminated quoted string');
      toks.push({ t: 'str', v: out, pos });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail(pos, 'unterminated raw quoted string');
      toks.push({ t: 'str', v: src.slice(i + 1, j), pos });
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9.]/.test(src[i + 1] ?? ''))) {
      const m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|[0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)/.exec(src.slice(i))!;
      const v = Number(m[0].replaceAll('_', ''));
      if (!m[0] || Number.isNaN(v)) fail(pos, `bad number syntax: "${m[0]}"`);
      toks.push({ t: 'num', v, pos });
      i += m[0].length;
      continue;
    }
    if (c === "'") {
      const m = /^'(\\.|[^'\\])'/.exec(src.slice(i));
      if (!m) fail(pos, 'bad character constant');
      const ch = m![1]!.startsWith('\\')
        ? (({ n: '\n', t: '\t', "'": "'", '\\': '\\' } as Record<string, string>)[m![1]![1]!] ?? m![1]![1]!)
        : m![1]!;
      toks.push({ t: 'num', v: ch.codePointAt(0)!, pos });
      i += m![0].length;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      toks.push({ t: 'punct', v: ':=', pos });
      i += 2;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === '=' || c === ',') {
      toks.push({ t: 'punct', v: c, pos });
      i++;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const s = i;
      while (i < src.length && isIdentChar(src[i]!)) i++;
      const word = src.slice(s, i);
      if (word === 'true' || word === 'false') toks.push({ t: 'bool', v: word === 'true', pos });
      else if (word === 'nil') toks.push({ t: 'nil', pos });
      else toks.push({ t: 'ident', name: word, pos });
      continue;
    }
    fail(pos, `unexpected "${c}" in command`);
  }
}

// ---- parsing ----

type Operand =
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'lit'; v: Value }
  | { k: 'fn'; name: string }
  | { k: 'sub'; pipe: Pipeline; path: string[] };

interface Command {
  readonly args: Operand[];
  readonly pos: number;
}

interface Pipeline {
  readonly decl: string[];
  readonly assign: boolean;
  readonly cmds: Command[];
  readonly pos: number;
}

type TNode =
  | { k: 'text'; text: string }
  | { k: 'action'; pipe: Pipeline }
  | { k: 'if' | 'with'; pipe: Pipeline; list: TNode[]; elseList: TNode[] | undefined }
  | { k: 'range'; pipe: Pipeline; list: TNode[]; elseList: TNode[] | undefined }
  | { k: 'break' | 'continue'; pos: number };

/** A compiled template: an immutable tree, reusable. */
export interface GoTemplate {
  readonly name: string;
  readonly source: string;
  readonly root: readonly TNode[];
}

const KEYWORDS = new Set([
  'if',
  'else',
  'end',
  'range',
  'with',
  'break',
  'continue',
  'define',
  'template',
  'block',
]);

class Parser {
  readonly #pieces: Piece[];
  #i = 0;
  readonly #name: string;
  readonly #src: string;
  #depth = 0;
  #rangeDepth = 0;
  constructor(name: string, src: string, pieces: Piece[]) {
    this.#name = name;
    this.#src = src;
    this.#pieces = pieces;
  }

  fail(pos: number, msg: string): never {
    throw new TemplateError(`template: ${this.#name}:${lineOf(this.#src, pos)}: ${msg}`);
  }

  /** Parses nodes until `{{end}}` / `{{else ...}}` (returned as the stopper) or the end of input. */
  list(stopAt: boolean): { nodes: TNode[]; stop?: { word: 'end' | 'else'; action: RawAction } } {
    if (++this.#depth > MAX_PARSE_DEPTH) this.fail(0, `nesting deeper than ${MAX_PARSE_DEPTH}`);
    const nodes: TNode[] = [];
    try {
      while (this.#i < this.#pieces.length) {
        const p = this.#pieces[this.#i++]!;
        if (p.kind === 'text') {
          nodes.push({ k: 'text', text: p.text });
          continue;
        }
        const a = p.action;
        const first = a.toks[0];
        if (first === undefined) this.fail(a.pos, 'missing value for command');
        const word = first.t === 'ident' && KEYWORDS.has(first.name) ? first.name : undefined;
        if (word === 'end' || word === 'else') {
          if (!stopAt) this.fail(a.pos, `unexpected {{${word}}}`);
          return { nodes, stop: { word, action: a } };
        }
        if (word === 'if' || word === 'with' || word === 'range') nodes.push(this.control(word, a));
        else if (word === 'break' || word === 'continue') {
          if (this.#rangeDepth === 0) this.fail(a.pos, `{{${word}}} outside {{range}}`);
          if (a.toks.length > 1) this.fail(a.pos, `unexpected token in {{${word}}}`);
          nodes.push({ k: word, pos: a.pos });
        } else if (word !== undefined) this.fail(a.pos, `{{${word}}} is not supported`);
        else nodes.push({ k: 'action', pipe: this.pipeline(a.toks, a.pos, true) });
      }
      if (stopAt) this.fail(this.#src.length, 'unexpected EOF');
      return { nodes };
    } finally {
      this.#depth--;
    }
  }

  control(word: 'if' | 'with' | 'range', a: RawAction): TNode {
    const pipe = this.pipeline(a.toks.slice(1), a.pos, true, word === 'range');
    if (word === 'range') this.#rangeDepth++;
    const body = this.list(true);
    if (word === 'range') this.#rangeDepth--;
    let elseList: TNode[] | undefined;
    if (body.stop?.word === 'else') {
      const rest = body.stop.action.toks.slice(1);
      if (rest.length > 0) {
        // `{{else if x}}` / `{{else with x}}`: a nested control that shares our {{end}}.
        const head = rest[0]!;
        if (head.t !== 'ident' || (head.name !== 'if' && head.name !== 'with') || word === 'range')
          this.fail(body.stop.action.pos, 'unexpected token in {{else}}');
        elseList = [this.control(head.name as 'if' | 'with', { toks: rest, pos: body.stop.action.pos })];
        return { k: word, pipe, list: body.nodes, elseList };
      }
      const tail = this.list(true);
      if (tail.stop?.word !== 'end') this.fail(tail.stop?.action.pos ?? a.pos, 'expected {{end}}');
      elseList = tail.nodes;
    }
    return { k: word, pipe, list: body.nodes, elseList };
  }

  pipeline(toks: Tok[], pos: number, allowDecl: boolean, isRange = false): Pipeline {
    let rest = toks;
    const decl: string[] = [];
    let assign = false;
    // `$x :=`, `$x =`, `$i, $c :=` (two only in range)
    const declEnd = rest.findIndex((t) => t.t === 'punct' && (t.v === ':=' || t.v === '='));
    if (
      allowDecl &&
      declEnd > 0 &&
      rest.slice(0, declEnd).every((t) => t.t === 'var' || (t.t === 'punct' && t.v === ','))
    ) {
      const names = rest.slice(0, declEnd).filter((t): t is Extract<Tok, { t: 'var' }> => t.t === 'var');
      if (names.length > (isRange ? 2 : 1)) this.fail(pos, 'too many declarations');
      if (names.some((n) => n.path.length > 0)) this.fail(pos, 'unexpected field in declaration');
      decl.push(...names.map((n) => n.name));
      assign = (rest[declEnd] as { v: string }).v === '=';
      rest = rest.slice(declEnd + 1);
    }
    const cmds = this.commands(rest, pos);
    if (cmds.length === 0) this.fail(pos, 'missing value for command');
    return { decl, assign, cmds, pos };
  }

  commands(toks: Tok[], pos: number): Command[] {
    const cmds: Command[] = [];
    let args: Operand[] = [];
    let i = 0;
    let cmdPos = toks[0]?.pos ?? pos;
    const push = (): void => {
      if (args.length === 0) this.fail(cmdPos, 'missing value for command');
      cmds.push({ args, pos: cmdPos });
      args = [];
    };
    while (i < toks.length) {
      const t = toks[i]!;
      if (t.t === 'punct' && t.v === '|') {
        push();
        i++;
        cmdPos = toks[i]?.pos ?? pos;
        if (i >= toks.length) this.fail(t.pos, 'missing command after |');
        continue;
      }
      if (t.t === 'punct' && t.v === '(') {
        let depth = 1;
        let j = i + 1;
        while (j < toks.length && depth > 0) {
          const u = toks[j]!;
          if (u.t === 'punct' && u.v === '(') depth++;
          else if (u.t === 'punct' && u.v === ')') depth--;
          j++;
        }
        if (depth !== 0) this.fail(t.pos, 'unclosed left paren');
        if (++this.#depth > MAX_PARSE_DEPTH) this.fail(t.pos, `nesting deeper than ${MAX_PARSE_DEPTH}`);
        const inner = this.pipeline(toks.slice(i + 1, j - 1), t.pos, false);
        this.#depth--;
        let path: string[] = [];
        if (toks[j]?.t === 'fieldAfter') {
          path = (toks[j] as { path: string[] }).path;
          j++;
        }
        args.push({ k: 'sub', pipe: inner, path });
        i = j;
        continue;
      }
      args.push(this.operand(t));
      i++;
    }
    if (args.length > 0 || cmds.length > 0) push();
    return cmds;
  }

  operand(t: Tok): Operand {
    switch (t.t) {
      case 'field':
      case 'fieldAfter':
        return { k: 'field', path: t.path };
      case 'var':
        return { k: 'var', name: t.name, path: t.path };
      case 'str':
      case 'num':
      case 'bool':
        return { k: 'lit', v: t.v };
      case 'nil':
        return { k: 'lit', v: null };
      case 'ident':
        if (KEYWORDS.has(t.name)) this.fail(t.pos, `unexpected keyword ${t.name}`);
        if (!Object.hasOwn(FUNCS, t.name)) this.fail(t.pos, `function "${t.name}" not defined`);
        return { k: 'fn', name: t.name };
      default:
        return this.fail(t.pos, `unexpected "${t.v}" in operand`);
    }
  }
}

/** Parses a template; errors name the template and line as Go's do (`template: name:3: ...`). */
export function parseGoTemplate(
  name: string,
  source: string,
): { ok: true; template: GoTemplate } | { ok: false; error: string } {
  try {
    if (source.length > MAX_TEMPLATE_SOURCE_LENGTH)
      throw new TemplateError(`template: ${name}: longer than ${MAX_TEMPLATE_SOURCE_LENGTH} characters`);
    const parser = new Parser(name, source, split(name, source));
    return { ok: true, template: { name, source, root: parser.list(false).nodes } };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

// ---- execution ----

export interface ExecuteOptions {
  readonly nowMs?: number;
  readonly maxSteps?: number;
}

class BreakSignal {
  readonly kind: 'break' | 'continue';
  constructor(kind: 'break' | 'continue') {
    this.kind = kind;
  }
}

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof GoTime);
}

/** A time value (sprig's `now`), formatted by `date`. */
class GoTime {
  readonly ms: number;
  constructor(ms: number) {
    this.ms = ms;
  }
}

function truth(v: Value): boolean {
  if (v === NO_VALUE || v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
    const [m, e] = n.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(n);
}

/** fmt's %v. */
export function formatGoValue(v: Value, depth = 0): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (depth > 20) return '...';
  if (v instanceof GoTime) return formatDate('2006-01-02 15:04:05.999999999 -0700 MST', v.ms);
  if (Array.isArray(v)) return `[${v.map((x) => formatGoValue(x, depth + 1)).join(' ')}]`;
  if (isMap(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${formatGoValue(v[k], depth + 1)}`)
      .join(' ')}]`;
  return String(v);
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Go's reference-time layouts (UTC only): 2006 01 02 15 04 05 Jan January Mon Monday MST Z07:00 .000 ... */
export function formatDate(layout: string, ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const frac = String(d.getUTCMilliseconds()).padStart(3, '0');
  const table: [string, () => string][] = [
    ['January', () => MONTHS[d.getUTCMonth()]!],
    ['Monday', () => DAYS[d.getUTCDay()]!],
    ['2006', () => String(d.getUTCFullYear())],
    ['Z07:00', () => 'Z'],
    ['-07:00', () => '+00:00'],
    ['-0700', () => '+0000'],
    ['Jan', () => MONTHS[d.getUTCMonth()]!.slice(0, 3)],
    ['Mon', () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ['MST', () => 'UTC'],
    ['.999999999', () => (frac.replace(/0+$/, '') ? `.${frac.replace(/0+$/, '')}` : '')],
    ['.000000000', () => `.${frac}000000`],
    ['.000000', () => `.${frac}000`],
    ['.000', () => `.${frac}`],
    ['01', () => p2(d.getUTCMonth() + 1)],
    ['02', () => p2(d.getUTCDate())],
    ['15', () => p2(d.getUTCHours())],
    ['03', () => p2(d.getUTCHours() % 12 || 12)],
    ['04', () => p2(d.getUTCMinutes())],
    ['05', () => p2(d.getUTCSeconds())],
    ['06', () => p2(d.getUTCFullYear() % 100)],
    ['PM', () => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
  ];
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [token, fn] of table) {
      if (layout.startsWith(token, i)) {
        out += fn();
        i += token.length;
        continue outer;
      }
    }
    out += layout[i++];
  }
  return out;
}

function toInt64(v: Value): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? Math.trunc(n) : 0;
  }
  return 0;
}

function toFloat(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const n = Number(v.trim());
    return Number.isFinite(n) ? n : 0;
  }
  return 0;
}

/** sprig's toString / strval. */
function strval(v: Value): string {
  return v === NO_VALUE || v === null || v === undefined ? '' : formatGoValue(v);
}

function jsonOf(v: Value, indent?: number): string {
  const replacer = (_k: string, x: unknown): unknown =>
    x instanceof GoTime ? new Date(x.ms).toISOString() : x;
  return JSON.stringify(v === NO_VALUE ? null : v, replacer, indent) ?? 'null';
}

/** Go's fmt.Sprintf for the verbs templates use: %s %v %d %f %.Nf %q %t %x %X %%. */
function sprintf(format: string, args: readonly Value[]): string {
  let argi = 0;
  return format.replace(
    /%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/g,
    (whole, flags: string, width: string | undefined, prec: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      if (argi >= args.length) return `%!${verb}(MISSING)`;
      const a = args[argi++];
      let s: string;
      switch (verb) {
        case 'v':
        case 's':
          s = formatGoValue(a);
          break;
        case 'd':
          s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${formatGoValue(a)})`;
          break;
        case 'f':
        case 'F':
          s =
            typeof a === 'number'
              ? a.toFixed(prec !== undefined ? Number(prec) : 6)
              : `%!f(${formatGoValue(a)})`;
          break;
        case 'g':
          s = typeof a === 'number' ? formatNumber(a) : `%!g(${formatGoValue(a)})`;
          break;
        case 'q':
          s = JSON.stringify(formatGoValue(a));
          break;
        case 't':
          s = typeof a === 'boolean' ? String(a) : `%!t(${formatGoValue(a)})`;
          break;
        case 'x':
        case 'X': {
          s =
            typeof a === 'number'
              ? Math.trunc(a).toString(16)
              : Buffer.from(formatGoValue(a)).toString('hex');
          if (verb === 'X') s = s.toUpperCase();
          break;
        }
        default:
          return whole;
      }
      if (width !== undefined && s.length < Number(width))
        s = flags.includes('-')
          ? s.padEnd(Number(width))
          : s.padStart(Number(width), flags.includes('0') ? '0' : ' ');
      return s;
    },
  );
}

function compare(name: string, a: Value, b: Value): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`error calling ${name}: incompatible types for comparison`);
}

function basicEq(a: Value, b: Value): boolean {
  const na = a === NO_VALUE || a === undefined ? null : a;
  const nb = b === NO_VALUE || b === undefined ? null : b;
  if (na === null || nb === null) return na === nb;
  if (typeof na === 'object' || typeof nb === 'object')
    throw new TemplateError('error calling eq: non-comparable type');
  if (typeof na !== typeof nb) throw new TemplateError('error calling eq: incompatible types for comparison');
  return na === nb;
}

function lengthOf(v: Value): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new TemplateError(
    `error calling len: len of ${v === NO_VALUE || v === null || v === undefined ? 'nil pointer' : `type ${typeof v}`}`,
  );
}

type Fn = (args: Value[], ctx: ExecContext) => Value;

interface ExecContext {
  readonly nowMs: number;
}

const need = (name: string, args: Value[], n: number): void => {
  if (args.length !== n)
    throw new TemplateError(`wrong number of args for ${name}: want ${n} got ${args.length}`);
};

function fixed(name: string, n: number, fn: Fn): Fn {
  return (args, ctx) => {
    need(name, args, n);
    return fn(args, ctx);
  };
}

/** Go's builtins and the sprig functions Argo's templates use. `and`/`or` are special-cased (lazy). */
const FUNCS: Readonly<Record<string, Fn>> = {
  and: () => undefined,
  or: () => undefined,
  not: fixed('not', 1, (a) => !truth(a[0])),
  len: fixed('len', 1, (a) => lengthOf(a[0])),
  index: (a) => {
    if (a.length < 1) throw new TemplateError('wrong number of args for index');
    let v = a[0];
    for (const k of a.slice(1)) {
      if (Array.isArray(v)) {
        if (typeof k !== 'number' || k < 0 || k >= v.length)
          throw new TemplateError(`error calling index: index out of range: ${formatGoValue(k)}`);
        v = v[k];
      } else if (isMap(v)) v = Object.hasOwn(v, String(k)) ? v[String(k)] : NO_VALUE;
      else if (v === NO_VALUE || v === null)
        throw new TemplateError('error calling index: index of untyped nil');
      else throw new TemplateError(`error calling index: can't index item of type ${typeof v}`);
    }
    return v;
  },
  print: (a) =>
    a
      .map(
        (x, i) =>
          (i > 0 && typeof x !== 'string' && typeof a[i - 1] !== 'string' ? ' ' : '') + formatGoValue(x),
      )
      .join(''),
  println: (a) => `${a.map((x) => formatGoValue(x)).join(' ')}\n`,
  printf: (a) => {
    if (typeof a[0] !== 'string') throw new TemplateError('error calling printf: format is not a string');
    return sprintf(a[0], a.slice(1));
  },
  urlquery: (a) => encodeURIComponent(a.map((x) => formatGoValue(x)).join('')).replaceAll('%20', '+'),
  eq: (a) => {
    if (a.length < 2) throw new TemplateError('missing argument for comparison');
    return a.slice(1).some((b) => basicEq(a[0], b));
  },
  ne: fixed('ne', 2, (a) => !basicEq(a[0], a[1])),
  lt: fixed('lt', 2, (a) => compare('lt', a[0], a[1]) < 0),
  le: fixed('le', 2, (a) => compare('le', a[0], a[1]) <= 0),
  gt: fixed('gt', 2, (a) => compare('gt', a[0], a[1]) > 0),
  ge: fixed('ge', 2, (a) => compare('ge', a[0], a[1]) >= 0),
  // sprig
  add: (a) => a.reduce<number>((s, x) => s + toInt64(x), 0),
  add1: fixed('add1', 1, (a) => toInt64(a[0]) + 1),
  sub: fixed('sub', 2, (a) => toInt64(a[0]) - toInt64(a[1])),
  mul: (a) => a.reduce<number>((s, x) => s * toInt64(x), 1),
  div: (a) => {
    need('div', a, 2);
    const d = toInt64(a[1]);
    if (d === 0) throw new TemplateError('error calling div: integer divide by zero');
    return Math.trunc(toInt64(a[0]) / d);
  },
  mod: (a) => {
    need('mod', a, 2);
    const d = toInt64(a[1]);
    if (d === 0) throw new TemplateError('error calling mod: integer divide by zero');
    return toInt64(a[0]) % d;
  },
  max: (a) => Math.max(...a.map(toInt64)),
  min: (a) => Math.min(...a.map(toInt64)),
  addf: (a) => a.reduce<number>((s, x) => s + toFloat(x), 0),
  int: fixed('int', 1, (a) => toInt64(a[0])),
  int64: fixed('int64', 1, (a) => toInt64(a[0])),
  float64: fixed('float64', 1, (a) => toFloat(a[0])),
  atoi: fixed('atoi', 1, (a) => toInt64(a[0])),
  toString: fixed('toString', 1, (a) => strval(a[0])),
  upper: fixed('upper', 1, (a) => strval(a[0]).toUpperCase()),
  lower: fixed('lower', 1, (a) => strval(a[0]).toLowerCase()),
  title: fixed('title', 1, (a) =>
    strval(a[0]).replace(/(^|\s)(\S)/g, (_m, s: string, c: string) => s + c.toUpperCase()),
  ),
  trim: fixed('trim', 1, (a) => strval(a[0]).trim()),
  trimPrefix: (a) => {
    need('trimPrefix', a, 2);
    const [p, s] = [strval(a[0]), strval(a[1])];
    return p && s.startsWith(p) ? s.slice(p.length) : s;
  },
  trimSuffix: (a) => {
    need('trimSuffix', a, 2);
    const [p, s] = [strval(a[0]), strval(a[1])];
    return p && s.endsWith(p) ? s.slice(0, -p.length) : s;
  },
  replace: fixed('replace', 3, (a) => strval(a[2]).replaceAll(strval(a[0]), strval(a[1]))),
  contains: fixed('contains', 2, (a) => strval(a[1]).includes(strval(a[0]))),
  hasPrefix: fixed('hasPrefix', 2, (a) => strval(a[1]).startsWith(strval(a[0]))),
  hasSuffix: fixed('hasSuffix', 2, (a) => strval(a[1]).endsWith(strval(a[0]))),
  trunc: (a) => {
    need('trunc', a, 2);
    const n = toInt64(a[0]);
    const s = strval(a[1]);
    return n >= 0 ? s.slice(0, n) : s.slice(Math.max(0, s.length + n));
  },
  repeat: (a) => {
    need('repeat', a, 2);
    const n = Math.max(0, toInt64(a[0]));
    const s = strval(a[1]);
    if (s.length * n > MAX_TEMPLATE_OUTPUT_LENGTH)
      throw new TemplateError('error calling repeat: result too long');
    return s.repeat(n);
  },
  quote: (a) =>
    a
      .filter((x) => x !== NO_VALUE && x !== null)
      .map((x) => JSON.stringify(strval(x)))
      .join(' '),
  squote: (a) =>
    a
      .filter((x) => x !== NO_VALUE && x !== null)
      .map((x) => `'${strval(x)}'`)
      .join(' '),
  default: (a) => {
    need('default', a, 2);
    return truth(a[1]) ? a[1] : a[0];
  },
  empty: fixed('empty', 1, (a) => !truth(a[0])),
  coalesce: (a) => a.find((x) => truth(x)) ?? null,
  ternary: fixed('ternary', 3, (a) => (truth(a[2]) ? a[0] : a[1])),
  toJson: fixed('toJson', 1, (a) => jsonOf(a[0])),
  toPrettyJson: fixed('toPrettyJson', 1, (a) => jsonOf(a[0], 2)),
  join: (a) => {
    need('join', a, 2);
    const list = a[1];
    return Array.isArray(list) ? list.map(strval).join(strval(a[0])) : strval(list);
  },
  splitList: fixed('splitList', 2, (a) => strval(a[1]).split(strval(a[0]))),
  list: (a) => [...a],
  dict: (a) => {
    const out: Record<string, Value> = Object.create(null);
    for (let i = 0; i + 1 < a.length; i += 2) out[strval(a[i])] = a[i + 1];
    return out;
  },
  first: fixed('first', 1, (a) => (Array.isArray(a[0]) && a[0].length > 0 ? a[0][0] : null)),
  last: fixed('last', 1, (a) => (Array.isArray(a[0]) && a[0].length > 0 ? a[0].at(-1) : null)),
  b64enc: fixed('b64enc', 1, (a) => Buffer.from(strval(a[0])).toString('base64')),
  b64dec: fixed('b64dec', 1, (a) => Buffer.from(strval(a[0]), 'base64').toString('utf8')),
  now: (_a, ctx) => new GoTime(ctx.nowMs),
  date: (a) => {
    need('date', a, 2);
    const t = a[1];
    const ms =
      t instanceof GoTime
        ? t.ms
        : typeof t === 'string'
          ? Date.parse(t)
          : typeof t === 'number'
            ? t * 1000
            : Number.NaN;
    if (Number.isNaN(ms)) throw new TemplateError('error calling date: not a time');
    return formatDate(strval(a[0]), ms);
  },
  unixEpoch: (a) => {
    need('unixEpoch', a, 1);
    const t = a[0];
    return t instanceof GoTime ? String(Math.floor(t.ms / 1000)) : '0';
  },
};

/** Names of the functions templates may call (Go's builtins and the sprig subset). */
export const TEMPLATE_FUNCTIONS: readonly string[] = Object.keys(FUNCS).sort();

class Executor {
  readonly #t: GoTemplate;
  readonly #ctx: ExecContext;
  readonly #maxSteps: number;
  #steps = 0;
  #out = '';
  #vars: { name: string; value: Value }[] = [];

  constructor(t: GoTemplate, ctx: ExecContext, maxSteps: number) {
    this.#t = t;
    this.#ctx = ctx;
    this.#maxSteps = maxSteps;
  }

  fail(msg: string, pos?: number): never {
    const where = pos !== undefined ? `${this.#t.name}:${lineOf(this.#t.source, pos)}` : this.#t.name;
    throw new TemplateError(`template: ${where}: executing "${this.#t.name}": ${msg}`);
  }

  step(n = 1): void {
    this.#steps += n;
    if (this.#steps > this.#maxSteps) this.fail(`exceeded ${this.#maxSteps} steps`);
  }

  run(data: Value): string {
    this.#vars.push({ name: '$', value: data });
    this.list(this.#t.root, data);
    return this.#out;
  }

  write(s: string): void {
    if (this.#out.length + s.length > MAX_TEMPLATE_OUTPUT_LENGTH)
      this.fail(`output longer than ${MAX_TEMPLATE_OUTPUT_LENGTH} characters`);
    this.#out += s;
  }

  list(nodes: readonly TNode[], dot: Value): void {
    for (const n of nodes) this.node(n, dot);
  }

  node(n: TNode, dot: Value): void {
    this.step();
    switch (n.k) {
      case 'text':
        this.write(n.text);
        return;
      case 'action': {
        const v = this.pipeline(n.pipe, dot);
        if (n.pipe.decl.length === 0) this.write(formatGoValue(v));
        return;
      }
      case 'if':
      case 'with': {
        const mark = this.#vars.length;
        const v = this.pipeline(n.pipe, dot);
        try {
          if (truth(v)) this.list(n.list, n.k === 'with' ? v : dot);
          else if (n.elseList) this.list(n.elseList, dot);
        } finally {
          this.#vars.length = mark;
        }
        return;
      }
      case 'range':
        this.range(n, dot);
        return;
      case 'break':
      case 'continue':
        throw new BreakSignal(n.k);
    }
  }

  range(n: Extract<TNode, { k: 'range' }>, dot: Value): void {
    const mark = this.#vars.length;
    const pipe: Pipeline = { ...n.pipe, decl: [] };
    const v = this.pipeline(pipe, dot);
    let entries: [Value, Value][];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (isMap(v))
      entries = Object.keys(v)
        .sort()
        .map((k) => [k, v[k]]);
    else if (v === NO_VALUE || v === null) entries = [];
    else if (typeof v === 'number' && Number.isInteger(v))
      entries = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
    else this.fail(`range can't iterate over ${formatGoValue(v)}`, n.pipe.pos);
    try {
      if (entries.length === 0) {
        if (n.elseList) this.list(n.elseList, dot);
        return;
      }
      for (const [k, x] of entries) {
        this.step();
        this.#vars.length = mark;
        const d = n.pipe.decl;
        if (d.length === 1) this.#vars.push({ name: d[0]!, value: x });
        else if (d.length === 2) this.#vars.push({ name: d[0]!, value: k }, { name: d[1]!, value: x });
        try {
          this.list(n.list, x);
        } catch (err) {
          if (!(err instanceof BreakSignal)) throw err;
          if (err.kind === 'break') break;
        }
      }
    } finally {
      this.#vars.length = mark;
    }
  }

  pipeline(p: Pipeline, dot: Value): Value {
    let v: Value = NO_VALUE;
    let piped = false;
    for (const c of p.cmds) {
      v = this.command(c, dot, piped ? [v] : []);
      piped = true;
    }
    if (p.decl.length > 0) {
      const name = p.decl[0]!;
      if (p.assign) {
        const slot = this.#vars.findLast((x) => x.name === name);
        if (!slot) this.fail(`undefined variable: ${name}`, p.pos);
        slot.value = v;
      } else this.#vars.push({ name, value: v });
    }
    return v;
  }

  command(c: Command, dot: Value, final: Value[]): Value {
    this.step();
    const [head, ...rest] = c.args;
    if (head!.k === 'fn') {
      const name = head!.name;
      if (name === 'and' || name === 'or') {
        const ops = [...rest.map((o) => () => this.operand(o, dot)), ...final.map((f) => () => f)];
        if (ops.length === 0) this.fail(`wrong number of args for ${name}: want at least 1 got 0`, c.pos);
        let last: Value = NO_VALUE;
        for (const op of ops) {
          last = op();
          if (name === 'and' ? !truth(last) : truth(last)) return last;
        }
        return last;
      }
      const args = [...rest.map((o) => this.operand(o, dot)), ...final];
      try {
        return FUNCS[name]!(args, this.#ctx);
      } catch (err) {
        if (err instanceof TemplateError)
          this.fail(
            err.message.startsWith('error calling') ? err.message : `error calling ${name}: ${err.message}`,
            c.pos,
          );
        throw err;
      }
    }
    if (rest.length > 0 || final.length > 0)
      this.fail(`can't give argument to non-function ${describe(head!)}`, c.pos);
    return this.operand(head!, dot);
  }

  operand(o: Operand, dot: Value): Value {
    switch (o.k) {
      case 'lit':
        return o.v;
      case 'field':
        return this.walk(dot, o.path);
      case 'var': {
        const slot = this.#vars.findLast((x) => x.name === o.name);
        if (!slot) return this.fail(`undefined variable: ${o.name}`);
        return this.walk(slot.value, o.path);
      }
      case 'sub':
        return this.walk(this.pipeline(o.pipe, dot), o.path);
      case 'fn':
        return this.command({ args: [o], pos: 0 }, dot, []);
    }
  }

  walk(v: Value, path: readonly string[]): Value {
    let cur = v;
    for (const key of path) {
      this.step();
      if (cur === NO_VALUE) return NO_VALUE;
      if (isMap(cur)) cur = Object.hasOwn(cur, key) ? cur[key] : NO_VALUE;
      else if (cur === null || cur === undefined) this.fail(`nil pointer evaluating interface {}.${key}`);
      else
        this.fail(
          `can't evaluate field ${key} in type ${Array.isArray(cur) ? '[]interface {}' : typeof cur}`,
        );
    }
    return cur;
  }
}

function describe(o: Operand): string {
  switch (o.k) {
    case 'field':
      return `.${o.path.join('.')}`;
    case 'var':
      return [o.name, ...o.path].join('.');
    case 'lit':
      return formatGoValue(o.v);
    default:
      return '(...)';
  }
}

/** Executes a parsed template over `data`; an error (as Go's message) instead of a throw. */
export function executeGoTemplate(
  t: GoTemplate,
  data: unknown,
  options: ExecuteOptions = {},
): { ok: true; text: string } | { ok: false; error: string } {
  const exec = new Executor(
    t,
    { nowMs: options.nowMs ?? Date.now() },
    options.maxSteps ?? DEFAULT_TEMPLATE_MAX_STEPS,
  );
  try {
    return { ok: true, text: exec.run(data) };
  } catch (err) {
    if (err instanceof TemplateError) return { ok: false, error: err.message };
    if (err instanceof RangeError) return { ok: false, error: `template: ${t.name}: ${err.message}` };
    throw err;
  }
}

/** Parse and execute in one go. */
export function renderGoTemplate(
  name: string,
  source: string,
  data: unknown,
  options: ExecuteOptions = {},
): { ok: true; text: string } | { ok: false; error: string } {
  const parsed = parseGoTemplate(name, source);
  return parsed.ok ? executeGoTemplate(parsed.template, data, options) : parsed;
}

// Tokenizer for the expr-lang syntax (github.com/expr-lang/expr v1.17 parser/lexer): numbers with
// `_` separators and 0x/0o/0b prefixes, '...' "..." and `raw` strings with Go escapes, `//` and `/* */`
// comments, word operators (not, in, and, or, matches, contains, startsWith, endsWith).

export type TokenKind = 'Identifier' | 'Number' | 'String' | 'Operator' | 'Bracket' | 'EOF';

export interface Token {
  readonly kind: TokenKind;
  /** Source text for operators/brackets/identifiers/numbers; the unescaped value for strings. */
  readonly value: string;
  readonly pos: number;
}

export type LexResult = { ok: true; tokens: Token[] } | { ok: false; message: string; position: number };

const WORD_OPERATORS = new Set(['not', 'in', 'and', 'or', 'matches', 'contains', 'startsWith', 'endsWith']);

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}

/** A lexing or parsing failure at a source position; thrown inside, returned as a result at the entry. */
export class ParseError {
  readonly message: string;
  readonly position: number;
  constructor(message: string, position: number) {
    this.message = message;
    this.position = position;
  }
}

/** Go's %U formatting of a character, e.g. `U+0040 '@'`. */
function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

export function tokenize(src: string): LexResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = src.length;
  try {
    while (i < n) {
      const c = src[i]!;
      if (isSpace(c)) {
        i++;
        continue;
      }
      const start = i;
      if (c === '/' && src[i + 1] === '/') {
        while (i < n && src[i] !== '\n') i++;
        continue;
      }
      if (c === '/' && src[i + 1] === '*') {
        const end = src.indexOf('*/', i + 2);
        if (end < 0) throw new ParseError('unclosed comment', start);
        i = end + 2;
        continue;
      }
      if (c === '"' || c === "'") {
        const [value, next] = scanQuoted(src, i, c);
        tokens.push({ kind: 'String', value, pos: start });
        i = next;
        continue;
      }
      if (c === '`') {
        const end = src.indexOf('`', i + 1);
        if (end < 0) throw new ParseError('literal not terminated', start);
        tokens.push({ kind: 'String', value: src.slice(i + 1, end).replaceAll('\r', ''), pos: start });
        i = end + 1;
        continue;
      }
      if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
        i = scanNumber(src, i);
        tokens.push({ kind: 'Number', value: src.slice(start, i), pos: start });
        continue;
      }
      if (isIdentStart(c)) {
        while (i < n && isIdentPart(src[i]!)) i++;
        const word = src.slice(start, i);
        tokens.push({ kind: WORD_OPERATORS.has(word) ? 'Operator' : 'Identifier', value: word, pos: start });
        continue;
      }
      if (c === '(' || c === ')' || c === '[' || c === ']' || c === '{' || c === '}') {
        tokens.push({ kind: 'Bracket', value: c, pos: start });
        i++;
        continue;
      }
      const two = src.slice(i, i + 2);
      if (
        two === '==' ||
        two === '!=' ||
        two === '<=' ||
        two === '>=' ||
        two === '&&' ||
        two === '||' ||
        two === '**' ||
        two === '??' ||
        two === '?.' ||
        two === '..'
      ) {
        tokens.push({ kind: 'Operator', value: two, pos: start });
        i += 2;
        continue;
      }
      if ('#,:%+-^?|.!<>*/;=&'.includes(c)) {
        tokens.push({ kind: 'Operator', value: c, pos: start });
        i++;
        continue;
      }
      throw new ParseError(
        `unrecognized character: ${describeChar(String.fromCodePoint(src.codePointAt(i) ?? 0))}`,
        start,
      );
    }
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, message: err.message, position: err.position };
    throw err;
  }
  tokens.push({ kind: 'EOF', value: '', pos: n });
  return { ok: true, tokens };
}

function scanNumber(src: string, start: number): number {
  let i = start;
  let digits = /[0-9_]/;
  if (src[i] === '0' && /[xXoObB]/.test(src[i + 1] ?? '')) {
    const p = src[i + 1]!.toLowerCase();
    digits = p === 'x' ? /[0-9a-fA-F_]/ : p === 'o' ? /[0-7_]/ : /[01_]/;
    i += 2;
    while (i < src.length && digits.test(src[i]!)) i++;
  } else {
    while (i < src.length && digits.test(src[i]!)) i++;
    // `1..2` is a range, not the float `1.` followed by `.2`.
    if (src[i] === '.' && src[i + 1] !== '.') {
      i++;
      while (i < src.length && digits.test(src[i]!)) i++;
    }
    if (src[i] === 'e' || src[i] === 'E') {
      i++;
      if (src[i] === '+' || src[i] === '-') i++;
      while (i < src.length && digits.test(src[i]!)) i++;
    }
  }
  if (i < src.length && isIdentPart(src[i]!)) {
    throw new ParseError(`bad number syntax: ${JSON.stringify(src.slice(start, i + 1))}`, start);
  }
  return i;
}

/** Scans a '...' or "..." literal with Go escapes; returns the value and the index after the quote. */
function scanQuoted(src: string, start: number, quote: string): [string, number] {
  let i = start + 1;
  let out = '';
  while (true) {
    if (i >= src.length) throw new ParseError('literal not terminated', start);
    const c = src[i]!;
    if (c === quote) return [out, i + 1];
    if (c === '\n') throw new ParseError('literal not terminated', start);
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    i += 2;
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\x07';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
      case '"':
      case "'":
        out += e;
        break;
      case 'x':
      case 'u':
      case 'U': {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = src.slice(i, i + len);
        if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex))
          throw new ParseError('invalid char escape', i - 2);
        const code = Number.parseInt(hex, 16);
        if (code > 0x10ffff) throw new ParseError('invalid char escape', i - 2);
        out += String.fromCodePoint(code);
        i += len;
        break;
      }
      default: {
        if (e !== undefined && e >= '0' && e <= '7') {
          const oct = src.slice(i - 1, i + 2);
          if (!/^[0-7]{3}$/.test(oct)) throw new ParseError('invalid char escape', i - 2);
          out += String.fromCharCode(Number.parseInt(oct, 8));
          i += 2;
          break;
        }
        throw new ParseError('invalid char escape', i - 2);
      }
    }
  }
}

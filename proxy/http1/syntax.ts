// Character classes of RFC 9110 section 5.6 and RFC 9112, as lookup tables over byte values.
// The framer validates every byte of a message head against these, so they must be O(1).

function table(pred: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = pred(c) ? 1 : 0;
  return t;
}

const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~";

/** tchar (RFC 9110 5.6.2): the characters of a token such as a method or a field name. */
export const TCHAR = table(
  (c) =>
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    TCHAR_SYMBOLS.includes(String.fromCharCode(c)),
);

/** field-vchar / SP / HTAB / obs-text (RFC 9110 5.5): allowed inside a field value. No CR, LF or NUL. */
export const FIELD_VALUE_CHAR = table((c) => c === 0x09 || (c >= 0x20 && c !== 0x7f));

/** Characters allowed in a request-target: visible ASCII only (RFC 9112 3.2; no spaces, no controls). */
export const TARGET_CHAR = table((c) => c > 0x20 && c < 0x7f);

/** Hexadecimal digit values, or 255. */
export const HEX_VALUE = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let c = 0; c < 10; c++) t[0x30 + c] = c;
  for (let c = 0; c < 6; c++) {
    t[0x41 + c] = 10 + c;
    t[0x61 + c] = 10 + c;
  }
  return t;
})();

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;

/** True when every character of s[start, end) is a tchar. */
export function isToken(s: string, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** Splits a comma-separated header list into lower-cased trimmed tokens (Connection, Transfer-Encoding). */
export function splitTokenList(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const t = part.trim().toLowerCase();
    if (t.length > 0) out.push(t);
  }
  return out;
}

// Kubernetes resource.Quantity as Go's client decodes and re-encodes it (k8s.io/apimachinery
// pkg/api/resource: ParseQuantity, then MarshalJSON), so the pod template hash sees "0.5" as "500m" and
// "1024Mi" as "1Gi" exactly like Argo Rollouts does.
//
// The value is kept exact as unscaled × 10^exp10 (bigint), which covers both of Go's representations
// (int64Amount and inf.Dec): the canonical string depends only on the value and the format, except that Go
// re-emits the input verbatim when it was already "canonical" by its own quick test (so "+1", "0100m" and
// "1E3" survive as written), which is reproduced here. Parse errors return undefined: Go's decoder rejects
// the whole object in that case.

export type QuantityFormat = 'DecimalExponent' | 'BinarySI' | 'DecimalSI';

export interface Quantity {
  /** value = unscaled × 10^exp10, exactly. */
  unscaled: bigint;
  exp10: number;
  format: QuantityFormat;
  /** The (trimmed) input, when Go keeps it as the marshalled form. */
  verbatim?: string;
}

const MAX_INT64 = (1n << 63n) - 1n;
/** Go's maxInt64Factors: decimal digits that always fit an int64. */
const MAX_INT64_FACTORS = 18;
const NANO = -9;

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const BINARY_SUFFIXES: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_SUFFIX_BY_EXPONENT = new Map(Object.entries(DECIMAL_SUFFIXES).map(([s, e]) => [e, s]));
const BINARY_SUFFIX_BY_EXPONENT = new Map(Object.entries(BINARY_SUFFIXES).map(([s, e]) => [e, s]));
const SUFFIX_CHARS = 'eEinumkKMGTP';

const isDigit = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '9';

// Go's unicode.IsSpace set (strings.TrimSpace); JavaScript's trim() differs (U+FEFF, U+0085).
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM_RE = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');

interface QuantityParts {
  positive: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

/** Go's parseQuantityString, byte for byte (including its leniencies: ".", "1.", "Gi" parse). */
function parseQuantityString(str: string): QuantityParts | undefined {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (pos < end) {
    if (str[0] === '-') {
      positive = false;
      pos++;
    } else if (str[0] === '+') {
      pos++;
    }
  }
  // leading zeros
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: '0', num: '0', denom: '', suffix: '' };
    if (str[i] !== '0') break;
    pos++;
  }
  let num: string;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value: str, num: str.slice(pos), denom: '', suffix: '' };
    if (!isDigit(str[i])) {
      num = str.slice(pos, i);
      pos = i;
      break;
    }
  }
  if (num.length === 0) num = '0';
  let denom = '';
  if (pos < end && str[pos] === '.') {
    pos++;
    for (let i = pos; ; i++) {
      if (i >= end) return { positive, value: str, num, denom: str.slice(pos), suffix: '' };
      if (!isDigit(str[i])) {
        denom = str.slice(pos, i);
        pos = i;
        break;
      }
    }
  }
  const value = str.slice(0, pos);
  const suffixStart = pos;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!SUFFIX_CHARS.includes(str[i]!)) {
      pos = i;
      break;
    }
  }
  if (pos < end && (str[pos] === '-' || str[pos] === '+')) pos++;
  for (let i = pos; ; i++) {
    if (i >= end) return { positive, value, num, denom, suffix: str.slice(suffixStart) };
    if (!isDigit(str[i])) return undefined;
  }
}

/** Go's int32(strconv.ParseInt(s, 10, 64)), or undefined when ParseInt fails. */
function parseExponent(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const v = BigInt(s);
  if (v > MAX_INT64 || v < -MAX_INT64 - 1n) return undefined;
  return Number(BigInt.asIntN(32, v));
}

function interpretSuffix(
  suffix: string,
): { base: 2 | 10; exponent: number; format: QuantityFormat } | undefined {
  const dec = DECIMAL_SUFFIXES[suffix];
  if (dec !== undefined) return { base: 10, exponent: dec, format: 'DecimalSI' };
  const bin = BINARY_SUFFIXES[suffix];
  if (bin !== undefined) return { base: 2, exponent: bin, format: 'BinarySI' };
  if (suffix.length > 1 && (suffix[0] === 'e' || suffix[0] === 'E')) {
    const exponent = parseExponent(suffix.slice(1));
    if (exponent !== undefined) return { base: 10, exponent, format: 'DecimalExponent' };
  }
  return undefined;
}

/** inf.Dec's SetString: optional sign, digits with at most one '.', at least one digit. */
function parseDecimal(s: string): { unscaled: bigint; scale: number } | undefined {
  const m = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/.exec(s);
  if (!m || `${m[2]}${m[3] ?? ''}`.length === 0) return undefined;
  const digits = `${m[2]}${m[3] ?? ''}`;
  const unscaled = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  return { unscaled, scale: m[3] === undefined ? 0 : m[3].length };
}

const pow10 = (n: number) => 10n ** BigInt(n);
const abs = (v: bigint) => (v < 0n ? -v : v);

/** Rounds |unscaled| × 10^exp10 up (away from zero) to a multiple of 10^minExp (inf.RoundUp). */
function roundUpTo(unscaled: bigint, exp10: number, minExp: number): { unscaled: bigint; exp10: number } {
  if (exp10 >= minExp || unscaled === 0n) return { unscaled, exp10 };
  const shift = minExp - exp10;
  const sign = unscaled < 0n ? -1n : 1n;
  const a = abs(unscaled);
  // More digits of shift than the value has: the value is below one unit, which rounds up to one unit.
  if (shift > a.toString().length) return { unscaled: sign, exp10: minExp };
  const d = pow10(shift);
  const q = a / d;
  return { unscaled: sign * (a % d === 0n ? q : q + 1n), exp10: minExp };
}

/** Compares unscaled × 10^exp10 with an integer. */
function compareInt(unscaled: bigint, exp10: number, y: bigint): number {
  const [l, r] = exp10 >= 0 ? [unscaled * pow10(exp10), y] : [unscaled, y * pow10(-exp10)];
  return l < r ? -1 : l > r ? 1 : 0;
}

/** resource.ParseQuantity (after UnmarshalJSON's TrimSpace); undefined where Go returns an error. */
export function parseQuantity(input: string): Quantity | undefined {
  const str = input.replace(GO_TRIM_RE, '');
  if (str.length === 0) return undefined;
  if (str === '0') return { unscaled: 0n, exp10: 0, format: 'DecimalSI', verbatim: str };
  const parts = parseQuantityString(str);
  if (!parts) return undefined;
  const { positive, value, num, denom } = parts;
  const suffix = interpretSuffix(parts.suffix);
  if (!suffix) return undefined;
  const { base, exponent } = suffix;
  let format = suffix.format;

  let precision: number;
  let scale: number;
  let mantissa = 1n;
  if (format === 'BinarySI') {
    scale = 0;
    if (exponent >= 0 && denom.length === 0) {
      mantissa = 1n << BigInt(exponent);
      precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
    } else {
      precision = -1;
    }
  } else {
    scale = exponent;
    precision = MAX_INT64_FACTORS - (num.length + denom.length);
  }

  // Go's int64 fast path.
  if (precision >= 0) {
    scale -= denom.length;
    if (scale >= NANO) {
      const shifted = num + denom;
      const v = BigInt(shifted);
      if (v > MAX_INT64) return undefined;
      const product = v * mantissa;
      if (product <= MAX_INT64) {
        const result = positive ? product : -product;
        const q: Quantity = { unscaled: result, exp10: scale, format };
        if (format === 'BinarySI') {
          if (exponent % 10 === 0 && (v & 7n) !== 0n) q.verbatim = str;
        } else if (scale % 3 === 0 && !shifted.endsWith('000') && shifted[0] !== '0') {
          q.verbatim = str;
        }
        return q;
      }
    }
  }

  // Go's inf.Dec path.
  const dec = parseDecimal(value);
  if (!dec) return undefined;
  let unscaled = dec.unscaled;
  let exp10 = -dec.scale;
  if (base === 10) exp10 += exponent;
  else unscaled *= 1n << BigInt(exponent);
  const negative = unscaled < 0n;
  unscaled = abs(unscaled);
  if (unscaled !== 0n) ({ unscaled, exp10 } = roundUpTo(unscaled, exp10, NANO));
  if (format === 'BinarySI' && compareInt(unscaled, exp10, MAX_INT64) > 0) {
    unscaled = MAX_INT64;
    exp10 = 0;
  }
  if (format === 'BinarySI' && compareInt(unscaled, exp10, 1n) < 0 && unscaled > 0n) format = 'DecimalSI';
  return { unscaled: negative ? -unscaled : unscaled, exp10, format };
}

/** Strips factors of `factor` from |v|: v = result × factor^times (Go's removeBigIntFactors). */
function removeFactors(v: bigint, factor: bigint): { result: bigint; times: number } {
  let result = v;
  let times = 0;
  while (result !== 0n && result % factor === 0n) {
    result /= factor;
    times++;
  }
  return { result, times };
}

/** Quantity.MarshalJSON's string (without the quotes): the verbatim input or CanonicalizeBytes. */
export function quantityString(q: Quantity): string {
  if (q.verbatim !== undefined) return q.verbatim;
  if (q.unscaled === 0n) return '0';
  let format = q.format;
  let integer: bigint | undefined;
  if (format === 'BinarySI') {
    if (compareInt(q.unscaled, q.exp10, -1024n) > 0 && compareInt(q.unscaled, q.exp10, 1024n) < 0) {
      format = 'DecimalSI';
    } else {
      const rounded = roundUpTo(q.unscaled, q.exp10, 0);
      if (compareInt(q.unscaled, q.exp10, rounded.unscaled * pow10(rounded.exp10)) !== 0)
        format = 'DecimalSI';
      else integer = rounded.unscaled * pow10(rounded.exp10);
    }
  }
  if (format === 'BinarySI' && integer !== undefined) {
    const { result, times } = removeFactors(integer, 1024n);
    return `${result}${BINARY_SUFFIX_BY_EXPONENT.get(times * 10) ?? ''}`;
  }
  // AsCanonicalBytes: strip trailing zeros, then move the exponent down to a multiple of three.
  let { result: mantissa, times } = removeFactors(q.unscaled, 10n);
  let exponent = q.exp10 + times;
  while (exponent % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  if (format === 'DecimalSI') return `${mantissa}${DECIMAL_SUFFIX_BY_EXPONENT.get(exponent) ?? ''}`;
  return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
}

// Go's text forms of values, for Measurement.value strings that match what Argo stores:
// strconv.FormatFloat(v, 'f', -1, 64) (no exponent), fmt's %v for float slices ('g', shortest), and
// encoding/json's output (map keys sorted, <, > and & escaped).

/** strconv.FormatFloat(v, 'f', -1, 64): shortest digits that round-trip, never an exponent. */
export function formatFloatF(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  const text = String(value);
  const m = /^(-?)(\d)(?:\.(\d+))?e([-+]\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, lead, frac = '', expText] = m;
  const digits = `${lead}${frac}`;
  const exp = Number(expText);
  if (exp >= 0) {
    const whole = digits.padEnd(exp + 1, '0');
    const rest = digits.slice(exp + 1);
    return `${sign}${whole.slice(0, exp + 1)}${rest !== '' ? `.${rest}` : ''}`;
  }
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** fmt's %v of a float64 ('g' with the shortest precision): 0.5, 1, 1e+06, 1e-05, NaN, +Inf. */
export function formatFloatG(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const exp = Math.floor(Math.log10(Math.abs(value)));
  // strconv 'g' with the shortest precision uses an exponent when exp < -4 or exp >= 6.
  if (exp < -4 || exp >= 6) {
    const [mantissa, e] = value.toExponential().split('e') as [string, string];
    const n = Number(e);
    return `${mantissa}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return formatFloatF(value);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** encoding/json.Marshal of decoded JSON: object keys sorted, HTML characters escaped. */
export function goJson(value: unknown): string {
  return (JSON.stringify(sortKeys(value)) ?? 'null')
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

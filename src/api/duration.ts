// Argo duration strings (`DurationString`): Go's time.ParseDuration grammar, e.g. "30s", "1m",
// "1h30m", "500ms", "1.5h", "-2m". A bare number is invalid except "0" (as in Go). Results are in
// milliseconds (fractions kept, so "1500us" is 1.5).

export type DurationParse = { ok: true; ms: number } | { ok: false; error: string };

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const TERM_RE = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

export function parseDuration(input: string): DurationParse {
  if (typeof input !== 'string') return { ok: false, error: 'duration must be a string' };
  let rest = input.trim();
  const original = rest;
  if (rest === '') return { ok: false, error: 'invalid duration ""' };
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return { ok: true, ms: 0 };
  if (rest === '') return { ok: false, error: `invalid duration "${original}"` };
  let totalMs = 0;
  while (rest.length > 0) {
    const match = TERM_RE.exec(rest);
    if (match === null) {
      if (/^\d+\.?\d*$/.test(rest)) return { ok: false, error: `missing unit in duration "${original}"` };
      return { ok: false, error: `invalid duration "${original}"` };
    }
    totalMs += Number(match[1]) * UNIT_MS[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  if (!Number.isFinite(totalMs)) return { ok: false, error: `invalid duration "${original}"` };
  return { ok: true, ms: sign * totalMs };
}

/** Formats milliseconds as a Go-style duration string ("1m30s", "500ms", "0s"). */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1_000) return `${sign}${trimNumber(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1_000;
  let out = sign;
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  out += `${trimNumber(seconds)}s`;
  return out;
}

function trimNumber(n: number): string {
  return String(Math.round(n * 1_000) / 1_000);
}

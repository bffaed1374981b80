// Special functions and the beta-binomial distribution, in log space so that thousands of events
// neither overflow nor underflow. The judge's e-processes are ratios of these pmfs.
//
// Truncated beta-binomial: the marginal of Binomial(m, q) when q has a Beta(a, b) prior restricted
// to one side of a boundary p (q > p for "canary worse", q < p for "canary better"):
//   P(x) = C(m, x) B(x + a, m - x + b) T(x + a, m - x + b) / (B(a, b) T(a, b))
// where T(a, b) is the Beta(a, b) mass on that side: 1 - I_p(a, b) above p, I_p(a, b) below.

const LANCZOS_G = 7;
const LANCZOS_COEFFICIENTS = [
  0.999_999_999_999_809_9, 676.520_368_121_885_1, -1_259.139_216_722_402_8, 771.323_428_777_653_1,
  -176.615_029_162_140_6, 12.507_343_278_686_905, -0.138_571_095_265_720_12, 9.984_369_578_019_572e-6,
  1.505_632_735_149_311_6e-7,
];
const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);
const MAX_CONTINUED_FRACTION_TERMS = 100_000;
const CONTINUED_FRACTION_EPSILON = 1e-15;
const TINY = 1e-300;

/** log Γ(x) for x > 0 (Lanczos, g = 7, relative error about 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS_COEFFICIENTS[0] as number;
  for (let i = 1; i < LANCZOS_G + 2; i++) sum += (LANCZOS_COEFFICIENTS[i] as number) / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_TWO_PI + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

export function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** log(1 - e^v) for v <= 0, accurate at both ends (Mächler 2012). */
export function log1mExp(v: number): number {
  if (v >= 0) return Number.NEGATIVE_INFINITY;
  return v > -Math.LN2 ? Math.log(-Math.expm1(v)) : Math.log1p(-Math.exp(v));
}

/** log(e^a + e^b). */
export function logAddExp(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

// Continued fraction for the incomplete beta function (modified Lentz), converging fast when
// x < (a + 1) / (a + b + 2).
function betaContinuedFraction(x: number, a: number, b: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= MAX_CONTINUED_FRACTION_TERMS; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < CONTINUED_FRACTION_EPSILON) break;
  }
  return h;
}

/** log I_x(a, b), the log of the regularized incomplete beta function (the Beta(a, b) cdf at x). */
export function logRegularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return Number.NEGATIVE_INFINITY;
  if (x >= 1) return 0;
  const logFront = a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b);
  if (x < (a + 1) / (a + b + 2)) return logFront + Math.log(betaContinuedFraction(x, a, b)) - Math.log(a);
  return log1mExp(logFront + Math.log(betaContinuedFraction(1 - x, b, a)) - Math.log(b));
}

/** log(1 - I_x(a, b)): the Beta(a, b) mass above x, computed without cancellation. */
export function logRegularizedBetaUpper(x: number, a: number, b: number): number {
  return logRegularizedBeta(1 - x, b, a);
}

export function binomialLogPmf(x: number, m: number, p: number): number {
  if (x < 0 || x > m) return Number.NEGATIVE_INFINITY;
  const head = x === 0 ? 0 : x * Math.log(p);
  const tail = x === m ? 0 : (m - x) * Math.log1p(-p);
  return logChoose(m, x) + head + tail;
}

export function betaBinomialLogPmf(x: number, m: number, a: number, b: number): number {
  if (x < 0 || x > m) return Number.NEGATIVE_INFINITY;
  return logChoose(m, x) + logBeta(x + a, m - x + b) - logBeta(a, b);
}

export type Side = 'above' | 'below';

function logSideMass(side: Side, boundary: number, a: number, b: number): number {
  return side === 'above' ? logRegularizedBetaUpper(boundary, a, b) : logRegularizedBeta(boundary, a, b);
}

/**
 * Beta-binomial pmf with the Beta(a, b) prior on the success probability restricted to q > boundary
 * ('above') or q < boundary ('below').
 */
export function truncatedBetaBinomialLogPmf(
  x: number,
  m: number,
  a: number,
  b: number,
  boundary: number,
  side: Side,
): number {
  if (x < 0 || x > m) return Number.NEGATIVE_INFINITY;
  return (
    logChoose(m, x) +
    logBeta(x + a, m - x + b) +
    logSideMass(side, boundary, x + a, m - x + b) -
    logBeta(a, b) -
    logSideMass(side, boundary, a, b)
  );
}

/**
 * log of the one-interval likelihood ratio TBB(x; m, a, b | side of p) / Binomial(x; m, p). The
 * binomial coefficients cancel, so this is cheaper and more accurate than subtracting the two pmfs.
 */
export function logMixtureRatio(x: number, m: number, p: number, a: number, b: number, side: Side): number {
  if (m === 0) return 0;
  const head = x === 0 ? 0 : x * Math.log(p);
  const tail = x === m ? 0 : (m - x) * Math.log1p(-p);
  return (
    logBeta(x + a, m - x + b) +
    logSideMass(side, p, x + a, m - x + b) -
    logBeta(a, b) -
    logSideMass(side, p, a, b) -
    head -
    tail
  );
}

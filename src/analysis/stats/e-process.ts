// Anytime-valid test that the canary's share of some event (errors, slow requests) is no larger
// than its share of traffic (Lindon, Sanden, Shirikian, KDD 2022, section "count data").
//
// Per interval (and per proxy, a stratum) we see the canary's and the baseline's request counts
// n_c, n_b and event counts x, y. Let m = x + y and p = n_c / (n_c + n_b). Under H0 ("no
// regression": the canary's event rate is at most the baseline's in that interval, whatever the
// common rate is), x given (m, n_c, n_b) is hypergeometric, or stochastically below it; the
// hypergeometric is dominated by Binomial(m, p) in the convex order (Hoeffding 1963, Theorem 4),
// so for every convex f, E_H0[f(x)] <= E_Binomial(m,p)[f(x)].
//
// The alternative is Binomial(m, q) with q > p. For each q > p the ratio L_q(x) = Bin(x; m, q) /
// Bin(x; m, p) = c * r^x is convex in x with E_{Bin(m,p)}[L_q] = 1, and when the true share is
// q' <= p, E[L_q] = (q' q / p + (1 - q')(1 - q) / (1 - p))^m <= 1 (it is increasing in q' and equals
// 1 at q' = p). A mixture of such ratios over q with any prior fixed before the interval is seen
// keeps E_H0[factor | past] <= 1. The factor used here is the truncated beta-binomial over the
// binomial, i.e. the prior Beta(a_t, b_t) restricted to q > p_t.
//
// The product of the factors is therefore a nonnegative supermartingale under H0 with initial value
// 1 (an e-process), and Ville's inequality gives P_H0(sup_t E_t >= 1 / alpha) <= alpha: the test
// may be checked after every interval, forever, and rejects when the running maximum crosses
// 1 / alpha.
//
// Learning across intervals (the "predictive" or "plug-in" mixture): a_t and b_t are chosen from
// data before interval t only, so validity holds for any such choice. We start from Beta(1, 1)
// (uniform over the shares above p) and carry the past events over as pseudo-counts mapped through
// the rate ratio theta = odds(q) / odds(p), which stays meaningful when the traffic split changes:
// theta_hat = sum x_s (1 - p_s) / sum (m_s - x_s) p_s (Mantel-Haenszel), q_hat_t = theta_hat p_t /
// (theta_hat p_t + 1 - p_t), a_t = a_0 + M q_hat_t, b_t = b_0 + M (1 - q_hat_t) with M the past
// events. When p is constant this is exactly the Bayesian posterior, so the product telescopes to
// the batch truncated beta-binomial mixture ratio TBB(X; M, a_0, b_0) / Bin(X; M, p) (tested).

import { logMixtureRatio, type Side } from './beta-binomial.ts';

export interface ShareObservation {
  readonly canaryEvents: number;
  readonly baselineEvents: number;
  readonly canaryRequests: number;
  readonly baselineRequests: number;
}

export interface BetaPrior {
  readonly a: number;
  readonly b: number;
}

export const DEFAULT_SHARE_PRIOR: BetaPrior = { a: 1, b: 1 };

export interface ShareEProcessSnapshot {
  /** log of the current e-value. */
  readonly logE: number;
  /** log of the running maximum: the quantity compared with log(1 / alpha). */
  readonly maxLogE: number;
  /** Strata that carried evidence (both sides had requests and at least one event). */
  readonly informativeIntervals: number;
  readonly canaryEvents: number;
  readonly baselineEvents: number;
  readonly canaryRequests: number;
  readonly baselineRequests: number;
}

export class ShareEProcess {
  readonly side: Side;
  private readonly prior: BetaPrior;
  private logE = 0;
  private maxLogE = 0;
  private informative = 0;
  private canaryEvents = 0;
  private baselineEvents = 0;
  private canaryRequests = 0;
  private baselineRequests = 0;
  /** Events seen in informative strata (M) and the Mantel-Haenszel sums. */
  private pastEvents = 0;
  private sumCanaryWeighted = 0;
  private sumBaselineWeighted = 0;

  /** side 'above' detects a canary share of events above its share of traffic (a regression). */
  constructor(side: Side = 'above', prior: BetaPrior = DEFAULT_SHARE_PRIOR) {
    this.side = side;
    this.prior = prior;
  }

  /** Folds in one stratum; returns the log factor it contributed (0 when uninformative). */
  update(observation: ShareObservation): number {
    const nc = observation.canaryRequests;
    const nb = observation.baselineRequests;
    const x = Math.min(observation.canaryEvents, nc);
    const y = Math.min(observation.baselineEvents, nb);
    this.canaryRequests += nc;
    this.baselineRequests += nb;
    this.canaryEvents += x;
    this.baselineEvents += y;
    const m = x + y;
    if (nc <= 0 || nb <= 0 || m <= 0) return 0;
    const p = nc / (nc + nb);
    const { a, b } = this.mixingPrior(p);
    const logFactor = logMixtureRatio(x, m, p, a, b, this.side);
    this.logE += logFactor;
    if (this.logE > this.maxLogE) this.maxLogE = this.logE;
    this.informative += 1;
    this.pastEvents += m;
    this.sumCanaryWeighted += x * (1 - p);
    this.sumBaselineWeighted += (m - x) * p;
    return logFactor;
  }

  snapshot(): ShareEProcessSnapshot {
    return {
      logE: this.logE,
      maxLogE: this.maxLogE,
      informativeIntervals: this.informative,
      canaryEvents: this.canaryEvents,
      baselineEvents: this.baselineEvents,
      canaryRequests: this.canaryRequests,
      baselineRequests: this.baselineRequests,
    };
  }

  /** Beta(a_t, b_t) for the next stratum, from past strata only (predictable). */
  private mixingPrior(p: number): BetaPrior {
    if (this.pastEvents === 0) return this.prior;
    let share: number;
    if (this.sumBaselineWeighted === 0) share = 1;
    else if (this.sumCanaryWeighted === 0) share = 0;
    else {
      const theta = this.sumCanaryWeighted / this.sumBaselineWeighted;
      share = (theta * p) / (theta * p + 1 - p);
    }
    return { a: this.prior.a + this.pastEvents * share, b: this.prior.b + this.pastEvents * (1 - share) };
  }
}

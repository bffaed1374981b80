// Smooth weighted round robin (nginx ngx_http_upstream_get_peer, commit 52327e06) over basis-point
// weights. Each pick adds every weight to its backend's credit, takes the largest credit (first
// listed wins ties) and subtracts the total from it. Deterministic: after every whole cycle of
// `total` picks each backend got exactly its weight; with two backends a backend's count after n
// picks is always n*w/total rounded (error <= 0.5), which is the accuracy guarantee of the proxy.
// Weight 0 never picked. State is per instance (one per route per snapshot); not shared across
// processes, so K processes multiply the bound by K. pick() allocates nothing.
//
// Workers (proxy/workers/): worker i of K starts its sequence i/K of a cycle in (`phase`). Each worker
// alone keeps the bound above over any run of its picks (error < 1), so the union of K workers' picks
// stays within K of n*w however requests are spread over them. Started at spread-out points of the
// cycle, their errors cancel instead of adding up: when every worker has served the same count, the
// union is within about one request of n*w for any K (K workers all starting at the cycle's head
// would all send their first request to the heaviest backend: an error of K/2).

export class SwrrPicker {
  readonly #weights: Int32Array;
  readonly #credit: Int32Array;
  readonly #total: number;

  constructor(weights: readonly number[], phase?: SwrrPhase) {
    this.#weights = Int32Array.from(weights, (w) => (Number.isInteger(w) && w > 0 ? w : 0));
    this.#credit = new Int32Array(weights.length);
    let total = 0;
    for (const w of this.#weights) total += w;
    this.#total = total;
    if (phase !== undefined && phase.count > 1 && total > 0) {
      const cycle = cycleLength(this.#weights, total);
      const skip = Math.round((phase.index * cycle) / phase.count) % cycle;
      for (let i = 0; i < skip; i++) this.pick();
    }
  }

  /** Sum of the positive weights; 0 means nothing is pickable. */
  get totalWeight(): number {
    return this.#total;
  }

  /** Index of the next backend, or -1 when every weight is 0. */
  pick(): number {
    const weights = this.#weights;
    const credit = this.#credit;
    let best = -1;
    let bestCredit = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (w === 0) continue;
      const c = credit[i]! + w;
      credit[i] = c;
      if (best < 0 || c > bestCredit) {
        best = i;
        bestCredit = c;
      }
    }
    if (best >= 0) credit[best] = bestCredit - this.#total;
    return best;
  }
}

/** Where in the cycle a picker starts: worker `index` of `count` (0-based). */
export interface SwrrPhase {
  readonly index: number;
  readonly count: number;
}

/** Picks after which the credits are back to zero: total / gcd(weights). */
export function cycleLength(weights: ArrayLike<number>, total: number): number {
  let g = 0;
  for (let i = 0; i < weights.length; i++) {
    let a = weights[i]!;
    let b = g;
    while (b !== 0) [a, b] = [b, a % b];
    g = a;
  }
  return g === 0 ? 0 : total / g;
}

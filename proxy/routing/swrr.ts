// Smooth weighted round robin (nginx ngx_http_upstream_get_peer, commit 52327e06) over basis-point
// weights. Each pick adds every weight to its backend's credit, takes the largest credit (first
// listed wins ties) and subtracts the total from it. Deterministic: after every whole cycle of
// `total` picks each backend got exactly its weight; with two backends a backend's count after n
// picks is always n*w/total rounded (error <= 0.5), which is the accuracy guarantee of the proxy.
// Weight 0 never picked. State is per instance (one per route per snapshot); not shared across
// processes, so K processes multiply the bound by K. pick() allocates nothing.

export class SwrrPicker {
  readonly #weights: Int32Array;
  readonly #credit: Int32Array;
  readonly #total: number;

  constructor(weights: readonly number[]) {
    this.#weights = Int32Array.from(weights, (w) => (Number.isInteger(w) && w > 0 ? w : 0));
    this.#credit = new Int32Array(weights.length);
    let total = 0;
    for (const w of this.#weights) total += w;
    this.#total = total;
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

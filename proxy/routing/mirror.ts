// Mirror sampling without randomness: an accumulator adds the percentage (basis points) per request
// and fires each time it crosses 10000, so after n requests exactly floor(n * percentBp / 10000)
// copies were taken, evenly spaced. One instance per route per snapshot.

export class MirrorSampler {
  readonly percentBp: number;
  #acc = 0;

  constructor(percentBp: number) {
    this.percentBp = Math.max(0, Math.min(10_000, Math.trunc(percentBp)));
  }

  /** Counts one request; true when this request should be mirrored. */
  take(): boolean {
    const acc = this.#acc + this.percentBp;
    if (acc >= 10_000) {
      this.#acc = acc - 10_000;
      return true;
    }
    this.#acc = acc;
    return false;
  }
}

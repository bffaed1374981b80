// One clock read per socket event instead of one per decision: the data handlers of client and
// upstream sockets (and the timeout sweep) refresh `clock.nowMs` with performance.now(), and every
// deadline and latency computed while handling that event reads it. Latency is therefore measured
// from the arrival of the request's bytes to the arrival of the response's last bytes.

export const clock = { nowMs: performance.now() };

export function tick(): number {
  clock.nowMs = performance.now();
  return clock.nowMs;
}

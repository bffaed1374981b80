// Mirroring: a copy of a request goes to the mirror backend, fire-and-forget, through undici. It
// never delays or changes the client's response: the copy is sent after the decision, its answer is
// read and discarded, failures are only counted, and at most `maxInFlight` copies are outstanding
// (beyond that copies are dropped and counted). Requests with a body are not mirrored: copying a
// streamed body would mean buffering it or slowing the client to the mirror's pace. undici is loaded
// on the first copy, so a proxy without mirror routes does not carry its memory.

import type { Agent } from 'undici';
import { FIELD_EXPECT, isEndToEnd, type RequestHead } from './http1/head.ts';

export interface MirrorStats {
  sent: number;
  failed: number;
  dropped: number;
  skippedWithBody: number;
}

export class MirrorSender {
  readonly stats: MirrorStats = { sent: 0, failed: 0, dropped: 0, skippedWithBody: 0 };
  private agent: Promise<Agent> | null = null;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly timeoutMs: number;

  constructor(maxInFlight = 64, timeoutMs = 10_000) {
    this.maxInFlight = maxInFlight;
    this.timeoutMs = timeoutMs;
  }

  private getAgent(): Promise<Agent> {
    this.agent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          connections: 32,
          pipelining: 1,
          connectTimeout: Math.min(this.timeoutMs, 5_000),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
          keepAliveTimeout: 4_000,
        }),
    );
    return this.agent;
  }

  /** Copies the request to `origin`, one endpoint of the mirror backend (picked by the caller). */
  send(origin: string, head: RequestHead, clientIp: string, hasBody: boolean): void {
    if (hasBody) {
      this.stats.skippedWithBody++;
      return;
    }
    if (this.inFlight >= this.maxInFlight) {
      this.stats.dropped++;
      return;
    }
    const headers: string[] = [];
    for (let i = 0; i < head.count; i++) {
      if (head.kinds[i] === FIELD_EXPECT || !isEndToEnd(head, i)) continue;
      headers.push(head.rawName(i), head.value(i));
    }
    headers.push('x-forwarded-for', clientIp, 'x-sluice-mirror', '1');
    this.inFlight++;
    this.getAgent()
      .then((agent) => agent.request({ origin, path: head.target, method: head.method as 'GET', headers }))
      .then(
        async (res) => {
          await res.body.dump();
          this.stats.sent++;
        },
        () => {
          this.stats.failed++;
        },
      )
      .finally(() => {
        this.inFlight--;
      });
  }

  async close(): Promise<void> {
    if (this.agent !== null) await (await this.agent).close();
  }
}

// One worker of a multi-worker proxy: the data port (shared through node:cluster) and its own
// telemetry, driven by the primary over IPC (protocol.ts). It has no admin port and no control stream:
// the primary serves the one admin port from the workers' metrics and holds the one control stream.
// Configs arrive already validated by the primary; a worker builds its snapshot with its place among
// the workers as the phase of its weight cycles (routing/swrr.ts), so the union of the workers' picks
// stays exact. The worker drains only when the primary says so, or when the primary is gone.

import pino from 'pino';
import type { RoutesConfig } from '../config.ts';
import { startIdleGc } from '../idle-gc.ts';
import { MirrorSender } from '../mirror-sender.ts';
import { createKeyRing } from '../routing/key-ring.ts';
import { buildSnapshot } from '../routing/snapshot.ts';
import { DataServer } from '../server.ts';
import { createTelemetry } from '../telemetry.ts';
import { DEFAULT_POOL_OPTIONS, PoolRegistry } from '../upstream/pool.ts';
import { isPrimaryMessage, type PrimaryMessage, type WorkerInit, type WorkerMessage } from './protocol.ts';

/** Drain deadline when the primary disappears without saying how long. */
const ORPHAN_DRAIN_MS = 10_000;

export function runWorker(): void {
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send?.(message);
  };
  const onFirst = (message: unknown): void => {
    if (!isPrimaryMessage(message) || message.t !== 'init') return;
    process.off('message', onFirst);
    start(message, send).catch((error: unknown) => {
      send({ t: 'failed', message: error instanceof Error ? error.message : String(error) });
      process.exitCode = 1;
      process.disconnect?.();
    });
  };
  process.on('message', onFirst);
  // The primary owns shutdown; a terminal's Ctrl-C reaches the whole process group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
}

async function start(init: WorkerInit, send: (message: WorkerMessage) => void): Promise<void> {
  // Log lines go to the primary, which writes them in the format the command was given.
  const log = pino(
    { level: init.logLevel, base: null },
    { write: (line: string) => send({ t: 'log', line }) },
  );
  const telemetry = createTelemetry(init.intervalMs === undefined ? {} : { intervalMs: init.intervalMs });
  const pools = new PoolRegistry(
    init.upstreamCa === undefined
      ? DEFAULT_POOL_OPTIONS
      : { ...DEFAULT_POOL_OPTIONS, tlsCa: init.upstreamCa },
  );
  const keys = createKeyRing(init.keys);
  const mirror = new MirrorSender();
  const server = new DataServer(init.data, telemetry, pools, mirror);
  // Each worker is its own V8 heap: the same heap growth and idle collection as a single process.
  startIdleGc();
  const phase = { index: init.index, count: init.count };

  const apply = (routes: RoutesConfig, version: number): unknown => {
    const snapshot = buildSnapshot(routes, version, {
      upstreamFor: (address) => pools.get(address),
      outstanding: (pool) => pool.inFlight,
      series: (labels) => telemetry.series(labels),
      keys,
      defaultTimeouts: init.data.defaultTimeouts,
      swrrPhase: phase,
    });
    server.setSnapshot(snapshot);
    log.debug({ version }, 'routes applied');
    return snapshot.describe();
  };

  let stopping = false;
  const stop = (drainMs: number): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await server.shutdown(drainMs);
      await mirror.close();
      process.exit(0);
    })();
  };

  const described = init.config === undefined ? null : apply(init.config.routes, init.config.version);
  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return;
    handle(message);
  });
  const handle = (message: PrimaryMessage): void => {
    switch (message.t) {
      case 'apply':
        send({
          t: 'applied',
          id: message.id,
          version: message.version,
          describe: apply(message.routes, message.version),
        });
        return;
      case 'metrics':
        void Promise.resolve(telemetry.metrics.render()).then((text) =>
          send({ t: 'metrics', id: message.id, text }),
        );
        return;
      case 'drain-reports':
        send({ t: 'reports', id: message.id, reports: telemetry.histograms.drainReports() });
        return;
      case 'shutdown':
        stop(message.drainMs);
        return;
      case 'init':
        return;
    }
  };
  process.on('disconnect', () => stop(ORPHAN_DRAIN_MS));

  const address = await server.listen();
  send({ t: 'listening', host: address.host, port: address.port, describe: described });
}

// The log the local workloads write to: pino-compatible (a pino Logger fits), structured fields first.

export interface WorkloadsLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** A log that drops everything. */
export const silentLog: WorkloadsLog = { info: () => {}, warn: () => {} };

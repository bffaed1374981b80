// The one way a long-running command waits for its end: the first SIGINT or SIGTERM, after which the
// handlers are removed (a second signal gets Node's default: the process ends at once).

export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

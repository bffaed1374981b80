// The process settings `sluice proxy` runs with, applied by the CLI itself (issue 15): V8 sizes the young
// generation from the machine's memory and glibc keeps freed memory in per-thread arenas and above its
// trim threshold, so after a burst of connections the proxy held its high-water mark (measured in
// bench/proxy-memory.ts, docs/benchmarks.md). V8 reads the semi-space size and glibc its tunables only
// at process start, so when either is missing the proxy command replaces its own process with one that
// has them (process.execve: same pid, no parent left behind). A flag or variable the operator set is
// kept; SLUICE_PROXY_EXEC=0 runs as started. deploy/proxy/** sets the same values, so there is no re-exec
// in the cluster.

/**
 * Young generation of 2 MiB semi-spaces (V8's default grows to 16 MiB on a large machine), as the
 * controller's. 1 MiB measured worse under load: more short-lived request objects were promoted (V8 heap in
 * use 42 MiB at 256 connections against 14 MiB with 2 MiB).
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=2'] as const;

/**
 * glibc malloc: two arenas instead of 8 per core; free memory at the top of the heap trimmed above
 * 128 KiB; allocations of 32 KiB or more from mmap, returned to the kernel when freed. The data path
 * allocates nothing that large per request (reads go to shared buffers, proxy/shared-read.ts); what
 * reaches it is the copies of large body reads, which with the default threshold fragmented the heap
 * (measured after 3,000 1 MiB uploads, 64 at a time: 10 s later 77 MiB anonymous memory with 128 KiB,
 * 27 MiB with 32 KiB, against 25 MiB idle).
 */
export const PROXY_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  // The variables, not GLIBC_TUNABLES: glibc 2.36 (Debian 12, node:24-slim) leaves only the first tunable
  // of a GLIBC_TUNABLES list in the environment, so a forked worker would lose the others.
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '32768',
};

/** Set in the re-executed process, so it never executes itself again. */
export const PROXY_EXEC_MARKER = 'SLUICE_PROXY_EXEC';

export interface ExecPlan {
  /** argv of the new process, the executable first. */
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/**
 * What to execute instead of this process, or undefined to run as is: only for the `proxy` command, once,
 * and only when a flag or variable is missing (the operator's own values win).
 */
export function proxyExecPlan(
  args: readonly string[],
  process_: {
    execPath: string;
    execArgv: readonly string[];
    argv: readonly string[];
    env: NodeJS.ProcessEnv;
  },
): ExecPlan | undefined {
  const { env } = process_;
  if (args[0] !== 'proxy' || env[PROXY_EXEC_MARKER] !== undefined) return undefined;
  if (args.includes('-h') || args.includes('--help')) return undefined;
  const given = `${process_.execArgv.join(' ')} ${env.NODE_OPTIONS ?? ''}`;
  const flags = PROXY_NODE_FLAGS.filter((f) => !given.includes(f.slice(0, f.indexOf('='))));
  const missingEnv = Object.entries(PROXY_MALLOC_ENV).filter(([name]) => env[name] === undefined);
  if (flags.length === 0 && missingEnv.length === 0) return undefined;
  const script = process_.argv[1];
  if (script === undefined) return undefined;
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined) clean[name] = value;
  return {
    argv: [process_.execPath, ...flags, ...process_.execArgv, script, ...args],
    env: { ...clean, ...Object.fromEntries(missingEnv), [PROXY_EXEC_MARKER]: '1' },
  };
}

/** Replaces this process per proxyExecPlan; returns when there is nothing to do or execve is unavailable. */
export function execProxySettings(args: readonly string[]): void {
  const plan = proxyExecPlan(args, process);
  if (plan === undefined || typeof process.execve !== 'function') return;
  process.execve(plan.argv[0]!, plan.argv, plan.env);
}

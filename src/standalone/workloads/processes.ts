// The local kubelet's processes: spawned as the leaders of their own process groups (so a container's
// children go with it), or adopted from a standalone that was killed (SIGKILL) while they ran on. Output
// goes either through pipes (the process dies with standalone anyway) or, for processes that must outlive
// standalone, to a log file that is followed: a pipe whose reader was killed would fail the process's next
// write (EPIPE), so a data plane that outlives its standalone never writes to one.
//
// Identity: every pod process carries SLUICE_POD_UID (and the standalone's instance id) in its
// environment. On Linux, /proc tells which process carries what, so a restarted standalone adopts exactly
// its own processes and kills the rest; elsewhere only liveness can be checked (and pids can be reused).

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';

export interface ExitStatus {
  /** The exit code, or 128 + signal number style for a signal; undefined when unknown (adopted). */
  readonly code: number | undefined;
  readonly signal: NodeJS.Signals | undefined;
  /** Why it could not start (spawn failed), when that is what happened. */
  readonly spawnError?: string;
}

/** A running container process, started here or adopted. */
export interface LocalProcess {
  readonly pid: number;
  readonly adopted: boolean;
  /** Resolves once the process (its group leader) is gone. */
  readonly exited: Promise<ExitStatus>;
  /** Signals its whole process group. */
  kill(signal: NodeJS.Signals): void;
}

export interface SpawnOptions {
  readonly cwd?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Output to this file (truncated), for a process that must outlive standalone; else through pipes. */
  readonly logFile?: string;
  /** Each line of output (pipes), or of the log file as it grows. */
  readonly onLine: (stream: 'stdout' | 'stderr' | 'log', line: string) => void;
}

const ADOPTED_POLL_MS = 250;
const FOLLOW_POLL_MS = 200;

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

/** Signals a process group led by `pid` (a detached child leads its own group), else the process. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Whether `pid` runs (a zombie does not count). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const state = await procState(pid);
  return state !== 'gone' && state !== 'Z';
}

/** The one-letter state of /proc/PID/stat, 'gone' when absent, undefined off Linux. */
async function procState(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const end = stat.lastIndexOf(')');
    return stat.slice(end + 2, end + 3);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        await readdir('/proc/self');
        return 'gone';
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}

/** The process group of `pid` (/proc), undefined off Linux or when it is gone. */
export async function processGroup(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(fields[2]);
    return Number.isInteger(pgrp) ? pgrp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What `pid`'s environment says `name` is: its value, null when the process lacks it, undefined when this
 * machine cannot tell (no /proc).
 */
export async function environValue(pid: number, name: string): Promise<string | null | undefined> {
  let environ: string;
  try {
    environ = await readFile(`/proc/${pid}/environ`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' && (await procState(process.pid)) !== undefined ? null : undefined;
  }
  const prefix = `${name}=`;
  const entry = environ.split('\0').find((v) => v.startsWith(prefix));
  return entry === undefined ? null : entry.slice(prefix.length);
}

/**
 * Processes of this user carrying `envName` (pod processes a killed runtime left behind), by its value.
 * Linux (/proc) only; elsewhere, and on any error, none.
 */
export async function findByEnv(envName: string): Promise<Map<string, number[]>> {
  const found = new Map<string, number[]>();
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return found;
  }
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
      .map(async (e) => {
        const value = await environValue(Number(e), envName);
        if (typeof value !== 'string') return;
        found.set(value, [...(found.get(value) ?? []), Number(e)]);
      }),
  );
  return found;
}

/** SIGKILLs `pids`, and waits (briefly) until they are gone or zombies, so their ports are free. */
export async function killPids(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 40; i++) {
    const states = await Promise.all(pids.map((pid) => procState(pid)));
    if (states.every((st) => st === 'gone' || st === 'Z' || st === undefined)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts `argv` as the leader of a new process group. Throws when it cannot even be tried. */
export function spawnProcess(argv: readonly string[], options: SpawnOptions): LocalProcess {
  const [file, ...args] = argv;
  let out: number | undefined;
  if (options.logFile !== undefined) out = openSync(options.logFile, 'w', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(file ?? '', args, {
      cwd: options.cwd,
      env: options.env,
      stdio: out === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', out, out],
      detached: true,
    });
  } finally {
    if (out !== undefined) closeSync(out);
  }
  let stopFollowing: (() => void) | undefined;
  if (options.logFile !== undefined) {
    stopFollowing = followFile(options.logFile, 0, (line) => options.onLine('log', line));
  } else {
    for (const [stream, readable] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      readable?.setEncoding('utf8');
      let rest = '';
      readable?.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) options.onLine(stream, line);
      });
      readable?.on('end', () => {
        if (rest !== '') options.onLine(stream, rest);
      });
    }
  }
  let spawnError: string | undefined;
  child.once('error', (error) => {
    spawnError = `could not start ${JSON.stringify(file)}: ${errorText(error)}`;
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => {
      // Whatever the leader left in its group goes with it, as a container's processes do.
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
      stopFollowing?.();
      resolve({
        code: code ?? undefined,
        signal: signal ?? undefined,
        ...(spawnError !== undefined ? { spawnError } : {}),
      });
    });
  });
  const pid = child.pid ?? -1;
  return {
    pid,
    adopted: false,
    exited,
    kill: (signal) => {
      if (child.pid !== undefined) killGroup(child.pid, signal);
      else child.kill(signal);
    },
  };
}

/**
 * Takes over a process a killed standalone started (it is no child of this one, so its exit is found by
 * polling), following its log file from its current end.
 */
export function adoptProcess(
  pid: number,
  logFile: string | undefined,
  onLine: (line: string) => void,
): LocalProcess {
  let stopFollowing: (() => void) | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    const timer = setInterval(() => {
      void isRunning(pid).then((running) => {
        if (running) return;
        clearInterval(timer);
        stopFollowing?.();
        killGroup(pid, 'SIGKILL');
        resolve({ code: undefined, signal: undefined });
      });
    }, ADOPTED_POLL_MS);
  });
  if (logFile !== undefined) stopFollowing = followFile(logFile, 'end', onLine);
  return { pid, adopted: true, exited, kill: (signal) => killGroup(pid, signal) };
}

/** Calls `onLine` for every line appended to `file` from `from` (a byte offset, or its end now). */
export function followFile(file: string, from: number | 'end', onLine: (line: string) => void): () => void {
  let offset: number | undefined = from === 'end' ? undefined : from;
  let rest = '';
  let reading: Promise<void> = Promise.resolve();
  const decoder = new TextDecoder();
  const read = async (): Promise<void> => {
    try {
      const handle = await open(file, 'r');
      try {
        const { size } = await handle.stat();
        offset ??= size;
        // Shorter than what was read: rewritten (the container restarted), so from its start.
        if (size < offset) offset = 0;
        while (offset < size) {
          const buffer = Buffer.alloc(Math.min(64 * 1024, size - offset));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          const lines = (rest + decoder.decode(buffer.subarray(0, bytesRead), { stream: true })).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) onLine(line);
        }
      } finally {
        await handle.close();
      }
    } catch {
      // not there yet, or gone: the next read tries again
    }
  };
  const poll = () => {
    reading = reading.then(read);
  };
  poll();
  const timer = setInterval(poll, FOLLOW_POLL_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    poll();
    void reading.then(() => {
      if (rest !== '') onLine(rest);
      rest = '';
    });
  };
}

// Everything the benchmark starts goes through here so it can all be stopped: each child runs in its
// own process group (detached), output goes to a log file in a temp dir, and stopAll() (also run on
// SIGINT/SIGTERM and, synchronously, on process exit) signals every group and removes the temp dirs.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  hasExited: () => boolean;
}

const processes = new Set<ManagedProcess>();
const tempDirs = new Set<string>();
let exitHandlerInstalled = false;
let signalHandlersInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
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

function installHandlers(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  // Last resort: synchronous, so it also runs on process.exit() and uncaught errors.
  process.on('exit', () => {
    for (const p of processes) if (!p.hasExited()) killGroup(p.pid, 'SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** For benchmark entry points: on SIGINT/SIGTERM stop everything started, then exit (130/143). */
export function installSignalHandlers(): void {
  if (signalHandlersInstalled) return;
  signalHandlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping everything started...\n`);
      void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}

/** A temp dir removed by stopAll() or at exit. */
export function makeTempDir(prefix: string): string {
  installHandlers();
  const dir = mkdtempSync(join(tmpdir(), `sluice-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  /** Directory for the log file (a temp dir from makeTempDir). */
  logDir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a process in its own group, stdout+stderr to <logDir>/<name>.log. */
export function spawnManaged(options: SpawnOptions): ManagedProcess {
  installHandlers();
  const logPath = join(options.logDir, `${options.name}.log`);
  const fd = openSync(logPath, 'a');
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      done = true;
      resolve(err.message);
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported through 'error'); keep a placeholder entry.
    return { name: options.name, pid: -1, logPath, child, exited, hasExited: () => true };
  }
  const managed: ManagedProcess = {
    name: options.name,
    pid: child.pid,
    logPath,
    child,
    exited,
    hasExited: () => done,
  };
  processes.add(managed);
  return managed;
}

/** SIGTERM to the group, SIGKILL after graceMs. */
export async function stopProcess(p: ManagedProcess, graceMs = 2_000): Promise<void> {
  processes.delete(p);
  if (p.pid < 0 || p.hasExited()) return;
  killGroup(p.pid, 'SIGTERM');
  const timer = sleep(graceMs).then(() => 'timeout' as const);
  if ((await Promise.race([p.exited, timer])) === 'timeout') {
    killGroup(p.pid, 'SIGKILL');
    await p.exited;
  }
  // Stragglers in the group (e.g. an nginx worker whose master died first).
  killGroup(p.pid, 'SIGKILL');
}

/** Stops every managed process and removes every temp dir. */
export async function stopAll(): Promise<void> {
  await Promise.all([...processes].map((p) => stopProcess(p)));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Last lines of a process's log, for error messages. */
export function logTail(p: ManagedProcess, lines = 15): string {
  try {
    return readFileSync(p.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A port that was free a moment ago on 127.0.0.1 (peers like nginx cannot report a port 0 bind). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.connect(port, '127.0.0.1');
  });
}

export type ReadyResult = { ok: true } | { ok: false; reason: string };

/**
 * Waits until GET url answers 200 (or, with tcpOnly, until the port accepts), failing early when the
 * process exits. Each probe is a fresh connection so no pooled socket survives into a measurement.
 */
export async function waitReady(
  p: ManagedProcess,
  url: string,
  timeoutMs: number,
  tcpOnly = false,
): Promise<ReadyResult> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not started';
  while (Date.now() < deadline) {
    if (p.hasExited()) return { ok: false, reason: `${p.name} exited (${await p.exited})` };
    const port = Number(new URL(url).port);
    if (tcpOnly) {
      if (await canConnect(port)) return { ok: true };
      last = 'port not accepting';
    } else {
      try {
        const res = await request(url, { reset: true, headersTimeout: 1_000, bodyTimeout: 1_000 });
        await res.body.dump();
        if (res.statusCode === 200) return { ok: true };
        last = `status ${res.statusCode}`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
    }
    await sleep(100);
  }
  return { ok: false, reason: `${p.name} not ready after ${timeoutMs} ms (${last})` };
}

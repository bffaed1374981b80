// Readers of /proc for the benchmark: CPU time (utime+stime, clock ticks) and resident memory (VmRSS)
// of a process *tree*, so a proxy that forks workers (nginx master + worker) is charged for all of
// them. Parsing is pure and tested; the readers tolerate processes that exit between listing and
// reading (a vanished pid contributes nothing).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** User-mode CPU time of the process, clock ticks. */
  utimeTicks: number;
  /** Kernel-mode CPU time of the process, clock ticks. */
  stimeTicks: number;
  /** User-mode CPU time of waited-for children (charged to the parent once they are reaped). */
  cutimeTicks: number;
  cstimeTicks: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * Parses /proc/<pid>/stat (proc(5)). The command name (field 2) is in parentheses and may itself
 * contain spaces and parentheses, so fields are counted from the *last* ')'.
 */
export function parseProcStat(text: string): ParseResult<ProcStat> {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return { ok: false, error: 'stat: missing "(comm)" field' };
  const pid = Number(text.slice(0, open).trim());
  // After ')': field 3 (state) is index 0, so field N is index N - 3.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const value: ProcStat = {
    pid,
    ppid: field(4),
    utimeTicks: field(14),
    stimeTicks: field(15),
    cutimeTicks: field(16),
    cstimeTicks: field(17),
  };
  for (const [name, v] of Object.entries(value)) {
    if (!Number.isInteger(v) || v < 0) return { ok: false, error: `stat: field "${name}" is not a count` };
  }
  return { ok: true, value };
}

/** Extracts VmRSS from /proc/<pid>/status, in bytes; undefined for kernel threads and zombies. */
export function parseVmRssBytes(statusText: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** The pid itself and every descendant, given (pid, ppid) pairs of all live processes. */
export function descendantsOf(
  rootPid: number,
  processes: readonly { pid: number; ppid: number }[],
): number[] {
  const children = new Map<number, number[]>();
  for (const p of processes) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const out: number[] = [];
  const stack = [rootPid];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    for (const child of children.get(pid) ?? []) stack.push(child);
  }
  return out;
}

/** Sum of utime+stime+cutime+cstime over a set of stats: CPU consumed by the tree, in ticks. */
export function treeCpuTicks(stats: readonly ProcStat[]): number {
  let total = 0;
  for (const s of stats) total += s.utimeTicks + s.stimeTicks + s.cutimeTicks + s.cstimeTicks;
  return total;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Stats of all live processes (a process that exits mid-scan is skipped). */
export function readAllStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const text = readOrUndefined(`/proc/${name}/stat`);
    if (text === undefined) continue;
    const parsed = parseProcStat(text);
    if (parsed.ok) out.push(parsed.value);
  }
  return out;
}

/** Stats of rootPid and its live descendants; empty when rootPid is gone. */
export function readTreeStats(rootPid: number): ProcStat[] {
  const all = readAllStats();
  const byPid = new Map(all.map((s) => [s.pid, s]));
  if (!byPid.has(rootPid)) return [];
  return descendantsOf(rootPid, all).flatMap((pid) => {
    const s = byPid.get(pid);
    return s ? [s] : [];
  });
}

/** CPU ticks consumed so far by the tree rooted at rootPid. */
export function readTreeCpuTicks(rootPid: number): number {
  return treeCpuTicks(readTreeStats(rootPid));
}

/** Sum of VmRSS over the tree rooted at rootPid, in bytes. */
export function readTreeRssBytes(rootPid: number): number {
  let total = 0;
  for (const s of readTreeStats(rootPid)) {
    const text = readOrUndefined(`/proc/${s.pid}/status`);
    total += text === undefined ? 0 : (parseVmRssBytes(text) ?? 0);
  }
  return total;
}

let clockTicksCache: number | undefined;

/** `getconf CLK_TCK` (USER_HZ), almost always 100; cached. */
export function clockTicksPerSecond(): number {
  if (clockTicksCache === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicksCache = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clockTicksCache = 100;
    }
  }
  return clockTicksCache;
}

/** Microseconds of CPU per request from a tick delta; the tick is 10 ms at USER_HZ=100. */
export function cpuUsPerRequest(ticksDelta: number, requests: number, ticksPerSecond: number): number {
  if (requests <= 0) return Number.NaN;
  return (ticksDelta * 1_000_000) / ticksPerSecond / requests;
}

/** Samples the tree's RSS every intervalMs and keeps the peak; stop() returns it in bytes. */
export function startRssSampler(rootPid: number, intervalMs = 200): { stop: () => number } {
  let peakBytes = readTreeRssBytes(rootPid);
  const timer = setInterval(() => {
    peakBytes = Math.max(peakBytes, readTreeRssBytes(rootPid));
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      peakBytes = Math.max(peakBytes, readTreeRssBytes(rootPid));
      return peakBytes;
    },
  };
}

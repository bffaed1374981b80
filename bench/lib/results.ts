// Machine description and JSON output for bench/results/. Results carry the machine they were measured
// on because CPU per request drifts between machines; only same-run ratios compare across machines.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { dirname, join } from 'node:path';
import { clockTicksPerSecond } from './proc.ts';
import { REPO_ROOT, toolVersion } from './targets.ts';

/** bench/results/, or BENCH_RESULTS_DIR: a trial run then leaves the published results alone. */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || join(REPO_ROOT, 'bench', 'results');

export interface MachineInfo {
  date: string;
  node: string;
  nproc: number;
  cpuModel: string;
  kernel: string;
  clockTicksPerSecond: number;
  nginx: string;
  haproxy: string;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    nproc: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    kernel: release(),
    clockTicksPerSecond: clockTicksPerSecond(),
    nginx: toolVersion('nginx'),
    haproxy: toolVersion('haproxy'),
  };
}

/** NaN and Infinity become null (JSON has no NaN). */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

export function writeResult(fileName: string, value: unknown): string {
  const path = join(RESULTS_DIR, fileName);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toJson(value));
  return path;
}

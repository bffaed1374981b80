// `sluice demo` end to end, non-interactively: the real CLI as a subprocess (time-scaled), its
// --summary-json read back. v2 must be promoted, v3 (20% errors, or 300 ms slower) aborted by the judge
// with its failed requests counted (its p99 for the latency scenario), and the process must exit by itself (the load stopped, standalone's servers and
// workloads closed: an open handle would keep it alive) with its proxy port closed afterwards.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../../../src/standalone/demo/summary.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sluice demo', () => {
  it.each<[scenario: 'errors' | 'latency', what: string]>([
    ['errors', 'its failures counted'],
    ['latency', 'its slowness measured'],
  ])(
    '--scenario %s: promotes v2, aborts the bad v3 with %s, and leaves nothing running',
    async (scenario) => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-demo-test-'));
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      const summaryFile = join(dir, 'summary.json');
      const started = Date.now();
      const child = spawn(
        process.execPath,
        [MAIN, 'demo', '--plain', '--scenario', scenario, '--time-scale', '3', '--summary-json', summaryFile],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      cleanups.push(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        output += d.toString();
      });
      const code = await new Promise<number | string>((resolve) => {
        const timer = setTimeout(() => resolve('timeout'), 110_000);
        child.once('exit', (c, signal) => {
          clearTimeout(timer);
          resolve(c ?? signal ?? 'unknown');
        });
      });
      expect(code, output).toBe(0);

      const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as DemoSummary;
      const [v2, v3] = summary.releases;
      expect(v2, output).toMatchObject({ version: 'v2', outcome: 'promoted', abortMs: null });
      expect(summary.scenario).toBe(scenario);
      expect(v2!.requests).toBeGreaterThan(0);
      expect(v3, output).toMatchObject({ version: 'v3', outcome: 'aborted' });
      if (scenario === 'errors') expect(v3!.failed, output).toBeGreaterThan(0);
      else expect(v3!.p99Ms, output).toBeGreaterThanOrEqual(300);
      expect(v2!.failed, output).toBe(0);
      expect(v3!.requests).toBeGreaterThanOrEqual(v3!.failed);
      expect(v3!.abortMs).toBeGreaterThan(0);
      expect(v3!.abortMs).toBeLessThan(30_000);
      expect(summary.durationS).toBeGreaterThan(0);
      expect(summary.durationS).toBeLessThan((Date.now() - started) / 1000 + 1);
      expect(output).toMatch(/v2: PROMOTED/);
      expect(output).toMatch(/v3: ABORTED/);

      // It exited by itself, and what it served is gone.
      expect(alive(child.pid!)).toBe(false);
      const proxy = /proxy on http:\/\/([\d.]+):(\d+)/.exec(output);
      expect(proxy, output).not.toBeNull();
      expect(await refused(proxy![1]!, Number(proxy![2]))).toBe(true);
      const api = /API http:\/\/([\d.]+):(\d+)/.exec(output);
      expect(await refused(api![1]!, Number(api![2]))).toBe(true);
      // Its temp dir (manifests, kubeconfig) is removed.
      const manifests = /manifests written to (\S+)/.exec(output);
      await expect(readFile(join(manifests![1]!, 'rollout.yaml'))).rejects.toThrow();
    },
    120_000,
  );

  it('--help says what it does and exits 0; a bad flag exits 2', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        c.stderr.on('data', (d: Buffer) => {
          out += d.toString();
        });
        c.once('exit', (code) => resolve({ code, out }));
      });
    const help = await run(['demo', '--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--scenario', '--summary-json', '--keep-running', '--time-scale', 'demo-proxy'])
      expect(help.out).toContain(flag);
    const bad = await run(['demo', '--scenario', 'meteor']);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('--scenario');
    const proxyHelp = await run(['demo-proxy', '--help']);
    expect(proxyHelp.code).toBe(0);
    expect(proxyHelp.out).toMatch(/usage: sluice demo-proxy/);
  }, 30_000);
});

// Helpers for the `sluice standalone` acceptance tests (issue 11): the real command as a subprocess
// (process.execPath src/cli/main.ts standalone DIR ...) on free loopback ports, its output captured, the
// kubeconfig it writes read back for direct API reads, and traffic counted through its embedded proxy.
// Demo pods (sluice-demo images) are served inside the standalone process, so stopping the subprocess
// stops its pods; `isAlive` lets a test check that no process is left.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';

export const REPO = join(import.meta.dirname, '..', '..', '..');
export const MAIN = join(REPO, 'src', 'cli', 'main.ts');

/** A free loopback port (bound once on port 0, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError !== undefined ? ` (last error: ${String(lastError)})` : ''}`,
      );
    await sleep(everyMs);
  }
}

/** Whether `pid` is a running process (a zombie, exited but not yet reaped by its parent, is not). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: the state is the field after the command's closing parenthesis in /proc/PID/stat.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Every subprocess started by `runSluiceProcess`, killed by `killAll` (afterEach). */
const started = new Set<SluiceProcess>();

export interface SluiceProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Both streams, for matching a message wherever the logger put it. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Runs `node src/cli/main.ts ARGS` with its output captured. */
export function runSluiceProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): SluiceProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: REPO,
    env: { ...process.env, SLUICE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => {
    out += t;
  });
  child.stderr!.setEncoding('utf8').on('data', (t: string) => {
    err += t;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const p: SluiceProcess = {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    output: () => out + err,
    exited,
    async waitForOutput(pattern, timeoutMs = 15_000) {
      let done = false;
      void exited.then(() => {
        done = true;
      });
      return waitFor(
        `${pattern} in the output of sluice ${args.join(' ')}`,
        () => {
          const m = (out + err).match(pattern);
          if (m !== null) return m;
          if (done) throw new Error(`exited; output:\n${out}\n${err}`);
          return undefined;
        },
        timeoutMs,
        50,
      );
    },
  };
  started.add(p);
  void exited.then(() => started.delete(p));
  return p;
}

/** Kills (SIGKILL) every subprocess still running and waits for each to exit. */
export async function killAll(): Promise<void> {
  const running = [...started];
  for (const p of running) p.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
}

export interface Standalone {
  readonly process: SluiceProcess;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly kubeconfig: string;
  /** A GET on the standalone API server (with the kubeconfig's token); undefined on 404. */
  get<T extends KubeObject>(path: string): Promise<T | undefined>;
  rollout(name?: string): Promise<Rollout>;
  list<T extends object = KubeObject>(group: string, resource: string): Promise<T[]>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | string>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface StandalonePorts {
  listen: number;
  admin: number;
}

export async function standalonePorts(): Promise<StandalonePorts> {
  return { listen: await freePort(), admin: await freePort() };
}

/** Starts `sluice standalone DIR` and waits for its "proxy on ..." line and its kubeconfig. */
export async function startStandalone(o: {
  dir: string;
  state: string;
  kubeconfig: string;
  ports: StandalonePorts;
}): Promise<Standalone> {
  const p = runSluiceProcess([
    'standalone',
    o.dir,
    '--state',
    o.state,
    '--kubeconfig-out',
    o.kubeconfig,
    '--listen',
    `127.0.0.1:${o.ports.listen}`,
    '--admin',
    `127.0.0.1:${o.ports.admin}`,
    '--report-interval',
    '250ms',
  ]);
  const m = await p.waitForOutput(/proxy on (http:\/\/\S+), admin on (http:\/\/\S+), API on (http:\/\/\S+)/);
  const config = parseYaml(await readFile(o.kubeconfig, 'utf8')) as {
    clusters: { cluster: { server: string } }[];
    users: { user: { token: string } }[];
  };
  const server = config.clusters[0]!.cluster.server;
  const token = config.users[0]!.user.token;
  const get = async <T extends KubeObject>(path: string): Promise<T | undefined> => {
    const res = await fetch(`${server}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    process: p,
    proxyUrl: m[1]!.replace(/,$/, ''),
    adminUrl: m[2]!.replace(/,$/, ''),
    kubeconfig: o.kubeconfig,
    get,
    async rollout(name = 'shop') {
      const ro = await get<Rollout>(`/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/${name}`);
      if (ro === undefined) throw new Error(`no Rollout ${name}`);
      return ro;
    },
    async list<T extends object = KubeObject>(group: string, resource: string) {
      const prefix = group === '' ? '/api/v1' : `/apis/${group}`;
      const l = await get<KubeObject & { items: T[] }>(`${prefix}/namespaces/default/${resource}`);
      return l?.items ?? [];
    },
    async stop() {
      p.child.kill('SIGTERM');
      return p.exited;
    },
    async kill() {
      p.child.kill('SIGKILL');
      await p.exited;
    },
  };
}

/** `n` sequential requests through the proxy: how many each demo version answered. */
export async function countVersions(proxyUrl: string, n = 100): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${proxyUrl}/`);
    const version = res.headers.get('x-demo-version') ?? `status ${res.status}`;
    await res.body?.cancel();
    counts[version] = (counts[version] ?? 0) + 1;
  }
  return counts;
}

const shopService = (name: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: shop
  ports:
    - name: http
      port: 80
      targetPort: 8080
`;

/** The stable and canary Services of the `shop` Rollout the standalone tests deploy. */
export const SHOP_SERVICES = `${shopService('shop-stable')}---\n${shopService('shop-canary')}`;

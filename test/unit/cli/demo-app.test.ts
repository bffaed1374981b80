// `sluice demo-app` as a process: it prints the port it listens on, serves the demo app with the
// environment's misbehaviour, stops on SIGTERM with exit 0, and refuses bad input naming it.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, 'demo-app', ...args], { env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  // Tests that expect an exit never await `listening`.
  listening.catch(() => {});
  return { child, exited, listening, stderr: () => err };
}

describe('sluice demo-app', () => {
  it('serves the demo app with the environment settings and exits 0 on SIGTERM', async () => {
    const p = run(['--listen', '127.0.0.1:0', '--name', 'pod-a', '--version', 'v7'], { ERROR_RATE: '1' });
    const port = await p.listening;
    const res = await request(`http://127.0.0.1:${port}/x`);
    expect(res.statusCode).toBe(500);
    expect(res.headers['x-demo-version']).toBe('v7');
    expect(await res.body.json()).toMatchObject({ pod: 'pod-a', version: 'v7', path: '/x' });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('refuses a bad --listen with exit 2 and a bad ERROR_RATE with exit 1, naming them', async () => {
    const a = run(['--listen', 'nowhere']);
    expect(await a.exited).toBe(2);
    expect(a.stderr()).toContain('--listen: expected HOST:PORT, got "nowhere"');
    const b = run(['--listen', '127.0.0.1:0'], { ERROR_RATE: 'often' });
    expect(await b.exited).toBe(1);
    expect(b.stderr()).toContain('ERROR_RATE: must be a number, got "often"');
  });
});

// The benchmark's /proc readers and process management against real processes, and the shared
// backend against a real socket. Everything started here is stopped in afterEach.
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { readTreeCpuTicks, readTreeRssBytes, readTreeStats } from '../../../bench/lib/proc.ts';
import {
  freePort,
  type ManagedProcess,
  makeTempDir,
  spawnManaged,
  stopAll,
  stopProcess,
  waitReady,
} from '../../../bench/lib/processes.ts';
import { REPO_ROOT } from '../../../bench/lib/targets.ts';

afterEach(async () => {
  await stopAll();
});

/** Gone, or a zombie waiting for init to reap it. */
function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}

describe('process tree readers', () => {
  it('charges a parent for its children: the tree has both pids, their RSS and their CPU', async () => {
    const dir = makeTempDir('test');
    // A shell whose child burns 300 ms of user CPU time (not wall time: the machine is shared), then sleeps.
    const p = spawnManaged({
      name: 'tree',
      command: 'sh',
      args: [
        '-c',
        `${process.execPath} -e "while (process.cpuUsage().user < 300000); setTimeout(()=>{}, 20000)"`,
      ],
      logDir: dir,
    });
    await waitFor(() => readTreeStats(p.pid).length >= 2);
    const pids = readTreeStats(p.pid).map((s) => s.pid);
    expect(pids).toContain(p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    // The child node burns 300 ms of CPU (30 ticks at USER_HZ 100) before it sleeps.
    await waitFor(() => readTreeCpuTicks(p.pid) >= 20, 20_000);
    expect(readTreeRssBytes(p.pid)).toBeGreaterThan(10 * 1024 * 1024);
    await stopProcess(p);
    expect(readTreeStats(p.pid)).toEqual([]);
    expect(readTreeCpuTicks(p.pid)).toBe(0);
  });

  it('stopAll kills the whole process group and removes temp dirs', async () => {
    const dir = makeTempDir('test');
    mkdirSync(join(dir, 'sub'));
    const p = spawnManaged({
      name: 'group',
      command: 'sh',
      args: ['-c', 'sleep 30 & sleep 30 & wait'],
      logDir: dir,
    });
    await waitFor(() => readTreeStats(p.pid).length >= 3);
    const children = readTreeStats(p.pid).map((s) => s.pid);
    await stopAll();
    expect(p.hasExited()).toBe(true);
    expect(children.length).toBeGreaterThanOrEqual(3);
    await waitFor(() => children.every(isGone), 3_000);
    expect(existsSync(dir)).toBe(false);
  });

  it('reports a process that exits before it is ready instead of waiting out the timeout', async () => {
    const dir = makeTempDir('test');
    const p = spawnManaged({ name: 'dies', command: 'sh', args: ['-c', 'exit 3'], logDir: dir });
    const started = Date.now();
    const ready = await waitReady(p, `http://127.0.0.1:${await freePort()}/`, 5_000);
    expect(ready).toEqual({ ok: false, reason: 'dies exited (3)' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe('the shared backend', () => {
  let backend: ManagedProcess | undefined;

  it('answers pipelined keep-alive requests in order with its name and a 13-byte body', async () => {
    const dir = makeTempDir('test');
    const port = await freePort();
    backend = spawnManaged({
      name: 'backend',
      command: process.execPath,
      args: [join(REPO_ROOT, 'bench', 'backend.ts'), '--port', String(port), '--name', 'canary'],
      logDir: dir,
    });
    expect(await waitReady(backend, `http://127.0.0.1:${port}/`, 10_000)).toEqual({ ok: true });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.write(
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
    );
    socket.write('GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await once(socket, 'end');
    socket.destroy();
    const responses = received.split('HTTP/1.1 200 OK\r\n').slice(1);
    expect(responses).toHaveLength(3);
    for (const r of responses) {
      expect(r).toContain('X-Backend: canary\r\n');
      expect(r).toContain('Content-Length: 13\r\n');
      expect(r.endsWith('\r\n\r\nHello, world!')).toBe(true);
    }
  });
});

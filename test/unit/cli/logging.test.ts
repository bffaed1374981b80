// --log-format and --loglevel: text on a terminal and JSON otherwise unless told, the level from the flag
// or SLUICE_LOG_LEVEL, errors naming the flag; the text line's shape; and a real `sluice proxy` writing
// each format on its stdout (a pipe: JSON by default).

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, flagsOf } from '../../../src/cli/command-table.ts';
import { parseControllerArgs } from '../../../src/cli/controller.ts';
import { UsageError } from '../../../src/cli/flags.ts';
import { createLogger, logSettings, textLine } from '../../../src/cli/logging.ts';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-logging-'));
const started: ChildProcess[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function capture(): { lines: string[]; write(text: string): void } {
  const lines: string[] = [];
  return { lines, write: (text) => lines.push(text) };
}

describe('log settings', () => {
  it('defaults to text on a terminal and JSON otherwise, at info', () => {
    expect(logSettings({}, true, {})).toEqual({ format: 'text', level: 'info' });
    expect(logSettings({}, false, {})).toEqual({ format: 'json', level: 'info' });
  });

  it('takes --log-format and --loglevel, then SLUICE_LOG_LEVEL', () => {
    expect(logSettings({ 'log-format': 'json', loglevel: 'debug' }, true, {})).toEqual({
      format: 'json',
      level: 'debug',
    });
    expect(logSettings({}, false, { SLUICE_LOG_LEVEL: 'warn' }).level).toBe('warn');
    expect(logSettings({ loglevel: 'error' }, false, { SLUICE_LOG_LEVEL: 'warn' }).level).toBe('error');
  });

  it('refuses an unknown format or level, naming where it came from', () => {
    expect(() => logSettings({ 'log-format': 'xml' }, false, {})).toThrow(UsageError);
    expect(() => logSettings({ 'log-format': 'xml' }, false, {})).toThrow(
      '--log-format: expected text or json',
    );
    expect(() => logSettings({ loglevel: 'loud' }, false, {})).toThrow('--loglevel: expected one of');
    expect(() => logSettings({}, false, { SLUICE_LOG_LEVEL: 'loud' })).toThrow('SLUICE_LOG_LEVEL: expected');
  });

  it('is on every long-running command and on no other', () => {
    const withLogs = COMMANDS.filter((c) => 'log-format' in flagsOf(c) && 'loglevel' in flagsOf(c));
    expect(withLogs.map((c) => c.name).sort()).toEqual([
      'controller',
      'demo',
      'demo-proxy',
      'proxy',
      'standalone',
    ]);
  });

  it('reaches the controller options', () => {
    expect(parseControllerArgs(['--log-format', 'text', '--loglevel', 'debug'], false, {})).toMatchObject({
      ok: true,
      options: { log: { format: 'text', level: 'debug' } },
    });
    expect(parseControllerArgs([], true, {})).toMatchObject({
      ok: true,
      options: { log: { format: 'text' } },
    });
    expect(parseControllerArgs(['--log-format', 'xml'], false, {})).toMatchObject({
      ok: false,
      error: expect.stringContaining('--log-format'),
    });
  });
});

describe('the text format', () => {
  it('prints time, level, source and message, then the fields', () => {
    const time = Date.UTC(2025, 0, 2, 12, 4, 5, 123);
    const line = textLine(
      JSON.stringify({
        level: 30,
        time,
        pid: 1,
        hostname: 'h',
        name: 'sluice-proxy',
        msg: 'routes applied',
        version: 3,
        data: { host: '127.0.0.1', port: 8080 },
        note: 'two words',
      }),
    );
    expect(line).toBe(
      '12:04:05.123 INFO  sluice-proxy: routes applied version=3 data={"host":"127.0.0.1","port":8080} note="two words"\n',
    );
  });

  it("puts an error's stack on its own lines and passes a line that is not JSON through", () => {
    const line = textLine(
      JSON.stringify({ level: 50, time: 0, msg: 'failed', err: { stack: 'Error: x\n    at y' } }),
    );
    expect(line).toBe('00:00:00.000 ERROR failed\n    Error: x\n        at y\n');
    expect(textLine('not json')).toBe('not json\n');
  });

  it('createLogger writes text or JSON at the level asked', () => {
    const text = capture();
    const logger = createLogger({ format: 'text', level: 'info' }, { name: 'test' }, text);
    logger.debug('hidden');
    logger.info({ n: 1 }, 'shown');
    expect(text.lines).toHaveLength(1);
    expect(text.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}test: shown n=1\n$/);
    const json = capture();
    createLogger({ format: 'json', level: 'debug' }, { name: 'test' }, json).debug('seen');
    expect(JSON.parse(json.lines[0]!)).toMatchObject({ level: 20, name: 'test', msg: 'seen' });
  });
});

describe('sluice proxy logs', () => {
  const ROUTES =
    'routes:\n  - name: web\n    backends:\n      - { name: stable, revision: r1, address: "http://127.0.0.1:9", weight: 100 }\n';
  const routes = join(dir, 'routes.yaml');
  writeFileSync(routes, ROUTES);

  /** Starts `sluice proxy` with `flags` and resolves with its stdout once it logged "proxy listening". */
  async function proxyOutput(flags: string[]): Promise<string> {
    const child = spawn(
      process.execPath,
      [MAIN, 'proxy', '--config', routes, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...flags],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    let out = '';
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        // With workers, "routes applied" (a worker's) may come after "proxy listening" (the primary's).
        if (out.includes('proxy listening') && out.includes('routes applied')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${out}`)));
    });
    return out;
  }

  it('writes JSON lines to a pipe by default', async () => {
    const out = await proxyOutput([]);
    const first = JSON.parse(out.split('\n')[0]!);
    expect(first).toMatchObject({ level: 30, name: 'sluice-proxy' });
  });

  it('writes text with --log-format text', async () => {
    const out = await proxyOutput(['--log-format', 'text']);
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}sluice-proxy: routes applied version=/m);
    expect(out).toMatch(/INFO {2}sluice-proxy: proxy listening data=/);
  });

  it('leaves out info lines with --loglevel warn', async () => {
    const adminPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        MAIN,
        'proxy',
        '--config',
        routes,
        '--listen',
        '127.0.0.1:0',
        '--admin',
        `127.0.0.1:${adminPort}`,
        '--loglevel',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.push(child);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    // Up once the admin port answers; by then the info lines would have been written.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect(child.exitCode).toBe(0);
    expect(out).toBe('');
  });

  it('refuses --log-format xml with exit 2, naming the flag', async () => {
    const child = spawn(process.execPath, [MAIN, 'proxy', '--config', routes, '--log-format', 'xml'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toContain('--log-format: expected text or json, got "xml"');
  });
});

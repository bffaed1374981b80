// `sluice analysis run` in-process: flags, manifest selection, exit codes, redaction. Measurements hit
// a real HTTP server on port 0; the schedule runs on a virtual clock.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalysisCommand } from '../../../src/cli/analysis.ts';
import { virtualClock } from '../../fixtures/analysis/scripted.ts';

let server: Server;
let base: string;
let dir: string;
const authSeen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-analysis-cli-'));
  server = createServer((req, res) => {
    authSeen.push(req.headers.authorization ?? '');
    const value = new URL(req.url!, 'http://x').searchParams.get('v') ?? '1';
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ v: Number(value) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAnalysisCommand(argv, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    terminateSignal: new AbortController().signal,
    clock: virtualClock(),
  });
  return { code, out, err };
}

const webTemplate = (name: string, condition: string, extra = '') => `
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: { name: ${name} }
spec:
  args:
  - name: v
    value: "1"
  metrics:
  - name: ${name}-check
    count: 2
    interval: 1m
    ${condition}
    provider:
      web:
        url: "${'${BASE}'}/?v={{args.v}}"
        jsonPath: "{$.v}"${extra}
`;

function tpl(name: string, condition = 'successCondition: result == 1', extra = ''): string {
  return webTemplate(name, condition, extra).replace('${BASE}', base);
}

describe('sluice analysis run', () => {
  it('runs a template and exits 0 when Successful', async () => {
    const r = await cli(['run', '-f', file('ok.yaml', tpl('ok'))]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/\+0\.0s {2}ok-check #1 {2}Successful {2}value=1/);
    expect(r.out).toMatch(/\+60\.0s {2}ok-check #2 {2}Successful/);
    expect(r.out).toContain('AnalysisRun ok: Successful');
    expect(r.code).toBe(0);
  });

  it('exits 1 when Failed and 3 when Inconclusive', async () => {
    expect((await cli(['run', '-f', file('f.yaml', tpl('f')), '--arg', 'v=2'])).code).toBe(1);
    const inconclusive = tpl('i', 'successCondition: result == 0\n    failureCondition: result == 5');
    expect((await cli(['run', '-f', file('i.yaml', inconclusive)])).code).toBe(3);
  });

  it('picks the AnalysisTemplate out of a multi-document file and lets --name choose', async () => {
    const multi = `apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: { name: r }\nspec: {}\n---${tpl('a')}---${tpl('b', 'successCondition: result == 7')}`;
    const path = file('multi.yaml', multi);
    const both = await cli(['run', '-f', path]);
    expect(both.err).toContain('running a, b together in one run');
    expect(both.code).toBe(1);
    const a = await cli(['run', '-f', path, '--name', 'a']);
    expect(a.code).toBe(0);
    expect(a.out).not.toContain('b-check');
    const missing = await cli(['run', '-f', path, '--name', 'zzz']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--name zzz: not found .*AnalysisTemplate\/a, AnalysisTemplate\/b/);
  });

  it('runs the root of a composed template', async () => {
    const composite = `apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: { name: all }\nspec:\n  templates:\n  - templateName: a\n---${tpl('a')}`;
    const r = await cli(['run', '-f', file('composite.yaml', composite)]);
    expect(r.out).toContain('a-check #2');
    expect(r.code).toBe(0);
  });

  it('uses --secret values for secretKeyRef args and never prints them', async () => {
    const t = tpl(
      's',
      'successCondition: result == 1',
      `\n        headers:\n        - key: Authorization\n          value: "Bearer {{args.token}}"`,
    ).replace(
      '  - name: v\n',
      '  - name: token\n    valueFrom:\n      secretKeyRef: { name: creds, key: token }\n  - name: v\n',
    );
    const path = file('secret.yaml', t);
    const r = await cli(['run', '-f', path, '--secret', 'creds/token=hunter2-very-secret', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(authSeen).toContain('Bearer hunter2-very-secret');
    expect(r.out).not.toContain('hunter2-very-secret');
    expect(JSON.parse(r.out).status.phase).toBe('Successful');
    const noSecret = await cli(['run', '-f', path]);
    expect(noSecret.code).toBe(2);
    expect(noSecret.out).toMatch(/pass --secret creds\/token=VALUE/);
  });

  it.each([
    [['run'], '--file: is required'],
    [['run', '-f', 'x.yaml', '--bogus'], "'--bogus'"],
    [['run', '-f', 'x.yaml', '--interval-scale', 'fast'], '--interval-scale fast: must be a positive number'],
    [['run', '-f', 'x.yaml', '--duration', '30'], '--duration 30: missing unit'],
    [
      ['run', '-f', 'x.yaml', '--prometheus', 'localhost:9090'],
      '--prometheus localhost:9090: must be an http or https URL',
    ],
    [['run', '-f', 'x.yaml', '--arg', 'novalue'], '--arg "novalue": expected KEY=VALUE'],
    [['run', '-f', '/nonexistent/t.yaml'], '--file /nonexistent/t.yaml: ENOENT'],
  ])('rejects bad flags naming the flag: %j', async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });

  it('rejects an --arg the template does not declare and a required arg left unset', async () => {
    const r = await cli(['run', '-f', file('ok2.yaml', tpl('ok2')), '--arg', 'nope=1']);
    expect(r.err).toContain('--arg nope: the template declares no argument "nope"');
    const required = tpl('req').replace('    value: "1"\n', '');
    const r2 = await cli(['run', '-f', file('req.yaml', required)]);
    expect(r2.code).toBe(2);
    expect(r2.err).toContain('args.v was not resolved');
  });

  it('refuses providers that cannot run locally, naming the metric', async () => {
    const t = `kind: AnalysisTemplate\napiVersion: argoproj.io/v1alpha1\nmetadata: { name: p }\nspec:\n  metrics:\n  - name: lat\n    provider:\n      plugin:\n        sluice/proxy: { route: checkout }\n`;
    const r = await cli(['run', '-f', file('plugin.yaml', t)]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('metrics[0] (lat): provider "sluice/proxy" cannot run locally');
  });

  it('reports an invalid template with the field path', async () => {
    const t = tpl('bad').replace('count: 2', 'count: lots');
    const r = await cli(['run', '-f', file('bad.yaml', t)]);
    expect(r.code).toBe(2);
    expect(r.out).toContain('Analysis spec invalid: metrics[0].count: "lots" is not an integer');
  });
});

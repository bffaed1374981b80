import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRequestHead } from '../../../bench/backend.ts';
import { cookieFromSetCookie } from '../../../bench/lib/cookies.ts';
import { requestsDue } from '../../../bench/lib/load.ts';
import {
  cpuUsPerRequest,
  descendantsOf,
  parseProcStat,
  parseVmRssBytes,
  treeCpuTicks,
} from '../../../bench/lib/proc.ts';
import { FULL_SETTINGS, parseSettings, QUICK_SETTINGS } from '../../../bench/lib/settings.ts';
import { median, ratio } from '../../../bench/lib/stats.ts';
import {
  checkTargets,
  type RateRound,
  summarize,
  type TargetRounds,
  type ThroughputRound,
} from '../../../bench/lib/summary.ts';
import { fmt, fmtMiB, fmtMsFromUs, fmtRatio, markdownTable } from '../../../bench/lib/table.ts';
import { REPO_ROOT, sluiceRoutesYaml } from '../../../bench/lib/targets.ts';
import { renderTemplate } from '../../../bench/lib/template.ts';
import { scoreStickyShare, scoreWeightRun } from '../../../bench/weights.ts';

// A real line from /proc/<pid>/stat with utime=1234 stime=56 cutime=7 cstime=8.
const STAT_FIELDS_AFTER_COMM =
  'S 100 4242 4242 0 -1 4194560 2113 0 0 0 1234 56 7 8 20 0 11 0 33868 1160859648 20110 18446744073709551615';

describe('parseProcStat', () => {
  it('reads pid, ppid and the four CPU time fields in clock ticks', () => {
    const parsed = parseProcStat(`4243 (node) ${STAT_FIELDS_AFTER_COMM}\n`);
    expect(parsed).toEqual({
      ok: true,
      value: { pid: 4243, ppid: 100, utimeTicks: 1234, stimeTicks: 56, cutimeTicks: 7, cstimeTicks: 8 },
    });
  });

  it('counts fields from the last parenthesis, so a command name with spaces and ")" does not shift them', () => {
    const parsed = parseProcStat(`77 (nginx: worker) (x)) ${STAT_FIELDS_AFTER_COMM}`);
    expect(parsed.ok && parsed.value.utimeTicks).toBe(1234);
    expect(parsed.ok && parsed.value.ppid).toBe(100);
  });

  it('rejects a line without a command field or with missing counters, naming the problem', () => {
    expect(parseProcStat('garbage')).toEqual({ ok: false, error: 'stat: missing "(comm)" field' });
    const truncated = parseProcStat('5 (sh) S 1 5 5');
    expect(truncated.ok).toBe(false);
    expect(!truncated.ok && truncated.error).toMatch(/utimeTicks/);
  });
});

describe('parseVmRssBytes', () => {
  it('converts the VmRSS line from kB to bytes', () => {
    expect(parseVmRssBytes('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   20440 kB\nRssAnon:\t 1 kB\n')).toBe(
      20440 * 1024,
    );
  });

  it('is undefined for kernel threads and zombies, which have no VmRSS line', () => {
    expect(parseVmRssBytes('Name:\tkthreadd\nState:\tS (sleeping)\n')).toBeUndefined();
  });
});

describe('descendantsOf and treeCpuTicks', () => {
  const processes = [
    { pid: 1, ppid: 0 },
    { pid: 10, ppid: 1 },
    { pid: 11, ppid: 10 },
    { pid: 12, ppid: 11 },
    { pid: 13, ppid: 10 },
    { pid: 20, ppid: 1 },
  ];

  it('returns the root and every descendant but no sibling or parent', () => {
    expect(descendantsOf(10, processes).sort((a, b) => a - b)).toEqual([10, 11, 12, 13]);
  });

  it('returns only the root for a leaf, and terminates on a (corrupt) cycle', () => {
    expect(descendantsOf(12, processes)).toEqual([12]);
    expect(
      descendantsOf(5, [
        { pid: 5, ppid: 6 },
        { pid: 6, ppid: 5 },
      ]).sort(),
    ).toEqual([5, 6]);
  });

  it('charges a tree with user, system and reaped-children time of every member', () => {
    const stat = (utimeTicks: number, stimeTicks: number, cutimeTicks = 0, cstimeTicks = 0) => ({
      pid: 0,
      ppid: 0,
      utimeTicks,
      stimeTicks,
      cutimeTicks,
      cstimeTicks,
    });
    expect(treeCpuTicks([stat(10, 5), stat(100, 20, 3, 2)])).toBe(140);
  });

  it('turns a tick delta over a request count into microseconds per request', () => {
    expect(cpuUsPerRequest(45, 30_000, 100)).toBeCloseTo(15, 10);
    expect(cpuUsPerRequest(10, 0, 100)).toBeNaN();
  });
});

describe('median and ratio', () => {
  it('takes the middle of an odd count and the mean of the middle two of an even count, ignoring NaN', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([Number.NaN, 7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('is NaN against a missing or zero reference', () => {
    expect(ratio(30, 15)).toBe(2);
    expect(ratio(30, 0)).toBeNaN();
    expect(ratio(30, Number.NaN)).toBeNaN();
  });
});

describe('markdownTable', () => {
  it('pads columns, right-aligns numeric columns and escapes pipes', () => {
    const table = markdownTable(
      [
        { header: 'target', cell: (r: { name: string; n: number }) => r.name },
        { header: 'n', align: 'right', cell: (r) => String(r.n) },
      ],
      [
        { name: 'nginx', n: 27 },
        { name: 'a|b', n: 1234 },
      ],
    );
    expect(table.split('\n')).toEqual([
      '| target |    n |',
      '|--------|-----:|',
      '| nginx  |   27 |',
      '| a\\|b   | 1234 |',
    ]);
  });

  it('formats missing values as a dash and units as labelled', () => {
    expect(fmt(Number.NaN)).toBe('—');
    expect(fmt(12345.678, 1)).toBe('12,345.7');
    expect(fmtRatio(1.234)).toBe('1.23x');
    expect(fmtRatio(undefined)).toBe('—');
    expect(fmtMsFromUs(2500)).toBe('2.50');
    expect(fmtMiB(100 * 1024 * 1024)).toBe('100.0');
  });
});

describe('renderTemplate and the peer configs', () => {
  it('fills placeholders and names every one without a value', () => {
    expect(renderTemplate('listen {{port}}; {{port}}', { port: 8080 })).toEqual({
      ok: true,
      text: 'listen 8080; 8080',
    });
    expect(renderTemplate('{{a}} {{b}} {{c}}', { a: 1 })).toEqual({
      ok: false,
      error: 'template: no value for b, c',
    });
  });

  it('renders nginx.conf with the given workers, upstream keep-alive and raised keepalive_requests on both sides', () => {
    const template = readFileSync(join(REPO_ROOT, 'bench', 'peers', 'nginx.conf'), 'utf8');
    const rendered = renderTemplate(template, {
      dir: '/tmp/x',
      workers: 1,
      userDirective: '',
      listenPort: 1,
      backendPort: 2,
    });
    expect(rendered.ok).toBe(true);
    const text = rendered.ok ? rendered.text : '';
    expect(text).toMatch(/^worker_processes 1;$/m);
    expect(text).toMatch(/keepalive 64;/);
    expect(text.match(/keepalive_requests 100000;/g)).toHaveLength(2);
    expect(text).toMatch(/proxy_http_version 1\.1;/);
    expect(text).toMatch(/proxy_set_header Connection "";/);
    expect(text).toMatch(/access_log off;/);
    expect(text).toMatch(/listen 127\.0\.0\.1:1;/);
    expect(text).toMatch(/server 127\.0\.0\.1:2;/);
    const four = renderTemplate(template, {
      dir: '/tmp/x',
      workers: 4,
      userDirective: '',
      listenPort: 1,
      backendPort: 2,
    });
    expect(four.ok && four.text).toMatch(/^worker_processes 4;$/m);
  });

  it('renders haproxy.cfg with one thread, connection reuse and keep-alive', () => {
    const template = readFileSync(join(REPO_ROOT, 'bench', 'peers', 'haproxy.cfg'), 'utf8');
    const rendered = renderTemplate(template, { listenPort: 1, backendPort: 2 });
    const text = rendered.ok ? rendered.text : '';
    expect(text).toMatch(/nbthread 1/);
    expect(text).toMatch(/http-reuse always/);
    expect(text).toMatch(/option http-keep-alive/);
    expect(text).not.toMatch(/^\s*log\s/m);
  });
});

describe('sluiceRoutesYaml', () => {
  it('writes the issue-2 routes format with weights and an optional sticky cookie', () => {
    const yaml = sluiceRoutesYaml({
      routeName: 'bench',
      backends: [
        { name: 'stable', url: 'http://127.0.0.1:9001/', weight: 90 },
        { name: 'canary', url: 'http://127.0.0.1:9002/', weight: 10 },
      ],
      stickyCookie: 'sticky',
    });
    expect(yaml).toContain('address: http://127.0.0.1:9001\n');
    expect(yaml).toContain('weight: 10\n');
    expect(yaml).toContain('cookie: sticky');
    expect(yaml).toContain('pathPrefix: /');
  });
});

describe('parseSettings', () => {
  it('uses the full defaults, or the quick ones with --quick or BENCH_QUICK=1', () => {
    expect(parseSettings([], {})).toEqual({ ok: true, settings: FULL_SETTINGS });
    expect(parseSettings(['--quick'], {})).toEqual({ ok: true, settings: QUICK_SETTINGS });
    expect(parseSettings([], { BENCH_QUICK: '1' })).toEqual({ ok: true, settings: QUICK_SETTINGS });
  });

  it('lets a flag override the environment and selects targets and benchmark', () => {
    const parsed = parseSettings(['--rounds', '5', '--targets', 'direct,nginx', '--only', 'proxy'], {
      BENCH_ROUNDS: '2',
      BENCH_AMOUNT: '777',
    });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.settings.rounds).toBe(5);
    expect(parsed.settings.amount).toBe(777);
    expect(parsed.settings.targets).toEqual(['direct', 'nginx']);
    expect(parsed.only).toBe('proxy');
  });

  it('names the flag or variable of a bad value', () => {
    expect(parseSettings(['--rounds', '0'], {})).toEqual({
      ok: false,
      error: '--rounds: expected a positive integer, got "0"',
    });
    expect(parseSettings([], { BENCH_AMOUNT: 'lots' })).toEqual({
      ok: false,
      error: 'BENCH_AMOUNT: expected a positive integer, got "lots"',
    });
    const unknown = parseSettings(['--targets', 'nginx,envoy'], {});
    expect(!unknown.ok && unknown.error).toMatch(/^--targets: unknown envoy/);
    expect(parseSettings(['--bogus'], {}).ok).toBe(false);
  });
});

describe('the paced load schedule', () => {
  it('makes exactly rate x elapsed requests due, capped at the total', () => {
    expect(requestsDue(0, 2000, 100)).toBe(0);
    expect(requestsDue(1.2, 2000, 100)).toBe(2);
    expect(requestsDue(10, 2000, 100)).toBe(20);
    expect(requestsDue(1_000, 2000, 100)).toBe(100);
  });
});

describe('the backend request framer', () => {
  it('waits for a complete head, then reports its length and body to skip', () => {
    expect(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'))).toBeUndefined();
    const head = parseRequestHead(Buffer.from('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'));
    expect(head).toMatchObject({ headBytes: 38, contentLength: 5, close: false, chunked: false });
  });

  it('keeps HTTP/1.1 alive unless Connection: close, and HTTP/1.0 only with keep-alive', () => {
    expect(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nConnection: close\r\n\r\n'))?.close).toBe(true);
    expect(parseRequestHead(Buffer.from('GET / HTTP/1.0\r\n\r\n'))?.close).toBe(true);
    expect(parseRequestHead(Buffer.from('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'))).toMatchObject({
      close: false,
      http10KeepAlive: true,
    });
  });
});

describe('cookieFromSetCookie', () => {
  it('takes the named cookie value before the attributes, the last header winning', () => {
    expect(cookieFromSetCookie('sluice=abc.def; Path=/; HttpOnly', 'sluice')).toBe('abc.def');
    expect(cookieFromSetCookie(['other=1', 'sluice=old', 'sluice=new; Max-Age=3600'], 'sluice')).toBe('new');
    expect(cookieFromSetCookie(['other=1'], 'sluice')).toBeUndefined();
    expect(cookieFromSetCookie(undefined, 'sluice')).toBeUndefined();
  });
});

describe('weight scoring', () => {
  const sequence = (canaryEvery: number, n: number) =>
    Array.from(
      { length: n },
      (_, i) => ((i + 1) % canaryEvery === 0 ? 'canary' : 'stable') as 'canary' | 'stable',
    );

  it('passes an exact 10% interleaving and reports the prefix bound', () => {
    const run = scoreWeightRun(10, sequence(10, 10_000));
    expect(run).toMatchObject({
      requests: 10_000,
      canary: 1_000,
      expectedCanary: 1_000,
      errorRequests: 0,
      pass: true,
    });
    expect(run.maxPrefixErrorRequests).toBeCloseTo(0.9, 10);
  });

  it('fails a run whose total is exact but whose prefix drifts by more than one request', () => {
    const bunched: ('canary' | 'stable')[] = [
      ...Array<'canary'>(1_000).fill('canary'),
      ...Array<'stable'>(9_000).fill('stable'),
    ];
    const run = scoreWeightRun(10, bunched);
    expect(run.errorRequests).toBe(0);
    expect(run.maxPrefixErrorRequests).toBeCloseTo(900, 6);
    expect(run.pass).toBe(false);
  });

  it('fails a run with any failed request', () => {
    expect(scoreWeightRun(50, ['canary', 'other']).pass).toBe(false);
  });

  it('scores sticky share in percentage points of the weight', () => {
    expect(scoreStickyShare(10, 10_000, 1_000)).toEqual({
      canarySharePct: 10,
      deviationPp: 0,
      sharePass: true,
    });
    expect(scoreStickyShare(10, 10_000, 1_101).sharePass).toBe(false);
    expect(scoreStickyShare(1, 10_000, 199)).toMatchObject({ sharePass: true });
  });
});

describe('summarize', () => {
  const throughput = (cpuUsPerRequest: number, p99Us: number, errors = 0): ThroughputRound => ({
    round: 1,
    requestsPerSec: 10_000,
    p50Us: 500,
    p99Us,
    errors,
    responses: 40_000,
    cpuTicks: 0,
    cpuUsPerRequest,
    peakRssBytes: 50 * 1024 * 1024,
    peakRssBytesHighConnections: 60 * 1024 * 1024,
    errorsHighConnections: 0,
  });
  const rate = (p99Us: number): RateRound => ({
    round: 1,
    requestsPerSec: 2_000,
    p50Us: 200,
    p99Us,
    errors: 0,
    responses: 12_000,
    cpuUsPerRequest: 40,
  });
  const rounds: TargetRounds[] = [
    { name: 'direct', throughput: [throughput(20, 1_000)], rate: [rate(800)] },
    {
      name: 'nginx',
      throughput: [throughput(30, 2_000), throughput(40, 2_200), throughput(35, 2_100)],
      rate: [rate(1_000), rate(1_200), rate(1_100)],
    },
    {
      name: 'sluice',
      throughput: [throughput(70, 4_000, 1), throughput(80, 4_400), throughput(60, 4_200)],
      rate: [rate(3_000), rate(3_400), rate(3_200)],
    },
  ];

  it('takes medians across rounds, sums errors and compares to nginx and direct from the same run', () => {
    const sluice = summarize(rounds).find((s) => s.name === 'sluice')!;
    expect(sluice.cpuUsPerRequest).toBe(70);
    expect(sluice.cpuVsNginx).toBe(2);
    expect(sluice.p99VsNginx).toBe(2);
    expect(sluice.errors).toBe(1);
    expect(sluice.rateP99Us).toBe(3_200);
    expect(sluice.rateP99AddedUs).toBe(2_400);
    expect(sluice.rateP99MinusNginxUs).toBe(2_100);
  });

  it('checks the issue-2 targets: 2.0x CPU passes, 2.1 ms over nginx and an error fail', () => {
    const sluice = summarize(rounds).find((s) => s.name === 'sluice')!;
    const checks = Object.fromEntries(checkTargets(sluice).map((c) => [c.name, c.pass]));
    expect(checks).toEqual({
      'CPU per request vs nginx': true,
      'p99 at fixed rate minus nginx': false,
      errors: false,
      'RSS at high connection count': true,
    });
  });

  it('leaves comparisons unknown when nginx was not measured', () => {
    const withoutNginx = summarize(rounds.filter((r) => r.name !== 'nginx'));
    const sluice = withoutNginx.find((s) => s.name === 'sluice')!;
    expect(sluice.cpuVsNginx).toBeNaN();
    expect(checkTargets(sluice)[0]!.pass).toBeUndefined();
  });
});

// The influxdb provider: against a local server answering POST /api/v2/query as InfluxDB 2 documents it
// (annotated CSV, JSON errors), with Argo's influxdb_test.go tables; Argo's docs template unchanged
// through `sluice analysis run`; and against the real InfluxDB Debian ships (1.6.7, no Flux).

import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createInfluxdbProvider,
  influxdbQueryUrl,
  parseInfluxdbSpec,
  readFluxRecords,
} from '../../../src/analysis/providers/influxdb.ts';
import type { ProviderRequest } from '../../../src/analysis/providers/provider.ts';
import { type InfluxdbHandle, influxdbUnavailableReason, startInfluxdb } from '../../fixtures/influxdb.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../../fixtures/analysis/influxdb-error-rate.yaml', import.meta.url));
const TOKEN = 'ABCDEFG01234';
const ORG = 'test-org';

const HEAD = `#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string
#group,false,false,true,true,false,false,true,true,true,true
#default,_result,,,,,,,,,
,result,table,_start,_stop,_time,_value,_field,_measurement,a,b
`;
const row = (value: string) =>
  `,,0,2020-02-17T22:19:49.747562847Z,2020-02-18T22:19:49.747562847Z,2020-02-18T10:34:08.135814545Z,${value},f,test,1,adsfasdf\n`;
// Argo's TestRunSuccessfully / TestRunWithTimeseries / TestRunWithEmptyResult tables.
const ARGO_SUCCESS = HEAD + row('1.0') + row('6.6');
const ARGO_TIMESERIES = HEAD + row('10') + row('20');
const ARGO_EMPTY = HEAD;
const STREAM_ERROR = `#datatype,string,string\n#group,true,true\n#default,,\n,error,reference\n,"failed to execute query: bucket ""nope"" not found",897\n`;

interface Seen {
  url: string;
  authorization: string | undefined;
  body: { query: string; type: string; dialect: unknown };
}
const seen: Seen[] = [];
let server: Server;
let address: string;

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const body = JSON.parse(await readBody(req)) as Seen['body'];
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization, body });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'POST' || url.pathname !== '/api/v2/query') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (req.headers.authorization !== `Token ${TOKEN}`) {
      res
        .writeHead(401, { 'content-type': 'application/json; charset=utf-8' })
        .end('{"code":"unauthorized","message":"unauthorized access"}');
      return;
    }
    if (url.searchParams.get('org') !== ORG) {
      res
        .writeHead(404, { 'content-type': 'application/json; charset=utf-8' })
        .end(
          `{"code":"not found","message":"organization name \\"${url.searchParams.get('org')}\\" not found"}`,
        );
      return;
    }
    const q = body.query;
    const csv = q.includes('"payment"')
      ? HEAD + row('0.005')
      : q.includes('"orders"')
        ? HEAD + row('0.2') + row('0.004')
        : q === 'argo-success'
          ? ARGO_SUCCESS
          : q === 'argo-timeseries'
            ? ARGO_TIMESERIES
            : q === 'stream-error'
              ? STREAM_ERROR
              : ARGO_EMPTY;
    res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' }).end(csv);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

function request(
  block: Record<string, unknown>,
  secret: Record<string, string>,
  reads: string[] = [],
): ProviderRequest {
  return {
    metricName: 'm',
    provider: { influxdb: block },
    nowMs: 0,
    signal: new AbortController().signal,
    resolveSecret: async (ref) => {
      reads.push(`${ref.namespace}/${ref.name}/${ref.key}`);
      const value = secret[ref.key];
      return value === undefined
        ? { ok: false, error: `key "${ref.key}" not found in secret "${ref.name}"` }
        : { ok: true, value };
    },
  };
}

async function measure(query: string, secret = { authToken: TOKEN, address, org: ORG }, profile?: string) {
  const provider = createInfluxdbProvider({ secretNamespace: 'argo-rollouts' });
  try {
    return await provider.run(request({ query, ...(profile ? { profile } : {}) }, secret));
  } finally {
    await provider.close();
  }
}

describe('influxdb provider against the InfluxDB 2 query API', () => {
  it("collects every record's _value as Argo does (Argo's influxdb_test.go tables)", async () => {
    expect(await measure('argo-success')).toEqual({ result: [1, 6.6], value: '[1 6.6]' });
    expect(await measure('argo-timeseries')).toEqual({ result: [10, 20], value: '[10 20]' });
    expect(await measure('argo-empty')).toEqual({
      phase: 'Error',
      message: 'no results returned from flux query',
    });
  });

  it('sends the query as influxdb-client-go does: POST /api/v2/query?org=, Token auth, default dialect', async () => {
    seen.length = 0;
    await measure('argo-success');
    expect(seen).toEqual([
      {
        url: `/api/v2/query?org=${ORG}`,
        authorization: `Token ${TOKEN}`,
        body: {
          dialect: { annotations: ['datatype', 'group', 'default'], delimiter: ',', header: true },
          query: 'argo-success',
          type: 'flux',
        },
      },
    ]);
    expect(influxdbQueryUrl('http://influx:8086', 'my org')).toBe(
      'http://influx:8086/api/v2/query?org=my+org',
    );
    expect(influxdbQueryUrl('http://influx:8086/proxy/', 'o')).toBe(
      'http://influx:8086/proxy/api/v2/query?org=o',
    );
  });

  it('reads authToken, address and org from the profile Secret (default "influxdb") in the controller namespace', async () => {
    const reads: string[] = [];
    const provider = createInfluxdbProvider({ secretNamespace: 'argo-rollouts' });
    await provider.run(request({ query: 'argo-success' }, { authToken: TOKEN, address, org: ORG }, reads));
    await provider.run(
      request(
        { query: 'argo-success', profile: 'my-influxdb-secret' },
        { authToken: TOKEN, address, org: ORG },
        reads,
      ),
    );
    await provider.close();
    expect(reads).toEqual([
      'argo-rollouts/influxdb/authToken',
      'argo-rollouts/influxdb/address',
      'argo-rollouts/influxdb/org',
      'argo-rollouts/my-influxdb-secret/authToken',
      'argo-rollouts/my-influxdb-secret/address',
      'argo-rollouts/my-influxdb-secret/org',
    ]);
    expect(await measure('argo-success', { authToken: TOKEN } as never)).toEqual({
      phase: 'Error',
      message: 'authToken, org, or address not found',
    });
  });

  it("reports the server's errors as the Go client words them, never the token", async () => {
    const unauthorized = await measure('argo-success', { authToken: 'wrong-token', address, org: ORG });
    expect(unauthorized).toEqual({ phase: 'Error', message: 'unauthorized: unauthorized access' });
    expect(await measure('argo-success', { authToken: TOKEN, address, org: 'other' })).toEqual({
      phase: 'Error',
      message: 'not found: organization name "other" not found',
    });
    expect(await measure('stream-error')).toEqual({
      phase: 'Error',
      message: 'no results returned from flux query: failed to execute query: bucket "nope" not found,897',
    });
    const down = await measure('argo-success', { authToken: TOKEN, address: 'http://127.0.0.1:9', org: ORG });
    expect(down.phase).toBe('Error');
    expect(down.message).toMatch(/ECONNREFUSED/);
    expect(down.message).not.toContain(TOKEN);
  });

  it('types values by the #datatype annotation and validates the block with field paths', () => {
    const csv = `#datatype,string,long,long,string\n#group,false,false,false,false\n#default,_result,,,\n,result,table,_value,x\n,,0,42,a\n,,0,,b\n`;
    expect(readFluxRecords(csv)).toEqual({ values: [42, null], types: ['long', 'long'] });
    expect(parseInfluxdbSpec({})).toEqual({ ok: false, field: 'influxdb.query', message: 'is required' });
    expect(parseInfluxdbSpec({ query: 'x', profile: 3 })).toEqual({
      ok: false,
      field: 'influxdb.profile',
      message: 'must be a string',
    });
    expect(parseInfluxdbSpec({ query: 'x' })).toEqual({
      ok: true,
      value: { profile: 'influxdb', query: 'x' },
    });
  });

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, 'analysis', 'run', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }
  const secretFlags = (token = TOKEN) => [
    '--secret',
    `my-influxdb-secret/authToken=${token}`,
    '--secret',
    `my-influxdb-secret/address=${address}`,
    '--secret',
    `my-influxdb-secret/org=${ORG}`,
  ];

  it("runs Argo's docs template unchanged through sluice analysis run: Successful (0), Failed (1)", async () => {
    seen.length = 0;
    const ok = await runCli(['-f', TEMPLATE, '--arg', 'application-name=payment', ...secretFlags()]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/error-rate #1 {2}Successful {2}value=\[0\.005\]/);
    expect(ok.code).toBe(0);
    expect(seen[0]?.body.query).toContain('r["destination_workload"] == "payment"');
    const failed = await runCli(['-f', TEMPLATE, '--arg', 'application-name=orders', ...secretFlags()]);
    expect(failed.stdout).toMatch(/error-rate #1 {2}Failed {2}value=\[0\.2 0\.004\]/);
    expect(failed.code).toBe(1);
  }, 40_000);

  it('a wrong token is an Error (exit 2) whose output never shows the token', async () => {
    const r = await runCli([
      '-f',
      TEMPLATE,
      '--arg',
      'application-name=payment',
      '--interval-scale',
      '0.001',
      ...secretFlags('s3cr3t-wrong'),
    ]);
    expect(r.stdout).toContain('unauthorized: unauthorized access');
    expect(r.stdout + r.stderr).not.toContain('s3cr3t-wrong');
    expect(r.code).toBe(2);
  }, 40_000);
});

const skip = influxdbUnavailableReason();
if (skip) console.warn(`skipping the real InfluxDB test: ${skip}`);

describe.skipIf(skip !== undefined)('against the InfluxDB Debian ships (1.x without Flux)', () => {
  let influx: InfluxdbHandle;
  beforeAll(async () => {
    influx = await startInfluxdb();
    await influx.influxql('CREATE DATABASE app_istio');
    await influx.write('app_istio', 'errors,destination_workload=payment value=0.005\n');
  }, 30_000);
  afterAll(async () => {
    await influx?.stop();
  });

  it("holds the data (InfluxQL) but has no /api/v2/query: the measurement is the Go client's 404 Error", async () => {
    expect(JSON.stringify(await influx.influxql('SELECT last(value) FROM errors', 'app_istio'))).toContain(
      '0.005',
    );
    const r = await measure('from(bucket: "app_istio") |> range(start: -15m)', {
      authToken: TOKEN,
      address: influx.url,
      org: ORG,
    });
    expect(r).toEqual({ phase: 'Error', message: '404 Not Found: 404 page not found\n' });
    expect(influx.version).toMatch(/^1\./);
  });
});

// The graphite provider against a local render API answering as Argo's api_test.go cases do, plus
// the URL it builds and the shaping of values (Argo's graphite_test.go processResponse cases).

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGraphiteProvider,
  graphiteRenderUrl,
  parseGraphiteConfig,
  shapeGraphiteBody,
} from '../../../../src/analysis/providers/graphite.ts';

const QUERY = 'target=sumSeries(app.http.*.*.count)&from=-2min';
const TS = 1621348430;
const point = (v: string, ts: string | number = TS) =>
  `[{"datapoints":[[${v},${ts}]],"target":"sumSeries(app.http.*.*.count)","tags":{"aggregatedBy":"sum"}}]`;

let server: Server;
let base: string;
let answer: { status: number; body: string } = { status: 200, body: '[]' };
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(answer.status, { 'content-type': 'application/json' });
    res.end(answer.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

async function measure(query: string, body: string, status = 200, address = base) {
  answer = { status, body };
  const provider = createGraphiteProvider();
  try {
    return await provider.run({
      metricName: 'm',
      provider: { graphite: { address, query } },
      nowMs: 0,
      signal: new AbortController().signal,
    });
  } finally {
    await provider.close();
  }
}

describe('graphite provider (Argo api_test.go cases)', () => {
  it.each([
    ['ok', QUERY, point('100.000000'), { result: [100], value: '[100.000000]' }],
    [
      'query with surrounding whitespace',
      `\n  ${QUERY} \t  \n`,
      point('100.000000'),
      { result: [100], value: '[100.000000]' },
    ],
    ['a string value', QUERY, point('"100.000000"'), { result: [100], value: '[100.000000]' }],
    ['a string timestamp', QUERY, point('100', `"${TS}"`), { result: [100], value: '[100.000000]' }],
    ['a null value is skipped', QUERY, point('null'), { result: [], value: '[]' }],
    ['an empty array', QUERY, '[]', { phase: 'Error', message: 'no values found' }],
    [
      'invalid JSON',
      QUERY,
      'invalid JSON',
      { phase: 'Error', message: "invalid character 'i' looking for beginning of value" },
    ],
    [
      'a data point with one item',
      QUERY,
      '[{"datapoints":[[10]],"target":"x"}]',
      { phase: 'Error', message: 'error unmarshaling data point: [10]' },
    ],
    [
      'an invalid timestamp',
      QUERY,
      point('100', '"f"'),
      { phase: 'Error', message: 'strconv.ParseInt: parsing "f": invalid syntax' },
    ],
    [
      'a value that is a list',
      QUERY,
      point('[]', 1621348420),
      { phase: 'Error', message: 'error unmarshaling value: []' },
    ],
    [
      'a timestamp that is a list',
      QUERY,
      point('100', '[]'),
      { phase: 'Error', message: 'error unmarshaling timestamp: 100' },
    ],
  ])('%s', async (_name, query, body, expected) => {
    expect(await measure(query, body)).toEqual(expected);
  });

  it.each([
    [400, 'foo'],
    [500, 'bar'],
  ])('HTTP %i is the Error "error response: <body>"', async (status, body) => {
    expect(await measure(QUERY, body, status)).toEqual({
      phase: 'Error',
      message: `error response: ${body}`,
    });
  });

  it('an invalid query is refused before sending, with Go url.Parse message', async () => {
    seen.length = 0;
    expect(await measure('target=#$%^&*(proper$#$%%^(password&from=-2min', '[]')).toEqual({
      phase: 'Error',
      message: 'parse "./render?target=#$%^&*(proper$#$%%^(password&from=-2min": invalid URL escape "%^&"',
    });
    expect(seen).toEqual([]);
  });

  it('sends target and from as Argo does: sorted, Go-escaped, format=json, under the address path', async () => {
    seen.length = 0;
    await measure(QUERY, point('1'), 200, `${base}/graphite/`);
    expect(seen).toEqual([
      '/graphite/render?format=json&from=-2min&target=sumSeries%28app.http.%2A.%2A.count%29',
    ]);
    expect(graphiteRenderUrl('http://g:8080', "target=summarize(a.b, '5min', 'sum')&from=-5min")).toEqual({
      ok: true,
      url: 'http://g:8080/render?format=json&from=-5min&target=summarize%28a.b%2C%275min%27%2C%27sum%27%29',
    });
  });

  it('reads the first series only, keeps NaN and formats values with %f', () => {
    expect(
      shapeGraphiteBody(
        '[{"target":"a","datapoints":[[1.5,1],[null,2],["NaN",3],[2,4]]},{"target":"b","datapoints":[[9,1]]}]',
      ),
    ).toEqual({ ok: true, result: [1.5, Number.NaN, 2], value: '[1.500000,NaN,2.000000]' });
  });

  it('validates the block with field paths and Argo messages', () => {
    expect(parseGraphiteConfig({ address: ':::', query: 'target=a' })).toEqual({
      ok: false,
      field: 'graphite.address',
      message: 'Graphite address ::: is not a valid URL',
    });
    expect(parseGraphiteConfig({ query: 'target=a' })).toMatchObject({ field: 'graphite.address' });
    expect(parseGraphiteConfig({ address: 'http://g' })).toEqual({
      ok: false,
      field: 'graphite.query',
      message: 'is required',
    });
    expect(parseGraphiteConfig({ address: 'http://some-graphite.foo', query: 'target=a' }).ok).toBe(true);
  });
});

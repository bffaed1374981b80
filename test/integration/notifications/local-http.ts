// A local HTTP server on 127.0.0.1:0 standing in for a webhook receiver or Slack: it records every request
// (method, path, headers, body) and answers what `answer` says for the n-th request (default 200, empty).

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface LocalHttp {
  readonly url: string;
  readonly requests: CapturedRequest[];
  close(): Promise<void>;
}

export async function startLocalHttp(
  answer: (r: CapturedRequest, n: number) => { status: number; body?: string } = () => ({ status: 200 }),
): Promise<LocalHttp> {
  const requests: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: CapturedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(r);
      const a = answer(r, requests.length);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

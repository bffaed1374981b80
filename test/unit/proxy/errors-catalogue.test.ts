// The proxy's error catalogue (fastify's errors test): every SLUICE_* code maps to a 4xx/5xx status
// with a reason phrase, renders as a well-formed HTTP/1.1 response, and is documented in docs/errors.md's
// "## Proxy" error table (one row per code with its status), which lists no code that does not exist.

import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode, errorResponse, REASONS } from '../../../proxy/errors.ts';
import { findHeadEnd, parseResponseHead } from '../../../proxy/http1/head.ts';
import { documentedCodes } from '../../fixtures/errors-doc.ts';

const CODES = Object.keys(ERRORS) as ErrorCode[];
describe('the error catalogue', () => {
  it('has stable upper-case SLUICE_* codes', () => {
    expect(CODES.length).toBeGreaterThan(0);
    for (const code of CODES) expect(code).toMatch(/^SLUICE_[A-Z0-9_]+$/);
  });

  it.each(CODES)('%s maps to a 4xx or 5xx status with a reason phrase and a message', (code) => {
    const { status, message } = ERRORS[code];
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThanOrEqual(599);
    expect(REASONS[status]).toMatch(/^[A-Za-z -]+$/);
    expect(message.length).toBeGreaterThan(0);
    expect(message).not.toMatch(/["\\\r\n]/); // embedded verbatim in the JSON body
  });

  it.each(CODES)('%s renders as a well-formed response the proxy itself would accept', (code) => {
    for (const keepAlive of [false, true]) {
      const text = errorResponse(code, keepAlive);
      const buf = Buffer.from(text, 'latin1');
      const n = findHeadEnd(buf, 0);
      expect(n).toBeGreaterThan(0);
      const head = parseResponseHead(text.slice(0, n));
      if (head.kind === 'error') throw new Error(`${code}: ${head.detail}`);
      expect(head.status).toBe(ERRORS[code].status);
      expect(head.get('x-sluice-error')).toBe(code);
      expect(head.contentLength).toBe(buf.length - n);
      expect(head.hasConnectionToken('close')).toBe(!keepAlive);
      const body = JSON.parse(text.slice(n)) as { error: string; message: string };
      expect(body).toEqual({ error: code, message: ERRORS[code].message });
    }
  });

  it('every code is documented in docs/errors.md with its status, and no stale code is', () => {
    const rows = documentedCodes('Proxy');
    const missing = CODES.filter((c) => !rows.has(c));
    expect(missing, 'codes missing from the error table of docs/errors.md').toEqual([]);
    for (const code of CODES) {
      const cells = rows.get(code)!;
      expect(cells, `docs/errors.md row of ${code} must give its status`).toContain(
        String(ERRORS[code].status),
      );
    }
    const stale = [...rows.keys()].filter((c) => !(c in ERRORS));
    expect(stale, 'codes in docs/errors.md that the catalogue does not have').toEqual([]);
  });
});

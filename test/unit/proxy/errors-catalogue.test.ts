// The proxy's error catalogue (fastify's errors test): every SLUICE_* code maps to a 4xx/5xx status
// with a reason phrase, renders as a well-formed HTTP/1.1 response, and is documented in docs/errors.md's
// "## Proxy" error table (one row per code with its status), which lists no code that does not exist.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode, errorResponse, REASONS } from '../../../proxy/errors.ts';
import { findHeadEnd, parseResponseHead } from '../../../proxy/http1/head.ts';

const CODES = Object.keys(ERRORS) as ErrorCode[];
const ERRORS_DOC = join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md');

function errorsDoc(): string {
  try {
    return readFileSync(ERRORS_DOC, 'utf8');
  } catch {
    throw new Error(
      `docs/errors.md not found at ${ERRORS_DOC}: it must carry the error table (one row per SLUICE_* code)`,
    );
  }
}

/**
 * The "## Proxy" section of docs/errors.md (up to the next "## " heading): the controller's catalogue,
 * with codes of the same SLUICE_* shape, has its own section and its own test.
 */
function proxySection(text: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === '## Proxy');
  if (start === -1) throw new Error('docs/errors.md has no "## Proxy" section for the proxy\'s error table');
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/** Table rows of a docs/errors.md section that name a SLUICE_* code: code -> the row's cells. */
function documentedRows(text: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    if (!line.trimStart().startsWith('|')) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    for (const cell of cells) {
      const m = /^`?(SLUICE_[A-Z0-9_]+)`?$/.exec(cell);
      if (m !== null) rows.set(m[1]!, cells);
    }
  }
  return rows;
}

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
    const rows = documentedRows(proxySection(errorsDoc()));
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

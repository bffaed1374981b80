// The controller's error catalogue (src/api/errors.ts), as the proxy's is tested: stable SLUICE_* codes,
// none shared with the proxy's catalogue, each with a retry policy and a message, each documented in the
// "## Controller" section of docs/errors.md with its policy, and no stale code documented. Errors keep
// their code when wrapped with context.
import { describe, expect, it } from 'vitest';
import { ERRORS as PROXY_ERRORS } from '../../../proxy/errors.ts';
import { ParseFailure } from '../../../src/api/analysis-template.ts';
import {
  CONTROLLER_ERRORS,
  type ControllerErrorCode,
  describeError,
  errorCode,
  errorText,
  retryPolicy,
  SluiceError,
  withContext,
} from '../../../src/api/errors.ts';
import { StoreError } from '../../../src/store/object-store.ts';
import { documentedCodes } from '../../fixtures/errors-doc.ts';

const CODES = Object.keys(CONTROLLER_ERRORS) as ControllerErrorCode[];
describe('the controller error catalogue', () => {
  it('has stable upper-case SLUICE_* codes, none of them a proxy code', () => {
    expect(CODES.length).toBeGreaterThan(10);
    for (const code of CODES) {
      expect(code).toMatch(/^SLUICE_[A-Z0-9_]+$/);
      expect(code in PROXY_ERRORS, `${code} is also a proxy code`).toBe(false);
    }
  });

  it.each(CODES)('%s has a retry policy and a one-line message', (code) => {
    const { retry, message } = CONTROLLER_ERRORS[code];
    expect(['immediate', 'backoff', 'bounded-backoff']).toContain(retry);
    expect(message.length).toBeGreaterThan(10);
    expect(message).not.toMatch(/\n/);
  });

  it('every code is documented in docs/errors.md with its retry policy, and no stale code is', () => {
    const rows = documentedCodes('Controller');
    expect(
      CODES.filter((c) => !rows.has(c)),
      'codes missing from docs/errors.md',
    ).toEqual([]);
    for (const code of CODES) expect(rows.get(code)![1]).toBe(CONTROLLER_ERRORS[code].retry);
    const stale = [...rows.keys()].filter((c) => !(c in CONTROLLER_ERRORS));
    expect(stale, 'codes in docs/errors.md that the catalogue does not have').toEqual([]);
  });

  it('gives every store failure reason its own code, a Conflict the only immediate retry', () => {
    const reasons = [
      'NotFound',
      'Conflict',
      'AlreadyExists',
      'Invalid',
      'Forbidden',
      'TooManyRequests',
      'Unavailable',
    ];
    const codes = reasons.map((r) => new StoreError(r as never, 400, 'x').code);
    expect(new Set(codes).size).toBe(reasons.length);
    expect(CODES.filter((c) => CONTROLLER_ERRORS[c].retry === 'immediate')).toEqual([
      'SLUICE_STORE_CONFLICT',
    ]);
    expect(retryPolicy(new StoreError('Conflict', 409, 'modified'))).toBe('immediate');
  });

  it('keeps the code and cause when an error is wrapped with the step it happened in', () => {
    const cause = new StoreError('Forbidden', 403, 'replicasets is forbidden');
    const wrapped = withContext('createReplicaSet', cause);
    expect(wrapped.code).toBe('SLUICE_STORE_FORBIDDEN');
    expect(wrapped.cause).toBe(cause);
    expect(wrapped.message).toBe('createReplicaSet: Forbidden: replicasets is forbidden');
    const twice = withContext('apply', wrapped);
    expect(twice.code).toBe('SLUICE_STORE_FORBIDDEN');
    expect(twice.message).toBe('apply: createReplicaSet: Forbidden: replicasets is forbidden');
  });

  it('codes foreign errors SLUICE_INTERNAL (or the fallback given) and writes their text once', () => {
    expect(errorCode(new TypeError('boom'))).toBe('SLUICE_INTERNAL');
    expect(errorCode('a string')).toBe('SLUICE_INTERNAL');
    expect(withContext('plan', new TypeError('boom'), 'SLUICE_PLAN_FAILED').code).toBe('SLUICE_PLAN_FAILED');
    expect(errorText(new Error('m'))).toBe('m');
    expect(errorText(42)).toBe('42');
    expect(describeError(new SluiceError('SLUICE_USAGE', 'bad flag'))).toBe('bad flag');
  });

  it('a manifest parse failure is an invalid-spec error naming the field', () => {
    const f = new ParseFailure('spec.metrics[0].interval', 'must be a string');
    expect(f.code).toBe('SLUICE_INVALID_SPEC');
    expect(f.message).toBe('spec.metrics[0].interval: must be a string');
    expect(f.error).toEqual({ field: 'spec.metrics[0].interval', message: 'must be a string' });
  });
});

import { describe, expect, it } from 'vitest';
import {
  applyMergePatch,
  createMergePatch,
  createStatusMergePatch,
  omitEmptyStrings,
} from '../../../src/store/patch.ts';

describe('merge patches', () => {
  it('computes the minimal RFC 7386 patch between two statuses, nulling removed keys', () => {
    const from = {
      phase: 'Running',
      message: 'x',
      metricResults: [{ name: 'a', count: 1 }],
      runSummary: { count: 1, error: 0 },
    };
    const to = {
      phase: 'Successful',
      metricResults: [{ name: 'a', count: 2 }],
      runSummary: { count: 2, error: 0 },
    };
    const patch = createMergePatch(from, to);
    expect(patch).toEqual({
      phase: 'Successful',
      message: null,
      metricResults: [{ name: 'a', count: 2 }],
      runSummary: { count: 2 },
    });
    expect(applyMergePatch(from, patch)).toEqual(to);
    expect(createMergePatch(to, structuredClone(to))).toBeUndefined();
  });

  it('treats an empty string and an absent field as one value in a custom-resource status', () => {
    expect(createStatusMergePatch({ phase: 'Healthy' }, { phase: 'Healthy', message: '' })).toBeUndefined();
    expect(
      createStatusMergePatch(
        { canary: { weights: [{ name: 'a' }] } },
        { canary: { weights: [{ name: 'a', x: '' }] } },
      ),
    ).toBeUndefined();
    expect(createStatusMergePatch({ message: 'old' }, { message: '' })).toEqual({ message: null });
    expect(createStatusMergePatch({ message: '' }, { message: 'new' })).toEqual({ message: 'new' });
  });

  it('round-trips random nested objects', () => {
    const shapes = [
      [{}, { a: { b: 1 } }],
      [{ a: { b: 1, c: [1, 2] } }, { a: { c: [2] } }],
      [{ a: 1, b: { c: { d: 'x' } } }, { b: { c: {} } }],
    ] as const;
    for (const [from, to] of shapes) expect(applyMergePatch(from, createMergePatch(from, to))).toEqual(to);
  });
});

describe('empty strings in custom resources', () => {
  it('clears a field in a merge patch, and drops the key elsewhere (Go omitempty)', () => {
    const patch = { status: { message: '', phase: 'Healthy', pauseConditions: [{ reason: 'X', note: '' }] } };
    expect(omitEmptyStrings(patch, true)).toEqual({
      status: { message: null, phase: 'Healthy', pauseConditions: [{ reason: 'X' }] },
    });
    expect(omitEmptyStrings({ spec: { a: '', b: ['', 'x'] } }, false)).toEqual({ spec: { b: ['', 'x'] } });
  });
});

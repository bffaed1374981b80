import { describe, expect, it } from 'vitest';
import { bearerTokenVerifier } from '../../../src/control/auth.ts';

describe('control bearer token check', () => {
  const verify = bearerTokenVerifier('s3cret-Token_1');

  it.each([
    ['the exact header', 'Bearer s3cret-Token_1', 'ok'],
    ['no header', undefined, 'missing'],
    ['an empty header', '', 'missing'],
    ['another token of the same length', 'Bearer s3cret-Token_2', 'mismatch'],
    ['a prefix of the token', 'Bearer s3cret', 'mismatch'],
    ['the token and more', 'Bearer s3cret-Token_1x', 'mismatch'],
    ['the token without the scheme', 's3cret-Token_1', 'mismatch'],
    ['another scheme', 'Basic s3cret-Token_1', 'mismatch'],
    ['the token in another case', 'Bearer S3CRET-TOKEN_1', 'mismatch'],
  ])('answers %s with %s', (_what, header, expected) => {
    expect(verify(header)).toBe(expected);
  });

  it('compares digests of equal length, so inputs of any length are safe to compare', () => {
    // timingSafeEqual throws on unequal lengths: a length-dependent path would surface here.
    expect(verify('x')).toBe('mismatch');
    expect(verify(`Bearer ${'a'.repeat(10_000)}`)).toBe('mismatch');
  });

  it('refuses an empty token at construction', () => {
    expect(() => bearerTokenVerifier('')).toThrow(/token/);
  });
});

// Go's number and JSON text forms, as Argo stores them in Measurement.value.

import { describe, expect, it } from 'vitest';
import { formatFloatF, formatFloatG, goJson } from '../../../../src/analysis/providers/go-format.ts';

describe('Go formatting', () => {
  it.each([
    [0.0003332881882246533, '0.0003332881882246533'],
    [1e-7, '0.0000001'],
    [1.5e-10, '0.00000000015'],
    [1e21, '1000000000000000000000'],
    [2.5e22, '25000000000000000000000'],
    [-3, '-3'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, '+Inf'],
  ])("strconv.FormatFloat(%s, 'f', -1, 64) = %s", (v, text) => {
    expect(formatFloatF(v)).toBe(text);
  });

  it.each([
    [0.5, '0.5'],
    [1, '1'],
    [123456, '123456'],
    [1234567, '1.234567e+06'],
    [2000000, '2e+06'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [Number.NaN, 'NaN'],
  ])('%%v of %s = %s', (v, text) => {
    expect(formatFloatG(v)).toBe(text);
  });

  it('encoding/json sorts keys and escapes HTML characters', () => {
    expect(goJson({ b: 1, a: ['<&>'], c: { z: null, y: true } })).toBe(
      '{"a":["\\u003c\\u0026\\u003e"],"b":1,"c":{"y":true,"z":null}}',
    );
  });
});

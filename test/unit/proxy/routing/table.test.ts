import { describe, expect, it } from 'vitest';
import { normaliseHost, prefixMatches, RouteTable } from '../../../../proxy/routing/table.ts';

const table = new RouteTable([
  { host: '*', pathPrefix: '/', value: 'any-root' },
  { host: '*', pathPrefix: '/api', value: 'any-api' },
  { host: 'shop.example.com', pathPrefix: '/', value: 'shop-root' },
  { host: 'shop.example.com', pathPrefix: '/api/v2', value: 'shop-api-v2' },
  { host: 'shop.example.com', pathPrefix: '/api', value: 'shop-api' },
  { host: '[::1]', pathPrefix: '/', value: 'ipv6' },
  { host: 'only-static.example', pathPrefix: '/static', value: 'static' },
]);

describe('route table', () => {
  it.each([
    ['exact host beats *', 'shop.example.com', '/', 'shop-root'],
    ['host is case-insensitive', 'SHOP.Example.COM', '/', 'shop-root'],
    ['port is stripped', 'shop.example.com:8080', '/x', 'shop-root'],
    ['trailing dot is ignored', 'shop.example.com.', '/', 'shop-root'],
    ['longest prefix wins', 'shop.example.com', '/api/v2/orders', 'shop-api-v2'],
    ['prefix matches itself exactly', 'shop.example.com', '/api', 'shop-api'],
    ['prefix matches before a query', 'shop.example.com', '/api?x=1', 'shop-api'],
    ['prefix matches on segment boundaries only', 'shop.example.com', '/apix', 'shop-root'],
    ['v2 is not a prefix of v20', 'shop.example.com', '/api/v20', 'shop-api'],
    ['unknown host falls to *', 'other.example.com', '/api/x', 'any-api'],
    ['missing host falls to *', undefined, '/', 'any-root'],
    ['IPv6 literal with port', '[::1]:8080', '/', 'ipv6'],
    ['IPv6 literal without port', '[::1]', '/x', 'ipv6'],
    ['exact host without a matching prefix falls back to *', 'only-static.example', '/api', 'any-api'],
    ['exact host prefix', 'only-static.example:443', '/static/app.js', 'static'],
    ['asterisk request target matches the root', 'x', '*', 'any-root'],
  ])('%s', (_name, host, path, expected) => {
    expect(table.match(host, path)).toBe(expected);
  });

  it('returns null when no route matches', () => {
    const t = new RouteTable([{ host: 'a.example', pathPrefix: '/api', value: 1 }]);
    expect(t.match('a.example', '/other')).toBeNull();
    expect(t.match('b.example', '/api')).toBeNull();
    expect(t.match(undefined, '/api')).toBeNull();
  });

  it('normalises host headers', () => {
    expect(normaliseHost('Example.COM:80')).toBe('example.com');
    expect(normaliseHost('[2001:DB8::1]:443')).toBe('[2001:db8::1]');
    expect(normaliseHost(undefined)).toBe('');
    expect(normaliseHost('')).toBe('');
  });

  it('matches prefixes on segment boundaries', () => {
    expect(prefixMatches('/', '/anything')).toBe(true);
    expect(prefixMatches('/a', '/a/b')).toBe(true);
    expect(prefixMatches('/a', '/ab')).toBe(false);
    expect(prefixMatches('/a/b', '/a')).toBe(false);
  });
});

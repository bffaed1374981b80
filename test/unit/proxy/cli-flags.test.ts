// `sluice proxy` flags that shape what the control plane is told: --route [NAMESPACE/]NAME (Hello's
// ServedRoute) and --report-interval (the control client's reportIntervalMs).

import { describe, expect, it } from 'vitest';
import {
  PROXY_USAGE,
  parseProxyArgs,
  parseReportInterval,
  parseServedRoute,
} from '../../../src/cli/proxy.ts';

const CONTROL = ['--control', 'controller:7000'];

describe('--route', () => {
  it('takes NAME (every namespace) or NAMESPACE/NAME, repeatedly', () => {
    const { options } = parseProxyArgs(
      [...CONTROL, '--route', 'checkout', '--route', 'shop/cart', '--route=ops/status'],
      {},
    );
    expect(options.control?.routes).toEqual([
      { name: 'checkout' },
      { namespace: 'shop', name: 'cart' },
      { namespace: 'ops', name: 'status' },
    ]);
  });

  it.each(['', '/', 'shop/', '/cart', 'a/b/c', ' /cart', 'shop/ '])(
    'rejects "%s" naming the flag',
    (value) => {
      expect(() => parseServedRoute(value)).toThrow(/^--route: expected NAME or NAMESPACE\/NAME, got /);
      expect(() => parseProxyArgs([...CONTROL, '--route', value], {})).toThrow(/--route/);
    },
  );

  it('is only meaningful with --control', () => {
    expect(() => parseProxyArgs(['--config', 'routes.yaml', '--route', 'checkout'], {})).toThrow(
      '--route: only with --control',
    );
  });
});

describe('--all-routes', () => {
  it('subscribes to every route the control plane publishes', () => {
    const { options } = parseProxyArgs([...CONTROL, '--all-routes'], {});
    expect(options.control).toMatchObject({ allRoutes: true, routes: [] });
    expect(parseProxyArgs(CONTROL, {}).options.control?.allRoutes).toBeUndefined();
  });

  it('is refused with --route, and without --control', () => {
    expect(() => parseProxyArgs([...CONTROL, '--all-routes', '--route', 'checkout'], {})).toThrow(
      '--all-routes: not with --route',
    );
    expect(() => parseProxyArgs(['--config', 'routes.yaml', '--all-routes'], {})).toThrow(
      '--all-routes: only with --control',
    );
  });
});

describe('--allow-methods', () => {
  it('sets the method policy; a bad list is refused naming the flag', () => {
    expect(parseProxyArgs([...CONTROL, '--allow-methods', 'GET,HEAD'], {}).options.data?.methods).toEqual({
      allow: new Set(['GET', 'HEAD']),
      refuse: new Set(),
    });
    expect(parseProxyArgs(CONTROL, {}).options.data?.methods).toBeUndefined();
    expect(() => parseProxyArgs([...CONTROL, '--allow-methods', 'GET,CONNECT'], {})).toThrow(
      /^--allow-methods: CONNECT is never forwarded/,
    );
  });
});

describe('--report-interval', () => {
  it.each([
    ['250ms', 250],
    ['1s', 1_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
  ])('reads %s as %i ms', (value, ms) => {
    expect(parseReportInterval(value)).toBe(ms);
    expect(
      parseProxyArgs([...CONTROL, '--report-interval', value], {}).options.control?.reportIntervalMs,
    ).toBe(ms);
  });

  it('leaves the default (1 s, the control client) when absent', () => {
    expect(parseProxyArgs(CONTROL, {}).options.control?.reportIntervalMs).toBeUndefined();
  });

  it.each([
    ['100ms', 'at least 250ms'],
    ['0', 'at least 250ms'],
    ['-1s', 'at least 250ms'],
    ['250.5ms', 'whole number of milliseconds'],
    ['1', 'missing unit'],
    ['soon', 'invalid duration'],
  ])('rejects %s naming the flag', (value, fragment) => {
    expect(() => parseReportInterval(value)).toThrow(/^--report-interval: /);
    expect(() => parseReportInterval(value)).toThrow(fragment);
  });

  it('is only meaningful with --control', () => {
    expect(() => parseProxyArgs(['--config', 'r.yaml', '--report-interval', '1s'], {})).toThrow(
      '--report-interval: only with --control',
    );
  });

  it('is in the usage text, with --route', () => {
    expect(PROXY_USAGE).toContain('--report-interval DURATION');
    expect(PROXY_USAGE).toContain('--route [NAMESPACE/]NAME');
  });
});

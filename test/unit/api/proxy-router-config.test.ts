// The sluice/proxy router's config: defaults, every field checked, errors naming the field.
import { describe, expect, it } from 'vitest';
import { parseProxyRouterConfig } from '../../../src/api/proxy-router-config.ts';

const PATH = 'spec.strategy.canary.trafficRouting.plugins.sluice/proxy';
const parse = (raw: unknown) => parseProxyRouterConfig(raw, 'checkout', PATH);

describe('sluice/proxy router config', () => {
  it('defaults the route to the Rollout name and accepts an empty block', () => {
    expect(parse({})).toEqual({ ok: true, config: { route: 'checkout' } });
    expect(parse(null)).toEqual({ ok: true, config: { route: 'checkout' } });
  });

  it('reads every field', () => {
    expect(
      parse({
        route: 'shop',
        hosts: ['Shop.Example.com'],
        pathPrefix: '/api',
        port: 'http',
        stickySessions: { cookie: 'sid', maxAgeSeconds: 600 },
        timeouts: { connect: '2s', responseHeaders: '30s', idleBody: '1m' },
      }),
    ).toEqual({
      ok: true,
      config: {
        route: 'shop',
        host: 'shop.example.com',
        pathPrefix: '/api',
        port: 'http',
        stickySessions: { cookie: 'sid', maxAgeSeconds: 600 },
        timeouts: { connectMs: 2000, responseHeadersMs: 30000, idleBodyMs: 60000 },
      },
    });
    expect(parse({ port: 8080 })).toMatchObject({ ok: true, config: { port: 8080 } });
  });

  it.each([
    [{ weight: 10 }, `${PATH}.weight`, 'unknown field'],
    [{ route: 'Shop_1' }, `${PATH}.route`, 'DNS label'],
    [{ hosts: 'a' }, `${PATH}.hosts`, 'list'],
    [{ hosts: ['a', 'b'] }, `${PATH}.hosts`, 'one host per route'],
    [{ hosts: ['a b'] }, `${PATH}.hosts[0]`, 'host name'],
    [{ pathPrefix: 'api' }, `${PATH}.pathPrefix`, 'starting with "/"'],
    [{ port: 0 }, `${PATH}.port`, 'port number'],
    [{ port: 'HTTP' }, `${PATH}.port`, 'port name'],
    [{ stickySessions: { cookie: 'a b' } }, `${PATH}.stickySessions.cookie`, 'cookie name'],
    [{ stickySessions: { cookie: 'a', ttl: 1 } }, `${PATH}.stickySessions.ttl`, 'unknown field'],
    [
      { stickySessions: { cookie: 'a', maxAgeSeconds: 0 } },
      `${PATH}.stickySessions.maxAgeSeconds`,
      'positive',
    ],
    [{ timeouts: { connect: 5 } }, `${PATH}.timeouts.connect`, 'positive duration'],
    [{ timeouts: { read: '1s' } }, `${PATH}.timeouts.read`, 'unknown field'],
  ])('rejects %j at the field', (raw, field, message) => {
    const result = parse(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.field).toBe(field);
      expect(result.message).toContain(message);
    }
  });

  it('rejects a block that is not an object', () => {
    expect(parse('x')).toEqual({ ok: false, field: PATH, message: 'must be an object' });
  });
});

describe('sluice/proxy router config for blue-green', () => {
  const BG = 'spec.strategy.blueGreen.trafficRouting.plugins.sluice/proxy';
  it('reads previewHeader only for blue-green', () => {
    expect(parseProxyRouterConfig({ previewHeader: { name: 'X-Try', value: '1' } }, 'web', BG, true)).toEqual(
      {
        ok: true,
        config: { route: 'web', previewHeader: { name: 'x-try', value: '1' } },
      },
    );
    expect(parseProxyRouterConfig({ previewHeader: { name: 'x', value: '1' } }, 'web', PATH)).toEqual({
      ok: false,
      field: `${PATH}.previewHeader`,
      message: 'only for a blueGreen Rollout (its preview Service)',
    });
    expect(parseProxyRouterConfig({ previewHeader: { name: 'x' } }, 'web', BG, true)).toMatchObject({
      ok: false,
      field: `${BG}.previewHeader.value`,
    });
  });
});

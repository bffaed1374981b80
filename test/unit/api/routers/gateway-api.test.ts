// The Gateway API router's config under Argo's plugin key and Sluice's: the plugin's singular and list
// fields merged as the plugin merges them, defaults, and every refusal naming its field path.
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../../../src/api/rollout.ts';
import {
  GATEWAY_API_PLUGIN,
  gatewayApiConfig,
  SLUICE_GATEWAY_API_PLUGIN,
} from '../../../../src/api/routers/gateway-api.ts';

const PATH = `spec.strategy.canary.trafficRouting.plugins.${GATEWAY_API_PLUGIN}`;

function rollout(plugins: Record<string, unknown>, services: Record<string, string> = {}): Rollout {
  return {
    metadata: { name: 'checkout', namespace: 'shop' },
    spec: {
      strategy: {
        canary: {
          stableService: 'checkout-stable',
          canaryService: 'checkout-canary',
          ...services,
          trafficRouting: { plugins },
        },
      },
    },
  } as unknown as Rollout;
}

const argo = (config: unknown) => gatewayApiConfig(rollout({ [GATEWAY_API_PLUGIN]: config }));

describe('Gateway API router config', () => {
  it('is undefined when neither plugin key is set', () => {
    expect(gatewayApiConfig(rollout({}))).toBeUndefined();
    expect(gatewayApiConfig(rollout({ 'sluice/proxy': {} }))).toBeUndefined();
  });

  it('reads the plugin key with the plugin defaults: the Rollout namespace and argo-gatewayapi-configmap', () => {
    expect(argo({ httpRoute: 'checkout' })).toEqual({
      ok: true,
      config: {
        key: GATEWAY_API_PLUGIN,
        httpRoutes: [{ name: 'checkout', useHeaderRoutes: true }],
        grpcRoutes: [],
        tcpRoutes: [],
        namespace: 'shop',
        configMap: 'argo-gatewayapi-configmap',
        canaryService: 'checkout-canary',
        stableService: 'checkout-stable',
      },
    });
  });

  it('reads the same config under sluice/gateway-api', () => {
    expect(gatewayApiConfig(rollout({ [SLUICE_GATEWAY_API_PLUGIN]: { tcpRoute: 'db' } }))).toMatchObject({
      ok: true,
      config: { key: SLUICE_GATEWAY_API_PLUGIN, tcpRoutes: [{ name: 'db', useHeaderRoutes: true }] },
    });
  });

  it('appends the singular route after the list, with header routes on, as the plugin does', () => {
    expect(
      argo({
        httpRoutes: [{ name: 'a' }, { name: 'b', useHeaderRoutes: true }],
        httpRoute: 'c',
        grpcRoutes: [{ name: 'g', useHeaderRoutes: false }],
        grpcRoute: 'h',
        namespace: 'gateways',
        configMap: 'routes-record',
        disableInProgressLabel: true,
      }),
    ).toMatchObject({
      ok: true,
      config: {
        httpRoutes: [
          { name: 'a', useHeaderRoutes: false },
          { name: 'b', useHeaderRoutes: true },
          { name: 'c', useHeaderRoutes: true },
        ],
        grpcRoutes: [
          { name: 'g', useHeaderRoutes: false },
          { name: 'h', useHeaderRoutes: true },
        ],
        namespace: 'gateways',
        configMap: 'routes-record',
      },
    });
  });

  it.each([
    [null, PATH, 'must be an object'],
    [{}, PATH, 'No routes configured'],
    [{ httpRoute: '' }, PATH, 'No routes configured'],
    [{ httpRoute: 'a', weight: 1 }, `${PATH}.weight`, 'unknown field'],
    [{ httpRoute: 'Bad_Name' }, `${PATH}.httpRoute`, 'route name'],
    [{ httpRoutes: 'a' }, `${PATH}.httpRoutes`, 'must be a list'],
    [{ httpRoutes: [{}] }, `${PATH}.httpRoutes[0].name`, 'required'],
    [{ httpRoutes: [{ name: 'a', header: true }] }, `${PATH}.httpRoutes[0].header`, 'unknown field'],
    [
      { grpcRoutes: [{ name: 'a', useHeaderRoutes: 'yes' }] },
      `${PATH}.grpcRoutes[0].useHeaderRoutes`,
      'true or false',
    ],
    [{ tcpRoutes: ['a'] }, `${PATH}.tcpRoutes[0]`, 'must be an object'],
    [{ httpRoute: 'a', namespace: 'Gate_ways' }, `${PATH}.namespace`, 'namespace'],
    [{ httpRoute: 'a', configMap: 'X' }, `${PATH}.configMap`, 'ConfigMap name'],
    [{ httpRoute: 'a', disableInProgressLabel: 'no' }, `${PATH}.disableInProgressLabel`, 'true or false'],
    [{ tlsRoute: 'a' }, `${PATH}.tlsRoute`, 'TLSRoutes are not supported'],
    [{ httpRouteSelector: { matchLabels: {} } }, `${PATH}.httpRouteSelector`, 'label selector'],
    [{ httpRoute: 'a', inProgressLabelKey: 'k' }, `${PATH}.inProgressLabelKey`, 'in-progress label'],
    [{ httpRoute: 'a', mirrorMode: 'rule' }, `${PATH}.mirrorMode`, 'setMirrorRoute is not supported'],
  ])('refuses %j at %s', (config, field, message) => {
    const result = argo(config);
    expect(result).toMatchObject({ ok: false, field });
    expect(result?.ok === false && result.message).toContain(message);
  });

  it('refuses both keys at once', () => {
    expect(
      gatewayApiConfig(
        rollout({
          [GATEWAY_API_PLUGIN]: { httpRoute: 'a' },
          [SLUICE_GATEWAY_API_PLUGIN]: { httpRoute: 'a' },
        }),
      ),
    ).toMatchObject({
      ok: false,
      field: `spec.strategy.canary.trafficRouting.plugins.${SLUICE_GATEWAY_API_PLUGIN}`,
    });
  });

  it('requires the canary and stable Services', () => {
    expect(
      gatewayApiConfig(rollout({ [GATEWAY_API_PLUGIN]: { httpRoute: 'a' } }, { canaryService: '' })),
    ).toMatchObject({ ok: false, field: 'spec.strategy.canary.canaryService' });
    expect(
      gatewayApiConfig(rollout({ [GATEWAY_API_PLUGIN]: { httpRoute: 'a' } }, { stableService: '' })),
    ).toMatchObject({ ok: false, field: 'spec.strategy.canary.stableService' });
  });
});

import { describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../../../src/cli/controller.ts';
import { loadKubeConfig } from '../../../src/kube/client.ts';

describe('sluice controller flags', () => {
  it('defaults to Argo ports and leader election on', () => {
    const parsed = parseControllerArgs([]);
    expect(parsed).toMatchObject({
      ok: true,
      options: { metricsPort: 8090, healthzPort: 8080, leaderElect: true, log: { level: 'info' } },
    });
  });

  it('takes --metric-plugin NAME=PATH entries, refusing a missing file or a download', () => {
    const example = new URL('../../../docs/examples/metric-plugin/http-json.mjs', import.meta.url).pathname;
    expect(parseControllerArgs(['--metric-plugin', `example/http-json=${example}`])).toMatchObject({
      ok: true,
      options: { metricPlugins: [{ name: 'example/http-json', path: example, args: [] }] },
    });
    expect(parseControllerArgs(['--metric-plugin', 'acme/x=/nonexistent/x.mjs'])).toEqual({
      ok: false,
      error: '--metric-plugin acme/x: plugin acme/x not found at /nonexistent/x.mjs',
    });
    expect(parseControllerArgs(['--metric-plugin', 'acme/x=https://example.com/x.mjs'])).toMatchObject({
      ok: false,
      error: expect.stringContaining('is not a local file: Sluice does not download plugins'),
    });
  });

  it('accepts --leader-elect, --leader-elect=false and the other flags', () => {
    expect(parseControllerArgs(['--leader-elect'])).toMatchObject({
      ok: true,
      options: { leaderElect: true },
    });
    const parsed = parseControllerArgs([
      '--leader-elect=false',
      '--kubeconfig',
      '/tmp/kc',
      '-n',
      'shop',
      '--metrics-port',
      '0',
      '--instance-id',
      'blue',
      '--rollout-threads',
      '4',
      '--experiment-threads',
      '3',
    ]);
    expect(parsed).toMatchObject({
      ok: true,
      options: {
        leaderElect: false,
        kubeconfig: '/tmp/kc',
        namespace: 'shop',
        metricsPort: 0,
        instanceId: 'blue',
        rolloutThreads: 4,
        experimentThreads: 3,
      },
    });
  });

  it('names the flag in every error', () => {
    const cases: [string[], string][] = [
      [['--metrics-port', '70000'], '--metrics-port'],
      [['--healthz-port', 'x'], '--healthz-port'],
      [['--leader-elect=maybe'], '--leader-elect'],
      [['--rollout-threads', '0'], '--rollout-threads'],
      [['--experiment-threads', '-1'], '--experiment-threads'],
      [['--loglevel', 'loud'], '--loglevel'],
      [['--namespace='], '--namespace'],
      [['--bogus'], '--bogus'],
    ];
    for (const [argv, flag] of cases) {
      const parsed = parseControllerArgs(argv);
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(flag);
    }
    expect(parseControllerArgs(['--help'])).toEqual({ ok: false, help: true });
  });
});

describe('kubeconfig loading', () => {
  it('reports which source is missing instead of throwing', async () => {
    expect(await loadKubeConfig({ kubeconfig: '/nonexistent/kc' })).toEqual({
      ok: false,
      error: '--kubeconfig: /nonexistent/kc does not exist',
    });
    expect(await loadKubeConfig({ env: { KUBECONFIG: '/nope/a:/nope/b' } })).toEqual({
      ok: false,
      error: 'KUBECONFIG: no file of /nope/a:/nope/b exists',
    });
  });
});

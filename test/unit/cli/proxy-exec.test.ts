// The proxy's start settings (issue 15): `sluice proxy` re-executes itself once with the V8 flag and the
// glibc malloc variables it needs, keeping whatever the operator already set, and never for other
// commands; deploy/proxy/** sets the same values so a cluster pod starts with them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PROXY_EXEC_MARKER,
  PROXY_MALLOC_ENV,
  PROXY_NODE_FLAGS,
  proxyExecPlan,
} from '../../../src/cli/proxy-exec.ts';

const proc = (env: NodeJS.ProcessEnv = {}, execArgv: string[] = []) => ({
  execPath: '/usr/bin/node',
  execArgv,
  argv: ['/usr/bin/node', '/app/dist/src/cli/main.js'],
  env,
});

describe('proxyExecPlan', () => {
  it('adds the semi-space flag and the malloc variables to `sluice proxy`, marked so it runs once', () => {
    const plan = proxyExecPlan(['proxy', '--config', 'r.yaml'], proc({ PATH: '/bin' }, ['--no-warnings']));
    expect(plan?.argv).toEqual([
      '/usr/bin/node',
      ...PROXY_NODE_FLAGS,
      '--no-warnings',
      '/app/dist/src/cli/main.js',
      'proxy',
      '--config',
      'r.yaml',
    ]);
    expect(plan?.env).toEqual({ PATH: '/bin', ...PROXY_MALLOC_ENV, [PROXY_EXEC_MARKER]: '1' });
  });

  it('runs as started for other commands, for --help, and once re-executed', () => {
    expect(proxyExecPlan(['controller'], proc())).toBeUndefined();
    expect(proxyExecPlan(['proxy', '--help'], proc())).toBeUndefined();
    expect(proxyExecPlan(['proxy'], proc({ [PROXY_EXEC_MARKER]: '1' }))).toBeUndefined();
    expect(proxyExecPlan(['proxy'], proc({ [PROXY_EXEC_MARKER]: '0' }))).toBeUndefined();
  });

  it("keeps the operator's own semi-space size and malloc variables", () => {
    const env = {
      NODE_OPTIONS: '--max-semi-space-size=2',
      MALLOC_ARENA_MAX: '4',
      MALLOC_TRIM_THRESHOLD_: '0',
      MALLOC_MMAP_THRESHOLD_: '0',
    };
    expect(proxyExecPlan(['proxy'], proc(env))).toBeUndefined();
    const partial = proxyExecPlan(['proxy'], proc({ MALLOC_ARENA_MAX: '4' }, ['--max-semi-space-size=4']));
    expect(partial?.argv).not.toContain(PROXY_NODE_FLAGS[0]);
    expect(partial?.env.MALLOC_ARENA_MAX).toBe('4');
    expect(partial?.env.MALLOC_TRIM_THRESHOLD_).toBe(PROXY_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_);
  });

  it('is what the proxy manifests set, so pods start with the settings and no re-exec', () => {
    for (const file of [
      'deploy/proxy/gateway/deployment.yaml',
      'deploy/proxy/sidecar/proxy-container.yaml',
    ]) {
      const text = readFileSync(join(import.meta.dirname, '..', '..', '..', file), 'utf8');
      expect(text, file).toMatch(
        new RegExp(`name: NODE_OPTIONS\\s+value: ['"]?${PROXY_NODE_FLAGS.join(' ')}`),
      );
      for (const [name, value] of Object.entries(PROXY_MALLOC_ENV)) {
        expect(text, `${file} ${name}`).toMatch(new RegExp(`name: ${name}\\s+value: ['"]?${value}`));
      }
    }
  });
});

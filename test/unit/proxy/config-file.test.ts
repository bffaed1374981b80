import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RoutesConfig } from '../../../proxy/config.ts';
import {
  loadRoutesFile,
  parseRoutesYaml,
  type RoutesFileWatch,
  watchRoutesFile,
} from '../../../proxy/config-file.ts';

const VALID = `routes:
  - name: checkout
    backends:
      - name: stable
        revision: a
        address: http://127.0.0.1:9001
        weight: 90
      - name: canary
        revision: b
        address: http://127.0.0.1:9002
        weight: 10
`;

function withWeights(stable: number, canary: number): string {
  return VALID.replace('weight: 90', `weight: ${stable}`).replace('weight: 10', `weight: ${canary}`);
}

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-routes-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('routes file errors name file, line, column and field', () => {
  it.each([
    [
      'a bad value: the value',
      withWeights(90, 101),
      'routes.yaml:11:17: routes[0].backends[1].weight: must be between 0 and 100',
    ],
    [
      'a missing field: its parent mapping',
      VALID.replace('        revision: b\n', ''),
      'routes.yaml:8:9: routes[0].backends[1].revision: must be a non-empty string',
    ],
    [
      'an unknown field: the key',
      VALID.replace('weight: 10', 'wieght: 10'),
      'routes.yaml:11:9: routes[0].backends[1].wieght: unknown field',
    ],
    [
      'weights not summing to 100: the list',
      withWeights(90, 9),
      'routes.yaml:4:7: routes[0].backends: weights must sum to exactly 100',
    ],
    ['an empty document', '', 'routes.yaml:1:1: routes: must be a list of routes'],
    [
      'a flow mapping',
      'routes:\n  - { name: x, backends: [ { name: s, revision: r, address: "ftp://a", weight: 100 } ] }\n',
      'routes.yaml:2:61: routes[0].backends[0].address: must use http:// or https://',
    ],
    [
      'a backend with neither address nor endpoints: the backend',
      VALID.replace('        address: http://127.0.0.1:9002\n', ''),
      'routes.yaml:8:9: routes[0].backends[1]: must have exactly one of address, endpoints (found none)',
    ],
    [
      'a backend with both address and endpoints: the endpoints',
      VALID.replace('weight: 10', 'endpoints: [http://10.0.0.1:8080]\n        weight: 10'),
      'routes.yaml:11:20: routes[0].backends[1].endpoints: must not be given together with address',
    ],
    [
      'a duplicate endpoint: the second one',
      VALID.replace(
        '        address: http://127.0.0.1:9002\n',
        '        endpoints:\n          - http://10.0.0.1:8080\n          - http://10.0.0.1:8080/\n',
      ),
      'routes.yaml:12:13: routes[0].backends[1].endpoints[1]: duplicate endpoint "http://10.0.0.1:8080"',
    ],
  ])('points at %s', (_name, text, expected) => {
    const r = parseRoutesYaml('routes.yaml', text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(expected);
  });

  it('loads endpoints in flow and block style next to an address backend', () => {
    const r = parseRoutesYaml(
      'routes.yaml',
      VALID.replace(
        '        address: http://127.0.0.1:9002\n',
        '        endpoints: [http://10.0.0.1:8080, http://10.0.0.2:8080]\n',
      ),
    );
    if (!r.ok) throw new Error(r.message);
    expect(r.config.routes[0]!.backends.map((b) => b.address ?? b.endpoints)).toEqual([
      'http://127.0.0.1:9001',
      ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'],
    ]);
    const empty = parseRoutesYaml(
      'routes.yaml',
      VALID.replace('address: http://127.0.0.1:9002', 'endpoints: []'),
    );
    expect(empty.ok && empty.config.routes[0]!.backends[1]!.endpoints).toEqual([]);
  });

  it('reports YAML syntax errors with their line', () => {
    const r = parseRoutesYaml('routes.yaml', 'routes:\n  - name: a\n    backends: [1, 2\n  - name: b\n');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toMatch(/^routes\.yaml:\d+:\d+: YAML syntax: /);
    const dup = parseRoutesYaml('routes.yaml', 'routes: []\nroutes: []\n');
    expect(!dup.ok && dup.message).toMatch(/^routes\.yaml:2:1: YAML syntax: Map keys must be unique/);
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const r = parseRoutesYaml('routes.yaml', `routes:\n  - ${text}`);
        return r.ok || /^routes\.yaml:\d+:\d+: /.test(r.message);
      }),
      { seed: 5, numRuns: 300 },
    );
  });

  it('loads a real file and names it in errors', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, withWeights(90, 101));
    const bad = await loadRoutesFile(path);
    expect(!bad.ok && bad.message).toContain(`${path}:11:17: routes[0].backends[1].weight`);
    await writeFile(path, VALID);
    const good = await loadRoutesFile(path);
    expect(good.ok && good.config.routes[0]!.backends.map((b) => b.weight)).toEqual([90, 10]);
    const missing = await loadRoutesFile(join(dir, 'nope.yaml'));
    expect(!missing.ok && missing.message).toMatch(/nope\.yaml: cannot read: .*ENOENT/);
  });

  it('accepts the shipped example', async () => {
    const r = await loadRoutesFile(join(import.meta.dirname, '../../../deploy/examples/routes.yaml'));
    expect(r.ok ? r.config.routes.map((x) => x.name) : r.message).toEqual(['checkout']);
  });
});

describe('watching the routes file', () => {
  let watcher: RoutesFileWatch | null = null;
  afterEach(() => {
    watcher?.close();
    watcher = null;
  });

  async function until(what: string, predicate: () => boolean, timeoutMs = 4_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  function start(path: string) {
    const configs: { config: RoutesConfig; version: number }[] = [];
    const invalid: string[] = [];
    watcher = watchRoutesFile(
      path,
      {
        onConfig: (config, version) => configs.push({ config, version }),
        onInvalid: (message) => invalid.push(message),
      },
      { debounceMs: 20, pollMs: 0 },
    );
    return { configs, invalid };
  }

  const canaryWeight = (c: { config: RoutesConfig }) => c.config.routes[0]!.backends[1]!.weight;

  it('applies a valid change, rejects an invalid one keeping the last good config, then applies the next valid one', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    const { configs, invalid } = start(path);

    await writeFile(path, withWeights(80, 20));
    await until('first change', () => configs.length === 1);
    expect(configs[0]!.version).toBe(2);
    expect(canaryWeight(configs[0]!)).toBe(20);

    await writeFile(path, withWeights(80, 120));
    await until('invalid report', () => invalid.length === 1);
    expect(invalid[0]).toContain(`${path}:11:17: routes[0].backends[1].weight: must be between 0 and 100`);
    expect(configs).toHaveLength(1);

    await writeFile(path, withWeights(50, 50));
    await until('recovery', () => configs.length === 2);
    expect(configs[1]!.version).toBe(3);
    expect(canaryWeight(configs[1]!)).toBe(50);
    expect(invalid).toHaveLength(1);
  });

  it('follows editors that replace the file by rename', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    const { configs } = start(path);
    for (const canary of [30, 40]) {
      const tmp = join(dir, `.routes.yaml.swp${canary}`);
      await writeFile(tmp, withWeights(100 - canary, canary));
      await rename(tmp, path);
      await until(
        `rename to ${canary}`,
        () => configs.length > 0 && canaryWeight(configs.at(-1)!) === canary,
      );
    }
    expect(configs.map((c) => c.version)).toEqual([2, 3]);
  });

  it('notices a change made between loading the file and starting the watch', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    expect((await loadRoutesFile(path)).ok).toBe(true);
    await writeFile(path, withWeights(75, 25));
    const { configs } = start(path);
    await until('catch-up', () => configs.length === 1);
    expect(canaryWeight(configs[0]!)).toBe(25);
  });

  it('does not re-apply the loaded content when the watch starts', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    expect((await loadRoutesFile(path)).ok).toBe(true);
    const { configs, invalid } = start(path);
    await new Promise((r) => setTimeout(r, 150));
    expect(configs).toHaveLength(0);
    expect(invalid).toHaveLength(0);
  });

  it('ignores writes that do not change the content and stops after close', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    const { configs, invalid } = start(path);
    await writeFile(path, VALID);
    await writeFile(join(dir, 'unrelated.txt'), 'x');
    await new Promise((r) => setTimeout(r, 200));
    expect(configs).toHaveLength(0);
    expect(invalid).toHaveLength(0);
    watcher!.close();
    await writeFile(path, withWeights(70, 30));
    await new Promise((r) => setTimeout(r, 200));
    expect(configs).toHaveLength(0);
  });

  it('reports a deleted file and applies it again when it comes back changed', async () => {
    const path = join(dir, 'routes.yaml');
    await writeFile(path, VALID);
    const { configs, invalid } = start(path);
    await rm(path);
    await until('unreadable report', () => invalid.length === 1);
    expect(invalid[0]).toMatch(/cannot read/);
    await writeFile(path, withWeights(60, 40));
    await until('restored', () => configs.length === 1);
    expect(canaryWeight(configs[0]!)).toBe(40);
  });
});

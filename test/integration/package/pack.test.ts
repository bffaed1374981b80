// The npm package as a user gets it: `npm pack` (prepack builds dist/ with tsc), the tarball installed
// into an empty folder, and the bins run from its node_modules/.bin, where Node refuses to strip types, so
// they must run the built JavaScript. Also: what the tarball holds (no tests, no sources, no bench; the
// files read at run time) and that the manifests run the image of this version (deploy/Dockerfile builds
// it from the lock file). One pack and one install for the file.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/command-table.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  entryCount: number;
  size: number;
  files: { path: string }[];
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};
let work: string;
let app: string;
let packed: PackResult;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sluice-pack-'));
  app = join(work, 'app');
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  // npm prints the prepack script's output before the JSON.
  packed = (JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as PackResult[])[0]!;
  await run('mkdir', [app]);
  await writeFile(join(app, 'package.json'), '{ "name": "sluice-pack-test", "private": true }\n');
  await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed.filename)], {
    cwd: app,
    maxBuffer: 16 * 1024 * 1024,
  });
}, 240_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

function bin(name: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(join(app, 'node_modules', '.bin', name), args, { cwd: app });
}

describe('the npm package', () => {
  it('holds the built JavaScript and the files read at run time, no tests, sources or benchmarks', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/src/cli/main.js');
    expect(paths).toContain('dist/proxy/main.js');
    // Loaded from disk at run time: the control protocol (proxy/control/proto.ts, src/control/wire.ts)
    // and demo-proxy's default routes.
    expect(paths).toContain('dist/proxy/control/control.proto');
    expect(paths).toContain('deploy/examples/routes.yaml');
    expect(paths).toContain('crds/rollout.yaml');
    expect(paths).toContain('bin/kubectl_complete-sluice.js');
    // The dashboard's page, script and stylesheet (src/cli/dashboard/server.ts reads them at start).
    for (const asset of ['index.html', 'app.js', 'app.css'])
      expect(paths).toContain(`dist/src/cli/dashboard/assets/${asset}`);
    const unwanted = paths.filter(
      (p) => /^(test|bench|scripts|src|proxy|docs)\//.test(p) || p.endsWith('.ts') || p.endsWith('.map'),
    );
    expect(unwanted).toEqual([]);
  });

  it('runs sluice --help from node_modules/.bin, listing every command', async () => {
    const { stdout } = await bin('sluice', ['--help']);
    expect(stdout).toMatch(/^usage: sluice <command>/);
    for (const command of COMMANDS) expect(stdout).toContain(`  ${command.lines[0]![0]}`);
  });

  it('runs sluice version and kubectl-sluice version', async () => {
    expect((await bin('sluice', ['version'])).stdout).toBe(`sluice ${pkg.version}\n`);
    expect((await bin('kubectl-sluice', ['version'])).stdout).toBe(`sluice ${pkg.version}\n`);
    expect((await bin('kubectl-sluice', ['--help'])).stdout).toMatch(/^usage: kubectl sluice <command>/);
  });

  it('answers kubectl plugin completion through kubectl_complete-sluice', async () => {
    const { stdout } = await bin('kubectl_complete-sluice', ['terminate', '']);
    expect(stdout).toBe('analysisrun\nexperiment\n:4\n');
  });

  it('finds the control protocol and demo-proxy routes where the installed modules look for them', async () => {
    const dist = join(app, 'node_modules', 'sluice', 'dist');
    const probe = `
      const { existsSync } = await import('node:fs');
      const { fileURLToPath } = await import('node:url');
      const { CONTROL_PROTO_PATH } = await import(${JSON.stringify(join(dist, 'proxy/control/proto.js'))});
      const { packageFile, packageInfo } = await import(${JSON.stringify(join(dist, 'src/cli/package-root.js'))});
      console.log(JSON.stringify({
        proto: existsSync(CONTROL_PROTO_PATH),
        routes: existsSync(fileURLToPath(packageFile('deploy/examples/routes.yaml'))),
        version: packageInfo()?.version,
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe]);
    expect(JSON.parse(stdout)).toEqual({ proto: true, routes: true, version: pkg.version });
  });

  it('states the Node it needs: no lower than the floor of its dependencies (undici)', async () => {
    const floor = (range: string) => (/(\d+)\.(\d+)/.exec(range) ?? []).slice(1, 3).map(Number);
    const undici = JSON.parse(
      await readFile(join(app, 'node_modules', 'undici', 'package.json'), 'utf8'),
    ) as {
      engines: { node: string };
    };
    const [ours, theirs] = [floor(pkg.engines.node), floor(undici.engines.node)];
    expect(ours[0]! * 1000 + ours[1]!).toBeGreaterThanOrEqual(theirs[0]! * 1000 + theirs[1]!);
  });
});

describe('the image', () => {
  it('is tagged with the package version in the generated manifests and the base', async () => {
    const tag = `sluice:${pkg.version}`;
    for (const file of ['deploy/install.yaml', 'deploy/namespace-install.yaml']) {
      const text = await readFile(join(ROOT, file), 'utf8');
      const images = [...text.matchAll(/^\s+image: (sluice\S*)$/gm)].map((m) => m[1]);
      expect(images.length).toBeGreaterThan(0);
      expect(new Set(images)).toEqual(new Set([tag]));
    }
    const base = await readFile(join(ROOT, 'deploy/base/kustomization.yaml'), 'utf8');
    expect(base).toMatch(
      new RegExp(
        `- name: sluice\\n(?: {4}\\S.*\\n)*? {4}newTag: ${pkg.version.replaceAll('.', '\\.')}$`,
        'm',
      ),
    );
  });

  it('is built from the lock file (npm ci), running the built CLI', async () => {
    const dockerfile = await readFile(join(ROOT, 'deploy/Dockerfile'), 'utf8');
    const installs = [...dockerfile.matchAll(/^RUN npm (\S+)/gm)].map((m) => m[1]);
    expect(installs.length).toBeGreaterThan(0);
    expect(installs.filter((verb) => verb === 'install')).toEqual([]);
    expect(dockerfile).toMatch(/COPY package\.json package-lock\.json/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/dist\/src\/cli\/main\.js"\]/);
  });
});

// The layer check (scripts/check-layers.ts) against small planted trees, and against the repository itself.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLayers, LAYERS } from '../../../scripts/check-layers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-layers-'));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('check-layers', () => {
  it('passes on the repository as it is', () => {
    const { problems, modules } = checkLayers(resolve(import.meta.dirname, '..', '..', '..'));
    expect(problems).toEqual([]);
    expect(modules).toBeGreaterThan(100);
  });

  it('passes a tree whose imports go down the table', () => {
    const root = tree({
      'src/api/meta.ts': 'export type X = 1;\n',
      'src/store/memory.ts': "import type { X } from '../api/meta.ts';\nexport type Y = X;\n",
      'src/rollout/plan.ts': "import type { Y } from '../store/memory.ts';\nexport type Z = Y;\n",
    });
    expect(checkLayers(root).problems).toEqual([]);
  });

  it('fails when a layer imports one it may not (a reconciler reaching into kube/)', () => {
    const root = tree({
      'src/kube/client.ts': 'export const c = 1;\n',
      'src/rollout/apply.ts': "import { c } from '../kube/client.ts';\nexport const d = c;\n",
    });
    const { problems } = checkLayers(root);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'src/rollout/apply.ts imports src/kube/client.ts: layer rollout/ may not import kube/',
    );
  });

  it('fails when api/ imports anything of ours, even through a dynamic import', () => {
    const root = tree({
      'src/store/object-store.ts': 'export const s = 1;\n',
      'src/api/rollout.ts': "export const load = () => import('../store/object-store.ts');\n",
    });
    expect(checkLayers(root).problems[0]).toContain(
      'layer api/ may not import store/ (allowed: nothing of ours)',
    );
  });

  it('fails when the proxy imports the controller', () => {
    const root = tree({
      'src/api/meta.ts': 'export const m = 1;\n',
      'proxy/main.ts': "import { m } from '../src/api/meta.ts';\nexport const p = m;\n",
    });
    expect(checkLayers(root).problems).toEqual([
      'proxy/main.ts imports src/api/meta.ts: the proxy must not depend on the controller',
    ]);
  });

  it('reports a folder-level cycle even when no file-level cycle exists', () => {
    const layers = { ...LAYERS, store: ['api', 'kube'] };
    const root = tree({
      'src/kube/a.ts': "import { b } from '../store/b.ts';\nexport const a = b;\n",
      'src/store/b.ts': 'export const b = 1;\n',
      'src/store/c.ts': "import { a } from '../kube/a.ts';\nexport const c = a;\n",
    });
    const { problems } = checkLayers(root, layers);
    expect(problems.some((p) => p.startsWith('layer table cycle: '))).toBe(true);
    expect(problems).toContain('folder import cycle: kube -> store -> kube');
    expect(problems.some((p) => p.startsWith('import cycle: '))).toBe(false);
  });

  it('reports a file-level cycle inside one folder', () => {
    const root = tree({
      'src/rollout/a.ts': "import { b } from './b.ts';\nexport const a = () => b;\n",
      'src/rollout/b.ts': "import { a } from './a.ts';\nexport const b = () => a;\n",
    });
    expect(checkLayers(root).problems).toEqual([
      'import cycle: src/rollout/a.ts -> src/rollout/b.ts -> src/rollout/a.ts',
    ]);
  });

  it('names a new folder that the table does not know', () => {
    const root = tree({ 'src/router/x.ts': 'export const x = 1;\n' });
    expect(checkLayers(root).problems).toEqual([
      'src/router/x.ts: folder router/ is not in the layer table (scripts/check-layers.ts)',
    ]);
  });
});

// The import graph is the architecture (docs/architecture.md): each top-level folder of src/ may import
// only the folders LAYERS lists for it, proxy/ imports nothing of src/ (its only contract with the
// controller is proxy/control/control.proto), and neither files nor folders form import cycles.
// `npm run check` runs this; test/unit/scripts/check-layers.test.ts plants violations and sees them fail.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Everything below the composition root: the vocabulary, the stores, the reconcilers and their metrics. */
const BELOW_ROOT = [
  'api',
  'store',
  'reconcile',
  'control',
  'traffic',
  'analysis',
  'experiment',
  'rollout',
  'metrics',
  'notifications',
] as const;

/**
 * Which top-level folders each layer may import (besides itself), bottom first. `proxy` is the data plane;
 * only the command line (and, later, the embedded mode) starts it in-process.
 */
export const LAYERS: Readonly<Record<string, readonly string[]>> = {
  api: [],
  store: ['api'],
  reconcile: ['api', 'store'],
  control: ['api'],
  traffic: ['api', 'store', 'reconcile', 'control'],
  analysis: ['api', 'store', 'reconcile', 'control'],
  experiment: ['api', 'store', 'reconcile', 'analysis'],
  rollout: ['api', 'store', 'reconcile', 'analysis', 'traffic'],
  metrics: ['api', 'store'],
  notifications: ['api', 'store', 'analysis'],
  kube: ['api', 'store'],
  demo: ['api'],
  controller: [...BELOW_ROOT, 'kube'],
  standalone: [...BELOW_ROOT, 'controller', 'demo', 'proxy'],
  cli: [...BELOW_ROOT, 'kube', 'controller', 'standalone', 'demo', 'proxy'],
  proxy: [],
};

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function listTs(dir: string, out: string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listTs(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** The layer a repository path belongs to: `proxy`, a folder of src/, or undefined (outside both). */
function layerOf(repoPath: string): string | undefined {
  const parts = repoPath.split('/');
  if (parts[0] === 'proxy') return 'proxy';
  if (parts[0] === 'src' && parts.length > 2) return parts[1];
  return undefined;
}

/** Cycles in a directed graph, each reported once as the path that closes it. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    color.set(node, GREY);
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      const c = color.get(dep);
      if (c === GREY) cycles.push(stack.slice(stack.indexOf(dep)).concat(dep));
      else if (c === undefined && graph.has(dep)) visit(dep);
    }
    stack.pop();
    color.set(node, BLACK);
  };
  for (const node of graph.keys()) if (!color.has(node)) visit(node);
  return cycles;
}

export interface CheckResult {
  readonly modules: number;
  readonly problems: readonly string[];
}

/** Checks src/ and proxy/ under `root` against `layers`. */
export function checkLayers(
  root: string,
  layers: Readonly<Record<string, readonly string[]>> = LAYERS,
): CheckResult {
  const problems: string[] = [];
  const tableCycles = findCycles(new Map(Object.entries(layers)));
  for (const c of tableCycles) problems.push(`layer table cycle: ${c.join(' -> ')}`);
  const files = ['src', 'proxy'].flatMap((r) => listTs(join(root, r), []));
  const fileGraph = new Map<string, string[]>();
  const folderGraph = new Map<string, Set<string>>();
  for (const file of files) {
    const from = relative(root, file);
    const fromLayer = layerOf(from);
    if (fromLayer !== undefined && !(fromLayer in layers)) {
      problems.push(`${from}: folder ${fromLayer}/ is not in the layer table (scripts/check-layers.ts)`);
    }
    const deps: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2];
      if (spec === undefined) continue;
      const target = resolve(dirname(file), spec);
      deps.push(target);
      const to = relative(root, target);
      const toLayer = layerOf(to);
      if (fromLayer === undefined || toLayer === undefined || toLayer === fromLayer) continue;
      if (!folderGraph.has(fromLayer)) folderGraph.set(fromLayer, new Set());
      folderGraph.get(fromLayer)!.add(toLayer);
      if (!(layers[fromLayer] ?? []).includes(toLayer)) {
        problems.push(
          fromLayer === 'proxy'
            ? `${from} imports ${to}: the proxy must not depend on the controller`
            : `${from} imports ${to}: layer ${fromLayer}/ may not import ${toLayer}/ (allowed: ${(layers[fromLayer] ?? []).join(', ') || 'nothing of ours'})`,
        );
      }
    }
    fileGraph.set(file, deps);
  }
  for (const c of findCycles(new Map([...folderGraph].map(([k, v]) => [k, [...v]])))) {
    problems.push(`folder import cycle: ${c.join(' -> ')}`);
  }
  for (const c of findCycles(fileGraph)) {
    problems.push(`import cycle: ${c.map((f) => relative(root, f)).join(' -> ')}`);
  }
  return { modules: fileGraph.size, problems };
}

if (import.meta.main) {
  const { modules, problems } = checkLayers(resolve(import.meta.dirname, '..'));
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    process.exit(1);
  }
  console.log(`check-layers: ${modules} modules, imports follow the layer table, no import cycles`);
}

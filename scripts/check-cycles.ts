// Fails when the relative imports of src/ and proxy/ form a cycle, or when proxy/ imports from src/
// (the proxy's only contract with the controller is proxy/control/control.proto; ARCHITECTURE.md).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOTS = ['src', 'proxy'];
const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function listTs(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listTs(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

const root = resolve(import.meta.dirname, '..');
const files = ROOTS.flatMap((r) => {
  try {
    return listTs(join(root, r), []);
  } catch {
    return [];
  }
});
const graph = new Map<string, string[]>();
const problems: string[] = [];
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec === undefined) continue;
    const target = resolve(dirname(file), spec);
    deps.push(target);
    const from = relative(root, file);
    if (from.startsWith('proxy/') && relative(root, target).startsWith('src/')) {
      problems.push(`${from} imports ${relative(root, target)}: the proxy must not depend on the controller`);
    }
  }
  graph.set(file, deps);
}

const WHITE = 0;
const GREY = 1;
const BLACK = 2;
const color = new Map<string, number>();
const stack: string[] = [];
function visit(node: string): void {
  color.set(node, GREY);
  stack.push(node);
  for (const dep of graph.get(node) ?? []) {
    const c = color.get(dep) ?? WHITE;
    if (c === GREY) {
      const cycle = stack.slice(stack.indexOf(dep)).concat(dep);
      problems.push(`import cycle: ${cycle.map((f) => relative(root, f)).join(' -> ')}`);
    } else if (c === WHITE && graph.has(dep)) {
      visit(dep);
    }
  }
  stack.pop();
  color.set(node, BLACK);
}
for (const file of graph.keys()) if ((color.get(file) ?? WHITE) === WHITE) visit(file);

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log(`check-cycles: ${graph.size} modules, no import cycles`);

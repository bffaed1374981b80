// The subset of Kubernetes JSONPath the web provider needs: one `{...}` expression made of `$`, `.key`,
// `['key']` / `["key"]`, `[n]` (negative counts from the end), `[*]` and `.*`; a leading `.` may stand
// for `$` as kubectl allows (`{.data.value}`). Evaluation returns every match, in document order.

export type JsonPathCompile = { ok: true; path: JsonPath } | { ok: false; error: string };

type Step = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

export interface JsonPath {
  readonly source: string;
  readonly steps: readonly Step[];
}

export function compileJsonPath(source: string): JsonPathCompile {
  let text = source.trim();
  if (text.startsWith('{') && text.endsWith('}')) text = text.slice(1, -1).trim();
  else return { ok: false, error: `jsonPath ${JSON.stringify(source)} must be wrapped in {}` };
  if (text.startsWith('$')) text = text.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '.') {
      if (text[i + 1] === '.')
        return { ok: false, error: `jsonPath ${source}: recursive descent (..) is not supported` };
      if (text[i + 1] === '*') {
        steps.push({ kind: 'wildcard' });
        i += 2;
        continue;
      }
      const m = /^[A-Za-z0-9_\-$/]+/.exec(text.slice(i + 1));
      if (!m) return { ok: false, error: `jsonPath ${source}: expected a key at position ${i + 1}` };
      steps.push({ kind: 'key', key: m[0] });
      i += 1 + m[0].length;
      continue;
    }
    if (c === '[') {
      const close = text.indexOf(']', i);
      if (close < 0) return { ok: false, error: `jsonPath ${source}: unclosed [ at position ${i}` };
      const inner = text.slice(i + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'wildcard' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ kind: 'key', key: inner.slice(1, -1) });
      else return { ok: false, error: `jsonPath ${source}: unsupported subscript [${inner}]` };
      i = close + 1;
      continue;
    }
    if (c === ' ') {
      i++;
      continue;
    }
    return { ok: false, error: `jsonPath ${source}: unexpected ${JSON.stringify(c)} at position ${i}` };
  }
  return { ok: true, path: { source, steps } };
}

export type JsonPathResult = { ok: true; matches: unknown[] } | { ok: false; error: string };

export function evaluateJsonPath(path: JsonPath, data: unknown): JsonPathResult {
  let current: unknown[] = [data];
  for (const step of path.steps) {
    const next: unknown[] = [];
    for (const value of current) {
      if (step.kind === 'key') {
        if (
          typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.hasOwn(value, step.key)
        ) {
          next.push((value as Record<string, unknown>)[step.key]);
        }
      } else if (step.kind === 'index') {
        if (Array.isArray(value)) {
          const idx = step.index < 0 ? value.length + step.index : step.index;
          if (idx >= 0 && idx < value.length) next.push(value[idx]);
          else
            return {
              ok: false,
              error: `array index out of bounds: index ${step.index}, length ${value.length}`,
            };
        }
      } else if (Array.isArray(value)) {
        next.push(...value);
      } else if (typeof value === 'object' && value !== null) {
        next.push(...Object.values(value));
      }
    }
    if (next.length === 0) {
      const last = step.kind === 'key' ? step.key : step.kind === 'index' ? `[${step.index}]` : '*';
      return { ok: false, error: `${last} is not found` };
    }
    current = next;
  }
  return { ok: true, matches: current };
}

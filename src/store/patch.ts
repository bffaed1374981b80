// Patch application as the API server does it, for the in-memory store and for the kube store's cache
// updates: JSON merge patch (RFC 7386), JSON patch (RFC 6902, including `test`), and a strategic merge
// patch limited to what reconcilers send (lists of objects keyed by `name`, or `type` for conditions,
// are merged by key; `$patch: delete` removes a keyed element; `null` deletes a field).
// Results are fresh objects; inputs are never mutated. Failures are returned, not thrown.

export type PatchResult = { ok: true; value: unknown } | { ok: false; error: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** RFC 7386 section 2 MergePatch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

const MERGE_KEYS = ['name', 'type', 'containerPort', 'port', 'uid', 'mountPath', 'ip'];

function mergeKeyOf(items: readonly unknown[]): string | undefined {
  if (items.length === 0 || !items.every(isObject)) return undefined;
  return MERGE_KEYS.find((k) => items.every((i) => (i as Record<string, unknown>)[k] !== undefined));
}

/** A strategic merge patch over the subset of Kubernetes' rules that reconcilers rely on. */
export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    const current = result[key];
    if (value === null) delete result[key];
    else if (Array.isArray(value) && Array.isArray(current)) {
      const key2 = mergeKeyOf([...current, ...value.filter((v) => !(isObject(v) && v.$patch === 'delete'))]);
      if (key2 === undefined) {
        result[key] = structuredClone(value);
        continue;
      }
      const merged = [...current];
      for (const item of value as Record<string, unknown>[]) {
        const idx = merged.findIndex((m) => (m as Record<string, unknown>)[key2] === item[key2]);
        if (item.$patch === 'delete') {
          if (idx >= 0) merged.splice(idx, 1);
        } else if (idx >= 0) merged[idx] = applyStrategicMergePatch(merged[idx], item);
        else merged.push(applyStrategicMergePatch(undefined, item));
      }
      result[key] = merged;
    } else result[key] = applyStrategicMergePatch(current, value);
  }
  return result;
}

function decodePointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = Record<string, unknown> | unknown[];

function parentOf(root: unknown, tokens: readonly string[]): Container | undefined {
  let node: unknown = root;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[Number(t)];
    else if (isObject(node)) node = node[t];
    else return undefined;
  }
  return Array.isArray(node) || isObject(node) ? node : undefined;
}

function getAt(root: unknown, tokens: readonly string[]): { found: boolean; value?: unknown } {
  let node: unknown = root;
  for (const t of tokens) {
    if (Array.isArray(node)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= node.length) return { found: false };
      node = node[i];
    } else if (isObject(node) && Object.hasOwn(node, t)) node = node[t];
    else return { found: false };
  }
  return { found: true, value: node };
}

/** RFC 6902 JSON patch. */
export function applyJsonPatch(target: unknown, operations: unknown): PatchResult {
  if (!Array.isArray(operations)) return { ok: false, error: 'json patch: must be an array of operations' };
  let doc: unknown = structuredClone(target);
  for (const [i, raw] of operations.entries()) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      return { ok: false, error: `json patch [${i}]: needs string "op" and "path"` };
    }
    const tokens = decodePointer(raw.path);
    if (tokens === undefined) return { ok: false, error: `json patch [${i}].path: not a JSON pointer` };
    const remove = (): string | undefined => {
      if (tokens.length === 0) return 'cannot remove the root';
      const parent = parentOf(doc, tokens);
      const last = tokens[tokens.length - 1]!;
      if (Array.isArray(parent)) {
        const idx = Number(last);
        if (!/^\d+$/.test(last) || idx >= parent.length) return `no element at ${raw.path}`;
        parent.splice(idx, 1);
      } else if (isObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
      else return `no value at ${raw.path}`;
      return undefined;
    };
    const add = (value: unknown): string | undefined => {
      if (tokens.length === 0) {
        doc = structuredClone(value);
        return undefined;
      }
      const parent = parentOf(doc, tokens);
      const last = tokens[tokens.length - 1]!;
      if (Array.isArray(parent)) {
        const idx = last === '-' ? parent.length : Number(last);
        if ((last !== '-' && !/^\d+$/.test(last)) || idx > parent.length) return `bad index at ${raw.path}`;
        parent.splice(idx, 0, structuredClone(value));
      } else if (isObject(parent)) parent[last] = structuredClone(value);
      else return `no parent for ${raw.path}`;
      return undefined;
    };
    let error: string | undefined;
    switch (raw.op) {
      case 'add':
        error = add(raw.value);
        break;
      case 'remove':
        error = remove();
        break;
      case 'replace':
        error = remove() ?? add(raw.value);
        break;
      case 'test': {
        const at = getAt(doc, tokens);
        if (!at.found || JSON.stringify(at.value) !== JSON.stringify(raw.value)) {
          error = `test failed at ${raw.path}`;
        }
        break;
      }
      case 'move':
      case 'copy': {
        const from = typeof raw.from === 'string' ? decodePointer(raw.from) : undefined;
        if (from === undefined) {
          error = `"from" must be a JSON pointer`;
          break;
        }
        const at = getAt(doc, from);
        if (!at.found) {
          error = `no value at ${String(raw.from)}`;
          break;
        }
        if (raw.op === 'move' && from.length > 0) {
          const parent = parentOf(doc, from);
          const last = from[from.length - 1]!;
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else if (isObject(parent)) delete parent[last];
        }
        error = add(at.value);
        break;
      }
      default:
        error = `unknown op "${raw.op}"`;
    }
    if (error !== undefined) return { ok: false, error: `json patch [${i}]: ${error}` };
  }
  return { ok: true, value: doc };
}

/**
 * The RFC 7386 merge patch that turns `from` into `to` (removed keys become null; arrays and scalars are
 * replaced whole), or undefined when they are equal. This is how status is written: only what changed.
 */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (JSON.stringify(from) === JSON.stringify(to)) return undefined;
  if (!isObject(from) || !isObject(to)) return to === undefined ? null : structuredClone(to);
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) {
    if (!Object.hasOwn(to, key) || to[key] === undefined) {
      if (from[key] !== undefined) patch[key] = null;
    }
  }
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    const diff = createMergePatch(from[key], value);
    if (diff !== undefined) patch[key] = diff;
  }
  return Object.keys(patch).length === 0 ? undefined : patch;
}

/**
 * Custom resources are sent without empty strings: Argo's Go types mark these fields `omitempty`, so "" and
 * absent mean the same, and the 1.20 API server of the test control plane rejects "" in a custom resource
 * as `Invalid value: "null"`. In a merge patch an empty string outside arrays becomes null (clear the
 * field); elsewhere the key is dropped.
 */
export function omitEmptyStrings(value: unknown, inMergePatch: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => omitEmptyStrings(v, false));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === '') {
      if (inMergePatch) out[k] = null;
      continue;
    }
    out[k] = omitEmptyStrings(v, inMergePatch);
  }
  return out;
}

/**
 * createMergePatch for the status of an Argo custom resource. Argo's Go types mark strings `omitempty`,
 * so "" and absent are one value, and the API server keeps neither (omitEmptyStrings above). Compared as
 * different, a Healthy Rollout's `message: ""` sent a patch that changed nothing on every reconcile: 500
 * useless writes, queued behind --qps, each time 500 Rollouts resynced.
 */
export function createStatusMergePatch(from: unknown, to: unknown): unknown {
  return createMergePatch(omitEmptyStrings(from, false), omitEmptyStrings(to, false));
}

// The routes file: YAML parsed once with source ranges, validated by routing/validate.ts, and every
// error reported as "file:line:col: field.path: message" (the line of the offending value, or of the
// nearest existing parent when the field is missing). The watcher observes the directory, not the
// file, because editors and Kubernetes ConfigMaps replace files by rename (a ConfigMap swaps a
// `..data` symlink, so any event in the directory triggers a re-read). Changes are debounced, applied
// only when the content differs from what was last seen, and an invalid file never replaces the last
// good config: the caller just keeps serving it.

import { type FSWatcher, watch as fsWatch, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { RoutesConfig } from './config.ts';
import { type ConfigError, validateRoutesConfig } from './routing/validate.ts';

export type RoutesFileResult = { ok: true; config: RoutesConfig } | { ok: false; message: string };

export const DEFAULT_WATCH_DEBOUNCE_MS = 50;
/** Re-read interval that backs up fs.watch (which can miss events on some filesystems); 0 disables. */
export const DEFAULT_WATCH_POLL_MS = 5_000;
const MAX_REPORTED_ERRORS = 20;

type PathSegment = string | number;

function parseFieldPath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[1] !== undefined) out.push(m[1]);
  }
  return out;
}

function offsetOf(node: unknown): number | null {
  if (node !== null && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    if (Array.isArray(range)) return range[0];
  }
  return null;
}

/** Source offset for a field path: the value's (or for unknown fields the key's), else the nearest parent's. */
function locate(root: unknown, path: readonly PathSegment[], preferKey: boolean): number {
  let node: unknown = root;
  let best = offsetOf(root) ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (typeof seg === 'number' && isSeq(node)) {
      node = node.items[seg];
    } else if (typeof seg === 'string' && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
      if (pair === undefined) return best;
      if (last && preferKey) return offsetOf(pair.key) ?? best;
      node = pair.value ?? pair.key;
    } else {
      return best;
    }
    best = offsetOf(node) ?? best;
  }
  return best;
}

function formatAt(file: string, lc: LineCounter, offset: number, rest: string): string {
  const { line, col } = lc.linePos(offset);
  return `${file}:${Math.max(line, 1)}:${Math.max(col, 1)}: ${rest}`;
}

/** Parses and validates routes YAML text; `file` names it in messages. */
export function parseRoutesYaml(file: string, text: string): RoutesFileResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors
      .slice(0, MAX_REPORTED_ERRORS)
      .map((e) => formatAt(file, lc, e.pos[0], `YAML syntax: ${e.message.split('\n')[0]}`));
    return { ok: false, message: lines.join('\n') };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, message: `${file}:1:1: YAML: ${err instanceof Error ? err.message : String(err)}` };
  }
  const result = validateRoutesConfig(data ?? {});
  if (result.ok) return result;
  return { ok: false, message: formatErrors(file, lc, doc.contents, result.errors) };
}

function formatErrors(file: string, lc: LineCounter, root: unknown, errors: readonly ConfigError[]): string {
  const located = errors.map((e) => ({
    offset: locate(root, parseFieldPath(e.path), e.message.startsWith('unknown field')),
    text: e.path === '' ? e.message : `${e.path}: ${e.message}`,
  }));
  located.sort((a, b) => a.offset - b.offset); // stable: same-place errors keep their order
  const lines = located.slice(0, MAX_REPORTED_ERRORS).map((e) => formatAt(file, lc, e.offset, e.text));
  if (errors.length > MAX_REPORTED_ERRORS) lines.push(`(${errors.length - MAX_REPORTED_ERRORS} more errors)`);
  return lines.join('\n');
}

// Content of each file as last read by loadRoutesFile: the watcher's baseline, so a change made
// between the caller's load and the watch starting is still noticed.
const loadedContent = new Map<string, string>();

/** Reads, parses and validates a routes file. Never throws. */
export async function loadRoutesFile(path: string): Promise<RoutesFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return {
      ok: false,
      message: `${path}: cannot read: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const result = parseRoutesYaml(path, text);
  if (result.ok) loadedContent.set(resolve(path), text);
  return result;
}

export interface RoutesFileHandlers {
  /** A valid change; `version` increases by one per applied config. */
  onConfig(config: RoutesConfig, version: number): void;
  /** An invalid or unreadable file; the caller keeps serving its last good config. */
  onInvalid(message: string): void;
}

export interface WatchRoutesOptions {
  debounceMs?: number;
  pollMs?: number;
  /** Version of the config the caller already serves; the first change gets initialVersion + 1. Default 1. */
  initialVersion?: number;
}

export interface RoutesFileWatch {
  close(): void;
}

/**
 * Watches a routes file. The baseline is the content loadRoutesFile last loaded from this path (or
 * the content at the time of the call); every later change of content is parsed and reported once.
 */
export function watchRoutesFile(
  path: string,
  handlers: RoutesFileHandlers,
  options: WatchRoutesOptions = {},
): RoutesFileWatch {
  const debounceMs = options.debounceMs ?? DEFAULT_WATCH_DEBOUNCE_MS;
  const pollMs = options.pollMs ?? DEFAULT_WATCH_POLL_MS;
  const absolute = resolve(path);
  let version = options.initialVersion ?? 1;
  let lastSeen: string | null = null;
  let lastReadError: string | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let again = false;

  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        let text: string;
        try {
          text = await readFile(absolute, 'utf8');
        } catch (err) {
          const message = `${path}: cannot read: ${err instanceof Error ? err.message : String(err)}`;
          if (!closed && message !== lastReadError) handlers.onInvalid(message);
          lastReadError = message;
          continue;
        }
        lastReadError = null;
        if (closed || text === lastSeen) continue;
        lastSeen = text;
        const result = parseRoutesYaml(path, text);
        if (result.ok) {
          version += 1;
          handlers.onConfig(result.config, version);
        } else {
          handlers.onInvalid(result.message);
        }
      } while (again && !closed);
    } finally {
      running = false;
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void check();
    }, debounceMs);
  };

  // Baseline: the content the caller serves, i.e. what loadRoutesFile last read successfully (else
  // the file as it is now). One check runs right away to catch a change made since that load.
  lastSeen = loadedContent.get(absolute) ?? null;
  if (lastSeen === null) {
    try {
      lastSeen = readFileSync(absolute, 'utf8');
    } catch {
      lastSeen = null;
    }
  }
  schedule();

  let watcher: FSWatcher | null = null;
  try {
    watcher = fsWatch(dirname(absolute), { persistent: false }, () => {
      schedule();
    });
    watcher.on('error', (err) => {
      if (!closed) handlers.onInvalid(`${path}: watch failed: ${err.message}; polling only`);
    });
  } catch (err) {
    handlers.onInvalid(
      `${path}: cannot watch: ${err instanceof Error ? err.message : String(err)}; polling only`,
    );
  }
  const poll = pollMs > 0 ? setInterval(() => void check(), pollMs) : null;
  poll?.unref();

  return {
    close(): void {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      if (poll !== null) clearInterval(poll);
      watcher?.close();
    },
  };
}

// Standalone mode's state file (`sluice standalone DIR --state FILE`): the in-memory ObjectStore persisted
// so that a killed standalone, started again, resumes where it was (same step, same AnalysisRuns, same
// resourceVersions). Every object of every kind is kept exactly as stored (status, uid, resourceVersion,
// generation, creationTimestamp), with the store's resourceVersion counter; Pods and Endpoints too, since
// the pods' processes outlive a killed standalone and the next one adopts them (workloads/runtime.ts).
//
// Format: `{"version":1,"checksum":"sha256:<hex>","content":{"resourceVersion":N,"objects":[...]}}`, the
// checksum being the sha256 of JSON.stringify(content). Written atomically (temp file in the same folder,
// fsync, rename, fsync of the folder) and debounced after every store change, with a final flush on
// close; FILE.lock keeps a second standalone off the same file (a lock whose process is gone is taken
// over). A file that is truncated, edited or corrupted is refused with a message naming the file and the
// problem: never silently reset. A missing file is a fresh start.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Kind, KubeObject } from '../api/meta.ts';
import type { MemorySnapshot, MemoryStore } from '../store/memory.ts';
import { ALL_KINDS, isKind, RESOURCES } from '../store/resources.ts';

export const STATE_FILE_VERSION = 1;

export const PERSISTED_KINDS: readonly Kind[] = ALL_KINDS;

/** Delay between a store change and the write it causes (changes in between share one write). */
export const DEFAULT_STATE_DEBOUNCE_MS = 100;

/** A state file that cannot be used: the message names the file and what is wrong with it. */
export class StateFileError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(
      `state file ${file}: ${problem}; refusing to start (it is never reset silently: repair it, or move it away to start afresh)`,
    );
    this.name = 'StateFileError';
    this.file = file;
  }
}

export interface StateOptions {
  /** Delay between a store change and its write (default DEFAULT_STATE_DEBOUNCE_MS). */
  readonly debounceMs?: number;
  /** A failed background write (the next change tries again); default: printed on stderr. */
  readonly onError?: (error: unknown) => void;
}

export interface OpenedState {
  /** True when objects were loaded from the file, false on a fresh start (no file). */
  readonly restored: boolean;
  /** Writes now what is pending (resolves once it is on disk). */
  flush(): Promise<void>;
  /** Stops following the store, after a final write. */
  close(): Promise<void>;
}

function sha256(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The file's text for a snapshot. */
export function encodeState(snapshot: MemorySnapshot): string {
  const content = { resourceVersion: snapshot.resourceVersion, objects: snapshot.objects };
  const body = JSON.stringify(content);
  return `{"version":${STATE_FILE_VERSION},"checksum":"${sha256(body)}","content":${body}}\n`;
}

/** The snapshot in a state file's text; throws StateFileError naming `file` and the problem. */
export function decodeState(file: string, text: string): MemorySnapshot {
  if (text.trim() === '') throw new StateFileError(file, 'the file is empty (truncated?)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(
      file,
      `not valid JSON, the file is truncated or corrupted (${(error as Error).message}, ${text.length} bytes)`,
    );
  }
  if (!isRecord(parsed)) throw new StateFileError(file, 'not a Sluice state file (expected a JSON object)');
  if (parsed.version !== STATE_FILE_VERSION) {
    throw new StateFileError(
      file,
      parsed.version === undefined
        ? 'not a Sluice state file (no "version" field)'
        : `unsupported version ${JSON.stringify(parsed.version)} (this Sluice reads version ${STATE_FILE_VERSION})`,
    );
  }
  if (typeof parsed.checksum !== 'string' || parsed.checksum === '')
    throw new StateFileError(file, 'no "checksum" field');
  if (!isRecord(parsed.content)) throw new StateFileError(file, 'no "content" object');
  const actual = sha256(JSON.stringify(parsed.content));
  if (actual !== parsed.checksum) {
    throw new StateFileError(
      file,
      `checksum mismatch: the file says ${parsed.checksum} but its content hashes to ${actual} (edited or corrupted)`,
    );
  }
  const { resourceVersion, objects } = parsed.content;
  if (typeof resourceVersion !== 'number' || !Number.isInteger(resourceVersion) || resourceVersion < 0)
    throw new StateFileError(file, 'content.resourceVersion: must be a non-negative integer');
  if (!Array.isArray(objects)) throw new StateFileError(file, 'content.objects: must be a list');
  for (const [i, obj] of objects.entries()) {
    const where = `content.objects[${i}]`;
    if (!isRecord(obj) || !isRecord(obj.metadata) || typeof obj.metadata.name !== 'string')
      throw new StateFileError(file, `${where}: not an object with metadata.name`);
    if (typeof obj.kind !== 'string' || !isKind(obj.kind))
      throw new StateFileError(file, `${where}.kind: unknown kind ${JSON.stringify(obj.kind)}`);
    if (
      RESOURCES[obj.kind].namespaced &&
      (typeof obj.metadata.namespace !== 'string' || obj.metadata.namespace === '')
    )
      throw new StateFileError(file, `${where}.metadata.namespace: required for a ${obj.kind}`);
    if (typeof obj.metadata.resourceVersion !== 'string' || !/^\d+$/.test(obj.metadata.resourceVersion))
      throw new StateFileError(file, `${where}.metadata.resourceVersion: must be a number in a string`);
  }
  return { resourceVersion, objects: objects as KubeObject[] };
}

/** Writes `text` to `file` atomically: temp file in the same folder, fsync, rename, fsync of the folder. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
  // The rename itself is durable once the folder is synced (not possible everywhere: best effort).
  try {
    const dir = await open(dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // a folder cannot be opened or synced on some platforms
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
  // A killed process not reaped yet by its parent still answers signal 0: a zombie holds nothing (Linux).
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Takes `FILE.lock` (holding this process's id) so that two standalones never write one state file; a
 * lock left by a process that is gone (killed) is taken over. Returns its release.
 */
async function lockState(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        await unlink(lock).catch(() => undefined);
      };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') {
        throw new StateFileError(file, `its lock ${lock} cannot be created (${(error as Error).message})`);
      }
    }
    const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
      throw new StateFileError(file, `in use by another standalone (process ${holder}, lock ${lock})`);
    }
    // Left by a process that is gone (or by this one): taken over.
    await unlink(lock).catch(() => undefined);
  }
  throw new StateFileError(file, `its lock ${lock} cannot be taken`);
}

/**
 * Loads `file` into `store` (when it exists) and keeps writing the store to it after every change
 * (debounced) until close(). Throws StateFileError for a file that cannot be used.
 */
export async function openState(
  file: string,
  store: MemoryStore,
  options: StateOptions = {},
): Promise<OpenedState> {
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') {
      throw new StateFileError(file, `cannot be read (${(error as Error).message})`);
    }
  }
  const restored = text !== undefined;
  const snapshot = text === undefined ? undefined : decodeState(file, text);
  const unlock = await lockState(file);
  if (snapshot !== undefined) {
    try {
      store.restore(snapshot);
    } catch (error) {
      await unlock();
      throw new StateFileError(file, `its objects cannot be restored (${(error as Error).message})`);
    }
  }

  const debounceMs = options.debounceMs ?? DEFAULT_STATE_DEBOUNCE_MS;
  const onError =
    options.onError ??
    ((error: unknown) => process.stderr.write(`sluice: writing state file ${file}: ${String(error)}\n`));
  let timer: NodeJS.Timeout | undefined;
  let dirty = false;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;

  const write = (): Promise<void> => {
    writing = writing.then(async () => {
      if (!dirty) return;
      dirty = false;
      try {
        await writeFileAtomic(file, encodeState(store.snapshot(PERSISTED_KINDS)));
      } catch (error) {
        dirty = true;
        onError(error);
      }
    });
    return writing;
  };

  const changed = (): void => {
    if (closed) return;
    dirty = true;
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void write();
    }, debounceMs);
  };

  const unwatch = PERSISTED_KINDS.map((kind) => store.watch(kind, changed));
  // A fresh start writes the file at once, so that the state file exists from the beginning.
  if (!restored) {
    dirty = true;
    await write();
  }

  const flush = async (): Promise<void> => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    await write();
  };

  return {
    restored,
    flush,
    async close(): Promise<void> {
      if (closed) return writing;
      closed = true;
      for (const stop of unwatch) stop();
      dirty = true;
      try {
        await flush();
      } finally {
        await unlock();
      }
    },
  };
}

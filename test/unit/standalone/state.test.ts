import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { decodeState, encodeState, openState, StateFileError } from '../../../src/standalone/state.ts';
import { createMemoryStore, type MemoryStore } from '../../../src/store/memory.ts';

interface Rollout extends KubeObject {
  spec: { replicas: number };
  status?: { phase?: string; currentStepIndex?: number };
}

function rollout(name: string): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: 'default' },
    spec: { replicas: 2 },
  };
}

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-state-'));
  file = join(dir, 'state.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function populate(store: MemoryStore): Promise<void> {
  await store.create(rollout('app'));
  await store.patchStatus('Rollout', 'default', 'app', { status: { phase: 'Paused', currentStepIndex: 1 } });
  await store.create({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AnalysisRun',
    metadata: { name: 'app-run-1', namespace: 'default' },
    spec: { metrics: [] },
  } as KubeObject);
  await store.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-pod', namespace: 'default' } });
  await store.create({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'app', namespace: 'default' },
  });
  store.recordEvent(store.get('Rollout', 'default', 'app')!, 'Normal', 'RolloutPaused', 'paused');
}

async function expectRefused(text: string, pattern: RegExp): Promise<void> {
  await writeFile(file, text);
  const store = createMemoryStore();
  const error = await openState(file, store).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StateFileError);
  expect((error as Error).message).toContain(file);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).toMatch(/refusing to start/);
  // never silently reset: the file is left as it was
  expect(await readFile(file, 'utf8')).toBe(text);
  expect(store.list('Rollout')).toEqual([]);
}

describe('standalone state file', () => {
  it('starts fresh when the file is missing, and writes it', async () => {
    const store = createMemoryStore();
    const state = await openState(file, store, { debounceMs: 5 });
    expect(state.restored).toBe(false);
    await state.close();
    const snap = decodeState(file, await readFile(file, 'utf8'));
    expect(snap.objects).toEqual([]);
  });

  it('round-trips every persisted object with its metadata and status; the counter continues', async () => {
    const a = createMemoryStore();
    const stateA = await openState(file, a, { debounceMs: 5 });
    await populate(a);
    await stateA.close();

    const b = createMemoryStore();
    const stateB = await openState(file, b, { debounceMs: 5 });
    expect(stateB.restored).toBe(true);
    const ro = b.get<Rollout>('Rollout', 'default', 'app');
    expect(ro).toEqual(a.get('Rollout', 'default', 'app'));
    expect(ro?.status).toEqual({ phase: 'Paused', currentStepIndex: 1 });
    expect(ro?.metadata.uid).toBe(a.get('Rollout', 'default', 'app')?.metadata.uid);
    expect(b.get('AnalysisRun', 'default', 'app-run-1')).toEqual(
      a.get('AnalysisRun', 'default', 'app-run-1'),
    );
    expect(b.list('Event')).toEqual(a.list('Event'));
    // Pods and Endpoints too: the pods' processes outlive a killed standalone and are adopted
    expect(b.list('Pod')).toEqual(a.list('Pod'));
    expect(b.list('Endpoints')).toEqual(a.list('Endpoints'));
    expect(b.list('Pod')).toHaveLength(1);
    // the counter continues after the last one handed out before the restart
    const highest = Math.max(...a.snapshot().objects.map((o) => Number(o.metadata.resourceVersion)));
    const next = await b.create(rollout('second'));
    expect(Number(next.metadata.resourceVersion)).toBe(highest + 1);
    await stateB.close();
  });

  it('writes after each change (debounced) and the file is always complete', async () => {
    const store = createMemoryStore();
    const state = await openState(file, store, { debounceMs: 5 });
    await store.create(rollout('app'));
    await store.patchStatus('Rollout', 'default', 'app', { status: { phase: 'Progressing' } });
    await new Promise((r) => setTimeout(r, 50));
    await state.flush();
    const snap = decodeState(file, await readFile(file, 'utf8'));
    expect(snap.objects.map((o) => o.metadata.name)).toEqual(['app']);
    expect((snap.objects[0] as Rollout).status?.phase).toBe('Progressing');
    await state.close();
    // after close, changes are no longer written
    await store.create(rollout('late'));
    await new Promise((r) => setTimeout(r, 30));
    expect(await readFile(file, 'utf8')).not.toContain('late');
  });

  it('refuses a truncated file', async () => {
    const store = createMemoryStore();
    await populate(store);
    const text = encodeState(store.snapshot());
    await expectRefused(text.slice(0, Math.floor(text.length / 2)), /truncated/);
  });

  it('refuses an empty file', async () => {
    await expectRefused('', /empty/);
  });

  it('refuses an edited file (checksum mismatch)', async () => {
    const store = createMemoryStore();
    await populate(store);
    const text = encodeState(store.snapshot()).replace('"Paused"', '"Healthy"');
    await expectRefused(text, /checksum mismatch.*edited or corrupted/);
  });

  it('refuses an unknown version and a file that is not a state file', async () => {
    const text = encodeState({ resourceVersion: 0, objects: [] }).replace('"version":1', '"version":9');
    await expectRefused(text, /unsupported version 9/);
    await expectRefused('{"hello":"world"}', /no "version" field/);
    await expectRefused('[1,2]', /not a Sluice state file/);
  });

  it('refuses a state file another live standalone holds; takes over the lock of one that is gone', async () => {
    await writeFile(`${file}.lock`, `${process.ppid}\n`);
    const error = await openState(file, createMemoryStore()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toMatch(
      new RegExp(`in use by another standalone \\(process ${process.ppid}`),
    );

    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(`${file}.lock`, `${gone}\n`);
    const state = await openState(file, createMemoryStore(), { debounceMs: 5 });
    expect(await readFile(`${file}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    await state.close();
    await expect(readFile(`${file}.lock`, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('reopens in the same process after an instance abandoned without close (a simulated kill)', async () => {
    const a = createMemoryStore();
    const stateA = await openState(file, a, { debounceMs: 5 });
    await a.create(rollout('app'));
    await stateA.flush();
    const b = createMemoryStore();
    const stateB = await openState(file, b, { debounceMs: 5 });
    expect(stateB.restored).toBe(true);
    expect(b.get('Rollout', 'default', 'app')).toEqual(a.get('Rollout', 'default', 'app'));
    await stateB.close();
    await stateA.close();
  });

  it('refuses objects without a namespace or resourceVersion even with a right checksum', async () => {
    const text = encodeState({
      resourceVersion: 3,
      objects: [
        {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Rollout',
          metadata: { name: 'x', resourceVersion: '1' },
        },
      ],
    });
    await expectRefused(text, /content\.objects\[0\]\.metadata\.namespace: required for a Rollout/);
  });
});

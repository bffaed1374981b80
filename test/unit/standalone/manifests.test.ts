import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import {
  applyManifests,
  formatProblem,
  LAST_APPLIED_ANNOTATION,
  loadManifests,
  SOURCE_ANNOTATION,
  watchManifests,
} from '../../../src/standalone/manifests.ts';
import { decodeState, encodeState } from '../../../src/standalone/state.ts';
import { createMemoryStore } from '../../../src/store/memory.ts';

interface Rollout extends KubeObject {
  spec: { replicas: number; template: { spec: { containers: { image: string }[] } } };
  status?: { phase?: string };
}

const ROLLOUT = (name: string, replicas = 2, image = 'sluice-demo:v1') => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: ${name}
  labels:
    team: a
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: app
        image: ${image}
  strategy:
    canary:
      steps:
      - setWeight: 10
      - pause: {}
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: app
  namespace: shop
spec:
  selector:
    app: app
  ports:
  - port: 80
`;

const TEMPLATE = `apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata:
  name: judge
spec:
  metrics:
  - name: success
    provider:
      plugin:
        sluice/judge: {}
`;

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-manifests-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(file: string, text: string): Promise<void> {
  await writeFile(join(dir, file), text);
}

describe('standalone manifests', () => {
  it('loads the standalone kinds of every manifest file, defaulting the namespace', async () => {
    await write('app.yaml', `${ROLLOUT('app')}---\n${SERVICE}`);
    await write('judge.yml', TEMPLATE);
    await write(
      'exp.json',
      JSON.stringify({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Experiment',
        metadata: { name: 'exp' },
        spec: {
          templates: [
            {
              name: 'a',
              selector: { matchLabels: { x: 'a' } },
              template: { metadata: { labels: { x: 'a' } }, spec: { containers: [] } },
            },
          ],
        },
      }),
    );
    await write('notes.txt', 'not a manifest');
    await write('state.json', encodeState({ resourceVersion: 0, objects: [] }));
    const loaded = await loadManifests(dir);
    expect(loaded.problems).toEqual([]);
    expect(loaded.files).toEqual(['app.yaml', 'exp.json', 'judge.yml']);
    expect(loaded.stateFiles).toEqual(['state.json']);
    expect(loaded.objects.map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`)).toEqual([
      'Rollout default/app',
      'Service shop/app',
      'Experiment default/exp',
      'ClusterAnalysisTemplate -/judge',
    ]);
    expect(loaded.objects[0]?.metadata.annotations?.[SOURCE_ANNOTATION]).toBe('app.yaml');
  });

  it('reports each problem with file, line and field, and applies the valid rest', async () => {
    await write('good.yaml', ROLLOUT('good'));
    await write('syntax.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n');
    await write(
      'invalid.yaml',
      `${ROLLOUT('ok-too')}---\n${ROLLOUT('bad').replace('setWeight: 10', 'setWeight: 300')}---\nkind: Service\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: Service\nmetadata: {}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n`,
    );
    const loaded = await loadManifests(dir);
    const byFile = (file: string) => loaded.problems.filter((p) => p.file === file);
    const syntax = byFile('syntax.yaml');
    expect(syntax.length).toBeGreaterThan(0);
    expect(syntax[0]?.line).toBe(5);
    expect(syntax[0]?.message).toMatch(/YAML syntax error/);
    expect(formatProblem(syntax[0]!)).toMatch(/^syntax\.yaml:5: YAML syntax error: Map keys must be unique/);

    const invalid = byFile('invalid.yaml');
    expect(invalid.map((p) => p.field)).toEqual([
      'spec.strategy.canary.steps[0].setWeight',
      'apiVersion',
      'metadata.name',
      'kind',
    ]);
    expect(invalid[0]?.message).toContain('Rollout "bad"');
    // the line of the offending field in the file (document 2 starts after ROLLOUT's 24 lines and ---)
    expect(invalid[0]?.line).toBe(ROLLOUT('x').split('\n').length + 23);
    expect(invalid[3]?.severity).toBe('warning');
    expect(invalid[3]?.message).toMatch(/Deployment is not run by standalone/);

    const store = createMemoryStore();
    const logs: string[] = [];
    const result = await applyManifests(store, loaded, (level, message) => logs.push(`${level} ${message}`));
    expect(result.created).toEqual(['Rollout default/good', 'Rollout default/ok-too']);
    expect(store.list('Rollout').map((r) => r.metadata.name)).toEqual(['good', 'ok-too']);
    expect(logs.filter((l) => l.startsWith('error ')).length).toBe(loaded.problems.length - 1);
    expect(logs.some((l) => l.startsWith('warn invalid.yaml:') && l.includes('Deployment'))).toBe(true);
  });

  it('re-applies an edited file: the spec is updated, status and others fields kept; unchanged is not written', async () => {
    await write('app.yaml', ROLLOUT('app'));
    const store = createMemoryStore();
    await applyManifests(store, await loadManifests(dir));
    await store.patchStatus('Rollout', 'default', 'app', { status: { phase: 'Paused' } });
    // a controller's annotation, not in the manifest
    await store.patch('Rollout', 'default', 'app', {
      metadata: { annotations: { 'rollout.argoproj.io/revision': '1' } },
    });
    const before = store.get<Rollout>('Rollout', 'default', 'app')!;

    // nothing changed: no write
    const same = await applyManifests(store, await loadManifests(dir));
    expect(same.unchanged).toEqual(['Rollout default/app']);
    expect(store.get('Rollout', 'default', 'app')?.metadata.resourceVersion).toBe(
      before.metadata.resourceVersion,
    );

    await write('app.yaml', ROLLOUT('app', 5, 'sluice-demo:v2').replace('    team: a\n', ''));
    const result = await applyManifests(store, await loadManifests(dir));
    expect(result.updated).toEqual(['Rollout default/app']);
    const after = store.get<Rollout>('Rollout', 'default', 'app')!;
    expect(after.spec.replicas).toBe(5);
    expect(after.spec.template.spec.containers[0]?.image).toBe('sluice-demo:v2');
    expect(after.status).toEqual({ phase: 'Paused' });
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    expect(after.metadata.generation).toBe((before.metadata.generation ?? 0) + 1);
    // the label removed from the manifest is removed; the controller's annotation stays
    expect(after.metadata.labels).toBeUndefined();
    expect(after.metadata.annotations?.['rollout.argoproj.io/revision']).toBe('1');
    expect(after.metadata.annotations?.[SOURCE_ANNOTATION]).toBe('app.yaml');
    expect(JSON.parse(after.metadata.annotations?.[LAST_APPLIED_ANNOTATION] ?? '{}').spec.replicas).toBe(5);
  });

  it('deletes the objects of a deleted file, and leaves objects not created from DIR alone', async () => {
    await write('app.yaml', `${ROLLOUT('app')}---\n${SERVICE}`);
    await write('other.yaml', ROLLOUT('other'));
    const store = createMemoryStore();
    // an object that existed before and is not in DIR
    await store.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'manual', namespace: 'default' },
      spec: {},
    } as KubeObject);
    await applyManifests(store, await loadManifests(dir));
    // an object removed from a file that still exists stays
    await write('other.yaml', '# emptied\n');
    await unlink(join(dir, 'app.yaml'));
    const result = await applyManifests(store, await loadManifests(dir));
    expect(result.deleted.sort()).toEqual(['Rollout default/app', 'Service shop/app']);
    expect(store.get('Rollout', 'default', 'app')).toBeUndefined();
    expect(store.get('Rollout', 'default', 'other')).toBeDefined();
    expect(store.get('Service', 'default', 'manual')).toBeDefined();
  });

  it('watches DIR and re-applies on change (debounced)', async () => {
    await write('app.yaml', ROLLOUT('app'));
    const store = createMemoryStore();
    await applyManifests(store, await loadManifests(dir));
    let applied = 0;
    const watcher = watchManifests(dir, store, {
      debounceMs: 20,
      onApplied: () => applied++,
      transform: (loaded) => ({
        ...loaded,
        objects: loaded.objects.map((o) => ({
          ...o,
          metadata: { ...o.metadata, labels: { transformed: 'yes' } },
        })),
      }),
    });
    try {
      await write('app.yaml', ROLLOUT('app', 7));
      const deadline = Date.now() + 5000;
      while (store.get<Rollout>('Rollout', 'default', 'app')?.spec.replicas !== 7 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(store.get<Rollout>('Rollout', 'default', 'app')?.spec.replicas).toBe(7);
      expect(applied).toBeGreaterThanOrEqual(1);
      expect(store.get('Rollout', 'default', 'app')?.metadata.labels).toEqual({ transformed: 'yes' });
    } finally {
      watcher.close();
    }
  });

  it('an object moved to another file follows it; a second definition is refused naming both files', async () => {
    await write('a.yaml', ROLLOUT('app'));
    const store = createMemoryStore();
    await applyManifests(store, await loadManifests(dir));
    await write('b.yaml', ROLLOUT('app'));
    const both = await loadManifests(dir);
    expect(both.problems).toEqual([
      {
        file: 'b.yaml',
        field: 'metadata.name',
        message: 'Rollout default/app is already defined in a.yaml: skipped',
      },
    ]);
    await unlink(join(dir, 'a.yaml'));
    const moved = await applyManifests(store, await loadManifests(dir));
    expect(moved.updated).toEqual(['Rollout default/app']);
    expect(moved.deleted).toEqual([]);
    expect(store.get('Rollout', 'default', 'app')?.metadata.annotations?.[SOURCE_ANNOTATION]).toBe('b.yaml');
  });

  it('after a restart from the state file, unchanged manifests write nothing (the rollout resumes as it was)', async () => {
    await write('app.yaml', `${ROLLOUT('app')}---\n${SERVICE}---\n${TEMPLATE}`);
    const a = createMemoryStore();
    await applyManifests(a, await loadManifests(dir));
    await a.patchStatus('Rollout', 'default', 'app', { status: { phase: 'Paused' } });
    const b = createMemoryStore();
    b.restore(decodeState('state.json', encodeState(a.snapshot())));
    const result = await applyManifests(b, await loadManifests(dir));
    expect(result.unchanged.length).toBe(3);
    expect(result.created).toEqual([]);
    expect(result.updated).toEqual([]);
    expect(b.snapshot()).toEqual(a.snapshot());
  });
});

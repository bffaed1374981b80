import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { type CoreEvent, createMemoryStore } from '../../../src/store/memory.ts';
import { StoreError } from '../../../src/store/object-store.ts';

interface Rollout extends KubeObject {
  spec: { replicas: number; paused?: boolean };
  status?: { phase?: string; message?: string };
}

function rollout(name: string, replicas = 1): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: 'ns' },
    spec: { replicas },
  };
}

async function rejection(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
}

describe('memory store', () => {
  it('assigns uid, generation 1 and a resourceVersion on create, and drops status of status-subresource kinds', async () => {
    const store = createMemoryStore({ now: () => Date.parse('2024-01-02T03:04:05.678Z') });
    const created = await store.create({ ...rollout('a'), status: { phase: 'Healthy' } });
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.generation).toBe(1);
    expect(created.metadata.resourceVersion).toBe('1');
    expect(created.metadata.creationTimestamp).toBe('2024-01-02T03:04:05Z');
    expect(created.status).toBeUndefined();
    expect(store.get<Rollout>('Rollout', 'ns', 'a')?.spec.replicas).toBe(1);
  });

  it('rejects a second create of the same name with AlreadyExists', async () => {
    const store = createMemoryStore();
    await store.create(rollout('a'));
    const error = await rejection(store.create(rollout('a')));
    expect(error.reason).toBe('AlreadyExists');
    expect(error.status).toBe(409);
  });

  it('generates a name from generateName', async () => {
    const store = createMemoryStore();
    const created = await store.create({
      ...rollout(''),
      metadata: { name: '', generateName: 'web-', namespace: 'ns' },
    });
    expect(created.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
  });

  it('fails an update carrying a stale resourceVersion with Conflict', async () => {
    const store = createMemoryStore();
    const v1 = await store.create(rollout('a'));
    await store.update({ ...v1, spec: { replicas: 2 } });
    const error = await rejection(store.update({ ...v1, spec: { replicas: 3 } }));
    expect(error.reason).toBe('Conflict');
    expect(store.get<Rollout>('Rollout', 'ns', 'a')?.spec.replicas).toBe(2);
  });

  it('bumps generation for spec changes only, never for metadata or status', async () => {
    const store = createMemoryStore();
    const v1 = await store.create(rollout('a'));
    const labelled = await store.patch<Rollout>('Rollout', 'ns', 'a', { metadata: { labels: { x: 'y' } } });
    expect(labelled.metadata.generation).toBe(1);
    expect(Number(labelled.metadata.resourceVersion)).toBeGreaterThan(Number(v1.metadata.resourceVersion));
    const withStatus = await store.patchStatus<Rollout>('Rollout', 'ns', 'a', {
      status: { phase: 'Paused' },
    });
    expect(withStatus.metadata.generation).toBe(1);
    const scaled = await store.patch<Rollout>('Rollout', 'ns', 'a', { spec: { replicas: 5 } });
    expect(scaled.metadata.generation).toBe(2);
    expect(scaled.status?.phase).toBe('Paused');
  });

  it('ignores status in update and patch of the main resource, and changes only status through patchStatus', async () => {
    const store = createMemoryStore();
    await store.create(rollout('a'));
    await store.patchStatus('Rollout', 'ns', 'a', { status: { phase: 'Healthy', message: 'ok' } });
    const patched = await store.patch<Rollout>('Rollout', 'ns', 'a', { status: { phase: 'Degraded' } });
    expect(patched.status?.phase).toBe('Healthy');
    const viaStatus = await store.patchStatus<Rollout>('Rollout', 'ns', 'a', {
      spec: { replicas: 9 },
      status: { message: null },
    });
    expect(viaStatus.spec.replicas).toBe(1);
    expect(viaStatus.status).toEqual({ phase: 'Healthy' });
  });

  it('keeps the resourceVersion and emits nothing for a no-op write', async () => {
    const store = createMemoryStore();
    const v1 = await store.create(rollout('a'));
    const seen: string[] = [];
    store.watch('Rollout', (type) => seen.push(type));
    const same = await store.patch<Rollout>('Rollout', 'ns', 'a', { spec: { replicas: 1 } });
    expect(same.metadata.resourceVersion).toBe(v1.metadata.resourceVersion);
    expect(seen).toEqual([]);
  });

  it('honours a resourceVersion precondition in a patch and json patch test operations', async () => {
    const store = createMemoryStore();
    const v1 = await store.create(rollout('a'));
    await store.patch('Rollout', 'ns', 'a', { spec: { paused: true } });
    const stale = await rejection(
      store.patch('Rollout', 'ns', 'a', {
        metadata: { resourceVersion: v1.metadata.resourceVersion },
        spec: { replicas: 4 },
      }),
    );
    expect(stale.reason).toBe('Conflict');
    const failedTest = await rejection(
      store.patch('Rollout', 'ns', 'a', [{ op: 'test', path: '/spec/replicas', value: 7 }], 'json'),
    );
    expect(failedTest.reason).toBe('Invalid');
    const ok = await store.patch<Rollout>(
      'Rollout',
      'ns',
      'a',
      [
        { op: 'test', path: '/spec/replicas', value: 1 },
        { op: 'replace', path: '/spec/replicas', value: 3 },
        { op: 'remove', path: '/spec/paused' },
      ],
      'json',
    );
    expect(ok.spec).toEqual({ replicas: 3 });
  });

  it('merges containers by name in a strategic merge patch', async () => {
    const store = createMemoryStore();
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'ns' },
      spec: {
        template: {
          spec: {
            containers: [
              { name: 'app', image: 'a:1' },
              { name: 'side', image: 's:1' },
            ],
          },
        },
      },
    } as KubeObject);
    const patched = await store.patch<
      KubeObject & { spec: { template: { spec: { containers: unknown[] } } } }
    >(
      'Deployment',
      'ns',
      'd',
      { spec: { template: { spec: { containers: [{ name: 'app', image: 'a:2' }] } } } },
      'strategic',
    );
    expect(patched.spec.template.spec.containers).toEqual([
      { name: 'app', image: 'a:2' },
      { name: 'side', image: 's:1' },
    ]);
  });

  it('reports NotFound for writes to missing objects and for patchStatus of kinds without status', async () => {
    const store = createMemoryStore();
    expect((await rejection(store.patch('Rollout', 'ns', 'nope', {}))).reason).toBe('NotFound');
    expect((await rejection(store.delete('Rollout', 'ns', 'nope'))).reason).toBe('NotFound');
    expect((await rejection(store.patchStatus('Secret', 'ns', 's', { status: {} }))).reason).toBe('NotFound');
  });

  it('names the missing field when an object has no namespace or an unknown kind', async () => {
    const store = createMemoryStore();
    const noNs = await rejection(store.create({ ...rollout('a'), metadata: { name: 'a' } }));
    expect(noNs.message).toContain('metadata.namespace');
    const badKind = await rejection(
      store.create({ apiVersion: 'v1', kind: 'Gizmo', metadata: { name: 'g' } }),
    );
    expect(badKind.message).toContain('kind');
  });

  it('rejects nulls that a custom resource would keep (inside arrays), as the structural schema does', async () => {
    const store = createMemoryStore();
    await store.create(rollout('a'));
    const pruned = await store.patchStatus<Rollout>('Rollout', 'ns', 'a', {
      status: { phase: 'Paused', message: null },
    });
    expect(pruned.status).toEqual({ phase: 'Paused' });
    const error = await rejection(
      store.patchStatus('Rollout', 'ns', 'a', {
        status: { conditions: [{ type: 'Paused', message: null }] },
      }),
    );
    expect(error.reason).toBe('Invalid');
    expect(error.message).toContain('status.conditions[0].message');
  });

  it('lists by namespace and label selector, and treats cluster-scoped kinds as namespace-less', async () => {
    const store = createMemoryStore();
    await store.create({ ...rollout('a'), metadata: { name: 'a', namespace: 'ns', labels: { app: 'x' } } });
    await store.create({ ...rollout('b'), metadata: { name: 'b', namespace: 'ns', labels: { app: 'y' } } });
    await store.create({
      ...rollout('c'),
      metadata: { name: 'c', namespace: 'other', labels: { app: 'x' } },
    });
    expect(store.list('Rollout', 'ns').map((o) => o.metadata.name)).toEqual(['a', 'b']);
    expect(store.list('Rollout', undefined, { app: 'x' }).map((o) => o.metadata.name)).toEqual(['a', 'c']);
    await store.create({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ClusterAnalysisTemplate',
      metadata: { name: 't', namespace: 'ignored' },
    });
    expect(store.get('ClusterAnalysisTemplate', '', 't')?.metadata.namespace).toBeUndefined();
  });

  it('returns frozen copies, so a reconciler mutating what it read fails loudly', async () => {
    const store = createMemoryStore();
    await store.create(rollout('a'));
    const got = store.get<Rollout>('Rollout', 'ns', 'a')!;
    expect(() => {
      got.spec.replicas = 99;
    }).toThrow(TypeError);
    const copy = structuredClone(got);
    copy.spec.replicas = 98;
    expect(store.get<Rollout>('Rollout', 'ns', 'a')?.spec.replicas).toBe(1);
  });

  it('cascades deletes through ownerReferences, or orphans dependents', async () => {
    const store = createMemoryStore();
    const owner = await store.create(rollout('a'));
    const ref = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      name: 'a',
      uid: owner.metadata.uid!,
      controller: true,
    };
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'rs', namespace: 'ns', ownerReferences: [ref] },
    });
    await store.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'ns',
        ownerReferences: [
          { ...ref, kind: 'ReplicaSet', name: 'rs', uid: store.get('ReplicaSet', 'ns', 'rs')!.metadata.uid! },
        ],
      },
    });
    await store.delete('Rollout', 'ns', 'a');
    expect(store.get('ReplicaSet', 'ns', 'rs')).toBeUndefined();
    expect(store.get('Pod', 'ns', 'p')).toBeUndefined();

    const owner2 = await store.create(rollout('b'));
    await store.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'rs2',
        namespace: 'ns',
        ownerReferences: [{ ...ref, name: 'b', uid: owner2.metadata.uid! }],
      },
    });
    await store.delete('Rollout', 'ns', 'b', { propagation: 'Orphan' });
    expect(store.get('ReplicaSet', 'ns', 'rs2')?.metadata.ownerReferences).toBeUndefined();
  });

  it('notifies watchers of adds, modifications and deletes until unsubscribed', async () => {
    const store = createMemoryStore();
    const seen: string[] = [];
    const stop = store.watch('Rollout', (type, obj) => seen.push(`${type} ${obj.metadata.name}`));
    await store.create(rollout('a'));
    await store.patch('Rollout', 'ns', 'a', { spec: { replicas: 2 } });
    await store.delete('Rollout', 'ns', 'a');
    stop();
    await store.create(rollout('b'));
    expect(seen).toEqual(['ADDED a', 'MODIFIED a', 'DELETED a']);
  });

  it('records events and aggregates repeats into a count', async () => {
    const store = createMemoryStore();
    const ro = await store.create(rollout('a'));
    store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 1');
    store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 1');
    store.recordEvent(ro, 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 2');
    const events = store.list<CoreEvent>('Event', 'ns');
    expect(events.map((e) => [e.reason, e.count, e.involvedObject.name])).toEqual(
      expect.arrayContaining([
        ['RolloutUpdated', 2, 'a'],
        ['RolloutAborted', 1, 'a'],
      ]),
    );
  });

  it('fails writes chosen by an injected fault and counts the writes that happened', async () => {
    const store = createMemoryStore();
    store.injectFaults((a) =>
      a.verb === 'create' && a.kind === 'ReplicaSet' ? new StoreError('Forbidden', 403, 'no') : undefined,
    );
    await store.create(rollout('a'));
    const error = await rejection(
      store.create({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'rs', namespace: 'ns' } }),
    );
    expect(error.reason).toBe('Forbidden');
    expect(store.writes.get('create Rollout')).toBe(1);
    expect(store.writes.get('create ReplicaSet')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import { type CoreEvent, createMemoryStore } from '../../../src/store/memory.ts';

interface Rollout extends KubeObject {
  spec: { replicas: number };
  status?: { phase?: string };
}

function rollout(name: string): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: 'ns' },
    spec: { replicas: 1 },
  };
}

describe('memory store snapshot and restore', () => {
  it('restores objects with their exact metadata and status, and the counter continues', async () => {
    const a = createMemoryStore();
    await a.create(rollout('r1'));
    await a.patchStatus('Rollout', 'ns', 'r1', { status: { phase: 'Paused' } });
    await a.patch('Rollout', 'ns', 'r1', { spec: { replicas: 3 } });
    await a.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns' } });
    const snap = a.snapshot(['Rollout']);
    expect(snap.objects.map((o) => o.kind)).toEqual(['Rollout']);
    expect(snap.resourceVersion).toBe(4);

    const b = createMemoryStore();
    const seen: string[] = [];
    b.watch('Rollout', (type, obj) => seen.push(`${type} ${obj.metadata.name}`));
    b.restore(structuredClone(snap));
    expect(seen).toEqual(['ADDED r1']);
    expect(b.get('Rollout', 'ns', 'r1')).toEqual(a.get('Rollout', 'ns', 'r1'));
    expect(b.get<Rollout>('Rollout', 'ns', 'r1')?.metadata.generation).toBe(2);
    expect(b.get('Pod', 'ns', 'p')).toBeUndefined();
    const next = await b.create(rollout('r2'));
    expect(next.metadata.resourceVersion).toBe('5');
  });

  it('moves the counter past the highest restored resourceVersion', async () => {
    const b = createMemoryStore();
    b.restore({
      resourceVersion: 2,
      objects: [{ ...rollout('r'), metadata: { name: 'r', namespace: 'ns', resourceVersion: '9' } }],
    });
    const created = await b.create(rollout('other'));
    expect(created.metadata.resourceVersion).toBe('10');
    // an update with the restored resourceVersion is not a conflict
    const current = b.get<Rollout>('Rollout', 'ns', 'r')!;
    const updated = await b.update({ ...structuredClone(current), spec: { replicas: 2 } });
    expect(updated.metadata.resourceVersion).toBe('11');
  });

  it('a repeated Event after a restore raises the count of the restored Event', async () => {
    const a = createMemoryStore();
    const ro = await a.create(rollout('r'));
    a.recordEvent(ro, 'Normal', 'RolloutPaused', 'paused');
    const b = createMemoryStore();
    b.restore(a.snapshot());
    b.recordEvent(ro, 'Normal', 'RolloutPaused', 'paused');
    const events = b.list<CoreEvent>('Event');
    expect(events.length).toBe(1);
    expect(events[0]?.count).toBe(2);
  });
});

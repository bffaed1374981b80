import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/api/meta.ts';
import {
  EVENT_SPAM_BURST,
  EVENT_SPAM_REFILL_MS,
  EventRecorder,
  type EventSink,
} from '../../../src/kube/events.ts';
import type { CoreEvent } from '../../../src/store/events.ts';

const ro: KubeObject = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'web', namespace: 'shop', uid: 'u1', resourceVersion: '5' },
};

function recordingSink(options: { patchStatus?: number; createStatus?: number; throws?: boolean } = {}) {
  const calls: string[] = [];
  const created: CoreEvent[] = [];
  const sink: EventSink = {
    async create(namespace, event) {
      if (options.throws) throw new Error('connection refused');
      calls.push(`create ${namespace} ${String(event.reason)}`);
      created.push(event);
      return { ok: (options.createStatus ?? 201) < 300, status: options.createStatus ?? 201 };
    },
    async patchCount(namespace, name, count) {
      calls.push(`patch ${namespace} ${name.split('.')[0]} count=${count}`);
      return { ok: (options.patchStatus ?? 200) < 300, status: options.patchStatus ?? 200 };
    },
  };
  return { sink, calls, created };
}

describe('event recorder', () => {
  it('writes a core/v1 Event naming the object, then aggregates repeats into a count', async () => {
    const { sink, calls, created } = recordingSink();
    const recorder = new EventRecorder(sink, {
      component: 'sluice-controller',
      host: 'node-1',
      now: () => Date.parse('2024-01-01T00:00:00Z'),
    });
    recorder.record(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 2');
    recorder.record(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 2');
    recorder.record(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 2');
    recorder.record(ro, 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 2');
    await recorder.flush();
    expect(calls).toEqual([
      'create shop RolloutUpdated',
      'patch shop web count=2',
      'patch shop web count=3',
      'create shop RolloutAborted',
    ]);
    expect(created[0]).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      involvedObject: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: 'web',
        namespace: 'shop',
        uid: 'u1',
      },
      type: 'Normal',
      count: 1,
      firstTimestamp: '2024-01-01T00:00:00Z',
      source: { component: 'sluice-controller', host: 'node-1' },
    });
    expect(String((created[0]!.metadata as { name: string }).name)).toMatch(/^web\.[0-9a-f]+$/);
  });

  it('drops a flood beyond the per-object burst and lets events through again as tokens refill', async () => {
    let now = 0;
    const { sink, calls } = recordingSink();
    const seen: string[] = [];
    const recorder = new EventRecorder(sink, {
      component: 'c',
      now: () => now,
      onEvent: (_o, _t, reason) => seen.push(reason),
    });
    for (let i = 0; i < EVENT_SPAM_BURST + 5; i++) recorder.record(ro, 'Normal', `R${i}`, 'm');
    await recorder.flush();
    expect(calls).toHaveLength(EVENT_SPAM_BURST);
    expect(seen).toHaveLength(EVENT_SPAM_BURST);
    now += EVENT_SPAM_REFILL_MS;
    recorder.record(ro, 'Normal', 'Later', 'm');
    await recorder.flush();
    expect(calls.at(-1)).toBe('create shop Later');
  });

  it('re-creates an aggregated Event that was deleted, and never throws on sink failures', async () => {
    const gone = recordingSink({ patchStatus: 404 });
    const recorder = new EventRecorder(gone.sink, { component: 'c' });
    recorder.record(ro, 'Normal', 'A', 'm');
    recorder.record(ro, 'Normal', 'A', 'm');
    await recorder.flush();
    expect(gone.calls).toEqual(['create shop A', 'patch shop web count=2', 'create shop A']);

    const errors: string[] = [];
    const broken = new EventRecorder(recordingSink({ throws: true }).sink, {
      component: 'c',
      onError: (m) => errors.push(m),
    });
    broken.record(ro, 'Warning', 'B', 'm');
    await broken.flush();
    expect(errors).toEqual(['event B: connection refused']);
  });

  it('keeps at most maxQueued events waiting for the API and reports the ones it drops', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const written: string[] = [];
    const sink: EventSink = {
      async create(_namespace, event) {
        await gate;
        written.push(String(event.reason));
        return { ok: true, status: 201 };
      },
      async patchCount() {
        return { ok: true, status: 200 };
      },
    };
    const dropped: string[] = [];
    const recorder = new EventRecorder(sink, {
      component: 'sluice-controller',
      maxQueued: 3,
      onDropped: (_obj, reason) => dropped.push(reason),
    });
    const others = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ ...ro, metadata: { ...ro.metadata, name } }));
    for (const [i, obj] of others.entries()) recorder.record(obj, 'Normal', `Reason${i}`, 'm');
    expect(recorder.queued).toBe(3);
    expect(dropped).toEqual(['Reason3', 'Reason4']);
    release();
    await recorder.flush();
    expect(written).toEqual(['Reason0', 'Reason1', 'Reason2']);
    expect(recorder.queued).toBe(0);
    recorder.record(others[4]!, 'Normal', 'Later', 'm');
    await recorder.flush();
    expect(written).toEqual(['Reason0', 'Reason1', 'Reason2', 'Later']);
  });
});

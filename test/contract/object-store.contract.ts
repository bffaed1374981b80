// The ObjectStore contract (src/store/object-store.ts), one suite run against every implementation: the
// in-memory store (test/contract/memory-store.test.ts) and the Kubernetes store on the test cluster
// (test/contract/kube-store.test.ts). The API server is the reference: a case states what the cluster
// does, and the in-memory double must do the same, so reconciler unit tests keep meaning what they say.
//
// Cases that depend on asynchronous machinery in a cluster (the watch stream, the garbage collector in
// kube-controller-manager, the event recorder's queue) wait for the condition with `eventually`; the
// in-memory store satisfies them at once. Every case uses its own object names, so one store and one
// namespace serve the whole suite. Not a test file itself: the two *.test.ts files call it.

import { describe, expect, it } from 'vitest';
import type { KubeObject, OwnerReference } from '../../src/api/meta.ts';
import { type CoreEvent, MAX_EVENT_MESSAGE_LENGTH } from '../../src/store/events.ts';
import { type ObjectStore, StoreError, type WatchEventType } from '../../src/store/object-store.ts';
import { waitFor } from '../cluster/wait.ts';

/** What a store under test gives the suite. */
export interface ContractHarness {
  readonly store: ObjectStore;
  /** A namespace the suite may fill (it exists for the cluster store). */
  readonly namespace: string;
  /** The Events stored in the namespace, as the API holds them (events are not cached by every store). */
  listEvents(): Promise<CoreEvent[]>;
}

export const CONTRACT_CASES = [
  'create',
  'alreadyExists',
  'listSelector',
  'conflict',
  'unconditionalUpdate',
  'noOpWrite',
  'mergePatch',
  'strategicPatch',
  'jsonPatch',
  'jsonPatchTestFails',
  'statusSubresource',
  'generation',
  'noGeneration',
  'deleteBackground',
  'deleteOrphan',
  'deleteForeground',
  'deleteOneOfTwoOwners',
  'watchOrder',
  'events',
  'eventTruncation',
  'notFound',
  'unservedKind',
  'frozen',
] as const;

export type ContractCase = (typeof CONTRACT_CASES)[number];

export interface ContractOptions {
  /** Cases this store cannot satisfy, each with the reason (shown in the test name). */
  readonly skip?: Readonly<Partial<Record<ContractCase, string>>>;
  /** How long `eventually` waits (the garbage collector and the watch stream are asynchronous). */
  readonly eventuallyTimeoutMs?: number;
}

const DEFAULT_EVENTUALLY_TIMEOUT_MS = 30_000;
const EVENTUALLY_POLL_MS = 100;

type Labels = Record<string, string>;

interface ServiceObj extends KubeObject {
  spec: { ports: { port: number; targetPort?: number }[]; selector?: Labels };
}

interface Container {
  name: string;
  image: string;
}

interface ReplicaSetObj extends KubeObject {
  spec: {
    replicas: number;
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: { containers: Container[] } };
  };
}

interface RolloutObj extends KubeObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: { containers: Container[] } };
    strategy: { canary: { steps: { setWeight: number }[] } };
  };
  status?: { phase?: string; message?: string };
}

function service(namespace: string, name: string, labels: Labels = {}): ServiceObj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { app: name, ...labels } },
    spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { app: name } },
  };
}

/** Zero replicas: the cluster's ReplicaSet controller makes no Pods for it. */
function replicaSet(namespace: string, name: string, ownerReferences?: OwnerReference[]): ReplicaSetObj {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace, labels: { app: name }, ...(ownerReferences ? { ownerReferences } : {}) },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            { name: 'app', image: 'app:1' },
            { name: 'side', image: 'side:1' },
          ],
        },
      },
    },
  };
}

function rollout(namespace: string, name: string): RolloutObj {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'app:1' }] },
      },
      strategy: { canary: { steps: [{ setWeight: 20 }] } },
    },
  };
}

function ownedBy(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
  };
}

/** The StoreError a write failed with (fails the test when it did not fail, or failed otherwise). */
async function storeError(write: Promise<unknown>): Promise<StoreError> {
  try {
    await write;
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  return expect.unreachable('the write succeeded');
}

function isFrozenDeep(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  return Object.isFrozen(value) && Object.values(value).every(isFrozenDeep);
}

/** Registers the contract's tests in the calling file or describe; `harness` is read inside the tests. */
export function objectStoreContract(harness: () => ContractHarness, options: ContractOptions = {}): void {
  const timeoutMs = options.eventuallyTimeoutMs ?? DEFAULT_EVENTUALLY_TIMEOUT_MS;
  const eventually = <T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>) =>
    waitFor(probe, { what, timeoutMs, intervalMs: EVENTUALLY_POLL_MS });
  const contract = (name: ContractCase, title: string, fn: () => Promise<void>): void => {
    const reason = options.skip?.[name];
    if (reason !== undefined) it.skip(`${title} (skipped: ${reason})`, fn);
    else it(title, fn);
  };

  describe('ObjectStore contract', () => {
    contract(
      'create',
      'create assigns uid, resourceVersion, creationTimestamp and generation 1, and get/read see it',
      async () => {
        const { store, namespace } = harness();
        const created = await store.create(replicaSet(namespace, 'create-rs'));
        expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
        expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
        expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(created.metadata.generation).toBe(1);
        expect(created.metadata.namespace).toBe(namespace);
        expect(created.kind).toBe('ReplicaSet');
        expect(created.apiVersion).toBe('apps/v1');
        expect(store.get<ReplicaSetObj>('ReplicaSet', namespace, 'create-rs')?.metadata.uid).toBe(
          created.metadata.uid,
        );
        // (The cluster's ReplicaSet controller writes status at once: the resourceVersion moves on.)
        const read = await store.read<ReplicaSetObj>('ReplicaSet', namespace, 'create-rs');
        expect(read?.metadata.uid).toBe(created.metadata.uid);
        expect(read?.spec.template.spec.containers.map((c) => c.name)).toEqual(['app', 'side']);

        const generated = await store.create<KubeObject>({
          ...service(namespace, ''),
          metadata: { name: '', namespace, generateName: 'create-gen-' },
        });
        expect(generated.metadata.name).toMatch(/^create-gen-[a-z0-9]{5}$/);
        expect(store.get('Service', namespace, generated.metadata.name)?.metadata.uid).toBe(
          generated.metadata.uid,
        );
      },
    );

    contract('alreadyExists', 'create of an existing name fails with AlreadyExists (409)', async () => {
      const { store, namespace } = harness();
      await store.create(service(namespace, 'exists-svc'));
      const error = await storeError(store.create(service(namespace, 'exists-svc')));
      expect(error.reason).toBe('AlreadyExists');
      expect(error.status).toBe(409);
    });

    contract('listSelector', 'list filters by namespace and an equality label selector', async () => {
      const { store, namespace } = harness();
      await store.create(service(namespace, 'list-a', { tier: 'web', team: 'x' }));
      await store.create(service(namespace, 'list-b', { tier: 'web', team: 'y' }));
      await store.create(service(namespace, 'list-c', { tier: 'db', team: 'x' }));
      const names = (selector: Labels) =>
        store
          .list('Service', namespace, selector)
          .map((s) => s.metadata.name)
          .filter((n) => n.startsWith('list-'))
          .sort();
      expect(names({ tier: 'web' })).toEqual(['list-a', 'list-b']);
      expect(names({ tier: 'web', team: 'x' })).toEqual(['list-a']);
      expect(names({ tier: 'none' })).toEqual([]);
      expect(names({})).toEqual(['list-a', 'list-b', 'list-c']);
      expect(store.list('Service', `${namespace}-other`, { tier: 'web' })).toEqual([]);
    });

    contract(
      'conflict',
      'update, or a patch naming a resourceVersion, fails with Conflict (409) when that version is stale',
      async () => {
        const { store, namespace } = harness();
        const created = await store.create(service(namespace, 'conflict-svc'));
        const first = structuredClone(created);
        first.metadata.labels = { ...first.metadata.labels, v: '2' };
        const updated = await store.update(first);
        expect(updated.metadata.labels?.v).toBe('2');
        expect(updated.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);

        const stale = structuredClone(created);
        stale.metadata.labels = { v: '3' };
        const error = await storeError(store.update(stale));
        expect(error.reason).toBe('Conflict');
        expect(error.status).toBe(409);
        const stalePatch = await storeError(
          store.patch('Service', namespace, 'conflict-svc', {
            metadata: { resourceVersion: created.metadata.resourceVersion, labels: { v: '4' } },
          }),
        );
        expect(stalePatch.reason).toBe('Conflict');
        expect((await store.read('Service', namespace, 'conflict-svc'))?.metadata.labels?.v).toBe('2');
      },
    );

    contract(
      'unconditionalUpdate',
      'update without a resourceVersion overwrites a ReplicaSet but is refused as Invalid (422) for Services and custom resources',
      async () => {
        const { store, namespace } = harness();
        const rs = structuredClone(await store.create(replicaSet(namespace, 'unconditional-rs')));
        delete rs.metadata.resourceVersion;
        rs.metadata.labels = { ...rs.metadata.labels, v: '2' };
        expect((await store.update(rs)).metadata.labels?.v).toBe('2');

        for (const created of [
          await store.create<KubeObject>(service(namespace, 'unconditional-svc')),
          await store.create<KubeObject>(rollout(namespace, 'unconditional-ro')),
        ]) {
          const next = structuredClone(created);
          delete next.metadata.resourceVersion;
          next.metadata.labels = { v: '2' };
          const error = await storeError(store.update(next));
          expect(error.reason).toBe('Invalid');
          expect(error.status).toBe(422);
          expect(error.message).toContain('metadata.resourceVersion');
        }
      },
    );

    contract('noOpWrite', 'a write that changes nothing keeps the resourceVersion', async () => {
      const { store, namespace } = harness();
      const created = await store.create(service(namespace, 'noop-svc', { keep: 'me' }));
      const patched = await store.patch('Service', namespace, 'noop-svc', {
        metadata: { labels: { keep: 'me' } },
      });
      expect(patched.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    });

    contract('mergePatch', 'merge patch sets fields, replaces lists and deletes with null', async () => {
      const { store, namespace } = harness();
      await store.create(replicaSet(namespace, 'merge-rs'));
      const patched = await store.patch<ReplicaSetObj>('ReplicaSet', namespace, 'merge-rs', {
        metadata: { labels: { app: null, extra: 'yes' }, annotations: { note: 'n' } },
        spec: { template: { spec: { containers: [{ name: 'only', image: 'only:1' }] } } },
      });
      expect(patched.metadata.labels).toEqual({ extra: 'yes' });
      expect(patched.metadata.annotations).toEqual({ note: 'n' });
      expect(patched.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual([
        'only=only:1',
      ]);
      expect(store.get<ReplicaSetObj>('ReplicaSet', namespace, 'merge-rs')?.metadata.labels).toEqual({
        extra: 'yes',
      });
    });

    contract(
      'strategicPatch',
      'strategic merge patch merges lists by key and deletes with $patch',
      async () => {
        const { store, namespace } = harness();
        await store.create(replicaSet(namespace, 'strategic-rs'));
        const merged = await store.patch<ReplicaSetObj>(
          'ReplicaSet',
          namespace,
          'strategic-rs',
          { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2' }] } } } },
          'strategic',
        );
        expect(merged.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual([
          'app=app:2',
          'side=side:1',
        ]);
        const removed = await store.patch<ReplicaSetObj>(
          'ReplicaSet',
          namespace,
          'strategic-rs',
          { spec: { template: { spec: { containers: [{ name: 'side', $patch: 'delete' }] } } } },
          'strategic',
        );
        expect(removed.spec.template.spec.containers.map((c) => c.name)).toEqual(['app']);
      },
    );

    contract('jsonPatch', 'JSON patch applies add, replace and remove in order', async () => {
      const { store, namespace } = harness();
      await store.create(replicaSet(namespace, 'json-rs'));
      const patched = await store.patch<ReplicaSetObj>(
        'ReplicaSet',
        namespace,
        'json-rs',
        [
          { op: 'test', path: '/spec/replicas', value: 0 },
          { op: 'add', path: '/metadata/annotations', value: { a: '1' } },
          { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'app:3' },
          { op: 'remove', path: '/spec/template/spec/containers/1' },
        ],
        'json',
      );
      expect(patched.metadata.annotations).toEqual({ a: '1' });
      expect(patched.spec.template.spec.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['app=app:3']);
    });

    contract(
      'jsonPatchTestFails',
      'a JSON patch whose test op fails is refused as Invalid (422) and changes nothing',
      async () => {
        const { store, namespace } = harness();
        // A Service: no controller writes to it behind the test's back, so its resourceVersion holds.
        const created = await store.create(service(namespace, 'json-test-svc'));
        const error = await storeError(
          store.patch(
            'Service',
            namespace,
            'json-test-svc',
            [
              { op: 'replace', path: '/metadata/labels', value: { changed: 'yes' } },
              { op: 'test', path: '/spec/ports/0/port', value: 81 },
            ],
            'json',
          ),
        );
        expect(error.reason).toBe('Invalid');
        expect(error.status).toBe(422);
        const after = await store.read('Service', namespace, 'json-test-svc');
        expect(after?.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
        expect(after?.metadata.labels).toEqual({ app: 'json-test-svc' });
      },
    );

    contract(
      'statusSubresource',
      'status is written only through patchStatus; create, update and patch ignore it',
      async () => {
        const { store, namespace } = harness();
        const created = await store.create({
          ...rollout(namespace, 'status-ro'),
          status: { phase: 'Healthy' },
        });
        expect(created.status).toBeUndefined();

        const withStatus = await store.patchStatus<RolloutObj>('Rollout', namespace, 'status-ro', {
          status: { phase: 'Paused', message: 'waiting' },
          spec: { replicas: 9 },
          metadata: { labels: { through: 'status' } },
        });
        expect(withStatus.status).toEqual({ phase: 'Paused', message: 'waiting' });
        expect(withStatus.spec.replicas).toBe(1);
        expect(withStatus.metadata.labels?.through).toBeUndefined();

        const patched = await store.patch<RolloutObj>('Rollout', namespace, 'status-ro', {
          status: { phase: 'Degraded' },
          spec: { replicas: 2 },
        });
        expect(patched.status?.phase).toBe('Paused');
        expect(patched.spec.replicas).toBe(2);

        const next = structuredClone(patched);
        next.status = { phase: 'Healthy' };
        next.spec.replicas = 3;
        const updated = await store.update(next);
        expect(updated.status).toEqual({ phase: 'Paused', message: 'waiting' });
        expect(updated.spec.replicas).toBe(3);

        const cleared = await store.patchStatus<RolloutObj>('Rollout', namespace, 'status-ro', {
          status: { message: null },
        });
        expect(cleared.status).toEqual({ phase: 'Paused' });
      },
    );

    contract('generation', 'generation bumps on spec changes only, not on metadata or status', async () => {
      const { store, namespace } = harness();
      const created = await store.create(rollout(namespace, 'generation-ro'));
      expect(created.metadata.generation).toBe(1);
      const status = await store.patchStatus('Rollout', namespace, 'generation-ro', {
        status: { phase: 'Progressing' },
      });
      expect(status.metadata.generation).toBe(1);
      const labelled = await store.patch('Rollout', namespace, 'generation-ro', {
        metadata: { labels: { l: '1' }, annotations: { a: '1' } },
      });
      expect(labelled.metadata.generation).toBe(1);
      expect(labelled.metadata.resourceVersion).not.toBe(status.metadata.resourceVersion);
      const spec = await store.patch('Rollout', namespace, 'generation-ro', { spec: { replicas: 4 } });
      expect(spec.metadata.generation).toBe(2);
      const statusOnly = structuredClone(spec) as RolloutObj;
      statusOnly.status = { phase: 'Healthy' };
      const ignored = await store.update(statusOnly);
      expect(ignored.metadata.generation).toBe(2);
      expect(ignored.metadata.resourceVersion).toBe(spec.metadata.resourceVersion);

      const rs = await store.create(replicaSet(namespace, 'generation-rs'));
      expect(rs.metadata.generation).toBe(1);
      const scaled = await store.patch('ReplicaSet', namespace, 'generation-rs', {
        spec: { replicas: 0, minReadySeconds: 1 },
      });
      expect(scaled.metadata.generation).toBe(2);
    });

    contract('noGeneration', 'Services have no generation, before or after a spec change', async () => {
      const { store, namespace } = harness();
      const created = await store.create(service(namespace, 'no-generation-svc'));
      expect(created.metadata.generation).toBeUndefined();
      const patched = await store.patch('Service', namespace, 'no-generation-svc', {
        spec: { ports: [{ port: 81, targetPort: 8080 }] },
      });
      expect(patched.metadata.generation).toBeUndefined();
    });

    contract(
      'deleteBackground',
      'deleting an owner (background) removes it at once and its dependents eventually',
      async () => {
        const { store, namespace } = harness();
        const owner = await store.create(service(namespace, 'bg-owner'));
        await store.create(replicaSet(namespace, 'bg-child-rs', [ownedBy(owner)]));
        await store.create({
          ...service(namespace, 'bg-child-svc'),
          metadata: { ...service(namespace, 'bg-child-svc').metadata, ownerReferences: [ownedBy(owner)] },
        });
        await store.create(replicaSet(namespace, 'bg-bystander'));
        await store.delete('Service', namespace, 'bg-owner');
        expect(store.get('Service', namespace, 'bg-owner')).toBeUndefined();
        expect(await store.read('Service', namespace, 'bg-owner')).toBeUndefined();
        await eventually(
          'background delete collects the dependents',
          async () =>
            (await store.read('ReplicaSet', namespace, 'bg-child-rs')) === undefined &&
            (await store.read('Service', namespace, 'bg-child-svc')) === undefined,
        );
        await eventually(
          'the cache drops the collected dependents',
          () =>
            store.get('ReplicaSet', namespace, 'bg-child-rs') === undefined &&
            store.get('Service', namespace, 'bg-child-svc') === undefined,
        );
        expect(store.get('ReplicaSet', namespace, 'bg-bystander')).toBeDefined();
      },
    );

    contract(
      'deleteOrphan',
      'deleting an owner with Orphan keeps the dependents and strips the owner reference',
      async () => {
        const { store, namespace } = harness();
        const owner = await store.create(service(namespace, 'orphan-owner'));
        await store.create(replicaSet(namespace, 'orphan-child', [ownedBy(owner)]));
        await store.delete('Service', namespace, 'orphan-owner', { propagation: 'Orphan' });
        await eventually(
          'the owner is gone',
          async () => (await store.read('Service', namespace, 'orphan-owner')) === undefined,
        );
        const child = await eventually('the child loses its owner reference', async () => {
          const c = await store.read('ReplicaSet', namespace, 'orphan-child');
          return c !== undefined && c.metadata.ownerReferences === undefined ? c : undefined;
        });
        expect(child.metadata.name).toBe('orphan-child');
        await eventually(
          'the cache sees the orphaned child',
          () => store.get('ReplicaSet', namespace, 'orphan-child')?.metadata.ownerReferences === undefined,
        );
      },
    );

    contract(
      'deleteForeground',
      'deleting an owner with Foreground removes its dependents and then the owner',
      async () => {
        const { store, namespace } = harness();
        const owner = await store.create(service(namespace, 'fg-owner'));
        await store.create(
          replicaSet(namespace, 'fg-child', [{ ...ownedBy(owner), blockOwnerDeletion: true }]),
        );
        await store.delete('Service', namespace, 'fg-owner', { propagation: 'Foreground' });
        await eventually(
          'the dependent and then the owner are gone',
          async () =>
            (await store.read('ReplicaSet', namespace, 'fg-child')) === undefined &&
            (await store.read('Service', namespace, 'fg-owner')) === undefined,
        );
      },
    );

    contract(
      'deleteOneOfTwoOwners',
      'a dependent with another live owner survives, without the deleted owner reference',
      async () => {
        const { store, namespace } = harness();
        const first = await store.create(service(namespace, 'two-owner-a'));
        const second = await store.create(service(namespace, 'two-owner-b'));
        await store.create(replicaSet(namespace, 'two-owner-child', [ownedBy(first), ownedBy(second)]));
        await store.delete('Service', namespace, 'two-owner-a');
        const child = await eventually('the dangling owner reference is removed', async () => {
          const c = await store.read('ReplicaSet', namespace, 'two-owner-child');
          return c?.metadata.ownerReferences?.length === 1 ? c : undefined;
        });
        expect(child.metadata.ownerReferences?.map((r) => r.name)).toEqual(['two-owner-b']);
        await store.delete('Service', namespace, 'two-owner-b');
        await eventually(
          'the child goes with its last owner',
          async () => (await store.read('ReplicaSet', namespace, 'two-owner-child')) === undefined,
        );
      },
    );

    contract(
      'watchOrder',
      'watch reports ADDED, MODIFIED, DELETED in order, and nothing after unsubscribing',
      async () => {
        const { store, namespace } = harness();
        // Several objects: in a cluster the watch event of a create races the create's own response.
        const names = ['watch-a', 'watch-b', 'watch-c', 'watch-d', 'watch-e'];
        const seen = new Map<string, string[]>(names.map((n) => [n, []]));
        const stop = store.watch('Service', (type: WatchEventType, obj) => {
          seen.get(obj.metadata.name)?.push(`${type} ${obj.metadata.labels?.step ?? ''}`);
        });
        try {
          for (const name of names) {
            await store.create(service(namespace, name, { step: '1' }));
            await store.patch('Service', namespace, name, { metadata: { labels: { step: '2' } } });
            await store.delete('Service', namespace, name);
          }
          await eventually('every DELETED delivered', () =>
            [...seen.values()].every((types) => types.some((t) => t.startsWith('DELETED'))),
          );
        } finally {
          stop();
        }
        for (const name of names)
          expect(seen.get(name), name).toEqual(['ADDED 1', 'MODIFIED 2', 'DELETED 2']);

        const later: string[] = [];
        const stopLater = store.watch('Service', (type, obj) => {
          if (obj.metadata.name === 'watch-a') later.push(type);
        });
        try {
          await store.create(service(namespace, 'watch-a'));
          await eventually('a later watcher sees the new object', () => later.length > 0);
        } finally {
          stopLater();
        }
        expect(later).toEqual(['ADDED']);
        expect(seen.get('watch-a')).toHaveLength(3);
      },
    );

    contract(
      'events',
      'recordEvent writes a core/v1 Event about the object and aggregates repeats into a count',
      async () => {
        const { store, namespace, listEvents } = harness();
        const ro = await store.create(rollout(namespace, 'events-ro'));
        store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 1');
        store.recordEvent(ro, 'Normal', 'RolloutUpdated', 'Rollout updated to revision 1');
        store.recordEvent(ro, 'Warning', 'RolloutAborted', 'Rollout aborted update to revision 1');
        const events = await eventually('both events written, the repeat counted', async () => {
          const mine = (await listEvents()).filter((e) => e.involvedObject.name === 'events-ro');
          const updated = mine.find((e) => e.reason === 'RolloutUpdated');
          return mine.length === 2 && updated?.count === 2 ? mine : undefined;
        });
        const updated = events.find((e) => e.reason === 'RolloutUpdated')!;
        expect(updated).toMatchObject({
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { namespace },
          involvedObject: {
            apiVersion: 'argoproj.io/v1alpha1',
            kind: 'Rollout',
            name: 'events-ro',
            namespace,
            uid: ro.metadata.uid,
          },
          type: 'Normal',
          message: 'Rollout updated to revision 1',
          count: 2,
          source: { component: 'sluice-controller' },
          reportingComponent: 'sluice-controller',
        });
        expect(updated.metadata.name).toMatch(/^events-ro\.[0-9a-f]+$/);
        expect(updated.metadata.uid).toBeDefined();
        expect(updated.firstTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        expect(updated.lastTimestamp >= updated.firstTimestamp).toBe(true);
        expect(events.find((e) => e.reason === 'RolloutAborted')).toMatchObject({
          type: 'Warning',
          count: 1,
        });
      },
    );

    contract(
      'eventTruncation',
      `Event messages are cut to ${MAX_EVENT_MESSAGE_LENGTH} characters, ending in "..."`,
      async () => {
        const { store, namespace, listEvents } = harness();
        const ro = await store.create(rollout(namespace, 'truncate-ro'));
        const long = `${'x'.repeat(1500)}END`;
        const exact = 'y'.repeat(MAX_EVENT_MESSAGE_LENGTH);
        store.recordEvent(ro, 'Warning', 'TooLong', long);
        store.recordEvent(ro, 'Normal', 'Exact', exact);
        const events = await eventually('both events written', async () => {
          const mine = (await listEvents()).filter((e) => e.involvedObject.name === 'truncate-ro');
          return mine.length === 2 ? mine : undefined;
        });
        const truncated = events.find((e) => e.reason === 'TooLong')!.message;
        expect(truncated).toHaveLength(MAX_EVENT_MESSAGE_LENGTH);
        expect(truncated).toBe(`${'x'.repeat(MAX_EVENT_MESSAGE_LENGTH - 3)}...`);
        expect(events.find((e) => e.reason === 'Exact')!.message).toBe(exact);
      },
    );

    contract(
      'notFound',
      'get and read of an absent object give undefined; patch, patchStatus, update and delete fail with NotFound (404)',
      async () => {
        const { store, namespace } = harness();
        expect(store.get('Service', namespace, 'absent')).toBeUndefined();
        expect(await store.read('Service', namespace, 'absent')).toBeUndefined();
        const writes: (() => Promise<unknown>)[] = [
          () => store.patch('Service', namespace, 'absent', { metadata: { labels: { a: 'b' } } }),
          () =>
            store.patch(
              'ReplicaSet',
              namespace,
              'absent',
              [{ op: 'add', path: '/metadata/labels', value: {} }],
              'json',
            ),
          () => store.patchStatus('Rollout', namespace, 'absent', { status: { phase: 'Healthy' } }),
          () =>
            store.update({
              ...service(namespace, 'absent'),
              metadata: { ...service(namespace, 'absent').metadata, resourceVersion: '1' },
            }),
          () => store.delete('ReplicaSet', namespace, 'absent'),
        ];
        for (const write of writes) {
          const error = await storeError(write());
          expect(error.reason).toBe('NotFound');
          expect(error.status).toBe(404);
        }
      },
    );

    contract(
      'unservedKind',
      'read of a kind the API server does not serve (a CRD not installed: TCPRoute has none in the test cluster) fails with NotFound, unlike an absent object',
      async () => {
        const { store, namespace } = harness();
        const error = await storeError(store.read('TCPRoute', namespace, 'web'));
        expect(error.reason).toBe('NotFound');
        expect(error.status).toBe(404);
        expect(error.message).toContain('the server could not find the requested resource');
      },
    );

    contract(
      'frozen',
      'every object a store returns (get, read, list, watch, write results) is deeply frozen',
      async () => {
        const { store, namespace } = harness();
        const watched: KubeObject[] = [];
        const stop = store.watch('ReplicaSet', (_type, obj) => {
          if (obj.metadata.name === 'frozen-rs') watched.push(obj);
        });
        let created: KubeObject;
        let patched: KubeObject;
        try {
          created = await store.create(replicaSet(namespace, 'frozen-rs'));
          patched = await store.patch('ReplicaSet', namespace, 'frozen-rs', {
            metadata: { labels: { p: '1' } },
          });
          await eventually('the watch delivers the object', () => watched.length > 0);
        } finally {
          stop();
        }
        const got = store.get<ReplicaSetObj>('ReplicaSet', namespace, 'frozen-rs')!;
        const read = (await store.read<ReplicaSetObj>('ReplicaSet', namespace, 'frozen-rs'))!;
        const listed = store
          .list<ReplicaSetObj>('ReplicaSet', namespace)
          .find((r) => r.metadata.name === 'frozen-rs')!;
        for (const [what, obj] of Object.entries({
          got,
          read,
          listed,
          watched: watched[0],
          created,
          patched,
        })) {
          expect(isFrozenDeep(obj), what).toBe(true);
        }
        expect(() => {
          got.spec.replicas = 5;
        }).toThrow(TypeError);
        expect(() => {
          listed.metadata.labels!.x = 'y';
        }).toThrow(TypeError);
      },
    );
  });
}

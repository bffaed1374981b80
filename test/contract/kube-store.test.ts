// The ObjectStore contract (./object-store.contract.ts) against the Kubernetes store on the test cluster
// (kube-apiserver + etcd + kube-controller-manager, whose garbage collector handles owner references):
// the reference behaviour the in-memory store must match. Runs in the `cluster` vitest project.

import { afterAll, beforeAll, describe } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { KubeStore } from '../../src/kube/kube-store.ts';
import type { CoreEvent } from '../../src/store/events.ts';
import { collectionPath } from '../../src/store/resources.ts';
import { controllerClient, useNamespace } from '../cluster/namespace.ts';
import { objectStoreContract } from './object-store.contract.ts';

describe('KubeStore on the test cluster', () => {
  // Rollouts (the status-subresource and event cases) need the CRDs.
  const ns = useNamespace('store-contract', { crds: true });
  let client: KubeClient;
  let store: KubeStore;

  beforeAll(async () => {
    client = await controllerClient();
    store = new KubeStore(client, { namespace: ns.name });
    if (!(await store.start())) throw new Error('KubeStore informers did not sync');
  });

  afterAll(async () => {
    await store?.stop();
    await client?.close();
  });

  objectStoreContract(() => ({
    store,
    namespace: ns.name,
    // Events are never cached by the KubeStore: list them from the API server.
    async listEvents() {
      const res = await client.request('GET', collectionPath('Event', ns.name));
      if (res.status !== 200) throw new Error(`list events: HTTP ${res.status}`);
      // List items carry no kind/apiVersion (the list does); add them as the informers do.
      return (res.body as { items: CoreEvent[] }).items.map((e) => ({
        ...e,
        apiVersion: 'v1',
        kind: 'Event',
      }));
    },
  }));
});

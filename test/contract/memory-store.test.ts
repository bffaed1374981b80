// The ObjectStore contract (./object-store.contract.ts) against the in-memory store, the double that
// reconciler unit tests run on. Its kube-store twin runs the same cases against the test cluster.

import { beforeAll, describe } from 'vitest';
import type { CoreEvent } from '../../src/store/events.ts';
import { createMemoryStore, type MemoryStore } from '../../src/store/memory.ts';
import { objectStoreContract } from './object-store.contract.ts';

const NAMESPACE = 'contract';

describe('MemoryStore', () => {
  let store: MemoryStore;
  beforeAll(() => {
    store = createMemoryStore({ unservedKinds: ['TCPRoute'] });
  });
  objectStoreContract(
    () => ({
      store,
      namespace: NAMESPACE,
      listEvents: async () => store.list<CoreEvent>('Event', NAMESPACE),
    }),
    // Everything happens synchronously here; a case that waits is a case that fails.
    { eventuallyTimeoutMs: 1_000 },
  );
});

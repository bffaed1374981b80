// What a mesh or ingress router (nginx/, istio/, smi/, gateway-api/) is built from for one reconcile of
// one Rollout: the store it reads its objects from (fresh reads, `store.read`: those kinds are never
// cached, so a cluster without a router's CRD costs nothing until a Rollout names that router), the
// Rollout, and the API versions the cluster serves for the kinds whose version differs between clusters
// (the same map the store builds its paths from).

import type { Rollout } from '../api/rollout.ts';
import type { ObjectStore } from '../store/object-store.ts';
import type { ApiVersions } from '../store/resources.ts';

export interface RouterContext {
  readonly store: ObjectStore;
  readonly rollout: Rollout;
  readonly apiVersions: ApiVersions;
}

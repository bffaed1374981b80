// The local ReplicaSet controller: keeps spec.replicas Pods for each ReplicaSet (owned by it, labels,
// annotations and spec from its template, named `<rs>-<5 random chars>`), deletes the extras the way
// Kubernetes prefers (not ready before ready, then the newest first), and writes status (replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas after minReadySeconds, observedGeneration).
// Unlike Kubernetes, a Failed pod (an image that cannot run locally) is kept and counted rather than
// replaced: a replacement would fail the same way, forever.

import type { Pod, ReplicaSet } from '../../api/workloads.ts';
import { isPodReady, rsSpecReplicas } from '../../api/workloads.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { createMergePatch } from '../../store/patch.ts';

export interface ReplicaSetSyncResult {
  /** When set, sync again after this many ms (a pod becomes available after minReadySeconds). */
  readonly requeueAfterMs?: number;
}

function ownedBy(pod: Pod, rs: ReplicaSet): boolean {
  return (pod.metadata.ownerReferences ?? []).some((r) => r.uid === rs.metadata.uid && r.controller === true);
}

function timeMs(text: unknown): number {
  const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** When the pod last became Ready (ms), or undefined when it is not ready. */
function readySince(pod: Pod): number | undefined {
  const ready = (pod.status?.conditions ?? []).find((c) => c.type === 'Ready' && c.status === 'True');
  return ready === undefined ? undefined : timeMs(ready.lastTransitionTime);
}

/** Pods in the order they are deleted on scale-down: unassigned/pending, not ready, then newest first. */
export function deletionOrder(pods: readonly Pod[]): Pod[] {
  const rank = (pod: Pod): number => {
    const phase = pod.status?.phase;
    if (phase === 'Failed' || phase === 'Succeeded' || phase === undefined) return 0;
    if (phase === 'Pending') return 1;
    return isPodReady(pod) ? 3 : 2;
  };
  return [...pods].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (readySince(b) ?? 0) - (readySince(a) ?? 0) ||
      timeMs(b.metadata.creationTimestamp) - timeMs(a.metadata.creationTimestamp) ||
      Number(b.metadata.resourceVersion ?? 0) - Number(a.metadata.resourceVersion ?? 0) ||
      b.metadata.name.localeCompare(a.metadata.name),
  );
}

function podFromTemplate(rs: ReplicaSet): Pod {
  const template = rs.spec.template;
  const labels = template.metadata?.labels;
  const annotations = template.metadata?.annotations;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: '',
      generateName: `${rs.metadata.name}-`,
      namespace: rs.metadata.namespace,
      ...(labels !== undefined ? { labels: structuredClone(labels) } : {}),
      ...(annotations !== undefined ? { annotations: structuredClone(annotations) } : {}),
      ownerReferences: [
        {
          apiVersion: rs.apiVersion || 'apps/v1',
          kind: 'ReplicaSet',
          name: rs.metadata.name,
          uid: rs.metadata.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: structuredClone(template.spec ?? {}),
  } as Pod;
}

/** One pass for one ReplicaSet: create or delete pods, then write status. */
export async function syncReplicaSet(
  store: ObjectStore,
  namespace: string,
  name: string,
  now: () => number = Date.now,
): Promise<ReplicaSetSyncResult> {
  const rs = store.get<ReplicaSet>('ReplicaSet', namespace, name);
  if (rs === undefined || rs.metadata.deletionTimestamp !== undefined) return {};
  const active = (): Pod[] =>
    store
      .list<Pod>('Pod', namespace)
      .filter((p) => ownedBy(p, rs) && p.metadata.deletionTimestamp === undefined);
  const want = rsSpecReplicas(rs);
  const pods = active();
  if (pods.length < want) {
    for (let i = pods.length; i < want; i++) await store.create(podFromTemplate(rs));
  } else if (pods.length > want) {
    for (const pod of deletionOrder(pods).slice(0, pods.length - want)) {
      try {
        await store.delete('Pod', namespace, pod.metadata.name);
      } catch (error) {
        if ((error as { reason?: string }).reason !== 'NotFound') throw error;
      }
    }
  }
  const current = active();
  const templateLabels = rs.spec.template.metadata?.labels ?? {};
  const minReadyMs = (rs.spec.minReadySeconds ?? 0) * 1000;
  let requeueAfterMs: number | undefined;
  let ready = 0;
  let available = 0;
  for (const pod of current) {
    const since = readySince(pod);
    if (since === undefined) continue;
    ready += 1;
    const wait = since + minReadyMs - now();
    if (minReadyMs === 0 || wait <= 0) available += 1;
    else requeueAfterMs = Math.min(requeueAfterMs ?? wait, wait);
  }
  const status = {
    ...(rs.status ?? {}),
    replicas: current.length,
    fullyLabeledReplicas: current.filter((p) =>
      Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v),
    ).length,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata.generation ?? 1,
  };
  const fresh = store.get<ReplicaSet>('ReplicaSet', namespace, name);
  if (fresh === undefined || fresh.metadata.uid !== rs.metadata.uid) return {};
  const patch = createMergePatch(
    { status: fresh.status ?? {} },
    { status: { ...(fresh.status ?? {}), ...status } },
  );
  if (patch !== undefined) await store.patchStatus('ReplicaSet', namespace, name, patch);
  return requeueAfterMs === undefined ? {} : { requeueAfterMs: Math.ceil(requeueAfterMs) + 10 };
}

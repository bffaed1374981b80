// The local endpoints controller: for each Service with a selector, an Endpoints object of the same name
// listing the selected pods that have an address: ready ones in `addresses`, the others in
// `notReadyAddresses`, each subset's ports named after the Service ports (what traffic/proxy/backends.ts
// reads). A targetPort is resolved on each pod (a number, a named container port, or the Service port) and
// then to the port the pod really listens on locally (runtime.ts: LOCAL_PORTS_ANNOTATION), so pods whose
// ports differ land in different subsets, as the Kubernetes controller groups them. Services without a
// selector are left alone (their Endpoints are the user's); a deleted Service's Endpoints are deleted.

import type { EndpointAddress, EndpointPort, Endpoints, Pod, Service } from '../../api/workloads.ts';
import { isPodReady } from '../../api/workloads.ts';
import type { ObjectStore } from '../../store/object-store.ts';
import { localPort } from './runtime.ts';

type Json = Record<string, unknown>;

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

/** The container port a Service targetPort names on a pod, or undefined when the pod has no such port. */
export function resolveTargetPort(pod: Pod, targetPort: number | string): number | undefined {
  if (typeof targetPort === 'number') return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  const containers = record(pod.spec).containers;
  for (const container of Array.isArray(containers) ? containers : []) {
    const ports = record(container).ports;
    for (const port of Array.isArray(ports) ? ports : []) {
      const p = record(port);
      if (p.name === targetPort && typeof p.containerPort === 'number') return p.containerPort;
    }
  }
  return undefined;
}

function podIp(pod: Pod): string | undefined {
  const ip = (pod.status as { podIP?: unknown } | undefined)?.podIP;
  return typeof ip === 'string' && ip !== '' ? ip : undefined;
}

/** The subsets of a Service's Endpoints from the pods in the store (sorted, so equal inputs give equal output). */
export function endpointSubsets(service: Service, pods: readonly Pod[]): NonNullable<Endpoints['subsets']> {
  const groups = new Map<
    string,
    { ports: EndpointPort[]; addresses: EndpointAddress[]; notReadyAddresses: EndpointAddress[] }
  >();
  for (const pod of pods) {
    const ip = podIp(pod);
    const phase = pod.status?.phase;
    if (ip === undefined || phase === 'Failed' || phase === 'Succeeded') continue;
    if (pod.metadata.deletionTimestamp !== undefined) continue;
    const ports: EndpointPort[] = [];
    for (const sp of service.spec.ports ?? []) {
      if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
      const containerPort = resolveTargetPort(pod, sp.targetPort ?? sp.port);
      if (containerPort === undefined) continue;
      ports.push({
        ...(sp.name !== undefined ? { name: sp.name } : {}),
        port: localPort(pod, containerPort),
        protocol: 'TCP',
      });
    }
    if (ports.length === 0) continue;
    const groupKey = JSON.stringify(ports);
    let group = groups.get(groupKey);
    if (group === undefined) {
      group = { ports, addresses: [], notReadyAddresses: [] };
      groups.set(groupKey, group);
    }
    const address: EndpointAddress = {
      ip,
      targetRef: { kind: 'Pod', name: pod.metadata.name, namespace: pod.metadata.namespace },
    };
    (isPodReady(pod) ? group.addresses : group.notReadyAddresses).push(address);
  }
  const byAddress = (a: EndpointAddress, b: EndpointAddress) =>
    a.ip.localeCompare(b.ip) || (a.targetRef?.name ?? '').localeCompare(b.targetRef?.name ?? '');
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, g]) => ({
      ...(g.addresses.length > 0 ? { addresses: g.addresses.sort(byAddress) } : {}),
      ...(g.notReadyAddresses.length > 0 ? { notReadyAddresses: g.notReadyAddresses.sort(byAddress) } : {}),
      ports: g.ports,
    }));
}

/** One pass for one Service: create, update or delete its Endpoints. */
export async function syncEndpoints(store: ObjectStore, namespace: string, name: string): Promise<void> {
  const service = store.get<Service>('Service', namespace, name);
  const existing = store.get<Endpoints>('Endpoints', namespace, name);
  if (service === undefined) {
    if (existing !== undefined) {
      try {
        await store.delete('Endpoints', namespace, name);
      } catch (error) {
        if ((error as { reason?: string }).reason !== 'NotFound') throw error;
      }
    }
    return;
  }
  const selector = service.spec.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return;
  const subsets = endpointSubsets(service, store.list<Pod>('Pod', namespace, selector));
  const labels = service.metadata.labels;
  if (existing === undefined) {
    await store.create<Endpoints>({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace, ...(labels !== undefined ? { labels: structuredClone(labels) } : {}) },
      subsets,
    });
    return;
  }
  if (JSON.stringify(existing.subsets ?? []) === JSON.stringify(subsets)) return;
  const next = structuredClone(existing) as Endpoints;
  next.subsets = subsets;
  await store.update(next);
}

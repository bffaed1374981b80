// Pod template hash and semantic template comparison.
//
// computePodTemplateHash is Argo Rollouts' utils/hash.ComputePodTemplateHash: FNV-32a over the bytes Go's
// json.Marshal writes for the template decoded into a k8s.io/api core/v1 PodTemplateSpec
// (pod-template-json.ts, driven by the table scripts/pod-template-schema generates from k8s.io/api and
// checks against Go in test/fixtures/pod-template-hash-vectors.json), then status.collisionCount as 8
// little-endian bytes when set, rendered with rand.SafeEncodeString. A Rollout Argo manages therefore
// gets the same rollouts-pod-template-hash and ReplicaSet name from Sluice.
//
// Argo's bytes depend on its Kubernetes libraries: v1.9 and later leave a zero creationTimestamp out,
// v1.8 and earlier write it as null, so one template has two Argo hashes. Sluice names new ReplicaSets
// with the current (v1.9+) one; plan.ts recognises a ReplicaSet labelled with either.
//
// Residual difference: the schema is Kubernetes 1.20's, while Argo vendors k8s.io/api 0.29 (v1.8) or 0.34
// (v1.9+). A template that sets a field added after 1.20 (a sidecar's initContainers[].restartPolicy,
// resizePolicy, spec.os, ...) keeps it in Argo's JSON but not in ours, so the hashes differ; such fields are
// optional and omitempty, so templates that do not set one hash identically. Hence the second tier in
// plan.ts: an existing ReplicaSet whose template is semantically equal (podTemplateEqualIgnoreHash: hash
// label removed, Kubernetes defaults applied to both sides, empty values ignored) is adopted too.

import { POD_TEMPLATE_HASH_LABEL } from '../rollout.ts';
import type { PodTemplateSpec } from '../workloads.ts';
import { type PodTemplateJsonFlavor, podTemplateGoJson } from './go-json.ts';

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** k8s.io/apimachinery/pkg/util/rand.SafeEncodeString. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += SAFE_ALPHABET[s.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** FNV-1a 32-bit over bytes. */
export function fnv32a(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Drops null/undefined, empty strings, empty objects/arrays and false (Go omitempty-like); sorts keys. */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonicalize).filter((v) => v !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = canonicalize(value[key]);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (value === null || value === undefined || value === '' || value === false) return undefined;
  return value;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value) ?? {});
}

function withoutHashLabel(template: PodTemplateSpec): PodTemplateSpec {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[POD_TEMPLATE_HASH_LABEL];
  return { ...template, metadata: { ...(template.metadata ?? {}), labels } };
}

/** Argo's ComputePodTemplateHash of a Rollout's spec.template and status.collisionCount. */
export function computePodTemplateHash(
  template: PodTemplateSpec,
  collisionCount?: number,
  flavor: PodTemplateJsonFlavor = 'argo-v1.9',
): string {
  let h = fnv32a(new TextEncoder().encode(podTemplateGoJson(template, flavor)));
  if (typeof collisionCount === 'number') {
    const extra = new Uint8Array(8);
    new DataView(extra.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(extra, h);
  }
  return safeEncodeString(String(h));
}

function imagePullPolicyDefault(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  const last = image.split('/').pop() ?? '';
  if (image.includes('@')) return 'IfNotPresent';
  const tag = last.includes(':') ? last.slice(last.lastIndexOf(':') + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultProbe(probe: unknown): unknown {
  if (!isPlainObject(probe)) return probe;
  const out: Record<string, unknown> = {
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
    ...probe,
  };
  if (isPlainObject(out.httpGet)) out.httpGet = { scheme: 'HTTP', ...out.httpGet };
  return out;
}

function defaultContainer(c: unknown): unknown {
  if (!isPlainObject(c)) return c;
  const out: Record<string, unknown> = {
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: imagePullPolicyDefault(c.image),
    ...c,
  };
  if (Array.isArray(out.ports)) {
    out.ports = out.ports.map((p) => (isPlainObject(p) ? { protocol: 'TCP', ...p } : p));
  }
  for (const key of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    if (out[key] !== undefined) out[key] = defaultProbe(out[key]);
  }
  if (Array.isArray(out.env)) {
    out.env = out.env.map((e) => {
      if (!isPlainObject(e) || !isPlainObject(e.valueFrom) || !isPlainObject(e.valueFrom.fieldRef)) return e;
      return { ...e, valueFrom: { ...e.valueFrom, fieldRef: { apiVersion: 'v1', ...e.valueFrom.fieldRef } } };
    });
  }
  return out;
}

/** The Kubernetes API server's defaults for a pod template (the subset that appears in practice). */
export function defaultPodTemplate(template: PodTemplateSpec): PodTemplateSpec {
  const spec = template.spec ?? {};
  const out: Record<string, unknown> = {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    schedulerName: 'default-scheduler',
    ...spec,
  };
  for (const key of ['containers', 'initContainers']) {
    if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(defaultContainer);
  }
  if (out.serviceAccountName !== undefined && out.serviceAccount === undefined) {
    out.serviceAccount = out.serviceAccountName;
  }
  return { metadata: template.metadata ?? {}, spec: out };
}

/**
 * Argo's PodTemplateEqualIgnoreHash: equal after removing the hash label and applying defaults to both
 * (the live side comes defaulted from the API server; the desired side is the raw Rollout template).
 */
export function podTemplateEqualIgnoreHash(live: PodTemplateSpec, desired: PodTemplateSpec): boolean {
  const a = canonicalJson(defaultPodTemplate(withoutHashLabel(live)));
  const b = canonicalJson(defaultPodTemplate(withoutHashLabel(desired)));
  return a === b;
}

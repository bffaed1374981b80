// Pod template hash and semantic template comparison.
//
// Deviation from Argo (documented): Argo hashes its Go PodTemplateSpec with FNV-32a (json/spew of the Go
// struct, whose field order and zero-value rendering a TypeScript controller cannot reproduce exactly)
// plus status.collisionCount, rendered with rand.SafeEncodeString. Sluice hashes a canonical JSON of the
// template (keys sorted, empty values dropped, hash label removed) plus the collision count as 8
// little-endian bytes, with the same FNV-32a and the same SafeEncodeString alphabet, so names look alike
// and are stable across restarts. Existing ReplicaSets (including ones created by Argo) are ADOPTED by
// semantic comparison (podTemplateEqualIgnoreHash: hash label removed, Kubernetes defaults applied to
// both sides, empty values ignored), so taking over an Argo-managed Rollout creates no new pods.

import { POD_TEMPLATE_HASH_LABEL } from '../api/rollout.ts';
import type { PodTemplateSpec } from '../api/workloads.ts';

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

/** The pod template hash of a Rollout template and collision count (see the header for the deviation). */
export function computePodTemplateHash(template: PodTemplateSpec, collisionCount?: number): string {
  const json = new TextEncoder().encode(canonicalJson(withoutHashLabel(template)));
  let h = fnv32a(json);
  if (collisionCount !== undefined) {
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

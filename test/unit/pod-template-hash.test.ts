import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { PodTemplateSpec } from '../../src/api/workloads.ts';
import { computePodTemplateHash } from '../../src/rollout/hash.ts';
import { goJsonString, goTimeJson, podTemplateGoJson } from '../../src/rollout/pod-template-json.ts';
import { parseQuantity, quantityString } from '../../src/rollout/quantity.ts';

// Written by scripts/pod-template-schema (Go's encoding/json and k8s.io/api, as Argo Rollouts hashes).
interface ValueVector {
  input: string;
  goJson?: string;
  error?: string;
}
interface Vectors {
  templates: {
    name: string;
    input: PodTemplateSpec;
    goJson: string;
    hash: string;
    hashByCollisionCount: Record<string, string>;
  }[];
  quantities: ValueVector[];
  times: ValueVector[];
  strings: ValueVector[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../fixtures/pod-template-hash-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

describe('pod template hash: identical to Argo Rollouts (Go vectors)', () => {
  it('has the vectors the generator writes', () => {
    expect(vectors.templates.length).toBeGreaterThanOrEqual(30);
    expect(vectors.quantities.length).toBeGreaterThanOrEqual(100);
  });

  it.each(vectors.templates.map((v) => [v.name, v] as const))(
    '%s: same JSON bytes as json.Marshal',
    (_, v) => {
      expect(podTemplateGoJson(v.input)).toBe(v.goJson);
    },
  );

  it.each(vectors.templates.map((v) => [v.name, v] as const))(
    '%s: same hash with and without collisionCount',
    (_, v) => {
      expect(computePodTemplateHash(v.input)).toBe(v.hash);
      for (const [count, hash] of Object.entries(v.hashByCollisionCount)) {
        expect(computePodTemplateHash(v.input, Number(count)), `collisionCount ${count}`).toBe(hash);
      }
    },
  );

  it('re-renders quantities canonically, and rejects what resource.ParseQuantity rejects', () => {
    const wrong: string[] = [];
    for (const v of vectors.quantities) {
      const q = parseQuantity(v.input);
      const got = q ? goJsonString(quantityString(q)) : undefined;
      if (got !== v.goJson) wrong.push(`${JSON.stringify(v.input)}: got ${got}, Go ${v.goJson ?? v.error}`);
    }
    expect(wrong).toEqual([]);
  });

  it('renders metav1.Time in UTC with whole seconds, the zero time as null, and rejects what Go rejects', () => {
    for (const v of vectors.times) expect(goTimeJson(v.input), v.input).toBe(v.goJson);
  });

  it('escapes strings like encoding/json', () => {
    for (const v of vectors.strings) expect(goJsonString(v.input), JSON.stringify(v.input)).toBe(v.goJson);
  });

  it('writes \\b and \\f short escapes, as encoding/json does since Go 1.22 (Argo builds with a newer Go)', () => {
    expect(goJsonString('\b\f\u000b')).toBe('"\\b\\f\\u000b"');
  });

  it('hashes the template as given: key order does not matter, every label does', () => {
    const v = vectors.templates.find((t) => t.name.startsWith('e2e canaryRollout'))!;
    const reordered = {
      spec: v.input.spec,
      metadata: { annotations: v.input.metadata?.annotations, labels: v.input.metadata?.labels },
    };
    expect(computePodTemplateHash(reordered as PodTemplateSpec)).toBe(v.hash);
    const labelled = structuredClone(v.input);
    labelled.metadata!.labels = { ...labelled.metadata!.labels, 'rollouts-pod-template-hash': v.hash };
    expect(computePodTemplateHash(labelled)).not.toBe(v.hash);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  goJsonString,
  goTimeJson,
  type PodTemplateJsonFlavor,
  podTemplateGoJson,
} from '../../../../src/api/pod-template/go-json.ts';
import { computePodTemplateHash } from '../../../../src/api/pod-template/hash.ts';
import { parseQuantity, quantityString } from '../../../../src/api/pod-template/quantity.ts';
import type { Rollout, RolloutStatus } from '../../../../src/api/rollout.ts';
import type { PodTemplateSpec, ReplicaSet } from '../../../../src/api/workloads.ts';
import { planRollout } from '../../../../src/rollout/plan.ts';
import { webReplicaSet } from '../../../fixtures/rollout-objects.ts';

// Written by scripts/pod-template-schema: Go's encoding/json with k8s.io/api, as Argo Rollouts hashes.
// argoV1_8 is what Go printed; argoV1_9 is the same with a zero creationTimestamp left out (omitzero).
interface FlavorVector {
  goJson: string;
  hash: string;
  hashByCollisionCount: Record<string, string>;
}
interface ValueVector {
  input: string;
  goJson?: string;
  error?: string;
}
interface Vectors {
  templates: { name: string; input: PodTemplateSpec; argoV1_8: FlavorVector; argoV1_9: FlavorVector }[];
  quantities: ValueVector[];
  times: ValueVector[];
  strings: ValueVector[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../fixtures/pod-template-hash-vectors.json', import.meta.url), 'utf8'),
) as Vectors;

const FLAVORS: [PodTemplateJsonFlavor, 'argoV1_8' | 'argoV1_9'][] = [
  ['argo-v1.9', 'argoV1_9'],
  ['argo-v1.8', 'argoV1_8'],
];
const cases = vectors.templates.flatMap((v) =>
  FLAVORS.map(([flavor, key]) => [`${v.name} (${flavor})`, v.input, flavor, v[key]] as const),
);

describe('pod template hash: identical to Argo Rollouts (Go vectors)', () => {
  it('has the vectors the generator writes', () => {
    expect(vectors.templates.length).toBeGreaterThanOrEqual(30);
    expect(vectors.quantities.length).toBeGreaterThanOrEqual(100);
  });

  it.each(cases)('%s: same JSON bytes as json.Marshal', (_, input, flavor, expected) => {
    expect(podTemplateGoJson(input, flavor)).toBe(expected.goJson);
  });

  it.each(cases)('%s: same hash with and without collisionCount', (_, input, flavor, expected) => {
    expect(computePodTemplateHash(input, undefined, flavor)).toBe(expected.hash);
    for (const [count, hash] of Object.entries(expected.hashByCollisionCount)) {
      expect(computePodTemplateHash(input, Number(count), flavor), `collisionCount ${count}`).toBe(hash);
    }
  });

  it('defaults to the Argo v1.9+ bytes, which differ from v1.8 by the zero creationTimestamp', () => {
    const v = vectors.templates.find((t) => t.name.startsWith('e2e canaryRollout'))!;
    expect(computePodTemplateHash(v.input)).toBe(v.argoV1_9.hash);
    expect(computePodTemplateHash(v.input, 3)).toBe(v.argoV1_9.hashByCollisionCount['3']);
    expect(v.argoV1_8.goJson.replace('"creationTimestamp":null,', '')).toBe(v.argoV1_9.goJson);
    expect(v.argoV1_9.hash).not.toBe(v.argoV1_8.hash);
  });

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

  it('writes \\b and \\f short escapes, as encoding/json does since Go 1.22 (every Argo release since v1.7)', () => {
    expect(goJsonString('\b\f\u000b')).toBe('"\\b\\f\\u000b"');
  });

  it('hashes the template as given: key order does not matter, every label does', () => {
    const v = vectors.templates.find((t) => t.name.startsWith('e2e canaryRollout'))!;
    const reordered = {
      spec: v.input.spec,
      metadata: { annotations: v.input.metadata?.annotations, labels: v.input.metadata?.labels },
    };
    expect(computePodTemplateHash(reordered)).toBe(v.argoV1_9.hash);
    const labelled = structuredClone(v.input);
    labelled.metadata!.labels = { ...labelled.metadata!.labels, 'rollouts-pod-template-hash': 'x' };
    expect(computePodTemplateHash(labelled)).not.toBe(v.argoV1_9.hash);
  });
});

describe('taking over an Argo-managed Rollout: the ReplicaSet is found by its hash label', () => {
  const template: PodTemplateSpec = {
    metadata: { labels: { app: 'web' } },
    spec: {
      containers: [
        { name: 'web', image: 'nginx:1.25', volumeMounts: [{ name: 'conf', mountPath: '/etc/web' }] },
      ],
      volumes: [{ name: 'conf', configMap: { name: 'web' } }],
    },
  };
  // The template as the API server stores it on the ReplicaSet Argo created: defaulted, including the
  // configMap defaultMode that podTemplateEqualIgnoreHash does not know about.
  const liveTemplate = (hash: string): PodTemplateSpec => ({
    metadata: { creationTimestamp: null, labels: { app: 'web', 'rollouts-pod-template-hash': hash } },
    spec: {
      containers: [
        {
          name: 'web',
          image: 'nginx:1.25',
          imagePullPolicy: 'IfNotPresent',
          resources: {},
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          volumeMounts: [{ name: 'conf', mountPath: '/etc/web' }],
        },
      ],
      volumes: [{ name: 'conf', configMap: { name: 'web', defaultMode: 420 } }],
      dnsPolicy: 'ClusterFirst',
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: {},
      terminationGracePeriodSeconds: 30,
    },
  });
  const argoReplicaSet = (hash: string): ReplicaSet =>
    webReplicaSet(hash, { replicas: 3, revision: 1, template: liveTemplate(hash) });
  const rollout = (status: RolloutStatus): Rollout => ({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: {
      name: 'web',
      namespace: 'ns',
      uid: 'u1',
      generation: 1,
      annotations: { 'rollout.argoproj.io/revision': '1' },
    },
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template, strategy: { canary: {} } },
    status,
  });
  const plan = (rs: ReplicaSet) =>
    planRollout({
      rollout: rollout({
        stableRS: rs.metadata.labels!['rollouts-pod-template-hash'],
        currentPodHash: rs.metadata.labels!['rollouts-pod-template-hash'],
      }),
      replicaSets: [rs],
      services: {},
      analysisRuns: [],
      lookupTemplate: () => undefined,
      nowMs: Date.parse('2026-03-01T12:00:00Z'),
    });
  const v19 = computePodTemplateHash(template);
  const v18 = computePodTemplateHash(template, undefined, 'argo-v1.8');

  it.each([
    ['v1.9+', v19],
    ['v1.8', v18],
  ])(
    'adopts the ReplicaSet an Argo %s controller created, with no new ReplicaSet and no collision',
    (_, hash) => {
      const p = plan(argoReplicaSet(hash));
      expect(p.actions.filter((a) => a.kind === 'createReplicaSet')).toEqual([]);
      expect(p.status.collisionCount).toBeUndefined();
      expect(p.status.currentPodHash).toBe(hash);
      expect(p.status.stableRS).toBe(hash);
    },
  );

  it('adopts a ReplicaSet labelled by another hashing algorithm when its template is semantically equal', () => {
    const rs = argoReplicaSet('6d4b9c8f7');
    rs.spec.template.spec!.volumes = [{ name: 'conf', configMap: { name: 'web' } }];
    const p = plan(rs);
    expect(p.actions.filter((a) => a.kind === 'createReplicaSet')).toEqual([]);
    expect(p.status.currentPodHash).toBe('6d4b9c8f7');
  });

  it('creates a ReplicaSet under the v1.9+ hash when nothing matches', () => {
    const rs = argoReplicaSet('6d4b9c8f7');
    rs.spec.template.spec!.containers = [{ name: 'web', image: 'nginx:1.24' }];
    const created = plan(rs).actions.filter((a) => a.kind === 'createReplicaSet');
    expect(created.map((a) => (a.kind === 'createReplicaSet' ? a.rs.metadata.name : ''))).toEqual([
      `web-${v19}`,
    ]);
  });
});

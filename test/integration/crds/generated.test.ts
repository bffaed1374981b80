// crds/*.yaml are what scripts/cluster-crds.ts generates, and every schema in them is structural and
// usable on Kubernetes 1.20: each node has a type (or is int-or-string / preserved), no CEL rules.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allCrds, CRDS_DIR, renderCrd, type Schema } from '../../../scripts/cluster-crds.ts';

function structuralProblems(schema: Schema, path: string): string[] {
  const problems: string[] = [];
  if ('x-kubernetes-validations' in schema)
    problems.push(`${path}: x-kubernetes-validations (CEL) is not supported by 1.20`);
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  if (typeof schema.type !== 'string' && !intOrString) problems.push(`${path}: no type`);
  if (schema.properties !== undefined && schema.type !== 'object')
    problems.push(`${path}: properties on a non-object`);
  for (const [key, child] of Object.entries(
    (schema.properties as Record<string, Schema> | undefined) ?? {},
  )) {
    problems.push(...structuralProblems(child, `${path}.${key}`));
  }
  if (schema.items !== undefined) problems.push(...structuralProblems(schema.items as Schema, `${path}[]`));
  if (typeof schema.additionalProperties === 'object') {
    problems.push(...structuralProblems(schema.additionalProperties as Schema, `${path}{}`));
  }
  for (const name of (schema.required as string[] | undefined) ?? []) {
    if (!(name in ((schema.properties as Schema | undefined) ?? {})))
      problems.push(`${path}: required ${name} is not a property`);
  }
  return problems;
}

describe('crds/', () => {
  const generated = allCrds();

  it('holds exactly what scripts/cluster-crds.ts generates (run `node scripts/cluster-crds.ts` after editing it)', async () => {
    for (const [file, doc] of Object.entries(generated)) {
      expect(await readFile(join(CRDS_DIR, file), 'utf8'), file).toBe(renderCrd(doc));
    }
  });

  it('has structural schemas without CEL rules', () => {
    for (const [file, doc] of Object.entries(generated)) {
      const version = ((doc.spec as Schema).versions as Schema[])[0] as Schema;
      const root = (version.schema as Schema).openAPIV3Schema as Schema;
      expect(structuralProblems(root, file)).toEqual([]);
    }
  });

  it('declares Argo’s names, scopes, subresources and printer columns', async () => {
    const rollout = parse(await readFile(join(CRDS_DIR, 'rollout.yaml'), 'utf8')) as Schema;
    const spec = rollout.spec as Schema;
    expect(spec.names).toMatchObject({ kind: 'Rollout', plural: 'rollouts', shortNames: ['ro'] });
    const version = (spec.versions as Schema[])[0] as Schema;
    expect(version.subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.HPAReplicas',
        labelSelectorPath: '.status.selector',
      },
    });
    expect((version.additionalPrinterColumns as Schema[]).map((c) => `${c.name}=${c.jsonPath}`)).toEqual([
      'Desired=.spec.replicas',
      'Current=.status.replicas',
      'Up-to-date=.status.updatedReplicas',
      'Available=.status.availableReplicas',
      'Age=.metadata.creationTimestamp',
    ]);
    const shortNames = Object.values(generated).map(
      (doc) => ((doc.spec as Schema).names as Schema).shortNames,
    );
    expect(shortNames).toEqual([['ro'], ['at'], ['cat'], ['ar'], ['exp']]);
    const clusterTemplate = generated['cluster-analysis-template.yaml'] as Schema;
    expect((clusterTemplate.spec as Schema).scope).toBe('Cluster');
  });
});

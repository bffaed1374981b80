// Experiment spec validation: an invalid spec gets phase Error, an InvalidSpec condition and a message
// naming the field, and nothing is created; fixing the spec lets it proceed.

import { describe, expect, it } from 'vitest';
import type { ExperimentSpec } from '../../../src/api/experiment.ts';
import { validateExperiment } from '../../../src/experiment/plan.ts';
import { ExperimentHarness, experiment, expTemplate } from '../../fixtures/experiment-harness.ts';

const cases: [string, Partial<ExperimentSpec>, string][] = [
  ['no templates', { templates: [] }, 'spec.templates: must have at least one template'],
  ['a template without a name', { templates: [expTemplate('')] }, 'spec.templates[0].name: is required'],
  [
    'duplicate template names',
    { templates: [expTemplate('a'), expTemplate('a')] },
    'spec.templates[1].name: duplicate template name "a"',
  ],
  [
    'an empty selector',
    { templates: [expTemplate('a', { selector: {} })] },
    'spec.templates[0].selector: is required and must not be empty',
  ],
  [
    'a selector the labels do not match',
    { templates: [expTemplate('a', { selector: { matchLabels: { app: 'other' } } })] },
    'spec.templates[0].selector: does not match template labels (app=other)',
  ],
  [
    'negative replicas',
    { templates: [expTemplate('a', { replicas: -1 })] },
    'spec.templates[0].replicas: must be a non-negative integer',
  ],
  ['a bad duration', { duration: '10 minutes' }, 'spec.duration: invalid duration "10 minutes"'],
  [
    'a negative progressDeadlineSeconds',
    { progressDeadlineSeconds: -5 },
    'spec.progressDeadlineSeconds: must be a non-negative integer',
  ],
  [
    'duplicate analysis names',
    {
      analyses: [
        { name: 'x', templateName: 't' },
        { name: 'x', templateName: 't' },
      ],
    },
    'spec.analyses[1].name: duplicate analysis name "x"',
  ],
  [
    'an analysis without templateName',
    { analyses: [{ name: 'x', templateName: '' }] },
    'spec.analyses[0].templateName: is required',
  ],
];

describe('Experiment validation', () => {
  it.each(cases)('rejects %s', (_what, spec, message) => {
    expect(validateExperiment(experiment('exp', spec))).toBe(message);
  });

  it('accepts the default two-template experiment', () => {
    expect(validateExperiment(experiment('exp', { duration: '1m30s' }))).toBeUndefined();
  });

  it('an invalid spec ends in phase Error with an InvalidSpec condition and creates nothing; a fix clears it', async () => {
    const h = new ExperimentHarness(experiment('exp', { duration: 'soon' }));
    await h.step();
    const st = h.ex().status!;
    expect(st.phase).toBe('Error');
    expect(st.message).toBe('InvalidSpec: spec.duration: invalid duration "soon"');
    expect(st.conditions).toEqual([
      expect.objectContaining({
        type: 'InvalidSpec',
        status: 'True',
        message: 'spec.duration: invalid duration "soon"',
      }),
    ]);
    expect(h.rs('baseline')).toBeUndefined();
    expect(h.eventReasons()).toContain('InvalidSpec');
    await h.patchSpec({ duration: '1m' });
    await h.step();
    expect(h.ex().status?.phase).toBe('Pending');
    expect(h.ex().status?.conditions).toBeUndefined();
    expect(h.rs('baseline')?.spec.replicas).toBe(1);
  });
});

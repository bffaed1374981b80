// The verbs end to end over a recording in-memory API: which request each sends (kind, patch type,
// subresource, body), what they print and their exit codes, and the argument errors naming the flag.
// The real API server is exercised by test/integration/cli/rollouts.test.ts; this fake exists for what
// a real server cannot be made to do on demand (no status subresource, write conflicts).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kind, KubeObject } from '../../../src/api/meta.ts';
import type { Rollout } from '../../../src/api/rollout.ts';
import { parseVerbArgs } from '../../../src/cli/flags.ts';
import { type CliApi, CliApiError, type ObjectList, type PatchKind } from '../../../src/cli/kube.ts';
import type { CliIo } from '../../../src/cli/rollouts/command.ts';
import { runRolloutVerb } from '../../../src/cli/rollouts/index.ts';
import { lintText } from '../../../src/cli/rollouts/lint.ts';

interface Sent {
  verb: 'patch' | 'update';
  kind: Kind;
  name: string;
  body: unknown;
  patchKind?: PatchKind;
  subresource?: string;
}

class FakeApi implements CliApi {
  readonly namespace = 'ns';
  readonly sent: Sent[] = [];
  objects = new Map<string, KubeObject>();
  noStatusSubresource = false;
  conflictsLeft = 0;

  put(obj: KubeObject): void {
    this.objects.set(`${obj.kind}/${obj.metadata.name}`, obj);
  }

  async get<T extends KubeObject>(kind: Kind, _ns: string, name: string): Promise<T> {
    const obj = this.objects.get(`${kind}/${name}`);
    if (obj === undefined)
      throw new CliApiError(404, 'NotFound', `${kind.toLowerCase()}s "${name}" not found`);
    return structuredClone(obj) as T;
  }

  async list<T extends KubeObject>(kind: Kind): Promise<ObjectList<T>> {
    return { items: [...this.objects.values()].filter((o) => o.kind === kind) as T[], resourceVersion: '1' };
  }

  async patch<T extends KubeObject>(
    kind: Kind,
    ns: string,
    name: string,
    body: unknown,
    patchKind: PatchKind,
    subresource?: 'status',
  ): Promise<T> {
    if (subresource === 'status' && this.noStatusSubresource)
      throw new CliApiError(404, 'NotFound', 'the server could not find the requested resource');
    this.sent.push({ verb: 'patch', kind, name, body, patchKind, ...(subresource ? { subresource } : {}) });
    return this.get<T>(kind, ns, name);
  }

  async update<T extends KubeObject>(kind: Kind, _ns: string, name: string, obj: T): Promise<T> {
    if (this.conflictsLeft > 0) {
      this.conflictsLeft--;
      throw new CliApiError(409, 'Conflict', 'the object has been modified');
    }
    this.sent.push({ verb: 'update', kind, name, body: obj });
    this.put(obj);
    return obj;
  }

  async watch(): Promise<void> {}
  async close(): Promise<void> {}
}

function harness(api: FakeApi): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    isTTY: false,
    nowMs: () => Date.parse('2026-03-01T12:00:00Z'),
    env: {},
    connect: async () => ({ ok: true, api }),
    signal: new AbortController().signal,
  };
  return { io, out: () => out, err: () => err };
}

function rollout(status: Rollout['status'], extra: Partial<Rollout['spec']> = {}): Rollout {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'ro', namespace: 'ns', uid: 'uid-ro', generation: 2 },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'ro' } },
      template: {
        metadata: { labels: { app: 'ro' } },
        spec: { containers: [{ name: 'app', image: 'app:v2' }] },
      },
      strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
      ...extra,
    },
    status: { observedGeneration: '2', ...status },
  };
}

describe('action verbs', () => {
  it('pause patches spec.paused on each rollout named and says so as Argo does', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    api.put({ ...rollout({}), metadata: { name: 'ro2' } } as Rollout);
    const h = harness(api);
    expect(await runRolloutVerb('pause', ['ro', 'ro2', '-n', 'ns'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      { verb: 'patch', kind: 'Rollout', name: 'ro', body: { spec: { paused: true } }, patchKind: 'merge' },
      { verb: 'patch', kind: 'Rollout', name: 'ro2', body: { spec: { paused: true } }, patchKind: 'merge' },
    ]);
    expect(h.out()).toBe("rollout 'ro' paused\nrollout 'ro2' paused\n");
  });

  it('abort and retry patch the status subresource', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    const h = harness(api);
    expect(await runRolloutVerb('abort', ['ro'], h.io)).toBe(0);
    expect(await runRolloutVerb('retry', ['rollout', 'ro'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'Rollout',
        name: 'ro',
        body: { status: { abort: true } },
        patchKind: 'merge',
        subresource: 'status',
      },
      {
        verb: 'patch',
        kind: 'Rollout',
        name: 'ro',
        body: { status: { abort: false } },
        patchKind: 'merge',
        subresource: 'status',
      },
    ]);
    expect(h.out()).toBe("rollout 'ro' aborted\nrollout 'ro' retried\n");
  });

  it('retry experiment clears the Experiment status through the status subresource', async () => {
    const api = new FakeApi();
    api.put({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Experiment', metadata: { name: 'lab' } });
    const h = harness(api);
    expect(await runRolloutVerb('retry', ['exp', 'lab'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'Experiment',
        name: 'lab',
        body: { status: null },
        patchKind: 'merge',
        subresource: 'status',
      },
    ]);
    expect(h.out()).toBe("experiment 'lab' retried\n");
  });

  it('terminate analysisrun and terminate experiment set spec.terminate', async () => {
    const api = new FakeApi();
    api.put({ apiVersion: 'argoproj.io/v1alpha1', kind: 'AnalysisRun', metadata: { name: 'run' } });
    api.put({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Experiment', metadata: { name: 'lab' } });
    const h = harness(api);
    expect(await runRolloutVerb('terminate', ['ar', 'run'], h.io)).toBe(0);
    expect(await runRolloutVerb('terminate', ['experiment', 'lab'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'AnalysisRun',
        name: 'run',
        body: { spec: { terminate: true } },
        patchKind: 'merge',
      },
      {
        verb: 'patch',
        kind: 'Experiment',
        name: 'lab',
        body: { spec: { terminate: true } },
        patchKind: 'merge',
      },
    ]);
    expect(h.out()).toBe("analysisrun 'run' terminated\nexperiment 'lab' terminated\n");
  });

  it('abort falls back to the main resource when the status subresource is not served', async () => {
    const api = new FakeApi();
    api.noStatusSubresource = true;
    api.put(rollout({}));
    expect(await runRolloutVerb('abort', ['ro'], harness(api).io)).toBe(0);
    expect(api.sent).toEqual([
      { verb: 'patch', kind: 'Rollout', name: 'ro', body: { status: { abort: true } }, patchKind: 'merge' },
    ]);
  });

  it('promote of a manually paused canary at a pause step: status patch first, then spec', async () => {
    const api = new FakeApi();
    api.put(
      rollout(
        {
          currentStepIndex: 1,
          controllerPause: true,
          pauseConditions: [{ reason: 'CanaryPauseStep', startTime: 't' }],
        },
        { paused: true },
      ),
    );
    const h = harness(api);
    expect(await runRolloutVerb('promote', ['ro'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'Rollout',
        name: 'ro',
        body: { status: { pauseConditions: null } },
        patchKind: 'merge',
        subresource: 'status',
      },
      { verb: 'patch', kind: 'Rollout', name: 'ro', body: { spec: { paused: false } }, patchKind: 'merge' },
    ]);
    expect(h.out()).toBe("rollout 'ro' promoted\n");
  });

  it('promote without a status subresource sends Argo’s unified patch instead', async () => {
    const api = new FakeApi();
    api.noStatusSubresource = true;
    api.put(rollout({ currentStepIndex: 0 }));
    expect(await runRolloutVerb('promote', ['ro'], harness(api).io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'Rollout',
        name: 'ro',
        body: { spec: { paused: false }, status: { pauseConditions: null, currentStepIndex: 1 } },
        patchKind: 'merge',
      },
    ]);
  });

  it('promote --full says fully promoted', async () => {
    const api = new FakeApi();
    api.put(rollout({ currentPodHash: 'b', stableRS: 'a' }));
    const h = harness(api);
    expect(await runRolloutVerb('promote', ['ro', '--full'], h.io)).toBe(0);
    expect(api.sent[0]?.body).toEqual({ status: { promoteFull: true } });
    expect(h.out()).toBe("rollout 'ro' fully promoted\n");
  });

  it('a missing rollout prints the API server’s message and exits 1', async () => {
    const h = harness(new FakeApi());
    expect(await runRolloutVerb('promote', ['nope'], h.io)).toBe(1);
    expect(h.err()).toBe('Error: rollouts "nope" not found\n');
  });

  it('restart sets spec.restartAt to now plus --in', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    const h = harness(api);
    expect(await runRolloutVerb('restart', ['ro', '--in', '30s'], h.io)).toBe(0);
    expect(api.sent[0]?.body).toEqual({ spec: { restartAt: '2026-03-01T12:00:30Z' } });
    expect(h.out()).toBe("rollout 'ro' restarts in 30s\n");
  });

  it('set image writes the whole rollout back and retries on conflicts', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    api.conflictsLeft = 2;
    const h = harness(api);
    expect(await runRolloutVerb('set', ['image', 'ro', 'app=app:v3'], h.io)).toBe(0);
    expect(api.sent).toHaveLength(1);
    const written = api.sent[0]?.body as Rollout;
    expect(written.spec.template?.spec?.containers).toEqual([{ name: 'app', image: 'app:v3' }]);
    expect(h.out()).toBe('rollout "ro" image updated\n');
  });

  it('set image names a missing container and exits 1', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    const h = harness(api);
    expect(await runRolloutVerb('set', ['image', 'ro', 'web=x'], h.io)).toBe(1);
    expect(h.err()).toBe('Error: unable to find container named "web"\n');
    expect(api.sent).toEqual([]);
  });

  it('undo restores the previous revision’s template with a JSON patch, and skips when already there', async () => {
    const api = new FakeApi();
    api.put(rollout({}));
    const rs = (rev: number, image: string): KubeObject =>
      ({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `ro-${rev}`,
          annotations: { 'rollout.argoproj.io/revision': String(rev) },
          labels: { app: 'ro', 'rollouts-pod-template-hash': `h${rev}` },
          ownerReferences: [
            {
              apiVersion: 'argoproj.io/v1alpha1',
              kind: 'Rollout',
              name: 'ro',
              uid: 'uid-ro',
              controller: true,
            },
          ],
        },
        spec: {
          selector: {},
          template: {
            metadata: { labels: { app: 'ro', 'rollouts-pod-template-hash': `h${rev}` } },
            spec: { containers: [{ name: 'app', image }] },
          },
        },
      }) as KubeObject;
    api.put(rs(1, 'app:v1'));
    api.put(rs(2, 'app:v2'));
    const h = harness(api);
    expect(await runRolloutVerb('undo', ['ro'], h.io)).toBe(0);
    expect(api.sent).toEqual([
      {
        verb: 'patch',
        kind: 'Rollout',
        name: 'ro',
        patchKind: 'json',
        body: [
          {
            op: 'replace',
            path: '/spec/template',
            value: {
              metadata: { labels: { app: 'ro' } },
              spec: { containers: [{ name: 'app', image: 'app:v1' }] },
            },
          },
        ],
      },
    ]);
    expect(h.out()).toBe("rollout 'ro' undo\n");
    const h2 = harness(api);
    expect(await runRolloutVerb('undo', ['ro', '--to-revision', '2'], h2.io)).toBe(0);
    expect(h2.out()).toBe('skipped rollback (current template already matches revision 2)\n');
    expect(api.sent).toHaveLength(1);
  });
});

describe('status', () => {
  it.each<[string, Rollout['status'], number, string, string]>([
    ['Healthy prints the phase and exits 0', { phase: 'Healthy', message: '' }, 0, 'Healthy\n', ''],
    [
      'Paused prints phase - message and exits 0',
      { phase: 'Paused', message: 'CanaryPauseStep' },
      0,
      'Paused - CanaryPauseStep\n',
      '',
    ],
    [
      'Degraded exits 1 with Argo’s message',
      { phase: 'Degraded', message: 'RolloutAborted: Rollout aborted update to revision 2' },
      1,
      'Degraded\n',
      'Error: The rollout is in a degraded state with message: RolloutAborted: Rollout aborted update to revision 2\n',
    ],
  ])('--watch=false: %s', async (_n, status, code, out, err) => {
    const api = new FakeApi();
    api.put(rollout(status));
    const h = harness(api);
    expect(await runRolloutVerb('status', ['ro', '--watch=false'], h.io)).toBe(code);
    expect(h.out()).toBe(out);
    expect(h.err()).toBe(err);
  });
});

describe('arguments', () => {
  it.each<[string, string[], string]>([
    ['unknown flag', ['promote', 'ro', '--bogus'], 'Error: unknown flag: --bogus'],
    ['missing flag value', ['pause', 'ro', '--namespace'], 'Error: flag needs an argument: --namespace'],
    ['missing name', ['abort'], 'Error: abort needs a ROLLOUT_NAME'],
    [
      'retry without a type',
      ['retry', 'my-ro'],
      'Error: retry: unsupported resource type "my-ro" (supported: rollout, experiment)',
    ],
    [
      'bad CONTAINER=IMAGE',
      ['set', 'image', 'ro', 'nginx'],
      'Error: set image: "nginx" is not CONTAINER=IMAGE',
    ],
    [
      'bad --to-revision',
      ['undo', 'ro', '--to-revision', 'x'],
      'Error: --to-revision: must be a non-negative integer, got "x"',
    ],
    [
      'bad --timeout',
      ['status', 'ro', '--timeout', '5 minutes'],
      'Error: --timeout: invalid duration "5 minutes"',
    ],
    ['bad --in', ['restart', 'ro', '--in', 'soon'], 'Error: --in: invalid duration "soon"'],
    ['lint without -f', ['lint'], 'Error: lint needs -f FILE'],
    [
      'terminate of an unknown type',
      ['terminate', 'rollout', 'ro'],
      'Error: terminate: unsupported resource type "rollout" (supported: analysisrun, experiment)',
    ],
  ])('%s is a usage error naming it (exit 2)', async (_n, argv, message) => {
    const h = harness(new FakeApi());
    expect(await runRolloutVerb(argv[0]!, argv.slice(1), h.io)).toBe(2);
    expect(h.err().startsWith(message)).toBe(true);
  });

  it('accepts -n, --namespace=, --kubeconfig and --context, and cobra’s --flag=false', () => {
    const parsed = parseVerbArgs(['ro', '-n', 'a', '--context=c', '--kubeconfig', 'k', '--watch=false'], {
      watch: { type: 'boolean', short: 'w' },
    });
    expect(parsed).toEqual({
      ok: true,
      values: { namespace: 'a', context: 'c', kubeconfig: 'k', watch: false },
      positionals: ['ro'],
    });
  });
});

describe('lint', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-lint-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const valid = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: good}
spec:
  replicas: 2
  selector: {matchLabels: {app: good}}
  template:
    metadata: {labels: {app: good}}
    spec: {containers: [{name: app, image: nginx}]}
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {duration: 30s}}]
---
apiVersion: v1
kind: Service
metadata: {name: svc}
spec: {selector: {app: good}, ports: [{port: 80}]}
`;

  it('accepts a valid file (exit 0, no output)', async () => {
    const file = join(dir, 'valid.yaml');
    await writeFile(file, valid);
    const h = harness(new FakeApi());
    expect(await runRolloutVerb('lint', ['-f', file], h.io)).toBe(0);
    expect(h.out()).toBe('');
    expect(h.err()).toBe('');
  });

  it('names the document, the rollout and the field of each problem (exit 1)', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(
      file,
      `${valid}---\n${valid.split('---')[0]!.replace('name: good', 'name: bad').replace('setWeight: 20', 'setWeight: 120')}`,
    );
    const h = harness(new FakeApi());
    expect(await runRolloutVerb('lint', ['-f', file], h.io)).toBe(1);
    expect(h.out()).toMatch(
      /^document 3: Rollout "bad": spec\.strategy\.canary\.steps\[0\]\.setWeight: Invalid value: 120/,
    );
    expect(h.err()).toMatch(/^Error: document 3: Rollout "bad"/);
  });

  it('reports both strategies, no strategy, and broken YAML', () => {
    expect(
      lintText(
        'apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: x}\nspec: {strategy: {}}\n',
      )[0],
    ).toMatch(/spec\.strategy/);
    expect(
      lintText(
        'kind: Rollout\napiVersion: argoproj.io/v1alpha1\nmetadata: {name: x}\nspec: {strategy: {canary: {}, blueGreen: {activeService: a}}}\n',
      )[0],
    ).toMatch(/Multiple strategies/);
    expect(lintText('a: [1, 2\n')[0]).toMatch(/^YAML: /);
  });

  it('a missing file is an error naming it', async () => {
    const h = harness(new FakeApi());
    expect(await runRolloutVerb('lint', ['-f', join(dir, 'missing.yaml')], h.io)).toBe(1);
    expect(h.err()).toContain('missing.yaml: no such file or directory');
  });
});

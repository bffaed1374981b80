// scripts/benchmarks-doc.ts: docs/benchmarks.md has one section per bench/results/*.json, each headed by
// the date and machine of its run, and `--check` passes on the committed page and fails, naming the page,
// when it is stale.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DOC_PATH,
  escapePipesInCode,
  machineLine,
  machineOf,
  RESULTS_DIR,
  type ResultsFile,
  readResults,
  renderBenchmarksDoc,
  run,
} from '../../../scripts/benchmarks-doc.ts';

const MACHINE = {
  date: '2026-01-02T03:04:05.678Z',
  node: 'v24.0.0',
  nproc: 2,
  cpuModel: 'Test CPU',
  kernel: '6.1.0',
};

let tempDir: string | undefined;
afterEach(() => {
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
});

/** A temp copy of the committed results with a doc path beside them. */
function tempPaths(): { results: string; doc: string } {
  tempDir = mkdtempSync(join(tmpdir(), 'benchmarks-doc-'));
  for (const file of readResults()) {
    writeFileSync(join(tempDir, file.name), JSON.stringify(file.value));
  }
  return { results: tempDir, doc: join(tempDir, 'benchmarks.md') };
}

describe('docs/benchmarks.md', () => {
  it('gives every results file a section headed by the date and machine of its run', () => {
    const files = readResults();
    expect(files.length).toBeGreaterThan(0);
    const doc = renderBenchmarksDoc(files);
    for (const file of files) {
      const m = machineOf(file);
      expect(doc, file.name).toContain(`${machineLine(m)}`);
      expect(doc, file.name).toContain(`Source: \`bench/results/${file.name}\``);
      expect(machineLine(m), file.name).toContain(m.date.slice(0, 10));
      expect(machineLine(m), file.name).toContain(m.cpuModel);
    }
  });

  it('passes --check on the committed page', () => {
    const result = run(['--check']);
    expect(result.message).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(DOC_PATH, 'utf8')).toBe(renderBenchmarksDoc(readResults(RESULTS_DIR)));
  });

  it('fails --check naming the page when it is stale or missing, and writes it without --check', () => {
    const paths = tempPaths();
    const missing = run(['--check'], paths);
    expect(missing.code).toBe(1);
    expect(missing.message).toMatch(/benchmarks\.md is missing/);
    writeFileSync(paths.doc, '# Benchmarks\n\nedited by hand\n');
    const stale = run(['--check'], paths);
    expect(stale.code).toBe(1);
    expect(stale.message).toMatch(/benchmarks\.md is out of date/);
    expect(run([], paths).code).toBe(0);
    expect(run(['--check'], paths)).toEqual({ code: 0, message: '' });
  });

  it('gives a results file without a renderer a section with its run and its stored tables', () => {
    const other: ResultsFile = {
      name: 'new-bench.json',
      value: { machine: MACHINE, tables: { main: '| a |\n|---|\n| 1 |' } },
    };
    const doc = renderBenchmarksDoc([other]);
    expect(doc).toContain('## new-bench.json');
    expect(doc).toContain('Run: 2026-01-02 03:04 UTC, 2 CPUs (Test CPU), Node v24.0.0, Linux 6.1.0.');
    expect(doc).toContain('| a |\n|---|\n| 1 |');
  });

  it('names the file and the field when a results file lacks what its section needs', () => {
    expect(() => renderBenchmarksDoc([{ name: 'x.json', value: { machine: { date: 'today' } } }])).toThrow(
      'bench/results/x.json: node: missing or of the wrong type',
    );
    expect(() => renderBenchmarksDoc([{ name: 'proxy.json', value: { machine: MACHINE } }])).toThrow(
      'bench/results/proxy.json: settings: missing or of the wrong type',
    );
  });

  it('marks a quick run', () => {
    const doc = renderBenchmarksDoc([{ name: 'q.json', value: { ...MACHINE, settings: { quick: true } } }]);
    expect(doc).toContain('A quick run');
  });

  it('escapes the pipes of code spans so that a condition stays in its table cell', () => {
    expect(escapePipesInCode('| `a || b` | 1 |')).toBe('| `a \\|\\| b` | 1 |');
    expect(escapePipesInCode('| `a \\| b` | 1 |')).toBe('| `a \\| b` | 1 |');
  });
});

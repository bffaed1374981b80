// The docs stay true where a machine can tell: every relative link in README.md, docs/*.md and
// bench/README.md resolves to a file or folder of the repository, and a `#fragment` to a heading of the
// target (GitHub's anchors); the front door stays short; docs/architecture.md's layer table is the
// LAYERS of scripts/check-layers.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS } from '../../../scripts/check-layers.ts';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const README_MAX_LINES = 150;

const DOCS = [
  'README.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/**
 * Targets of inline links `[text](target)` outside fenced code, HTML comments and code spans. Code spans
 * are blanked, not removed, so a code span as link text ([`proxy/`](../proxy/)) still leaves its link.
 */
function linkTargets(text: string): string[] {
  const plain = text
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/`[^`\n]*`/g, '`x`');
  return [...plain.matchAll(/\[[^\]\n]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** GitHub's heading anchor: lower case, punctuation dropped except - and _, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of text.replace(/^```[\s\S]*?^```/gm, '').split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Problems with the relative links of one markdown file (repository path). */
function brokenLinks(doc: string): string[] {
  const text = readFileSync(join(ROOT, doc), 'utf8');
  const problems: string[] = [];
  for (const target of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [pathPart, fragment] = target.split('#', 2) as [string, string | undefined];
    const file = pathPart === '' ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), pathPart);
    const rel = relative(ROOT, file);
    if (rel.startsWith('..')) {
      problems.push(`${doc}: ${target} points outside the repository`);
      continue;
    }
    if (!existsSync(file)) {
      problems.push(`${doc}: ${target}: ${rel} does not exist`);
      continue;
    }
    if (fragment === undefined) continue;
    if (statSync(file).isDirectory() || !file.endsWith('.md')) {
      problems.push(`${doc}: ${target}: a #fragment needs a markdown file`);
      continue;
    }
    if (!anchorsOf(readFileSync(file, 'utf8')).has(fragment)) {
      problems.push(`${doc}: ${target}: ${rel} has no heading #${fragment}`);
    }
  }
  return problems;
}

describe('the docs', () => {
  it('finds the docs to check', () => {
    expect(DOCS).toContain('docs/architecture.md');
    expect(DOCS.length).toBeGreaterThan(3);
  });

  it.each(DOCS)('%s: every relative link resolves to a file and heading of the repository', (doc) => {
    expect(brokenLinks(doc)).toEqual([]);
  });

  it('README.md stays a front door', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length - 1;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it("docs/architecture.md's layer table is the LAYERS of scripts/check-layers.ts", () => {
    const text = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const section = text.split(/^## /m).find((s) => s.startsWith('Layers\n'));
    expect(section, 'docs/architecture.md has a "## Layers" section').toBeDefined();
    const table: Record<string, string[]> = {};
    for (const line of section!.split('\n')) {
      const m = /^\| `([a-z-]+)` \| (.*) \|$/.exec(line);
      if (m === null) continue;
      table[m[1]!] = m[2] === 'nothing of ours' ? [] : m[2]!.split(', ').map((c) => c.replaceAll('`', ''));
    }
    expect(table).toEqual(Object.fromEntries(Object.entries(LAYERS).map(([k, v]) => [k, [...v]])));
  });
});

describe('the link checker', () => {
  it('reads link targets outside code and GitHub anchors', () => {
    expect(linkTargets('see [`a.md`](a.md#x) and [b](../b/) `[c](c.md)`\n```\n[d](d.md)\n```\n')).toEqual([
      'a.md#x',
      '../b/',
    ]);
    expect(anchorOf('What is built and what is not')).toBe('what-is-built-and-what-is-not');
    expect(anchorOf('Analysis: condition language and judge')).toBe('analysis-condition-language-and-judge');
    expect(anchorOf('The `sluice` CLI (also `kubectl sluice`)')).toBe('the-sluice-cli-also-kubectl-sluice');
  });
});

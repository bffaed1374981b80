#!/usr/bin/env node
// Entry point for `sluice` and `kubectl-sluice`. An installed package runs the tsc build (dist/, made by
// `npm pack` through prepack): Node refuses to strip types under node_modules. A checkout, where the
// TypeScript sources are, runs the sources, so a stale dist/ is never run by mistake.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(sources) ? sources.href : new URL('../dist/src/cli/main.js', import.meta.url).href);

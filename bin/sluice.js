#!/usr/bin/env node
// Entry point for `sluice` and `kubectl-sluice`. Node >= 22.18 runs the TypeScript sources directly.
import '../src/cli/main.ts';

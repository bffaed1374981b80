#!/usr/bin/env node
// kubectl's plugin completion hook (kubectl 1.26+): for `kubectl sluice ARGS... <TAB>` kubectl runs
// `kubectl_complete-sluice ARGS... CURRENT` and reads Cobra's completion format. Same as
// `sluice __complete ARGS... CURRENT`.
process.argv.splice(2, 0, '__complete');
await import('./sluice.js');

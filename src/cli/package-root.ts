// Files of the package found at run time (package.json, deploy/examples/routes.yaml): from the sources
// (src/cli/) the root is two folders up, from the tsc build (dist/src/cli/) three. The root is the first
// folder above this file whose package.json names the package.

import { readFileSync } from 'node:fs';

export interface PackageInfo {
  readonly root: URL;
  readonly version: string;
}

let found: PackageInfo | undefined;

export function packageInfo(): PackageInfo | undefined {
  if (found !== undefined) return found;
  for (const up of ['../../', '../../../']) {
    const root = new URL(up, import.meta.url);
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') {
        found = { root, version: pkg.version };
        return found;
      }
    } catch {
      // not at this level
    }
  }
  return undefined;
}

/** A file shipped with the package, by its path from the package root. */
export function packageFile(path: string): URL {
  return new URL(path, packageInfo()?.root ?? new URL('../../', import.meta.url));
}

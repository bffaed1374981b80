// Reads the keys of a provider's Secret (datadog, newrelic) through the runner's resolver, as Argo's
// providers read `secret.Data[key]`: a missing key is absent, a missing Secret is an error.

import type { ProviderRequest } from './provider.ts';

export type SecretKeys = { ok: true; values: Record<string, string> } | { ok: false; error: string };

export async function readSecretKeys(
  request: ProviderRequest,
  namespace: string,
  name: string,
  keys: readonly string[],
): Promise<SecretKeys> {
  const resolve = request.resolveSecret;
  if (resolve === undefined) return { ok: false, error: `secret "${name}": no Secret access here` };
  const values: Record<string, string> = {};
  const errors: string[] = [];
  for (const key of keys) {
    const read = await resolve({ namespace, name, key });
    if (read.ok) values[key] = read.value;
    else errors.push(read.error);
  }
  // Every key failing for a reason other than "key not found" means the Secret itself is unreadable.
  if (
    Object.keys(values).length === 0 &&
    errors.length > 0 &&
    !errors.every((e) => /key .* not (found|given)/.test(e))
  ) {
    return { ok: false, error: errors[0]! };
  }
  return { ok: true, values };
}

// Provider lookup by the key a metric's `provider` block uses: `prometheus`, `web`, `job`, ... or, for
// `plugin: { <name>: cfg }`, the plugin name (e.g. `sluice/proxy`, `sluice/judge`).

import type { MetricProvider } from './provider.ts';

export interface ProviderRegistry {
  get(type: string): MetricProvider | undefined;
  readonly types: readonly string[];
}

/** The provider key of a metric's provider block, or undefined when there is not exactly one. */
export function providerType(provider: Readonly<Record<string, unknown>>): string | undefined {
  const keys = Object.keys(provider).filter((k) => provider[k] !== undefined && provider[k] !== null);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  if (key !== 'plugin') return key;
  const plugin = provider.plugin;
  if (typeof plugin !== 'object' || plugin === null || Array.isArray(plugin)) return undefined;
  const names = Object.keys(plugin);
  return names.length === 1 ? names[0] : undefined;
}

/** The configuration object under the provider key (or under plugin.<name>). */
export function providerConfig(provider: Readonly<Record<string, unknown>>): unknown {
  const type = providerType(provider);
  if (type === undefined) return undefined;
  if (Object.hasOwn(provider, type)) return provider[type];
  const plugin = provider.plugin as Record<string, unknown>;
  return plugin[type];
}

export function createProviderRegistry(providers: readonly MetricProvider[]): ProviderRegistry {
  const byType = new Map<string, MetricProvider>();
  for (const p of providers) byType.set(p.type, p);
  return {
    get: (type) => byType.get(type),
    types: [...byType.keys()],
  };
}

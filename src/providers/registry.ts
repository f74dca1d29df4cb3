import type { CapabilityTable } from '../model/capabilities.js';
import type { ProviderFactory } from './provider.js';
import { cloudflareProvider } from './cloudflare/cloudflare-provider.js';
import { mimecastProvider } from './mimecast/mimecast-provider.js';
import { msgraphProvider } from './msgraph/msgraph-provider.js';
import { sandboxProvider } from './sandbox/sandbox-provider.js';

export type ProviderRegistry = Readonly<Record<string, ProviderFactory>>;

/**
 * The built-in providers, by binding `type`: the one list of provider types. A binding of
 * any other type is refused by `validate` (the tenant schema is assembled from this map).
 */
export const builtinProviders: ProviderRegistry = {
  sandbox: sandboxProvider,
  cloudflare: cloudflareProvider,
  mimecast: mimecastProvider,
  msgraph: msgraphProvider,
};

/** What each provider type can do, as data for `validate` and the planner. */
export function capabilityTable(registry: ProviderRegistry): CapabilityTable {
  return Object.fromEntries(Object.entries(registry).map(([t, f]) => [t, f.capabilities]));
}

import type { ProviderType } from '../model/provider-kinds.js';
import type { ProviderFactory } from './provider.js';
import { cloudflareProvider } from './cloudflare/cloudflare-provider.js';
import { sandboxProvider } from './sandbox/sandbox-provider.js';

export type ProviderRegistry = Readonly<Partial<Record<ProviderType, ProviderFactory>>>;

/** The built-in providers, by binding `type`. Types without an entry are not available yet. */
export const builtinProviders: ProviderRegistry = {
  sandbox: sandboxProvider,
  cloudflare: cloudflareProvider,
};

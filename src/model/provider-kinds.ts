import type { Kind, ProviderBinding } from './kinds.js';

export type ProviderType = ProviderBinding['type'];

/**
 * Which kinds each provider type can serve. Data, not code: validation uses it to find
 * kinds no binding serves, and each provider declares these as its capabilities.
 */
export const PROVIDER_KINDS: Record<ProviderType, readonly Kind[]> = {
  sandbox: ['blockedSenders', 'exemptions', 'holds', 'routes'],
  cloudflare: ['blockedSenders', 'exemptions', 'routes'],
  msgraph: ['holds'],
  mimecast: ['blockedSenders', 'exemptions'],
};

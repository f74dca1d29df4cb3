import type { KindCapability, ProviderCapabilities } from '../../model/capabilities.js';

const FULL: KindCapability = { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' };

/** The sandbox stores every kind and every value the schema allows, with a marker. */
export const SANDBOX_CAPABILITIES: ProviderCapabilities = {
  kinds: { blockedSenders: FULL, exemptions: FULL, holds: FULL, routes: FULL },
};

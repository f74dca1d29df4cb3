import type { ProviderCapabilities } from '../../model/capabilities.js';

/**
 * Mimecast (vendor notes §2): blocked senders and anti-spoofing bypass policies are fully
 * managed and carry the marker in `description`. Routes and holds have no documented policy
 * API (§2.10, §2.12), so they are not served: a binding that would serve them is refused.
 */
export const MIMECAST_CAPABILITIES: ProviderCapabilities = {
  kinds: {
    blockedSenders: { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' },
    exemptions: {
      lifecycle: 'full',
      ownershipMarker: true,
      settles: 'immediately',
      values: [
        {
          field: 'recipient',
          absent: true,
          why: 'Mimecast anti-spoofing bypass policies match senders; a recipient exemption has no Mimecast policy mxpolicy can list and remove',
        },
        {
          field: 'bypass',
          allowed: ['spoof'],
          why: "Mimecast's anti-spoofing bypass skips only the spoofing check; skipping spam or every check would need managed senders, which Mimecast's API can neither list nor delete",
        },
      ],
    },
  },
};

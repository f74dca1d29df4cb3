import type { ProviderCapabilities } from '../../model/capabilities.js';

/**
 * Microsoft 365 through Graph eDiscovery (vendor notes §3.2): legal holds only. Hold
 * policies carry mxpolicy's marker in `description`, and are placed asynchronously
 * (`status` pending -> success | error), so apply reports `pending` and `settle` polls.
 */
export const MSGRAPH_CAPABILITIES: ProviderCapabilities = {
  kinds: {
    holds: {
      lifecycle: 'full',
      ownershipMarker: true,
      settles: 'eventually',
      values: [
        {
          field: 'matter',
          maxLength: 900,
          why: "the matter is kept in the hold policy's description, next to mxpolicy's ownership tag",
        },
      ],
    },
  },
};

import type { ProviderCapabilities, ValueRule } from '../../model/capabilities.js';

/**
 * Room left for the reason in `comments` (1,024 characters) after mxpolicy's tag. Cloudflare
 * counts characters, not bytes: its OpenAPI gives `comments` a JSON Schema `maxLength`, which
 * counts Unicode code points (so `é` and `😀` are one each).
 */
const REASON: ValueRule = {
  field: 'reason',
  maxLength: 880,
  unit: 'code-points',
  why: "Cloudflare stores 1,024 characters of comments, and mxpolicy's ownership tag takes the rest",
};

/**
 * The ticket rides in the same tag, URL-encoded, beside the apply run's id:
 * `[mxpolicy expires=YYYY-MM-DD ticket=T run=<12 hex>] ` is 55 characters plus the encoded
 * ticket, so 80 encoded characters of ticket and 880 of reason stay within the 1,024.
 * Counted encoded: `INC 4411` takes 10, a non-ASCII letter 6 or 9, an emoji 12.
 */
const TICKET: ValueRule = {
  field: 'ticket',
  maxLength: 80,
  unit: 'url-encoded',
  why: "Cloudflare stores 1,024 characters of comments, shared by the reason and mxpolicy's tag, which carries the ticket URL-encoded",
};

/**
 * Cloudflare Email Security (vendor notes §1): block_senders and allow_policies are fully
 * managed and carry the marker in `comments`; protected domains (routes) exist only when
 * set up in the dashboard and have no field for a marker.
 */
export const CLOUDFLARE_CAPABILITIES: ProviderCapabilities = {
  binding: {
    secretEnvFields: ['tokenEnv', 'readTokenEnv'],
    urlFields: ['baseUrl'],
    vendorHosts: ['api.cloudflare.com'],
  },
  kinds: {
    blockedSenders: {
      lifecycle: 'full',
      ownershipMarker: true,
      settles: 'immediately',
      values: [REASON, TICKET],
    },
    exemptions: {
      lifecycle: 'full',
      ownershipMarker: true,
      settles: 'immediately',
      values: [
        REASON,
        {
          field: 'bypass',
          allowed: ['spam', 'all'],
          why: 'Cloudflare allow policies skip the spam checks (acceptable sender) or every check (trusted sender); there is no spoof-only bypass',
        },
        {
          field: 'bypass',
          allowed: ['all'],
          when: { field: 'recipient', present: true },
          why: 'Cloudflare exempts a recipient from every check (is_exempt_recipient); write bypass: all',
        },
      ],
    },
    routes: {
      lifecycle: 'update-only',
      ownershipMarker: false,
      settles: 'immediately',
      values: [
        {
          field: 'port',
          allowed: [25],
          why: "Cloudflare's transport is a host name: delivery is always to its port 25",
        },
      ],
    },
  },
};

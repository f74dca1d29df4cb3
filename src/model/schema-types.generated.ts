// Generated from schemas/*.schema.json by `npm run gen:types`. Do not edit.

export type ProviderBinding = CloudflareBinding | SandboxBinding;

export type BlockedSenders = BlockedSender[];

export type Exemption = {
  /**
   * Sender address, domain, IP or CIDR.
   */
  sender?: string;
  /**
   * Recipient address or domain.
   */
  recipient?: string;
  /**
   * spam = spam, spoof and bulk checks; all = every check.
   */
  bypass: 'spam' | 'all';
  /**
   * Only exempt when SPF/DKIM/DMARC pass.
   */
  verifySender?: boolean;
  reason: string;
  /**
   * A calendar date, YYYY-MM-DD.
   */
  expires?: string;
};

export type Exemptions = Exemption[];

export type Holds = Hold[];

export type Routes = Route[];

export interface TenantFile {
  /**
   * Tenant id; equals the file name.
   */
  tenant: string;
  displayName?: string;
  /**
   * Binding name -> live system serving some kinds.
   */
  providers: {
    [k: string]: ProviderBinding;
  };
  /**
   * The tenant's own domains: blocking them, or a parent of one, is refused.
   */
  domains: string[];
  /**
   * Bundles whose entries this tenant takes.
   */
  include?: string[];
  /**
   * managed: only entries mxpolicy created are changed; authoritative: adopt and prune everything.
   */
  ownership?: 'managed' | 'authoritative';
  safety?: Safety;
  blockedSenders?: BlockedSenders;
  exemptions?: Exemptions;
  holds?: Holds;
  routes?: Routes;
}

export interface CloudflareBinding {
  /**
   * Which live system serves these kinds: cloudflare.
   */
  type: 'cloudflare';
  /**
   * Kinds this binding serves; default: every kind cloudflare supports (blockedSenders, exemptions, routes).
   *
   * @minItems 1
   */
  kinds?: [
    'blockedSenders' | 'exemptions' | 'routes',
    ...('blockedSenders' | 'exemptions' | 'routes')[],
  ];
  /**
   * Cloudflare account id: 32 hexadecimal digits (dashboard URL or account home).
   */
  account: string;
  /**
   * Name of the environment variable holding an API token with Email Security edit permission, for apply (and for plan when readTokenEnv is not given). Never the token itself.
   */
  tokenEnv: string;
  /**
   * Name of the environment variable holding a read-only API token (Email Security read), used by plan and drift instead of tokenEnv: the pull-request plan job then needs no write token. Never the token itself.
   */
  readTokenEnv?: string;
  /**
   * API base URL; default https://api.cloudflare.com/client/v4. Plain http only to 127.0.0.1 (an emulator).
   */
  baseUrl?: string;
}

export interface SandboxBinding {
  /**
   * Which live system serves these kinds: sandbox.
   */
  type: 'sandbox';
  /**
   * Kinds this binding serves; default: every kind sandbox supports (blockedSenders, exemptions, holds, routes).
   *
   * @minItems 1
   */
  kinds?: [
    'blockedSenders' | 'exemptions' | 'holds' | 'routes',
    ...('blockedSenders' | 'exemptions' | 'holds' | 'routes')[],
  ];
  /**
   * Folder of the state files, relative to the repository root (default .mxpolicy/sandbox).
   */
  dir?: string;
}

export interface Safety {
  /**
   * Deletes per tenant above which the plan is blocked.
   */
  maxDeletes?: number;
  /**
   * Share of live entries a plan may delete (applies once a tenant has 10+ entries).
   */
  maxDeletePercent?: number;
  maxUpdates?: number;
  /**
   * The broadest IP range a blocked or exempted sender may be: ranges with a shorter prefix are refused by validate. Default ipv4: 8, ipv6: 16 (never /0, a default-route half or all of 2000::/3).
   */
  minPrefix?: {
    /**
     * Shortest IPv4 prefix allowed (default 8).
     */
    ipv4?: number;
    /**
     * Shortest IPv6 prefix allowed (default 16).
     */
    ipv6?: number;
  };
}

export interface BlockedSender {
  /**
   * Email address, domain, IP address or CIDR.
   */
  sender: string;
  /**
   * Why it is blocked.
   */
  reason: string;
  /**
   * After this date the entry is planned for removal.
   */
  expires?: string;
  /**
   * Incident or change ticket.
   */
  ticket?: string;
}

export interface Hold {
  id: string;
  matter: string;
  /**
   * Mailboxes under hold (email addresses).
   *
   * @minItems 1
   */
  custodians: [string, ...string[]];
  /**
   * A calendar date, YYYY-MM-DD.
   */
  since?: string;
  released?: HoldRelease;
}

export interface HoldRelease {
  by: string;
  reason: string;
  /**
   * A calendar date, YYYY-MM-DD.
   */
  date: string;
}

export interface Route {
  domain: string;
  /**
   * Host name of the next hop.
   */
  deliverTo: string;
  port?: number;
  requireTls?: boolean;
}

export interface BundleFile {
  /**
   * Bundle name; equals the file name.
   */
  bundle: string;
  description?: string;
  blockedSenders?: BlockedSenders;
  exemptions?: Exemptions;
  holds?: Holds;
  routes?: Routes;
}

/** Every field of each kind's entry, from the schema (sorted): what a plan checksum covers. */
export const ENTRY_FIELDS = {
  blockedSenders: ['expires', 'reason', 'sender', 'ticket'],
  exemptions: ['bypass', 'expires', 'reason', 'recipient', 'sender', 'verifySender'],
  holds: ['custodians', 'id', 'matter', 'released', 'since'],
  routes: ['deliverTo', 'domain', 'port', 'requireTls'],
} as const;

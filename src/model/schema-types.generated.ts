// Generated from schemas/*.schema.json by `npm run gen:types`. Do not edit.

export type ProviderBinding = CloudflareBinding | MsgraphBinding | SandboxBinding;

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
   * Name of the environment variable holding an API token with Email Security read (plan) or edit (apply) permission. Never the token itself.
   */
  tokenEnv: string;
  /**
   * API base URL; default https://api.cloudflare.com/client/v4. Plain http only to 127.0.0.1 (an emulator).
   */
  baseUrl?: string;
}

export interface MsgraphBinding {
  /**
   * Which live system serves these kinds: msgraph.
   */
  type: 'msgraph';
  /**
   * Kinds this binding serves; default: every kind msgraph supports (holds).
   *
   * @minItems 1
   */
  kinds?: ['holds', ...'holds'[]];
  /**
   * Microsoft Entra tenant: its id (a GUID) or a verified domain, e.g. contoso.onmicrosoft.com.
   */
  tenantId: string;
  /**
   * Application (client) id of the app registration mxpolicy signs in as.
   */
  clientId: string;
  /**
   * Name of the environment variable holding the app registration's client secret. Never the secret itself.
   */
  secretEnv: string;
  /**
   * Id of the eDiscovery case holding mxpolicy's holds (Purview > eDiscovery > the case; Graph: /security/cases/ediscoveryCases/{id}). A case that does not exist or is closed makes the tenant error.
   */
  case: string;
  /**
   * Graph base URL; default https://graph.microsoft.com/v1.0. Plain http only to 127.0.0.1 (an emulator).
   */
  baseUrl?: string;
  /**
   * Microsoft Entra authority; default https://login.microsoftonline.com (tokens from {authorityUrl}/{tenantId}/oauth2/v2.0/token). Plain http only to 127.0.0.1.
   */
  authorityUrl?: string;
  /**
   * Most mailboxes mxpolicy puts in one hold policy (Purview's limit; default 1000). A hold with more custodians becomes several policies: ID, ID#2 … (ID#1 … #k for custodians: all).
   */
  maxSourcesPerPolicy?: number;
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
   * Mailboxes under hold: a list of email addresses, or `all` for every mailbox of the tenant's directory (providers that can list it, e.g. msgraph; users without mail and disabled accounts are skipped, and the hold follows the directory: new mailboxes are added on the next apply, ones that leave stay held).
   */
  custodians: [string, ...string[]] | 'all';
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

// Generated from schemas/*.schema.json by `npm run gen:types`. Do not edit.

export type ProviderBinding = CloudflareBinding | MimecastBinding | MsgraphBinding | SandboxBinding;

export type BlockedSenders = BlockedSender[];

export type Exemption = {
  /**
   * Mail FROM this sender is exempt: an email address, a domain, an IP address or a CIDR range. Give `sender` or `recipient`, not both.
   */
  sender?: string;
  /**
   * Mail TO this recipient is exempt: an email address or a domain. Give `sender` or `recipient`, not both.
   */
  recipient?: string;
  /**
   * Which checks the exempt mail skips: `spoof` (only the anti-spoofing check), `spam` (spam, spoofing and bulk only) or `all` (every check, malware and phishing included). Not every provider can express every value: validate says which.
   */
  bypass: 'spoof' | 'spam' | 'all';
  /**
   * Exempt only mail whose sender passes SPF, DKIM or DMARC (default `true`). `false` also exempts forged mail that merely claims to come from this sender.
   */
  verifySender?: boolean;
  /**
   * Why the exemption is needed, in words a reviewer understands (shown in the plan and the audit trail).
   */
  reason: string;
  /**
   * Optional. After this date (YYYY-MM-DD) the next plan removes the exemption. Recommended for `bypass: all`.
   */
  expires?: string;
};

export type Exemptions = Exemption[];

export type Holds = Hold[];

export type Routes = Route[];

export interface TenantFile {
  /**
   * Tenant id: lower-case letters, digits and '-'. Must equal the file name (`policies/tenants/<tenant>.yaml`).
   */
  tenant: string;
  /**
   * Optional. A human-readable name for plans, comments and reports, e.g. `ACME Europe`.
   */
  displayName?: string;
  /**
   * Where this tenant's entries live: binding name -> live system. Each binding serves some kinds (`kinds`, default every kind its provider supports); each kind must be served by exactly one binding.
   */
  providers: {
    [k: string]: ProviderBinding;
  };
  /**
   * The tenant's own domains. Blocking one of them, an address in one, or a parent of one is refused; routes may only name these domains.
   *
   * Items: One of the tenant's own domains, e.g. `acme.eu`.
   */
  domains: string[];
  /**
   * Bundles (`policies/bundles/<bundle>.yaml`) whose entries this tenant takes, e.g. `baseline`.
   *
   * Items: A bundle name, as in `policies/bundles/<bundle>.yaml`.
   */
  include?: string[];
  /**
   * Which live entries mxpolicy may change or delete: `managed` (default, only its own) or `authoritative` (everything, including entries made by hand in the vendor console).
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
   * Kinds this binding serves; default: every kind cloudflare supports (blockedSenders, exemptions, routes). Each kind is served by exactly one binding of the tenant.
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

export interface MimecastBinding {
  /**
   * Which live system serves these kinds: mimecast.
   */
  type: 'mimecast';
  /**
   * Kinds this binding serves; default: every kind mimecast supports (blockedSenders, exemptions). Each kind is served by exactly one binding of the tenant.
   *
   * @minItems 1
   */
  kinds?: ['blockedSenders' | 'exemptions', ...('blockedSenders' | 'exemptions')[]];
  /**
   * Client id of the API 2.0 application (Mimecast Administration > Services > API and Platform Integrations). Not a secret.
   */
  clientId: string;
  /**
   * Name of the environment variable holding the application's client secret. Never the secret itself.
   */
  secretEnv: string;
  /**
   * API 2.0 host; default https://api.services.mimecast.com (global, with failover). https://uk-api.services.mimecast.com or https://us-api.services.mimecast.com pin a region; plain http only to 127.0.0.1 (an emulator).
   */
  baseUrl?: string;
}

export interface MsgraphBinding {
  /**
   * Which live system serves these kinds: msgraph.
   */
  type: 'msgraph';
  /**
   * Kinds this binding serves; default: every kind msgraph supports (holds). Each kind is served by exactly one binding of the tenant.
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
   * Kinds this binding serves; default: every kind sandbox supports (blockedSenders, exemptions, holds, routes). Each kind is served by exactly one binding of the tenant.
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
   * Most deletes one plan may make for this tenant; above it the plan is blocked.
   */
  maxDeletes?: number;
  /**
   * Largest share (percent) of the tenant's live entries one plan may delete; applies once the tenant has 10 or more entries.
   */
  maxDeletePercent?: number;
  /**
   * Most updates one plan may make for this tenant; above it the plan is blocked.
   */
  maxUpdates?: number;
}

export interface BlockedSender {
  /**
   * Who is blocked: an email address (`ceo@lookalike.example`), a domain and its subdomains (`lookalike.example`), an IPv4/IPv6 address or a CIDR range (`203.0.113.0/24`). Never one of the tenant's own domains or a public suffix such as `com` (`mxpolicy validate` checks both).
   */
  sender: string;
  /**
   * Why it is blocked, in words a reviewer understands (shown in the plan and the audit trail).
   */
  reason: string;
  /**
   * Optional. After this date (YYYY-MM-DD) the next plan removes the entry.
   */
  expires?: string;
  /**
   * Optional. The incident or change ticket that asked for the block, e.g. `INC-4411`.
   */
  ticket?: string;
}

export interface Hold {
  /**
   * The hold's stable id, e.g. `LH-2026-017`; the hold is tracked by it, so never reuse or rename it.
   */
  id: string;
  /**
   * The legal matter the hold preserves mail for, e.g. `Doe v. ACME GmbH`.
   */
  matter: string;
  /**
   * Mailboxes under hold: a list of email addresses, or `all` for every mailbox of the tenant's directory (providers that can list it, e.g. msgraph; users without mail and disabled accounts are skipped, and the hold follows the directory: new mailboxes are added on the next apply, ones that leave stay held). A custodian is never dropped implicitly: removing one is refused by the plan.
   */
  custodians: [string, ...string[]] | 'all';
  /**
   * Optional. The date the hold took effect (YYYY-MM-DD).
   */
  since?: string;
  released?: HoldRelease;
}

export interface HoldRelease {
  /**
   * Who authorized the release (name or email address of counsel).
   */
  by: string;
  /**
   * Why the hold is released, e.g. `matter settled`.
   */
  reason: string;
  /**
   * The date of the release (YYYY-MM-DD).
   */
  date: string;
}

export interface Route {
  /**
   * One of the tenant's own `domains` whose mail this route delivers.
   */
  domain: string;
  /**
   * Host name of the next hop, e.g. your mail server `mx1.internal.example.com`.
   */
  deliverTo: string;
  /**
   * TCP port of the next hop (default 25).
   */
  port?: number;
  /**
   * `true`: deliver only over TLS, and hold mail when the next hop offers none. `false` or absent: TLS when offered.
   */
  requireTls?: boolean;
}

export interface BundleFile {
  /**
   * Bundle name: lower-case letters, digits and '-'. Must equal the file name (`policies/bundles/<bundle>.yaml`); tenants name it in `include`.
   */
  bundle: string;
  /**
   * Optional. What the bundle is for and who owns it.
   */
  description?: string;
  blockedSenders?: BlockedSenders;
  exemptions?: Exemptions;
  holds?: Holds;
  routes?: Routes;
}

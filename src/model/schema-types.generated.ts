// Generated from schemas/*.schema.json by `npm run gen:types`. Do not edit.

export type ProviderBinding = ProviderBinding1;

export type Kind = 'blockedSenders' | 'exemptions' | 'holds' | 'routes';

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

export interface ProviderBinding1 {
  type: 'sandbox' | 'cloudflare' | 'msgraph' | 'mimecast';
  /**
   * Kinds this binding serves; default: every kind the provider supports.
   *
   * @minItems 1
   */
  kinds?: [Kind, ...Kind[]];
  /**
   * sandbox: state folder, relative to the repository root.
   */
  dir?: string;
  /**
   * cloudflare: account id.
   */
  account?: string;
  /**
   * Name of the environment variable holding the API token.
   */
  tokenEnv?: string;
  baseUrl?: string;
  /**
   * msgraph: Entra tenant id.
   */
  tenantId?: string;
  clientId?: string;
  secretEnv?: string;
  /**
   * msgraph: eDiscovery case id.
   */
  case?: string;
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

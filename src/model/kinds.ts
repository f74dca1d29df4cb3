import type {
  BlockedSender,
  Exemption,
  Hold,
  HoldRelease,
  ProviderBinding,
  Route,
  Safety,
} from './schema-types.generated.js';

export type { BlockedSender, Exemption, Hold, HoldRelease, ProviderBinding, Route, Safety };

/**
 * Every resource kind, in the order plans and reports list them: the one place kinds are
 * declared (the schemas' `kind` enum is checked against it by a test).
 */
export const KINDS = ['blockedSenders', 'exemptions', 'holds', 'routes'] as const;
export type Kind = (typeof KINDS)[number];

/** Human labels for reports. */
export const KIND_LABELS: Record<Kind, string> = {
  blockedSenders: 'blocked sender',
  exemptions: 'exemption',
  holds: 'hold',
  routes: 'route',
};

/**
 * What a kind means, whoever serves it; what a vendor can do with it is a provider
 * capability (`model/capabilities.ts`). The planner reads these, never a kind's name.
 */
export interface KindRules {
  /** Entries carry `expires`: after that date they are planned for removal. */
  expires: boolean;
  /**
   * Entries are protected: never deleted, and never dropped from YAML or narrowed (the
   * `members` field losing values) without a `released` record. Losing one is unrecoverable.
   */
  protectedBy?: { record: 'released'; members: string; code: string };
}

export const KIND_RULES: Record<Kind, KindRules> = {
  blockedSenders: { expires: true },
  exemptions: { expires: true },
  holds: {
    expires: false,
    protectedBy: { record: 'released', members: 'custodians', code: 'HOLD' },
  },
  routes: { expires: false },
};

/**
 * Entries after normalization: canonical patterns and defaults filled in, so two entries
 * that mean the same compare equal. This is the shape providers read and write.
 */
export interface BlockedSenderEntry {
  sender: string;
  reason: string;
  expires?: string;
  ticket?: string;
}
export interface ExemptionEntry {
  sender?: string;
  recipient?: string;
  /**
   * What the YAML may say, or `none`: only ever read from a live policy that bypasses no
   * check (all its flags off), so that it differs from every declared exemption.
   */
  bypass: Exemption['bypass'] | 'none';
  verifySender: boolean;
  reason: string;
  expires?: string;
}
export interface HoldEntry {
  id: string;
  matter: string;
  /** Normalized addresses, sorted; or `all`: every mailbox of the tenant's directory. */
  custodians: string[] | 'all';
  since?: string;
  released?: HoldRelease;
  /**
   * Live only (never in YAML): what is wrong with the hold live, e.g. a hold policy in
   * error or sources not held. A live hold with a problem differs from its desired entry,
   * so plan and drift show it and apply repairs it (Graph: `retryPolicy`).
   */
  liveProblem?: string;
}
export interface RouteEntry {
  domain: string;
  deliverTo: string;
  port: number;
  requireTls: boolean;
}

export interface EntryOf {
  blockedSenders: BlockedSenderEntry;
  exemptions: ExemptionEntry;
  holds: HoldEntry;
  routes: RouteEntry;
}
export type AnyEntry = EntryOf[Kind];

/** One entry with the kind it belongs to and its diff key. */
export type KeyedEntry<K extends Kind = Kind> = K extends Kind
  ? { kind: K; key: string; value: EntryOf[K] }
  : never;

/** One live entry as a provider reads it, mapped to the model's normalized shape. */
export type LiveEntry<K extends Kind = Kind> = K extends Kind
  ? {
      kind: K;
      key: string;
      value: EntryOf[K];
      /** True when the live object carries mxpolicy's ownership marker. */
      managed: boolean;
      /** The vendor's opaque id, when it has one. */
      id?: string;
      /**
       * A live object the provider cannot model (it targets something the model has no field
       * for, e.g. a Mimecast policy for a group): listed as unmanaged, never adopted, updated
       * or deleted, whatever the ownership mode. Its key names it and never equals a desired
       * key; its value is only a description.
       */
      foreign?: true;
      /**
       * What a policy file declares to mean this live object, when that is not its value as
       * read: a hold mxpolicy placed on `custodians: all` that does not hold a mailbox that
       * joined the directory since reads as the list it holds, but means `all` (the plan
       * then shows the mailboxes to add). Only `import` reads it.
       */
      declaredAs?: EntryOf[K];
    }
  : never;

export function isKind(value: string): value is Kind {
  return (KINDS as readonly string[]).includes(value);
}

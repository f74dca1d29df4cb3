import type { Operation } from 'fast-json-patch';
import type { EntryOf, Kind } from '../model/kinds.js';
import type { ChangeEffect } from './effect.js';

export type ChangeAction = 'create' | 'update' | 'delete';
/**
 * Why a change is planned: the YAML asks for it; the entry expired; authoritative mode
 * prunes an entry mxpolicy did not create; an unmarked live entry the YAML declares is
 * adopted (marked as managed); or a protected entry (a hold) is deleted because the YAML
 * carries its `released` record (the delete then has `after`: the released entry, so the
 * plan can say who released it, when and why).
 */
export type ChangeCause = 'desired' | 'expired' | 'prune' | 'adopt' | 'released';

export type Change<K extends Kind = Kind> = K extends Kind
  ? {
      tenant: string;
      kind: K;
      key: string;
      action: ChangeAction;
      cause: ChangeCause;
      /** tighten | loosen | neutral (see `classifyChangeEffect`); set when the plan is assembled. */
      effect?: ChangeEffect;
      before?: EntryOf[K];
      after?: EntryOf[K];
      /** RFC 6902 patch from `before` to `after` (empty for create/delete). */
      patch: Operation[];
      /** The live object's id, for updates and deletes, when the provider has ids. */
      liveId?: string;
      /** Where the desired entry is written (absent for deletes of entries no longer in YAML). */
      source?: { file: string; line: number; bundle?: string };
    }
  : never;

export type TenantStatus = 'ok' | 'error' | 'blocked';

export interface PlanError {
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
}

export interface UnmanagedEntry {
  kind: Kind;
  key: string;
}

/** How one tenant's live state was read for its plan. */
export type TenantReadScope =
  | { mode: 'full' }
  /**
   * The plan is limited to `keys` keys (only they were read, with the vendor's filters);
   * `fullRead`: the kinds were still read in full, so the delete limits count every entry.
   */
  | { mode: 'targeted'; keys: number; fullRead?: true };

/** How the whole plan was read: `read: full`, or `read: targeted (3 keys in 125 tenants)`. */
export type PlanReadScope =
  | { mode: 'full' }
  | {
      mode: 'targeted';
      /** Keys the plan is limited to, over all tenants. */
      keys: number;
      /** Tenants whose plan is limited to keys. */
      tenants: number;
      /** Tenants planned whole in the same run (new, or their settings changed). */
      fullTenants: number;
    };

export interface TenantPlan {
  tenant: string;
  status: TenantStatus;
  changes: Change[];
  errors: PlanError[];
  /** Live entries mxpolicy does not own (ownership: managed): listed, never touched. */
  unmanaged: UnmanagedEntry[];
  /** How its live state was read (set by the run that read it; not in the checksum). */
  read?: TenantReadScope;
}

export interface PlanSummary {
  create: number;
  update: number;
  delete: number;
  /** Changes by effect (`Change.effect`): what only tightens may be merged without review. */
  tighten: number;
  loosen: number;
  neutral: number;
}

/** The plan: a deterministic, serializable value (DESIGN §3). JSON of it is a public contract. */
export interface Plan {
  formatVersion: 1;
  /** sha256 of what apply would do (see `planChecksum`): changes, statuses and errors. */
  checksum: string;
  tenants: TenantPlan[];
  summary: PlanSummary;
  /** How live state was read (set by the run that read it; not in the checksum). */
  read?: PlanReadScope;
}

/**
 * `pending`: the vendor accepted the change and is still carrying it out (it settles
 * later, e.g. a legal hold being placed on mailboxes); apply polls it within a bound, and
 * what is still pending then is reported as such: the next plan shows whether it settled.
 */
export type ChangeStatus = 'applied' | 'failed' | 'skipped' | 'pending';

export interface ChangeResult {
  kind: Kind;
  key: string;
  action: ChangeAction;
  status: ChangeStatus;
  /** Why it failed or was skipped, or what it is waiting for. */
  reason?: string;
  /** For a pending result: what the provider needs to look it up again (a vendor id). */
  ref?: string;
}

export type TenantApplyStatus =
  'applied' | 'partial' | 'failed' | 'skipped' | 'unchanged' | 'pending';

export interface TenantApplyResult {
  tenant: string;
  status: TenantApplyStatus;
  results: ChangeResult[];
  /** Why the whole tenant failed or was skipped (error/blocked plan, unreadable state, ...). */
  reason?: string;
}

export interface ApplyReport {
  formatVersion: 1;
  /** Checksum of the plan that was applied. */
  checksum: string;
  startedAt: string;
  finishedAt: string;
  tenants: TenantApplyResult[];
  summary: { applied: number; failed: number; skipped: number; pending: number };
}

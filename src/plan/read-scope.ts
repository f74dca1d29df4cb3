import type { KeyTargets, PlanTargets } from '../config/affected-tenants.js';
import type { TenantConfig } from '../config/policy-set.js';
import type { KindCapability } from '../model/capabilities.js';
import { KIND_RULES, KINDS, type AnyEntry, type Kind } from '../model/kinds.js';
import { DEFAULT_SAFETY, PERCENT_THRESHOLD_MIN_ENTRIES } from './safety.js';
import type { PlanReadScope, TenantReadScope } from './types.js';

export type { KeyTargets, PlanReadScope, PlanTargets, TenantReadScope };

/** What to read of one tenant, and what its plan covers. */
export interface TenantReadPlan {
  /** Kinds read completely (every live entry). */
  full: Kind[];
  /** Kinds read only for these keys (through the vendor's filters where it has them). */
  keys: Partial<Record<Kind, string[]>>;
  /** Kinds a binding serves that are not read: the plan could not change anything in them. */
  skipped: Kind[];
  /** The keys the plan is limited to (absent: the whole tenant is planned). */
  targets?: KeyTargets;
  scope: TenantReadScope;
}

export interface ReadPlanOptions {
  /** The keys the tenant's plan is limited to; absent or `all`: a full plan. */
  targets?: KeyTargets | 'all' | undefined;
  /** YYYY-MM-DD: an expired entry is a delete. */
  today: string;
  allowLargeChanges: boolean;
}

function expiresOf(value: AnyEntry): string | undefined {
  return (value as { expires?: string }).expires;
}

function isReleased(kind: Kind, value: AnyEntry): boolean {
  const rule = KIND_RULES[kind].protectedBy;
  return (
    rule !== undefined && (value as unknown as Record<string, unknown>)[rule.record] !== undefined
  );
}

/**
 * Whether the planner can plan anything for a live entry of `kind` that the tenant does not
 * declare. Only then must undeclared entries be read. A kind whose live objects carry
 * mxpolicy's marker may hold entries mxpolicy created whose YAML is gone (even the whole
 * section): those are deleted (or, for protected kinds, guarded), so such a kind is always
 * read. A kind without a marker (Cloudflare's domains) is never deleted, listed or counted
 * when undeclared: reading it when the tenant declares none of it changes nothing.
 */
export function undeclaredEntriesMatter(kind: Kind, cap: KindCapability): boolean {
  return cap.ownershipMarker || KIND_RULES[kind].protectedBy !== undefined;
}

/**
 * Decide what to read of one tenant whose served kinds have `capabilities`. Pure.
 *
 * - Never read a kind the plan cannot change: a served kind is skipped when undeclared
 *   entries do not matter for it (`undeclaredEntriesMatter`) and the tenant's effective
 *   desired state (its file plus its bundles) has no entry of it.
 * - With `targets`, read only the targeted keys of the targeted kinds, and only keys that can
 *   matter (a key of a marker-less kind that is no longer desired cannot). The planner then
 *   diffs only those keys. One exception keeps the delete limits exact: when the targets
 *   hold enough possible deletes (keys removed, expired or released) that the percentage
 *   limit could trip, every kind is read in full so the limit is counted against all managed
 *   entries, as a full plan would; the diff stays limited to the targets.
 */
export function planTenantReads(
  tenant: TenantConfig,
  capabilities: Partial<Record<Kind, KindCapability>>,
  opts: ReadPlanOptions,
): TenantReadPlan {
  const served = KINDS.filter((k) => capabilities[k] !== undefined);
  const matters = (k: Kind): boolean =>
    undeclaredEntriesMatter(k, capabilities[k] as KindCapability) || tenant.entries[k].length > 0;
  const fullKinds = served.filter(matters);
  const skippedFull = served.filter((k) => !matters(k));
  const targets = opts.targets;
  if (targets === undefined || targets === 'all')
    return { full: fullKinds, keys: {}, skipped: skippedFull, scope: { mode: 'full' } };

  const keys: Partial<Record<Kind, string[]>> = {};
  let count = 0;
  let possibleDeletes = 0;
  for (const kind of served) {
    const wanted = targets[kind];
    if (wanted === undefined || wanted.size === 0) continue;
    const cap = capabilities[kind] as KindCapability;
    const desired = new Map<string, AnyEntry>(tenant.entries[kind].map((e) => [e.key, e.value]));
    const list: string[] = [];
    for (const key of [...wanted].sort()) {
      const value = desired.get(key);
      if (value === undefined && !undeclaredEntriesMatter(kind, cap)) continue;
      list.push(key);
      const expired =
        value !== undefined &&
        KIND_RULES[kind].expires &&
        (expiresOf(value) ?? '9999-12-31') < opts.today;
      if (value === undefined || expired || isReleased(kind, value)) possibleDeletes++;
    }
    count += wanted.size;
    if (list.length > 0) keys[kind] = list;
  }
  // The percentage limit applies from PERCENT_THRESHOLD_MIN_ENTRIES managed entries on, so
  // D deletes can trip it only if D / PERCENT_THRESHOLD_MIN_ENTRIES exceeds the percentage.
  const maxPercent = tenant.safety.maxDeletePercent ?? DEFAULT_SAFETY.maxDeletePercent;
  const limitCouldTrip =
    !opts.allowLargeChanges && (possibleDeletes * 100) / PERCENT_THRESHOLD_MIN_ENTRIES > maxPercent;
  if (limitCouldTrip)
    return {
      full: fullKinds,
      keys: {},
      skipped: skippedFull,
      targets,
      scope: { mode: 'targeted', keys: count, fullRead: true },
    };
  const keyKinds = new Set(Object.keys(keys));
  return {
    full: [],
    keys,
    skipped: served.filter((k) => !keyKinds.has(k)),
    targets,
    scope: { mode: 'targeted', keys: count },
  };
}

/** The number of keys in a tenant's targets. */
export function countTargets(targets: KeyTargets): number {
  let n = 0;
  for (const k of KINDS) n += targets[k]?.size ?? 0;
  return n;
}

export function summarizeReadScopes(
  scopes: readonly (TenantReadScope | undefined)[],
): PlanReadScope {
  let keys = 0;
  let tenants = 0;
  let fullTenants = 0;
  for (const s of scopes) {
    if (s?.mode === 'targeted') {
      keys += s.keys;
      tenants++;
    } else if (s?.mode === 'full') fullTenants++;
  }
  return tenants === 0 ? { mode: 'full' } : { mode: 'targeted', keys, tenants, fullTenants };
}

/** `read: targeted (3 keys in 125 tenants)` / `read: full`, for every renderer. */
export function describeReadScope(read: PlanReadScope): string {
  if (read.mode === 'full') return 'read: full';
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  return `read: targeted (${plural(read.keys, 'key', 'keys')} in ${plural(read.tenants, 'tenant', 'tenants')}${
    read.fullTenants > 0 ? `; ${plural(read.fullTenants, 'tenant', 'tenants')} read in full` : ''
  })`;
}

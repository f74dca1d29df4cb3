import { canonicalJson } from '../model/entries.js';
import { KINDS, type Kind } from '../model/kinds.js';
import type { TenantConfig } from './policy-set.js';

export interface AffectedTenants {
  /** Tenants of `after` whose effective desired state differs from `before` (or that are new). */
  changed: string[];
  /** Tenants of `before` that no longer exist in `after`. */
  removed: string[];
}

/** A tenant's settings, bindings and validity: everything planning reads but its entries. */
function settingsOf(tenant: TenantConfig): Record<string, unknown> {
  return {
    domains: tenant.domains,
    ownership: tenant.ownership,
    safety: tenant.safety,
    bindings: tenant.bindings.map((b) => ({
      name: b.name,
      type: b.type,
      kinds: b.kinds,
      settings: b.settings,
    })),
    valid: tenant.valid,
  };
}

/**
 * The part of a tenant that planning depends on, independent of file positions: settings,
 * bindings, validity and every effective entry (own and from bundles) by kind and key.
 */
export function tenantFingerprint(tenant: TenantConfig): string {
  return canonicalJson({
    ...settingsOf(tenant),
    entries: KINDS.map((kind) =>
      [...tenant.entries[kind]]
        .map((e) => [e.key, canonicalJson(e.value)])
        .sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1)),
    ),
  });
}

/**
 * Which tenants two loaded revisions of the policies differ in. Comparing effective state
 * means a bundle change affects every tenant including the bundle, and a reformatted file
 * or a moved line affects none. Pure.
 */
export function affectedTenants(
  before: readonly TenantConfig[],
  after: readonly TenantConfig[],
): AffectedTenants {
  const old = new Map(before.map((t) => [t.tenant, tenantFingerprint(t)]));
  const now = new Set(after.map((t) => t.tenant));
  return {
    changed: after.filter((t) => old.get(t.tenant) !== tenantFingerprint(t)).map((t) => t.tenant),
    removed: before.filter((t) => !now.has(t.tenant)).map((t) => t.tenant),
  };
}

/**
 * The keys a plan is limited to, per kind: the plan diffs these and nothing else (a kind
 * absent here is not planned at all). Known up front for `--changed-since`, a `propose`, an
 * emergency change.
 */
export type KeyTargets = Partial<Record<Kind, ReadonlySet<string>>>;

/** Per tenant: the keys its plan is limited to, or `all` (plan the whole tenant). */
export type PlanTargets = ReadonlyMap<string, KeyTargets | 'all'>;

/** Everything about a tenant but its entries: a change here needs the whole tenant planned. */
function settingsFingerprint(tenant: TenantConfig): string {
  return canonicalJson(settingsOf(tenant));
}

/**
 * Which (kind, key) of each tenant of `after` differ from `before`, on the effective desired
 * state (own entries plus bundles): a key added, removed, or whose value changed, whether
 * through the tenant file, a bundle's entry, or an `include` added or dropped. A tenant that
 * is new, or whose settings changed (domains, ownership, safety, bindings, validity), is
 * `all`: its plan cannot be limited to keys. Tenants with no difference are left out. Pure.
 */
export function affectedKeys(
  before: readonly TenantConfig[],
  after: readonly TenantConfig[],
): Map<string, KeyTargets | 'all'> {
  const old = new Map(before.map((t) => [t.tenant, t]));
  const out = new Map<string, KeyTargets | 'all'>();
  for (const t of after) {
    const was = old.get(t.tenant);
    if (was === undefined || settingsFingerprint(was) !== settingsFingerprint(t)) {
      out.set(t.tenant, 'all');
      continue;
    }
    const targets: Partial<Record<Kind, Set<string>>> = {};
    let any = false;
    for (const kind of KINDS) {
      const a = new Map<string, string>(
        was.entries[kind].map((e) => [e.key, canonicalJson(e.value)]),
      );
      const b = new Map<string, string>(
        t.entries[kind].map((e) => [e.key, canonicalJson(e.value)]),
      );
      const keys = new Set<string>();
      for (const [k, v] of b) if (a.get(k) !== v) keys.add(k);
      for (const k of a.keys()) if (!b.has(k)) keys.add(k);
      if (keys.size > 0) {
        targets[kind] = keys;
        any = true;
      }
    }
    if (any) out.set(t.tenant, targets);
  }
  return out;
}

import { canonicalJson } from '../model/entries.js';
import { KINDS } from '../model/kinds.js';
import type { TenantConfig } from './policy-set.js';

export interface AffectedTenants {
  /** Tenants of `after` whose effective desired state differs from `before` (or that are new). */
  changed: string[];
  /** Tenants of `before` that no longer exist in `after`. */
  removed: string[];
}

/**
 * The part of a tenant that planning depends on, independent of file positions: settings,
 * bindings, validity and every effective entry (own and from bundles) by kind and key.
 */
export function tenantFingerprint(tenant: TenantConfig): string {
  return canonicalJson({
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

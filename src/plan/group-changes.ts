import { canonicalJson, entryFingerprint } from '../model/entries.js';
import { KIND_LABELS } from '../model/kinds.js';
import { KIND_VERB } from './describe.js';
import type { Change, TenantPlan } from './types.js';

/**
 * "Identical change across tenants", defined once: the markdown PR comment and the text
 * output of plan, apply and drift group by it. Two changes are identical when they do the
 * same thing to the same entry (kind, key, action, cause, the resulting entry and the
 * patch); where each tenant declares it (its own file or a bundle) does not count.
 */
export function changeGroupKey(c: Change): string {
  const after = c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null';
  return `${JSON.stringify([c.kind, c.key, c.action, c.cause])}${after}${canonicalJson(c.patch)}`;
}

/** One change (or change result) and every tenant it occurs in, in plan order. */
export interface TenantGroup<T> {
  item: T;
  tenants: string[];
}

/** Group items by `keyOf`, keeping the first item of each group and the order of first sight. */
export function groupAcrossTenants<T>(
  rows: Iterable<readonly [tenant: string, item: T]>,
  keyOf: (item: T) => string,
): TenantGroup<T>[] {
  const groups = new Map<string, TenantGroup<T>>();
  for (const [tenant, item] of rows) {
    const k = keyOf(item);
    const g = groups.get(k);
    if (g !== undefined) g.tenants.push(tenant);
    else groups.set(k, { item, tenants: [tenant] });
  }
  return [...groups.values()];
}

/**
 * Loosening changes first (they are what a reviewer must look at), then the most shared;
 * stable, so equal groups keep plan order.
 */
export function sortGroups<T, G extends TenantGroup<T>>(
  groups: G[],
  changeOf: (item: T) => Pick<Change, 'effect'> | undefined,
): G[] {
  const loosens = (g: G): number => (changeOf(g.item)?.effect === 'loosen' ? 0 : 1);
  return groups.sort((a, b) => loosens(a) - loosens(b) || b.tenants.length - a.tenants.length);
}

export interface ChangeGroup extends TenantGroup<Change> {
  /** The bundle every change of the group comes from; undefined when any differs or is own. */
  bundle: string | undefined;
}

/** The changes of these tenants (those `include` accepts), identical ones grouped, sorted. */
export function groupPlanChanges(
  tenants: readonly TenantPlan[],
  include: (c: Change) => boolean = () => true,
): ChangeGroup[] {
  const groups = new Map<string, ChangeGroup>();
  for (const t of tenants)
    for (const c of t.changes) {
      if (!include(c)) continue;
      const k = changeGroupKey(c);
      const g = groups.get(k);
      if (g === undefined) {
        groups.set(k, { item: c, tenants: [t.tenant], bundle: c.source?.bundle });
        continue;
      }
      g.tenants.push(t.tenant);
      if (g.bundle !== c.source?.bundle) g.bundle = undefined;
    }
  return sortGroups([...groups.values()], (c: Change) => c);
}

/** `block`, `remove blocked sender`, `update exemption`: the verb of a grouped line. */
export function groupVerb(c: Pick<Change, 'kind' | 'action'>): string {
  return c.action === 'create'
    ? KIND_VERB[c.kind]
    : c.action === 'delete'
      ? `remove ${KIND_LABELS[c.kind]}`
      : `update ${KIND_LABELS[c.kind]}`;
}

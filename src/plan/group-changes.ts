import { canonicalJson, entryFingerprint } from '../model/entries.js';
import { KIND_LABELS } from '../model/kinds.js';
import { KIND_VERB } from './describe.js';
import type { Change, TenantPlan } from './types.js';

/**
 * "Identical change across tenants", defined once: the markdown PR comment and the text
 * output of plan, apply and drift group by it. Two changes are identical when they do the
 * same thing to the same entry: the same kind, action and key (`SAME_CHANGE`), and the
 * same cause, resulting entry and patch
 * (`changeValueKey`); where each tenant declares it (its own file or a bundle) does not count.
 */
export function changeValueKey(c: Change): string {
  const after = c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null';
  return `${c.cause}\u0000${after}\u0000${c.patch.length === 0 ? '' : canonicalJson(c.patch)}`;
}

/** One change (or change result) and every tenant it occurs in, in plan order. */
export interface TenantGroup<T> {
  item: T;
  tenants: string[];
}

/**
 * Group items: two items are one group when every `same` key and `keyOf` agree. The `same`
 * keys (kind, action, the entry's key: strings the item already holds) tell most items apart
 * cheaply; `keyOf`, the full and costlier key, is computed only for items whose `same` keys
 * are already taken, so a fleet of mostly per-tenant entries is grouped without serializing
 * each. Groups keep the first item and the order of first sight.
 */
export function groupAcrossTenants<T>(
  rows: readonly { tenant: string; items: readonly T[] }[],
  include: (item: T) => boolean,
  same: readonly [...((item: T) => string)[], (item: T) => string],
  keyOf: (item: T) => string,
  /** Called as an item joins an existing group (to note how members differ). */
  joined?: (group: TenantGroup<T>, item: T) => void,
): TenantGroup<T>[] {
  // Nested maps, one level per `same` key; the last level holds one group, or a list of
  // groups once a second full key shows up (most items of a large plan are alone: no list).
  type Level = Map<string, unknown>;
  type Bucket = TenantGroup<T> | TenantGroup<T>[];
  const root: Level = new Map();
  const order: TenantGroup<T>[] = [];
  // The full key of a group, computed when a second item with the same cheap keys arrives.
  const fullKeys = new Map<TenantGroup<T>, string>();
  const fullKeyOf = (g: TenantGroup<T>): string => {
    let k = fullKeys.get(g);
    if (k === undefined) {
      k = keyOf(g.item);
      fullKeys.set(g, k);
    }
    return k;
  };
  const last = same.length - 1;
  for (const { tenant, items } of rows)
    for (const item of items) {
      if (!include(item)) continue;
      let level = root;
      for (let i = 0; i < last; i++) {
        const k = (same[i] as (item: T) => string)(item);
        let next = level.get(k) as Level | undefined;
        if (next === undefined) {
          next = new Map();
          level.set(k, next);
        }
        level = next;
      }
      const cheap = (same[last] as (item: T) => string)(item);
      const bucket = level.get(cheap) as Bucket | undefined;
      if (bucket === undefined) {
        const group = { item, tenants: [tenant] };
        level.set(cheap, group);
        order.push(group);
        continue;
      }
      const full = keyOf(item);
      const groups = Array.isArray(bucket) ? bucket : [bucket];
      const hit = groups.find((g) => fullKeyOf(g) === full);
      if (hit !== undefined) {
        hit.tenants.push(tenant);
        joined?.(hit, item);
      } else {
        const group = { item, tenants: [tenant] };
        fullKeys.set(group, full);
        groups.push(group);
        if (!Array.isArray(bucket)) level.set(cheap, groups);
        order.push(group);
      }
    }
  return order;
}

/** The cheap keys of `groupAcrossTenants` for a change: same kind, action and entry key. */
export const SAME_CHANGE = [
  (c: Pick<Change, 'kind'>): string => c.kind,
  (c: Pick<Change, 'action'>): string => c.action,
  (c: Pick<Change, 'key'>): string => c.key,
] as const;

/**
 * Loosening changes first (they are what a reviewer must look at), then the most shared;
 * stable, so equal groups keep plan order. With `listed`, only that many are put first in
 * that order and the others follow in no particular order (`firstSorted`).
 */
export function sortGroups<T, G extends TenantGroup<T>>(
  groups: G[],
  changeOf: (item: T) => Pick<Change, 'effect'> | undefined,
  listed?: number,
): G[] {
  const loosens = (g: G): number => (changeOf(g.item)?.effect === 'loosen' ? 0 : 1);
  const compare = (a: G, b: G): number =>
    loosens(a) - loosens(b) || b.tenants.length - a.tenants.length;
  if (listed === undefined) return groups.sort(compare);
  const { first, rest } = firstSorted(groups, listed, compare);
  return [...first, ...rest];
}

/**
 * The first `k` of `items` as a stable sort by `compare` would order them, and the others in
 * their own order: a fleet's output lists its first groups and only counts the rest, so the
 * hundreds of thousands of groups of a full apply are not all sorted. One comparison per item
 * that does not make the first `k`.
 */
export function firstSorted<T>(
  items: readonly T[],
  k: number,
  compare: (a: T, b: T) => number,
): { first: T[]; rest: T[] } {
  if (items.length <= k) return { first: [...items].sort(compare), rest: [] };
  const first: T[] = [];
  const rest: T[] = [];
  for (const item of items) {
    const worst = first[k - 1];
    // A later item loses a tie (a stable sort keeps it after).
    if (worst !== undefined && compare(item, worst) >= 0) {
      rest.push(item);
      continue;
    }
    // After every item it does not sort before (ties included).
    let lo = 0;
    let hi = first.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(item, first[mid] as T) < 0) hi = mid;
      else lo = mid + 1;
    }
    first.splice(lo, 0, item);
    if (first.length > k) rest.push(first.pop() as T);
  }
  return { first, rest };
}

export interface ChangeGroup extends TenantGroup<Change> {
  /** The bundle every change of the group comes from; undefined when any differs or is own. */
  bundle: string | undefined;
}

/** The changes of these tenants (those `include` accepts), identical ones grouped, sorted. */
export function groupPlanChanges(
  tenants: readonly TenantPlan[],
  include: (c: Change) => boolean = () => true,
  /** Only this many need to come first in order (`sortGroups`); default all. */
  listed?: number,
): ChangeGroup[] {
  // The bundle a group names must be every member's.
  const mixed = new Set<TenantGroup<Change>>();
  const groups = groupAcrossTenants(
    tenants.map((t) => ({ tenant: t.tenant, items: t.changes })),
    include,
    SAME_CHANGE,
    changeValueKey,
    (g, c) => {
      if (c.source?.bundle !== g.item.source?.bundle) mixed.add(g);
    },
  ).map((g): ChangeGroup => ({ ...g, bundle: mixed.has(g) ? undefined : g.item.source?.bundle }));
  return sortGroups(groups, (c: Change) => c, listed);
}

/** `block`, `remove blocked sender`, `update exemption`: the verb of a grouped line. */
export function groupVerb(c: Pick<Change, 'kind' | 'action'>): string {
  return c.action === 'create'
    ? KIND_VERB[c.kind]
    : c.action === 'delete'
      ? `remove ${KIND_LABELS[c.kind]}`
      : `update ${KIND_LABELS[c.kind]}`;
}

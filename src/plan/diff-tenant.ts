import fastJsonPatch from 'fast-json-patch';
import type { KeyTargets } from '../config/affected-tenants.js';
import type { DesiredEntry, TenantConfig } from '../config/policy-set.js';
import type { KindCapability } from '../model/capabilities.js';
import { sameJson } from '../model/entries.js';
import { KIND_LABELS, KIND_RULES, KINDS, type AnyEntry, type Kind } from '../model/kinds.js';
import type { LiveEntry } from '../model/kinds.js';
import { checkChangeThresholds, checkProtectedKept } from './safety.js';
import { classifyChangeEffect, type ChangeEffect } from './effect.js';
import type { Change, ChangeAction, PlanError, TenantPlan, UnmanagedEntry } from './types.js';

/** What was read live for a tenant: entries per kind, for the kinds its bindings serve. */
export type LiveState = Partial<Record<Kind, readonly LiveEntry[]>>;

export interface DiffOptions {
  /** Today (YYYY-MM-DD): entries whose `expires` is before it are planned for removal. */
  today: string;
  allowLargeChanges: boolean;
  /** What the provider serving each kind can do (lifecycle, ownership marker). */
  capabilities: Partial<Record<Kind, KindCapability>>;
  /**
   * Limit the plan to these keys (`--changed-since`, `propose`): only they are changed,
   * listed or checked. A live entry outside them (read because a kind was listed in full) is
   * never planned, not even as a delete: it was not asked about. Such entries still count in
   * the base of the delete percentage, as in a full plan.
   */
  targets?: KeyTargets;
}

const NO_KEYS: ReadonlySet<string> = new Set();

const ACTION_ORDER: Record<ChangeAction, number> = { create: 0, update: 1, delete: 2 };
const KIND_ORDER = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<Kind, number>;

export function compareChanges(a: Change, b: Change): number {
  return (
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
    ACTION_ORDER[a.action] - ACTION_ORDER[b.action]
  );
}

function expiresOf(value: AnyEntry): string | undefined {
  return (value as { expires?: string }).expires;
}

function isExpired(entry: DesiredEntry, today: string): boolean {
  if (!KIND_RULES[entry.kind].expires) return false;
  const expires = expiresOf(entry.value);
  return expires !== undefined && expires < today;
}

/**
 * The keyed diff of one tenant: desired (normalized, bundles resolved) against live.
 * Pure. It reads what each kind means (`KIND_RULES`) and what its provider can do
 * (`capabilities`), never a kind's or a vendor's name:
 * - ownership: with a marker, `managed` mode updates or deletes only marked entries and
 *   lists the others as unmanaged (an unmarked entry the YAML declares is adopted);
 *   `authoritative` adopts and prunes everything. Without a marker, a declared entry is
 *   managed and any other is left alone, in every mode.
 * - lifecycle: an `update-only` kind is never created or deleted; a declared entry with no
 *   live counterpart is an error (the vendor's console creates it).
 * - protected kinds (holds) are never deleted, and never dropped or narrowed without a
 *   `released` record.
 */
export function diffTenant(tenant: TenantConfig, live: LiveState, opts: DiffOptions): TenantPlan {
  const changes: Change[] = [];
  const errors: PlanError[] = [];
  const unmanaged: UnmanagedEntry[] = [];
  const authoritative = tenant.ownership === 'authoritative';
  let managedLiveCount = 0;

  for (const kind of KINDS) {
    const liveEntries = live[kind];
    if (liveEntries === undefined) continue; // kind not served: validation reports entries for it
    const cap = opts.capabilities[kind];
    if (cap === undefined) continue; // read but not declared by any provider: nothing to plan
    const protectedBy = KIND_RULES[kind].protectedBy;
    const only = opts.targets === undefined ? undefined : (opts.targets[kind] ?? NO_KEYS);
    const desired = new Map<string, DesiredEntry>();
    for (const d of tenant.entries[kind] as DesiredEntry[]) desired.set(d.key, d);
    const seen = new Set<string>();

    const firstId = new Map<string, string | undefined>();
    for (const l of liveEntries) {
      const outside = only !== undefined && !only.has(l.key);
      if (l.foreign === true) {
        if (!outside) unmanaged.push({ kind, key: l.key });
        continue; // not ours to change in any mode: the model cannot say what it is
      }
      const d = desired.get(l.key);
      const duplicate = seen.has(l.key);
      seen.add(l.key);
      // Only a protected kind names the first copy's id (below).
      if (!duplicate && protectedBy !== undefined) firstId.set(l.key, l.id);
      if (duplicate && protectedBy !== undefined) {
        if (outside) continue;
        // Two live objects for one protected entry: neither may be dropped implicitly, and
        // "no longer in YAML" would be untrue. Name both so a person can pick.
        errors.push({
          code: `${protectedBy.code}_DUPLICATE`,
          message: `${KIND_LABELS[kind]} ${l.key} exists twice live (ids ${firstId.get(l.key) ?? '?'} and ${l.id ?? '?'}); mxpolicy manages one live object per entry: release or merge one of them in the vendor's console`,
          file: tenant.file,
        });
        continue;
      }
      const declared = d !== undefined && !duplicate;
      // Without a marker nothing proves mxpolicy made an entry: only what the YAML declares is ours.
      const owned = cap.ownershipMarker ? l.managed || authoritative : declared;
      // An entry mxpolicy manages and has marked needs no adoption (nor does one with no marker).
      const marked = l.managed || !cap.ownershipMarker;
      if (owned) managedLiveCount++;
      if (outside) continue; // counted in the base of the limits, not planned

      if (protectedBy !== undefined) {
        const error = owned
          ? checkProtectedKept(
              kind,
              protectedBy,
              l.value,
              declared ? d.value : undefined,
              tenant.file,
            )
          : undefined;
        if (error !== undefined) errors.push(error);
        if (!declared) {
          if (!owned) unmanaged.push({ kind, key: l.key });
          continue; // protected entries are never deleted implicitly
        }
        if (isReleased(d.value, protectedBy.record)) {
          // Released in the YAML: the one way a protected entry goes away, said in words.
          if (owned && !isReleased(l.value, protectedBy.record))
            changes.push(makeChange(tenant.tenant, 'delete', 'released', l, d, undefined, true));
          else if (!owned) unmanaged.push({ kind, key: l.key });
          continue;
        }
        if (!sameJson(l.value, d.value) || !marked)
          changes.push(makeChange(tenant.tenant, 'update', marked ? 'desired' : 'adopt', l, d));
        continue;
      }
      if (!declared) {
        if (!cap.ownershipMarker || cap.lifecycle === 'update-only') continue; // never ours to delete
        if (owned)
          changes.push(
            makeChange(tenant.tenant, 'delete', l.managed ? 'desired' : 'prune', l, undefined),
          );
        else unmanaged.push({ kind, key: l.key });
        continue;
      }
      if (isExpired(d, opts.today) && cap.lifecycle === 'full') {
        if (owned) changes.push(makeChange(tenant.tenant, 'delete', 'expired', l, undefined, d));
        else unmanaged.push({ kind, key: l.key });
        continue;
      }
      if (!sameJson(l.value, d.value) || !marked)
        changes.push(makeChange(tenant.tenant, 'update', marked ? 'desired' : 'adopt', l, d));
    }

    for (const d of desired.values()) {
      if (only !== undefined && !only.has(d.key)) continue;
      if (seen.has(d.key) || isExpired(d, opts.today)) continue;
      // A released protected entry that is gone live: nothing left to hold.
      if (protectedBy !== undefined && isReleased(d.value, protectedBy.record)) continue;
      if (cap.lifecycle === 'update-only') {
        errors.push({
          code: 'ENTRY_NOT_CREATABLE',
          message: `${d.key} does not exist live and its provider cannot create ${kind} (the vendor's console sets them up); set it up there first, or remove the entry`,
          file: d.source.file,
          line: d.source.line,
          column: d.source.column,
        });
        continue;
      }
      changes.push(makeChange(tenant.tenant, 'create', 'desired', undefined, d));
    }
  }

  changes.sort(compareChanges);
  if (errors.length > 0)
    return { tenant: tenant.tenant, status: 'blocked', changes, errors, unmanaged };
  const gate = checkChangeThresholds({
    changes,
    safety: tenant.safety,
    managedLiveCount,
    allowLargeChanges: opts.allowLargeChanges,
    today: opts.today,
  });
  return {
    tenant: tenant.tenant,
    status: gate.length > 0 ? 'blocked' : 'ok',
    changes,
    errors: gate,
    unmanaged,
  };
}

function isReleased(value: AnyEntry, record: string): boolean {
  return (value as unknown as Record<string, unknown>)[record] !== undefined;
}

function makeChange(
  tenant: string,
  action: ChangeAction,
  cause: Change['cause'],
  live: LiveEntry | undefined,
  desired: DesiredEntry | undefined,
  expiredSource?: DesiredEntry,
  keepAfter = false,
): Change {
  const entry = (live ?? desired) as LiveEntry | DesiredEntry;
  const before = live?.value;
  const after = action === 'delete' && !keepAfter ? undefined : desired?.value;
  const src = (desired ?? expiredSource)?.source;
  // One literal with every field (absent ones undefined, which JSON leaves out like a missing
  // key): adding fields one by one costs V8 an extra backing store per change, and a full
  // apply of a large estate holds a million of them.
  const change = {
    tenant,
    kind: entry.kind,
    key: entry.key,
    action,
    cause,
    // Set below, in place: buildPlan would otherwise copy every change to add it.
    effect: undefined as ChangeEffect | undefined,
    patch:
      action === 'update' && before !== undefined && after !== undefined
        ? fastJsonPatch.compare(before, after)
        : NO_PATCH,
    before,
    after,
    liveId: live?.id,
    source:
      src === undefined
        ? undefined
        : src.bundle !== undefined
          ? { file: src.file, line: src.line, bundle: src.bundle }
          : { file: src.file, line: src.line },
  };
  change.effect = classifyChangeEffect(change as Change);
  return change as Change;
}

/** The patch of every create and delete: empty, shared, never written to. */
const NO_PATCH: Change['patch'] = Object.freeze([]) as unknown as Change['patch'];

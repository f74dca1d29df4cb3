import fastJsonPatch from 'fast-json-patch';
import type { DesiredEntry, TenantConfig } from '../config/policy-set.js';
import { sameJson } from '../model/entries.js';
import { KINDS, type HoldEntry, type Kind } from '../model/kinds.js';
import type { LiveEntry } from '../model/kinds.js';
import { checkChangeThresholds, checkHoldKept } from './safety.js';
import type { Change, ChangeAction, PlanError, TenantPlan, UnmanagedEntry } from './types.js';

/** What was read live for a tenant: entries per kind, for the kinds its bindings serve. */
export type LiveState = Partial<Record<Kind, readonly LiveEntry[]>>;

export interface DiffOptions {
  /** Today (YYYY-MM-DD): entries whose `expires` is before it are planned for removal. */
  today: string;
  allowLargeChanges: boolean;
}

const ACTION_ORDER: Record<ChangeAction, number> = { create: 0, update: 1, delete: 2 };
const KIND_ORDER = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<Kind, number>;

export function compareChanges(a: Change, b: Change): number {
  return (
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) ||
    ACTION_ORDER[a.action] - ACTION_ORDER[b.action]
  );
}

function isExpired(entry: DesiredEntry, today: string): boolean {
  const expires =
    entry.kind === 'blockedSenders' || entry.kind === 'exemptions'
      ? entry.value.expires
      : undefined;
  return expires !== undefined && expires < today;
}

/**
 * The keyed diff of one tenant: desired (normalized, bundles resolved) against live.
 * Pure. Ownership: in `managed` mode only entries carrying mxpolicy's marker are updated
 * or deleted, others are listed as unmanaged (an unmanaged entry whose key the YAML
 * declares is adopted: updated to the desired value and marked). Routes are never
 * created-by-omission or deleted; holds are never deleted, and never dropped or narrowed
 * without a `released` record.
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
    const desired = new Map<string, DesiredEntry>();
    for (const d of tenant.entries[kind] as DesiredEntry[]) desired.set(d.key, d);
    const seen = new Set<string>();

    for (const l of liveEntries) {
      if (l.managed || authoritative) managedLiveCount++;
      const d = desired.get(l.key);
      const duplicate = seen.has(l.key);
      seen.add(l.key);
      const owned = l.managed || authoritative;

      if (kind === 'holds') {
        if (d === undefined || duplicate) {
          const error = owned
            ? checkHoldKept(l.value as HoldEntry, undefined, tenant.file)
            : undefined;
          if (error !== undefined) errors.push(error);
          else if (!owned) unmanaged.push({ kind, key: l.key });
          continue;
        }
        const error = checkHoldKept(l.value as HoldEntry, d.value as HoldEntry, tenant.file);
        if (error !== undefined) errors.push(error);
        if (!sameJson(l.value, d.value) || !l.managed)
          changes.push(makeChange(tenant.tenant, 'update', l.managed ? 'desired' : 'adopt', l, d));
        continue;
      }
      if (d === undefined || duplicate) {
        if (kind === 'routes') continue; // domains are never deleted; undeclared ones are left alone
        if (owned)
          changes.push(
            makeChange(tenant.tenant, 'delete', l.managed ? 'desired' : 'prune', l, undefined),
          );
        else unmanaged.push({ kind, key: l.key });
        continue;
      }
      if (isExpired(d, opts.today)) {
        if (owned) changes.push(makeChange(tenant.tenant, 'delete', 'expired', l, undefined, d));
        else unmanaged.push({ kind, key: l.key });
        continue;
      }
      if (!sameJson(l.value, d.value) || !l.managed)
        changes.push(makeChange(tenant.tenant, 'update', l.managed ? 'desired' : 'adopt', l, d));
    }

    for (const d of desired.values()) {
      if (seen.has(d.key) || isExpired(d, opts.today)) continue;
      if (d.kind === 'holds' && d.value.released !== undefined) continue; // released and gone: nothing to hold
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
  });
  return {
    tenant: tenant.tenant,
    status: gate.length > 0 ? 'blocked' : 'ok',
    changes,
    errors: gate,
    unmanaged,
  };
}

function makeChange(
  tenant: string,
  action: ChangeAction,
  cause: Change['cause'],
  live: LiveEntry | undefined,
  desired: DesiredEntry | undefined,
  expiredSource?: DesiredEntry,
): Change {
  const entry = (live ?? desired) as LiveEntry | DesiredEntry;
  const before = live?.value;
  const after = action === 'delete' ? undefined : desired?.value;
  const change: Record<string, unknown> = {
    tenant,
    kind: entry.kind,
    key: entry.key,
    action,
    cause,
    patch: before !== undefined && after !== undefined ? fastJsonPatch.compare(before, after) : [],
  };
  if (before !== undefined) change['before'] = before;
  if (after !== undefined) change['after'] = after;
  if (live?.id !== undefined) change['liveId'] = live.id;
  const src = (desired ?? expiredSource)?.source;
  if (src !== undefined)
    change['source'] = {
      file: src.file,
      line: src.line,
      ...(src.bundle !== undefined ? { bundle: src.bundle } : {}),
    };
  return change as Change;
}

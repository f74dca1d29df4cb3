import {
  KIND_LABELS,
  type AnyEntry,
  type Kind,
  type KindRules,
  type Safety,
} from '../model/kinds.js';
import type { Change, PlanError } from './types.js';

/** Defaults when a tenant sets no `safety:` (DESIGN §5: thresholds also guard small tenants). */
export const DEFAULT_SAFETY = { maxDeletes: 25, maxDeletePercent: 25 } as const;
/** The percent threshold applies once a tenant has this many live entries. */
export const PERCENT_THRESHOLD_MIN_ENTRIES = 10;

export interface SafetyInput {
  changes: readonly Change[];
  safety: Safety;
  /** Live entries mxpolicy manages (the base the delete percentage is taken of). */
  managedLiveCount: number;
  allowLargeChanges: boolean;
}

/**
 * Delete/update thresholds. Expired entries do not count: their removal was reviewed when
 * the date was written. Returns the reasons the tenant is blocked (empty when safe).
 */
export function checkChangeThresholds(input: SafetyInput): PlanError[] {
  if (input.allowLargeChanges) return [];
  const errors: PlanError[] = [];
  const deletes = input.changes.filter(
    (c) => c.action === 'delete' && c.cause !== 'expired',
  ).length;
  const updates = input.changes.filter((c) => c.action === 'update').length;
  const maxDeletes = input.safety.maxDeletes ?? DEFAULT_SAFETY.maxDeletes;
  const maxPercent = input.safety.maxDeletePercent ?? DEFAULT_SAFETY.maxDeletePercent;
  if (deletes > maxDeletes)
    errors.push({
      code: 'TOO_MANY_DELETES',
      message: `${deletes} deletes exceed safety.maxDeletes (${maxDeletes}); review and re-run with --allow-large-changes`,
    });
  else if (input.managedLiveCount >= PERCENT_THRESHOLD_MIN_ENTRIES && deletes > 0) {
    const percent = (deletes / input.managedLiveCount) * 100;
    if (percent > maxPercent)
      errors.push({
        code: 'TOO_MANY_DELETES',
        message: `${deletes} deletes are ${percent.toFixed(1)}% of ${input.managedLiveCount} managed entries, over safety.maxDeletePercent (${maxPercent}%); review and re-run with --allow-large-changes`,
      });
  }
  if (input.safety.maxUpdates !== undefined && updates > input.safety.maxUpdates)
    errors.push({
      code: 'TOO_MANY_UPDATES',
      message: `${updates} updates exceed safety.maxUpdates (${input.safety.maxUpdates}); review and re-run with --allow-large-changes`,
    });
  return errors;
}

/**
 * A live protected entry (a hold) may only go away or shrink through its release record.
 * Returns an error when the desired entry (undefined = removed from YAML) would drop the
 * entry or members of it (custodians).
 */
export function checkProtectedKept(
  kind: Kind,
  rule: NonNullable<KindRules['protectedBy']>,
  live: AnyEntry,
  desired: AnyEntry | undefined,
  tenantFile: string,
): PlanError | undefined {
  const fields = (v: AnyEntry): Record<string, unknown> => v as unknown as Record<string, unknown>;
  if (fields(live)[rule.record] !== undefined) return undefined;
  const label = KIND_LABELS[kind];
  const code = rule.code;
  const name = describeProtected(live);
  if (desired === undefined)
    return {
      code: `${code}_REMOVED`,
      message: `${label} ${name} is live but no longer in ${tenantFile}; ${label}s are never removed implicitly: keep it and add '${rule.record}: {by, reason, date}' to release it`,
      file: tenantFile,
    };
  if (fields(desired)[rule.record] !== undefined) return undefined;
  // `custodians: all` keeps every member, including ones that left the directory; a live
  // `all` narrowed to a list would drop whoever the list leaves out.
  const everyone = (v: AnyEntry): boolean => fields(v)[rule.members] === 'all';
  if (everyone(desired)) return undefined;
  if (everyone(live))
    return {
      code: `${code}_NARROWED`,
      message: `${label} ${name} covers every mailbox (${rule.members}: all); a list of ${rule.members} would narrow it, which needs a '${rule.record}' record (release it and create a new ${label})`,
      file: tenantFile,
    };
  const members = (v: AnyEntry): string[] => {
    const m = fields(v)[rule.members];
    return Array.isArray(m) ? (m as string[]) : [];
  };
  const kept = new Set(members(desired));
  const dropped = members(live).filter((c) => !kept.has(c));
  if (dropped.length > 0)
    return {
      code: `${code}_NARROWED`,
      message: `${label} ${name} would drop ${rule.members} ${dropped.join(', ')}; narrowing a ${label} needs a '${rule.record}' record (release it and create a new ${label})`,
      file: tenantFile,
    };
  return undefined;
}

function describeProtected(v: AnyEntry): string {
  const f = v as unknown as Record<string, unknown>;
  const id = typeof f['id'] === 'string' ? f['id'] : '';
  return typeof f['matter'] === 'string' ? `${id} (${f['matter']})` : id;
}

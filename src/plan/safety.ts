import type { HoldEntry, Safety } from '../model/kinds.js';
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
 * A live hold may only go away or shrink through a `released` record. Returns an error
 * when the desired hold (undefined = removed from YAML) would drop the hold or custodians.
 */
export function checkHoldKept(
  live: HoldEntry,
  desired: HoldEntry | undefined,
  tenantFile: string,
): PlanError | undefined {
  if (live.released !== undefined) return undefined;
  if (desired === undefined)
    return {
      code: 'HOLD_REMOVED',
      message: `hold ${live.id} (${live.matter}) is live but no longer in ${tenantFile}; holds are never removed implicitly: keep it and add 'released: {by, reason, date}' to release it`,
      file: tenantFile,
    };
  if (desired.released !== undefined) return undefined;
  // `all` keeps every mailbox held, including ones that left the directory.
  if (desired.custodians === 'all') return undefined;
  if (live.custodians === 'all')
    return {
      code: 'HOLD_NARROWED',
      message: `hold ${live.id} (${live.matter}) holds every mailbox (custodians: all); a list of custodians would narrow it, which needs a 'released' record (release it and create a new hold)`,
      file: tenantFile,
    };
  const wanted = new Set(desired.custodians);
  const dropped = live.custodians.filter((c) => !wanted.has(c));
  if (dropped.length > 0)
    return {
      code: 'HOLD_NARROWED',
      message: `hold ${live.id} (${live.matter}) would drop custodian(s) ${dropped.join(', ')}; narrowing a hold needs a 'released' record (release it and create a new hold)`,
      file: tenantFile,
    };
  return undefined;
}

import { tenantGlob } from '../config/select-tenants.js';
import type { Kind } from '../model/kinds.js';
import type { ChangeAction, ChangeStatus, TenantApplyResult } from '../plan/types.js';
import type { ApplyReceipt, RunnerInfo } from './apply-receipts.js';
import type { Person } from './commit-log.js';
import type { EntryAction, HistoryRecord } from './semantic-history.js';

/**
 * What became of a merged change:
 * - `applied`: a receipt shows the change applied;
 * - `already-live`: an apply covered the tenant and had nothing to do for the entry (an
 *   earlier run without a receipt, or a hand edit, had made it live);
 * - `failed` / `skipped`: the last apply that tried it did not apply it;
 * - `pending`: the vendor accepted it and was still carrying it out when the apply ended
 *   (a hold being placed); the next plan shows whether it settled;
 * - `superseded`: a later commit changed the entry again before any apply covered it;
 * - `not-applied`: merged, and no apply since covered the tenant.
 */
export type AppliedStatus =
  'applied' | 'already-live' | 'failed' | 'skipped' | 'pending' | 'superseded' | 'not-applied';

export interface AuditRow {
  tenant: string;
  kind: Kind;
  key: string;
  action: EntryAction;
  /** Top-level fields that differ, for `changed`. */
  fields: string[];
  reason?: string;
  commit: string;
  pr?: number;
  subject: string;
  proposedBy: Person;
  proposedAt: string;
  mergedBy: Person;
  mergedAt: string;
  status: AppliedStatus;
  /** The apply that settled (or last attempted) the change. */
  apply?: {
    commit: string;
    checksum: string;
    startedAt: string;
    finishedAt: string;
    runner: RunnerInfo;
    /** The apply ran with uncommitted policy edits (see ApplyReceipt). */
    uncommittedChanges?: true;
    action?: ChangeAction;
    result?: ChangeStatus;
    reason?: string;
  };
  /** Applies that covered the tenant before the change settled, including failed ones. */
  attempts: number;
}

/** True for the statuses an auditor must look at: the change is not (known to be) live. */
export function isUnapplied(status: AppliedStatus): boolean {
  return status !== 'applied' && status !== 'already-live';
}

/**
 * Join the semantic history with apply receipts. Apply is level-triggered: a receipt on a
 * later main-line commit covers every earlier change it found still to do, so for each
 * change the receipts from its own commit up to the entry's next change are searched, in
 * main-line order (then start time). Pure.
 *
 * @param mainline every commit of the main line, oldest first (receipts elsewhere are ignored)
 */
export function buildAuditTrail(
  history: readonly HistoryRecord[],
  receipts: readonly ApplyReceipt[],
  mainline: readonly string[],
): AuditRow[] {
  const position = new Map(mainline.map((sha, i) => [sha, i]));
  // Apply always runs on the latest main, so main-line order is the order applies ran;
  // several runs on one commit are ordered by start time.
  const ordered: IndexedReceipt[] = receipts
    .flatMap((receipt) => {
      const at = position.get(receipt.commit);
      return at === undefined
        ? []
        : [{ receipt, at, tenants: new Map(receipt.tenants.map((t) => [t.tenant, t])) }];
    })
    .sort(
      (a, b) =>
        a.at - b.at ||
        (a.receipt.startedAt < b.receipt.startedAt
          ? -1
          : a.receipt.startedAt > b.receipt.startedAt
            ? 1
            : 0),
    );
  const next = new Map<HistoryRecord, number>();
  const last = new Map<string, HistoryRecord>();
  for (const r of history) {
    const id = `${r.tenant}\0${r.kind}\0${r.key}`;
    const previous = last.get(id);
    if (previous !== undefined) next.set(previous, position.get(r.commit) ?? Infinity);
    last.set(id, r);
  }
  return history.map((r) => auditOne(r, ordered, position, next.get(r) ?? Infinity));
}

interface IndexedReceipt {
  receipt: ApplyReceipt;
  /** Position of the receipt's commit on the main line. */
  at: number;
  tenants: ReadonlyMap<string, TenantApplyResult>;
}

/** Index of the first receipt at or after main-line position `from`. */
function firstReceiptFrom(receipts: readonly IndexedReceipt[], from: number): number {
  let lo = 0;
  let hi = receipts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((receipts[mid]?.at ?? Infinity) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function auditOne(
  r: HistoryRecord,
  receipts: readonly IndexedReceipt[],
  position: ReadonlyMap<string, number>,
  until: number,
): AuditRow {
  const from = position.get(r.commit) ?? Infinity;
  const row: AuditRow = {
    tenant: r.tenant,
    kind: r.kind,
    key: r.key,
    action: r.action,
    fields: r.fields,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    commit: r.commit,
    ...(r.pr !== undefined ? { pr: r.pr } : {}),
    subject: r.subject,
    proposedBy: r.proposedBy,
    proposedAt: r.proposedAt,
    mergedBy: r.mergedBy,
    mergedAt: r.date,
    status: until === Infinity ? 'not-applied' : 'superseded',
    attempts: 0,
  };
  for (let i = firstReceiptFrom(receipts, from); i < receipts.length; i++) {
    const { receipt, at, tenants } = receipts[i] as IndexedReceipt;
    if (at >= until) break;
    const tenant = tenants.get(r.tenant) ?? tenants.get(r.tenantAtCommit);
    if (tenant === undefined) continue;
    row.attempts++;
    const apply = {
      commit: receipt.commit,
      checksum: receipt.checksum,
      startedAt: receipt.startedAt,
      finishedAt: receipt.finishedAt,
      runner: receipt.runner,
      ...(receipt.uncommittedChanges === true ? { uncommittedChanges: true as const } : {}),
    };
    const result = tenant.results.find((x) => x.kind === r.kind && x.key === r.key);
    if (result !== undefined) {
      row.apply = {
        ...apply,
        action: result.action,
        result: result.status,
        ...(result.reason !== undefined ? { reason: result.reason } : {}),
      };
      row.status = result.status;
      if (result.status === 'applied') return row;
    } else if (tenant.status === 'failed' || tenant.status === 'skipped') {
      row.apply = { ...apply, ...(tenant.reason !== undefined ? { reason: tenant.reason } : {}) };
      row.status = tenant.status;
    } else {
      row.apply = apply;
      row.status = 'already-live';
      return row;
    }
  }
  return row;
}

/** Rows of tenants matching any glob (all when none), merged on or after `since`. */
export function filterAuditRows(
  rows: readonly AuditRow[],
  query: { tenant: readonly string[]; since?: Date },
): AuditRow[] {
  const tenants = query.tenant.map(tenantGlob);
  const since = query.since?.getTime();
  return rows.filter(
    (r) =>
      (tenants.length === 0 || tenants.some((p) => p.test(r.tenant))) &&
      (since === undefined || Date.parse(r.mergedAt) >= since),
  );
}

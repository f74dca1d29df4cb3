import { summarize } from '../../src/plan/build-plan.js';
import type { Change, Plan, TenantPlan } from '../../src/plan/types.js';

/** A blocked-sender change of one tenant (the most common kind in the tests). */
export function blockChange(
  tenant: string,
  sender: string,
  action: Change['action'],
  cause: Change['cause'] = 'desired',
): Change {
  const entry = { sender, reason: `campaign against ${sender}` };
  return {
    tenant,
    kind: 'blockedSenders',
    key: sender,
    action,
    cause,
    ...(action === 'create' ? {} : { before: entry }),
    ...(action === 'delete' ? {} : { after: entry }),
    patch: [],
  };
}

export function tenantPlan(
  tenant: string,
  changes: Change[],
  status: TenantPlan['status'] = 'ok',
): TenantPlan {
  return { tenant, status, changes, errors: [], unmanaged: [] };
}

/** A plan value with the summary computed from its changes. */
export function makePlan(tenants: TenantPlan[], checksum = 'c0ffee'.padEnd(64, '0')): Plan {
  return { formatVersion: 1, checksum, tenants, summary: summarize(tenants) };
}

import { buildPlan } from './build-plan.js';
import type { Plan } from './types.js';

/**
 * Drift: the changes a plan would make that nobody asked for in a commit. Expired entries
 * are expected changes, not drift. (Creates count: an entry in the YAML that is missing
 * live was removed by hand, or never applied.)
 */
export function driftOf(plan: Plan): Plan {
  return buildPlan(
    plan.tenants.map((t) => ({ ...t, changes: t.changes.filter((c) => c.cause !== 'expired') })),
  );
}

import type { Plan } from './types.js';

/** The public plan document (DESIGN §3), pretty-printed. */
export function renderPlanJson(plan: Plan): string {
  return JSON.stringify(plan, null, 2) + '\n';
}

/** Parse a plan document written by `renderPlanJson`, checking its format version. */
export function parsePlanJson(text: string): Plan {
  const value = JSON.parse(text) as Partial<Plan>;
  if (
    value.formatVersion !== 1 ||
    typeof value.checksum !== 'string' ||
    !Array.isArray(value.tenants)
  )
    throw new Error('not an mxpolicy plan (formatVersion 1)');
  return value as Plan;
}

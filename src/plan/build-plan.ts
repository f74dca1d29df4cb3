import { createHash } from 'node:crypto';
import { canonicalJson, entryFingerprint } from '../model/entries.js';
import { classifyChangeEffect } from './effect.js';
import { summarizeReadScopes } from './read-scope.js';
import type { Change, Plan, PlanSummary, TenantPlan } from './types.js';

/**
 * sha256 over what apply would do: equal effects, equal checksums.
 * Entry values (before/after), whose key order comes from YAML or a vendor, are serialized
 * field by field (`entryFingerprint`); the patch is a function of them; the rest is built
 * by the planner in a fixed order. (Canonical JSON of a 250,000-change plan costs seconds.)
 */
export function planChecksum(tenants: readonly TenantPlan[]): string {
  const hash = createHash('sha256').update('mxpolicy-plan/2\n');
  // The hash is fed in chunks of about 64 KB: the same bytes as one update per line, without
  // a call into the hash per change (a quarter of the cost on a 300,000-change apply).
  let chunk = '';
  const add = (line: string): void => {
    chunk += line;
    if (chunk.length >= 65_536) {
      hash.update(chunk);
      chunk = '';
    }
  };
  for (const t of tenants) {
    // Only what apply would do, or refuse to do, counts. A tenant with nothing to change,
    // the informational list of unmanaged entries and where in the YAML an entry is written
    // can all change after review without making the reviewed plan wrong.
    if (t.status === 'ok' && t.changes.length === 0) continue;
    add(JSON.stringify([t.tenant, t.status, t.errors.map((e) => [e.code, e.message])]) + '\n');
    for (const c of t.changes) {
      add(
        JSON.stringify([c.kind, c.key, c.action, c.cause, c.liveId ?? null]) +
          (c.before !== undefined ? entryFingerprint(c.kind, c.before) : 'null') +
          (c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null') +
          '\n',
      );
    }
  }
  if (chunk !== '') hash.update(chunk);
  return hash.digest('hex');
}

/**
 * The checksum of one tenant's part of a plan: a reviewed plan can be checked, and applied,
 * tenant by tenant. A tenant with nothing to do has `EMPTY_TENANT_CHECKSUM`.
 */
export function tenantChecksum(tenant: TenantPlan): string {
  return planChecksum([tenant]);
}
export const EMPTY_TENANT_CHECKSUM = planChecksum([]);

export function summarize(tenants: readonly TenantPlan[]): PlanSummary {
  const summary: PlanSummary = {
    create: 0,
    update: 0,
    delete: 0,
    tighten: 0,
    loosen: 0,
    neutral: 0,
  };
  for (const t of tenants)
    for (const c of t.changes) {
      summary[c.action]++;
      summary[c.effect ?? classifyChangeEffect(c)]++;
    }
  return summary;
}

/** The change with its `effect` (placed after `cause`, so the JSON reads in order). */
function withEffect(c: Change): Change {
  if (c.effect !== undefined) return c;
  const { tenant, kind, key, action, cause, ...rest } = c;
  return { tenant, kind, key, action, cause, effect: classifyChangeEffect(c), ...rest } as Change;
}

/** Assemble the plan value from per-tenant plans (sorted by tenant id); each change gets its effect. */
export function buildPlan(tenantPlans: readonly TenantPlan[]): Plan {
  const tenants = tenantPlans
    // Changes made by diffTenant carry their effect already: their list is kept as it is.
    .map((t) => ({
      ...t,
      changes: t.changes.every((c) => c.effect !== undefined)
        ? t.changes
        : t.changes.map(withEffect),
    }))
    .sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
  // How live state was read, when the run that read it says so (never in the checksum).
  const scopes = tenants.map((t) => t.read);
  return {
    formatVersion: 1,
    checksum: planChecksum(tenants),
    ...(scopes.some((r) => r !== undefined) ? { read: summarizeReadScopes(scopes) } : {}),
    tenants,
    summary: summarize(tenants),
  };
}

export function hasChanges(plan: Plan): boolean {
  return plan.tenants.some((t) => t.changes.length > 0);
}

/** What differs between a reviewed plan and a fresh one, as lines a person can act on. */
export function explainPlanDifference(reviewed: Plan, fresh: Plan): string[] {
  const id = (t: string, c: TenantPlan['changes'][number]): string =>
    `${t} ${c.action} ${c.kind} ${c.key}`;
  const index = (plan: Plan): Map<string, string> => {
    const m = new Map<string, string>();
    for (const t of plan.tenants) {
      m.set(`${t.tenant} status`, t.status);
      // Where an entry is written (file:line) is not a difference in effect: lines that
      // moved must not be listed as if the change itself differed.
      for (const c of t.changes) {
        const { source: _where, ...effect } = c;
        m.set(id(t.tenant, c), canonicalJson(effect));
      }
    }
    return m;
  };
  const a = index(reviewed);
  const b = index(fresh);
  const lines: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined)
      lines.push(`- no longer planned: ${k}${k.endsWith(' status') ? ` (${v})` : ''}`);
    else if (w !== v)
      lines.push(`~ differs now: ${k}${k.endsWith(' status') ? ` (${v} -> ${w})` : ''}`);
  }
  for (const k of b.keys()) if (!a.has(k)) lines.push(`+ newly planned: ${k}`);
  if (lines.length === 0 && reviewed.checksum !== fresh.checksum)
    lines.push(
      'The same changes are planned; only where they are written in the policy files (lines) moved since review.',
    );
  return lines;
}

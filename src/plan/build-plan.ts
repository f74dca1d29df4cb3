import { createHash } from 'node:crypto';
import { canonicalJson, entryFingerprint } from '../model/entries.js';
import { classifyChangeEffect } from './effect.js';
import { summarizeReadScopes } from './read-scope.js';
import type { Change, Plan, PlanSummary, TenantPlan } from './types.js';

/**
 * sha256 over what one tenant's part of a plan would do: equal effects, equal checksums.
 * Entry values (before/after), whose key order comes from YAML or a vendor, are serialized
 * field by field (`entryFingerprint`); the patch is a function of them; the rest is built
 * by the planner in a fixed order. (Canonical JSON of a 250,000-change plan costs seconds.)
 * A reviewed plan can be checked, and applied, tenant by tenant with it. A tenant with
 * nothing to do has `EMPTY_TENANT_CHECKSUM`.
 */
export function tenantChecksum(t: TenantPlan, shared?: SharedLines): string {
  const hash = createHash('sha256').update('mxpolicy-plan/2\n');
  // Only what apply would do, or refuse to do, counts. A tenant with nothing to change,
  // the informational list of unmanaged entries and where in the YAML an entry is written
  // can all change after review without making the reviewed plan wrong.
  if (!hasWork(t)) return hash.digest('hex');
  // The hash is fed in chunks of about 64 KB: the same bytes as one update per line, without
  // a call into the hash per change (a quarter of the cost on a 300,000-change apply).
  let chunk = JSON.stringify([t.tenant, t.status, t.errors.map((e) => [e.code, e.message])]) + '\n';
  for (const c of t.changes) {
    // A bundle's entry is the same object in every tenant that includes it, and so is the
    // line of its create: made once per run.
    const memo =
      shared !== undefined &&
      shared.size < SHARED_LINES_MAX &&
      c.action === 'create' &&
      c.cause === 'desired' &&
      c.source?.bundle !== undefined &&
      c.before === undefined &&
      c.liveId === undefined
        ? shared
        : undefined;
    const value = c.after;
    const known = memo !== undefined && value !== undefined ? memo.get(value) : undefined;
    if (known !== undefined && known.key === c.key && known.kind === c.kind) chunk += known.line;
    else {
      const line = changeLine(c);
      if (memo !== undefined && value !== undefined)
        memo.set(value, { kind: c.kind, key: c.key, line });
      chunk += line;
    }
    if (chunk.length >= 65_536) {
      hash.update(chunk);
      chunk = '';
    }
  }
  if (chunk !== '') hash.update(chunk);
  return hash.digest('hex');
}

/** One change's line of `tenantChecksum`. */
function changeLine(c: TenantPlan['changes'][number]): string {
  // JSON.stringify([c.kind, c.key, c.action, c.cause, c.liveId ?? null]), without the array.
  return (
    `[${quoted(c.kind)},${JSON.stringify(c.key)},${quoted(c.action)},${quoted(c.cause)},${c.liveId === undefined ? 'null' : JSON.stringify(c.liveId)}]` +
    (c.before !== undefined ? entryFingerprint(c.kind, c.before) : 'null') +
    (c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null') +
    '\n'
  );
}

/**
 * The checksum lines of bundle entries' creates, by entry value, shared by the tenants of
 * one run (`tenantChecksum`): one per bundle entry, however many tenants include it.
 */
export type SharedLines = Map<object, { kind: string; key: string; line: string }>;
/** Bundles hold hundreds or thousands of entries; values that are not shared stop here. */
const SHARED_LINES_MAX = 20_000;

export const EMPTY_TENANT_CHECKSUM = createHash('sha256').update('mxpolicy-plan/2\n').digest('hex');

/** `JSON.stringify(word)` for the planner's words (kinds, actions, causes): letters need no escape. */
function quoted(word: string): string {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i) | 0x20;
    if (c < 0x61 || c > 0x7a) return JSON.stringify(word);
  }
  return `"${word}"`;
}

/** Whether a tenant's part of a plan does, or refuses to do, anything (and so is checksummed). */
const hasWork = (t: TenantPlan): boolean => !(t.status === 'ok' && t.changes.length === 0);

/**
 * The checksum of a whole plan: sha256 over the `tenantChecksum` of each tenant with
 * something to do, in the given order (a plan's, sorted by tenant id). Built from the
 * tenants' own checksums, so a run that applies tenant by tenant checksums each as it is
 * planned (`known`, by tenant id) instead of all of them once the last tenant is done.
 */
export function planChecksum(
  tenants: readonly TenantPlan[],
  known?: ReadonlyMap<string, string>,
): string {
  const hash = createHash('sha256').update('mxpolicy-plan/3\n');
  const shared: SharedLines = new Map();
  for (const t of tenants)
    if (hasWork(t))
      hash.update(
        `${JSON.stringify(t.tenant)} ${known?.get(t.tenant) ?? tenantChecksum(t, shared)}\n`,
      );
  return hash.digest('hex');
}

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

/**
 * Assemble the plan value from per-tenant plans (sorted by tenant id); each change gets its
 * effect. `checksums`: the `tenantChecksum` of tenants already computed, by tenant id.
 */
export function buildPlan(
  tenantPlans: readonly TenantPlan[],
  checksums?: ReadonlyMap<string, string>,
): Plan {
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
    checksum: planChecksum(tenants, checksums),
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

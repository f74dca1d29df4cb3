import { createHash } from 'node:crypto';
import { KIND_LABELS } from '../model/kinds.js';
import { describeChangeFields } from '../plan/describe.js';
import type { Change, Plan, TenantPlan } from '../plan/types.js';
import { fitBody, MAX_BODY_CHARS } from './fit-body.js';
import { parseMarker, renderMarker } from './markers.js';

/**
 * Drift as GitHub issues: one issue per drifted tenant, labelled, with the drift as its body;
 * updated when the drift changes, closed with a comment when it is gone, reopened when it
 * returns. This file decides (pure); `drift-sync.ts` carries the decisions out.
 */
export const DRIFT_LABEL = 'mxpolicy-drift';
const TITLE_PREFIX = 'mxpolicy drift: ';

export type TenantDrift =
  | { tenant: string; state: 'drift'; changes: Change[]; fingerprint: string }
  | { tenant: string; state: 'clean' }
  /** The live state could not be read: we do not know, so the issue is left as it is. */
  | { tenant: string; state: 'unknown'; reason: string };

export interface ExistingDriftIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
}

export type DriftIssueAction =
  | { type: 'create'; tenant: string; title: string; body: string }
  | {
      type: 'update';
      tenant: string;
      number: number;
      title: string;
      body: string;
      /** Absent when only the title was restored: nothing to notify about. */
      comment?: string;
    }
  | { type: 'reopen'; tenant: string; number: number; title: string; body: string; comment: string }
  | {
      type: 'close';
      tenant: string;
      number: number;
      comment: string;
      reason: 'completed' | 'not_planned';
    };

export interface DriftRunInfo {
  /** Commit of main the drift was computed against. */
  sha?: string;
  runUrl?: string;
  /** ISO timestamp of the drift run. */
  at: string;
}

export function driftIssueTitle(tenant: string): string {
  return `${TITLE_PREFIX}${tenant}`;
}

/** The tenant an issue tracks: from its hidden marker, else from its title. */
export function tenantOfDriftIssue(
  issue: Pick<ExistingDriftIssue, 'title' | 'body'>,
): string | undefined {
  const marker = parseMarker(issue.body);
  if (marker?.kind === 'drift' && marker.attrs['tenant']) return marker.attrs['tenant'];
  return issue.title.startsWith(TITLE_PREFIX)
    ? issue.title.slice(TITLE_PREFIX.length).trim()
    : undefined;
}

function fingerprintOfIssue(issue: ExistingDriftIssue): string | undefined {
  const marker = parseMarker(issue.body);
  return marker?.kind === 'drift' ? marker.attrs['fingerprint'] : undefined;
}

/** Changes that are drift: everything except entries planned for removal because they expired. */
export function driftChanges(tenant: TenantPlan): Change[] {
  return tenant.changes.filter((c) => c.cause !== 'expired');
}

/** A stable hash of what drifted (not of when it was seen), so unchanged drift edits nothing. */
export function driftFingerprint(changes: readonly Change[]): string {
  const canonical = changes
    .map((c) => JSON.stringify([c.kind, c.key, c.action, c.before ?? null, c.after ?? null]))
    .sort();
  return createHash('sha256').update(canonical.join('\n')).digest('hex').slice(0, 16);
}

/** Per tenant of a read-only plan: drift, clean, or unknown (the plan errored). */
export function driftOfPlan(plan: Plan): TenantDrift[] {
  return plan.tenants.map((t): TenantDrift => {
    if (t.status === 'error') {
      return {
        tenant: t.tenant,
        state: 'unknown',
        reason: t.errors.map((e) => e.message).join('; '),
      };
    }
    const changes = driftChanges(t);
    return changes.length === 0
      ? { tenant: t.tenant, state: 'clean' }
      : { tenant: t.tenant, state: 'drift', changes, fingerprint: driftFingerprint(changes) };
  });
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('`', "'");
}

/** The drift of one tenant as markdown: what differs live from the YAML, and what apply would do. */
export function renderTenantDriftMarkdown(tenant: string, changes: readonly Change[]): string {
  const rows = changes.map((c) => {
    const what = `${KIND_LABELS[c.kind]} \`${c.key}\``;
    switch (c.action) {
      case 'create':
        return `| ${what} | missing live (in YAML) | re-create it |`;
      case 'delete':
        return `| ${what} | live only (not in YAML) | delete it |`;
      case 'update': {
        const fields = describeChangeFields(c).map((f) => `\`${cell(f)}\``);
        return `| ${what} | changed live (live -> YAML): ${fields.join(', ') || 'fields differ'} | restore the YAML values |`;
      }
    }
  });
  return [
    `Live configuration of tenant \`${tenant}\` differs from \`main\` in ${changes.length} place(s):`,
    '',
    '| entry | live state | `mxpolicy apply` would |',
    '|---|---|---|',
    ...rows,
  ].join('\n');
}

export function renderDriftIssueBody(
  drift: Extract<TenantDrift, { state: 'drift' }>,
  run: DriftRunInfo,
): string {
  const seen = `Last checked ${run.at}${run.sha ? ` against \`${run.sha.slice(0, 7)}\`` : ''}${run.runUrl ? ` ([run](${run.runUrl}))` : ''}.`;
  const full = [
    renderMarker('drift', { tenant: drift.tenant, fingerprint: drift.fingerprint }),
    renderTenantDriftMarkdown(drift.tenant, drift.changes),
    '',
    'To resolve: commit the live change to `policies/` if it should stay, or run the apply workflow to put the tenant back to what `main` says. This issue is updated while the drift lasts and closed when it is gone.',
    '',
    seen,
  ].join('\n');
  return fitBody(full, undefined, {
    maxChars: MAX_BODY_CHARS,
    omittedDetailsNote: () => '',
    cutNote: `The drift is too long for an issue; run \`mxpolicy drift --tenant ${drift.tenant}\` for all of it.`,
  }).body;
}

/**
 * What to do with the drift issues, given the issues that exist (any state, with the drift
 * label) and the drift of the tenants just checked. Tenants whose state is unknown keep
 * their issues as they are. Tenants not checked keep theirs too, unless `complete` says
 * every tenant of the policies was checked: then an open issue of a tenant that is no
 * longer in the policies is closed.
 */
export function planDriftIssueActions(
  existing: readonly ExistingDriftIssue[],
  tenants: readonly TenantDrift[],
  run: DriftRunInfo,
  opts: { complete?: boolean } = {},
): DriftIssueAction[] {
  const byTenant = new Map<string, ExistingDriftIssue[]>();
  for (const issue of existing) {
    const tenant = tenantOfDriftIssue(issue);
    if (tenant === undefined) continue;
    byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), issue]);
  }
  const actions: DriftIssueAction[] = [];
  for (const t of tenants) {
    const issues = [...(byTenant.get(t.tenant) ?? [])].sort((a, b) => a.number - b.number);
    const open = issues.filter((i) => i.state === 'open');
    if (t.state === 'unknown') continue;
    if (t.state === 'clean') {
      for (const issue of open) {
        actions.push({
          type: 'close',
          tenant: t.tenant,
          number: issue.number,
          reason: 'completed',
          comment: `Drift resolved: tenant \`${t.tenant}\` matches \`main\` again as of ${run.at}${run.runUrl ? ` ([run](${run.runUrl}))` : ''}. Closing.`,
        });
      }
      continue;
    }
    const title = driftIssueTitle(t.tenant);
    const body = renderDriftIssueBody(t, run);
    const count = `${t.changes.length} difference(s)`;
    const [keep, ...duplicates] = open;
    if (keep) {
      const changed = fingerprintOfIssue(keep) !== t.fingerprint;
      if (changed || keep.title !== title) {
        actions.push({
          type: 'update',
          tenant: t.tenant,
          number: keep.number,
          title,
          body,
          ...(changed
            ? {
                comment: `The drift changed: now ${count}. The description shows the current state.`,
              }
            : {}),
        });
      }
      for (const d of duplicates) {
        actions.push({
          type: 'close',
          tenant: t.tenant,
          number: d.number,
          reason: 'not_planned',
          comment: `Duplicate of #${keep.number}, which tracks the drift of \`${t.tenant}\`.`,
        });
      }
      continue;
    }
    const latestClosed = issues.filter((i) => i.state === 'closed').at(-1);
    if (latestClosed) {
      actions.push({
        type: 'reopen',
        tenant: t.tenant,
        number: latestClosed.number,
        title,
        body,
        comment: `The drift is back: ${count}. Reopening.`,
      });
    } else {
      actions.push({ type: 'create', tenant: t.tenant, title, body });
    }
  }
  if (opts.complete === true) {
    const checked = new Set(tenants.map((t) => t.tenant));
    for (const [tenant, issues] of byTenant) {
      if (checked.has(tenant)) continue;
      for (const issue of issues.filter((i) => i.state === 'open')) {
        actions.push({
          type: 'close',
          tenant,
          number: issue.number,
          reason: 'not_planned',
          comment: `Tenant \`${tenant}\` is no longer in the policies, so mxpolicy no longer checks it for drift. Closing.`,
        });
      }
    }
  }
  return actions;
}

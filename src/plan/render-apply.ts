import { KIND_LABELS } from '../model/kinds.js';
import { ACTION_SYMBOL, describeKindCounts } from './describe.js';
import { firstSorted, groupAcrossTenants, type TenantGroup } from './group-changes.js';
import { LISTED_GROUPS, foldedText, tenantsOf, whereText } from './render-text.js';
import type { ApplyReport, ChangeResult, ChangeStatus } from './types.js';

const ANSI = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
};

export interface ApplyTextOptions {
  colour: boolean;
  /** Every change result on its own line, per tenant (the default groups them). */
  verbose?: boolean;
}

/**
 * Per tenant its status and counts (with `verbose`, each change applied / failed (reason) /
 * skipped); then every failure and every delete named, pending changes, and identical
 * changes across tenants on one line; then a summary line.
 */
export function renderApplyReportText(report: ApplyReport, opts: ApplyTextOptions): string {
  const paint = (c: keyof typeof ANSI, s: string): string =>
    opts.colour ? `${ANSI[c]}${s}${ANSI.reset}` : s;
  const colourOf = {
    applied: 'green',
    failed: 'red',
    skipped: 'yellow',
    pending: 'yellow',
  } as const;
  const out: string[] = [];
  for (const t of report.tenants) {
    if (t.status === 'unchanged') continue;
    const n = { applied: 0, failed: 0, skipped: 0, pending: 0 };
    for (const r of t.results) n[r.status]++;
    out.push(
      paint('bold', `${t.tenant}: ${t.status}`) +
        ` (${n.applied} applied, ${n.failed} failed, ${n.skipped} skipped${n.pending > 0 ? `, ${n.pending} pending` : ''})` +
        (t.reason !== undefined ? ` — ${t.reason}` : ''),
    );
    if (opts.verbose === true)
      for (const r of t.results)
        out.push(
          paint(
            colourOf[r.status],
            `  ${r.status.padEnd(7)} ${ACTION_SYMBOL[r.action]} ${KIND_LABELS[r.kind]} ${r.key}`,
          ) + (r.reason !== undefined && t.reason === undefined ? ` — ${r.reason}` : ''),
        );
    else if (t.results.length > 0) out.push(`  ${describeKindCounts(t.results)}`);
  }
  if (opts.verbose !== true) out.push(...groupedResults(report, paint));
  const { applied, failed, skipped, pending } = report.summary;
  const failedTenants = report.tenants
    .filter((t) => t.status === 'failed' || t.status === 'partial')
    .map((t) => t.tenant);
  const skippedTenants = report.tenants.filter((t) => t.status === 'skipped').map((t) => t.tenant);
  const pendingTenants = report.tenants.filter((t) => t.status === 'pending').map((t) => t.tenant);
  if (applied + failed + skipped + pending === 0 && skippedTenants.length === 0)
    out.push('No changes. Nothing to apply.');
  else
    out.push(
      (opts.verbose === true ? '' : '\n') +
        `Apply: ${applied} applied, ${failed} failed, ${skipped} skipped${pending > 0 ? `, ${pending} pending` : ''}.` +
        (pendingTenants.length > 0
          ? ` Still settling at the vendor in: ${pendingTenants.join(', ')} (run plan later to see them applied).`
          : '') +
        (failedTenants.length > 0 ? ` Failed in: ${failedTenants.join(', ')}.` : '') +
        (skippedTenants.length > 0
          ? ` Not applied (error or blocked): ${skippedTenants.join(', ')}.`
          : ''),
    );
  return out.join('\n') + '\n';
}

type Paint = (colour: keyof typeof ANSI, s: string) => string;

const STATUS_ORDER: Record<ChangeStatus, number> = {
  failed: 0,
  pending: 1,
  skipped: 2,
  applied: 3,
};

/**
 * Results grouped across tenants with the plan's grouping engine and its cheap keys (same
 * status, kind, action and entry key) plus the reason shown. A result line shows no field
 * values, so values do not split it (the plan's text and comment group by them too).
 */
function groupedResults(report: ApplyReport, paint: Paint): string[] {
  const rows = report.tenants.map((t) => ({ tenant: t.tenant, items: t.results }));
  // A skipped tenant's line already says why: its results do not repeat it.
  const tenantReason = new Map(report.tenants.map((t) => [t.tenant, t.reason]));
  const shown = (r: ChangeResult, tenant: string): string | undefined =>
    r.status === 'failed' || r.status === 'pending' || tenantReason.get(tenant) === undefined
      ? r.reason
      : undefined;
  const same = [
    (r: ChangeResult): string => r.status,
    (r: ChangeResult): string => r.kind,
    (r: ChangeResult): string => r.action,
    (r: ChangeResult): string => r.key,
  ] as const;
  const order = (a: TenantGroup<ChangeResult>, b: TenantGroup<ChangeResult>): number =>
    STATUS_ORDER[a.item.status] - STATUS_ORDER[b.item.status] ||
    b.tenants.length - a.tenants.length;
  const grouped = (keep: (r: ChangeResult) => boolean): TenantGroup<ChangeResult>[] =>
    groupAcrossTenants(rows, keep, same, (r) => r.reason ?? '');
  const group = (keep: (r: ChangeResult) => boolean): TenantGroup<ChangeResult>[] =>
    grouped(keep).sort(order);
  const line = (g: TenantGroup<ChangeResult>, all: boolean): string => {
    const r = g.item;
    const reason = shown(r, g.tenants[0] ?? '');
    return (
      paint(
        r.status === 'failed' || r.action === 'delete'
          ? 'red'
          : r.status === 'applied'
            ? 'green'
            : 'yellow',
        `  ${r.status.padEnd(7)} ${ACTION_SYMBOL[r.action]} ${KIND_LABELS[r.kind]} ${r.key} ${whereText(g.tenants, all)}`,
      ) + (reason !== undefined ? ` — ${reason}` : '')
    );
  };
  const count = (groups: readonly TenantGroup<unknown>[]): number =>
    groups.reduce((n, g) => n + g.tenants.length, 0);

  const out: string[] = [];
  const section = (title: string, groups: TenantGroup<ChangeResult>[]): void => {
    if (groups.length === 0) return;
    out.push('', paint('bold', `${title} (${count(groups)}), each named:`));
    for (const g of groups) out.push(line(g, true));
  };
  section(
    'Failed',
    group((r) => r.status === 'failed'),
  );
  section(
    'Pending',
    group((r) => r.status === 'pending'),
  );
  section(
    'Deletes',
    group((r) => r.action === 'delete' && r.status !== 'failed' && r.status !== 'pending'),
  );
  // Only the first groups are listed (the others are counted): only they are sorted.
  const { first: listed, rest: folded } = firstSorted(
    grouped((r) => r.action !== 'delete' && (r.status === 'applied' || r.status === 'skipped')),
    LISTED_GROUPS,
    order,
  );
  if (listed.length > 0) {
    out.push(
      '',
      paint(
        'bold',
        `Changes (${count(listed) + count(folded)}; identical ones across tenants on one line):`,
      ),
    );
    for (const g of listed) out.push(line(g, false));
    if (folded.length > 0)
      out.push(
        paint('dim', `  ${foldedText(count(folded), folded.length, tenantsOf(folded).size)}`),
      );
  }
  return out;
}

import { KIND_LABELS } from '../model/kinds.js';
import { ACTION_SYMBOL } from './describe.js';
import type { ApplyReport } from './types.js';

const ANSI = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  reset: '\x1b[0m',
};

/** Per tenant, each change applied / failed (reason) / skipped, then a summary line. */
export function renderApplyReportText(report: ApplyReport, opts: { colour: boolean }): string {
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
    for (const r of t.results)
      out.push(
        paint(
          colourOf[r.status],
          `  ${r.status.padEnd(7)} ${ACTION_SYMBOL[r.action]} ${KIND_LABELS[r.kind]} ${r.key}`,
        ) + (r.reason !== undefined && t.reason === undefined ? ` — ${r.reason}` : ''),
      );
  }
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

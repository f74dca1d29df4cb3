import {
  ACTION_SYMBOL,
  countActions,
  describeChangeFields,
  describeChangeHeadline,
  plural,
} from './describe.js';
import { describeReadScope } from './read-scope.js';
import type { Plan } from './types.js';

const ANSI = {
  green: '\x1b[32m',
  red: '\x1b[31m',
  yellow: '\x1b[33m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
};

export interface TextOptions {
  colour: boolean;
}

/** A `terraform plan`-like view: per tenant, `+`/`~`/`-` with the fields that change. */
export function renderPlanText(plan: Plan, opts: TextOptions): string {
  const paint = (colour: keyof typeof ANSI, s: string): string =>
    opts.colour ? `${ANSI[colour]}${s}${ANSI.reset}` : s;
  const actionColour = { create: 'green', update: 'yellow', delete: 'red' } as const;
  const out: string[] = [];
  for (const t of plan.tenants) {
    const n = countActions(t);
    if (t.status === 'ok' && t.changes.length === 0) continue;
    const head =
      t.status === 'ok'
        ? `${n.create} to create, ${n.update} to update, ${n.delete} to delete`
        : t.status === 'blocked'
          ? `BLOCKED by a safety gate (${n.create} to create, ${n.update} to update, ${n.delete} to delete; nothing will be applied)`
          : 'ERROR (nothing planned for this tenant)';
    out.push(paint('bold', `${t.tenant}: `) + (t.status === 'ok' ? head : paint('red', head)));
    for (const e of t.errors)
      out.push(
        paint('red', `  ! ${e.code}: ${e.message}`) +
          (e.file !== undefined
            ? paint('dim', ` (${e.file}${e.line !== undefined ? `:${e.line}` : ''})`)
            : ''),
      );
    for (const c of t.changes) {
      out.push(
        paint(actionColour[c.action], `  ${ACTION_SYMBOL[c.action]} ${describeChangeHeadline(c)}`),
      );
      for (const line of describeChangeFields(c)) out.push(`      ${line}`);
    }
    if (t.unmanaged.length > 0)
      out.push(
        paint(
          'dim',
          `  ${t.unmanaged.length} live ${t.unmanaged.length === 1 ? 'entry' : 'entries'} not managed by mxpolicy, left alone`,
        ),
      );
  }
  const blocked = plan.tenants.filter((t) => t.status === 'blocked').length;
  const errors = plan.tenants.filter((t) => t.status === 'error').length;
  const { create, update, delete: del } = plan.summary;
  const unmanaged = plan.tenants.reduce((n, t) => n + t.unmanaged.length, 0);
  const trouble = [
    blocked > 0 ? `${blocked} blocked` : '',
    errors > 0 ? `${errors} with errors` : '',
  ]
    .filter((s) => s !== '')
    .join(', ');
  if (create + update + del === 0) {
    out.push(
      trouble === ''
        ? `No changes. Live state matches the policies of ${plural(plan.tenants.length, 'tenant')}.`
        : `No changes in the tenants that could be planned (${plural(plan.tenants.length, 'tenant')}: ${trouble}; see above).`,
    );
    if (unmanaged > 0)
      out.push(
        paint(
          'dim',
          `${unmanaged} live ${unmanaged === 1 ? 'entry is' : 'entries are'} not managed by mxpolicy and left alone.`,
        ),
      );
  } else {
    const touched = plan.tenants.filter((t) => t.changes.length > 0).length;
    out.push('');
    out.push(
      paint(
        'bold',
        `Plan: ${create} to create, ${update} to update, ${del} to delete in ${plural(touched, 'tenant')}.`,
      ) +
        (trouble !== '' ? ` ${trouble}.` : '') +
        paint('dim', ` checksum ${plan.checksum.slice(0, 12)}`),
    );
  }
  if (plan.read !== undefined) out.push(paint('dim', describeReadScope(plan.read)));
  return out.join('\n') + '\n';
}

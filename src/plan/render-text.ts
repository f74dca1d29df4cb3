import {
  ACTION_SYMBOL,
  countActions,
  describeChangeFields,
  describeChangeHeadline,
  describeKindCounts,
  plural,
} from './describe.js';
import { describeReadScope } from './read-scope.js';
import { groupPlanChanges, type ChangeGroup } from './group-changes.js';
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
  /**
   * Every change on its own line, per tenant, with its fields. Without it the output stays
   * readable at fleet size: counts per tenant, every delete named, identical creates and
   * updates across tenants on one line, the first `LISTED_GROUPS` of them listed.
   */
  verbose?: boolean;
}

/** Grouped creates and updates listed before the rest is only counted (deletes: all). */
export const LISTED_GROUPS = 50;

/** `in alpha`; `in 3 tenants: a, b, c`; `in 117 tenants` (all named when `all`). */
export function whereText(tenants: readonly string[], all: boolean): string {
  if (tenants.length === 1) return `in ${tenants[0] ?? ''}`;
  return all || tenants.length <= 3
    ? `in ${tenants.length} tenants: ${tenants.join(', ')}`
    : `in ${tenants.length} tenants`;
}

/** `… and 2400 more changes (…) not listed: --verbose lists every change`. */
export function foldedText(changes: number, groups: number, tenants: number): string {
  return `… and ${plural(changes, 'more change')} (${plural(groups, 'line')} in ${plural(tenants, 'tenant')}) not listed: --verbose lists every change, --format json has each`;
}

/**
 * A `terraform plan`-like view. Per tenant its counts (with `verbose`, each change with the
 * fields that change); then every delete, and identical changes across tenants on one line.
 */
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
    if (opts.verbose !== true && t.changes.length > 0)
      out.push(`  ${describeKindCounts(t.changes)}`);
    for (const e of t.errors)
      out.push(
        paint('red', `  ! ${e.code}: ${e.message}`) +
          (e.file !== undefined
            ? paint('dim', ` (${e.file}${e.line !== undefined ? `:${e.line}` : ''})`)
            : ''),
      );
    if (opts.verbose === true)
      for (const c of t.changes) {
        out.push(
          paint(
            actionColour[c.action],
            `  ${ACTION_SYMBOL[c.action]} ${describeChangeHeadline(c)}`,
          ),
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
  if (opts.verbose !== true) out.push(...groupedSections(plan, paint));
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

type Paint = (colour: keyof typeof ANSI, s: string) => string;

const changeCount = (groups: readonly ChangeGroup[]): number =>
  groups.reduce((n, g) => n + g.tenants.length, 0);

/** Every delete (all tenants named), then grouped creates and updates of tenants that are ok. */
function groupedSections(plan: Plan, paint: Paint): string[] {
  const ok = plan.tenants.filter((t) => t.status === 'ok');
  const blocked = plan.tenants.filter((t) => t.status === 'blocked');
  const out: string[] = [];
  const isDelete = (c: { action: string }): boolean => c.action === 'delete';
  const deletes = groupPlanChanges(ok, isDelete);
  const blockedDeletes = groupPlanChanges(blocked, isDelete);
  const nDeletes = changeCount(deletes) + changeCount(blockedDeletes);
  if (nDeletes > 0) {
    out.push('', paint('bold', `Deletes (${nDeletes}), each named:`));
    const line = (g: ChangeGroup, note: string): string =>
      paint('red', `  - ${describeChangeHeadline(g.item, g)} ${whereText(g.tenants, true)}`) +
      (g.item.effect === 'loosen' ? paint('yellow', ' (loosens)') : '') +
      note;
    for (const g of deletes) out.push(line(g, ''));
    for (const g of blockedDeletes) out.push(line(g, ' (tenant blocked: not applied)'));
  }
  const rest = groupPlanChanges(ok, (c) => !isDelete(c), LISTED_GROUPS);
  if (rest.length > 0) {
    out.push(
      '',
      paint('bold', `Changes (${changeCount(rest)}; identical ones across tenants on one line):`),
    );
    for (const g of rest.slice(0, LISTED_GROUPS)) {
      const c = g.item;
      out.push(
        paint(
          c.action === 'create' ? 'green' : 'yellow',
          `  ${ACTION_SYMBOL[c.action]} ${describeChangeHeadline(c, g)} ${whereText(g.tenants, false)}`,
        ) + (c.effect === 'loosen' ? paint('yellow', ' (loosens)') : ''),
      );
      for (const l of describeChangeFields(c)) out.push(`      ${l}`);
    }
    const folded = rest.slice(LISTED_GROUPS);
    if (folded.length > 0)
      out.push(
        paint('dim', `  ${foldedText(changeCount(folded), folded.length, tenantsOf(folded).size)}`),
      );
  }
  return out;
}

export function tenantsOf(groups: readonly { tenants: readonly string[] }[]): Set<string> {
  const s = new Set<string>();
  for (const g of groups) for (const t of g.tenants) s.add(t);
  return s;
}

import { canonicalJson, entryFingerprint } from '../model/entries.js';
import { KIND_LABELS } from '../model/kinds.js';
import {
  ACTION_SYMBOL,
  KIND_VERB,
  countActions,
  describeChangeFields,
  describeChangeHeadline,
  plural,
} from './describe.js';
import { planMarker } from './plan-marker.js';
import { describeReadScope } from './read-scope.js';
import type { Change, Plan } from './types.js';

export { planMarker, readPlanMarker } from './plan-marker.js';

export interface PlanMarkdownSections {
  marker: string;
  /** Headline, per-tenant counts, blocked/error reasons. */
  summary: string;
  /** Every delete, one line each: never dropped when a comment must be shortened. */
  deletes: string;
  /** Identical changes across tenants grouped as one line ("+ block `x` in 3 tenants"). */
  grouped: string;
  /** One collapsible block per tenant with every change and its fields. */
  details: { tenant: string; markdown: string }[];
}

const STATUS = { ok: '✅ ok', blocked: '⛔ blocked', error: '❌ error' } as const;
const code = (s: string): string => '`' + s.replaceAll('`', "'") + '`';

/** Changes that do the same thing in several tenants share this key. */
function groupKey(c: Change): string {
  const after = c.after !== undefined ? entryFingerprint(c.kind, c.after) : 'null';
  return `${JSON.stringify([c.kind, c.key, c.action, c.cause])}${after}${canonicalJson(c.patch)}`;
}

/** The markdown plan in sections, so a caller fitting a size limit can drop details first. */
export function planMarkdownSections(plan: Plan): PlanMarkdownSections {
  const { create, update, delete: del } = plan.summary;
  const touched = plan.tenants.filter((t) => t.changes.length > 0);
  const lines: string[] = ['## mxpolicy plan', ''];
  // Trouble first: a reviewer skimming the headline must not read "No changes" and merge.
  const errors = plan.tenants.filter((t) => t.status === 'error').length;
  const blocked = plan.tenants.filter((t) => t.status === 'blocked').length;
  const trouble = [
    errors > 0 ? `❌ ${plural(errors, 'tenant')} in error` : '',
    blocked > 0 ? `⛔ ${plural(blocked, 'tenant')} blocked` : '',
  ].filter((x) => x !== '');
  const counts =
    create + update + del === 0
      ? `no changes in the tenants that could be planned (${plural(plan.tenants.length, 'tenant')})`
      : `${create} to create, ${update} to update, ${del} to delete in ${touched.length} of ${plural(plan.tenants.length, 'tenant')}`;
  lines.push(
    trouble.length > 0
      ? `**${trouble.join(', ')}**; ${counts}.`
      : create + update + del === 0
        ? `**No changes.** Live state matches the policies of ${plural(plan.tenants.length, 'tenant')}.`
        : `**${create} to create, ${update} to update, ${del} to delete** in ${touched.length} of ${plural(plan.tenants.length, 'tenant')}.`,
  );
  if (create + update + del > 0) {
    const { tighten, loosen, neutral } = plan.summary;
    lines.push(
      '',
      loosen > 0
        ? `⚠️ **${plural(loosen, 'loosening change')}** (listed first), ${tighten} tightening, ${neutral} neutral.`
        : `Only tightening or neutral changes: ${tighten} tightening, ${neutral} neutral.`,
    );
  }
  lines.push(
    '',
    planMarker(plan).includes(' tenants=')
      ? `Plan checksum ${code(plan.checksum.slice(0, 12))}: merging applies exactly this plan, tenant by tenant; a tenant whose live state moves before the merge is not applied.`
      : `Plan checksum ${code(plan.checksum.slice(0, 12))}: merging applies exactly this plan, or nothing.`,
    '',
  );
  if (plan.read !== undefined)
    lines.push(
      plan.read.mode === 'full'
        ? `${describeReadScope(plan.read)}: every live entry of the planned tenants was compared.`
        : `${describeReadScope(plan.read)}: only the entries this change touches were read and compared; drift elsewhere is left to \`mxpolicy drift\`.`,
      '',
    );
  const listed = plan.tenants.filter((t) => t.changes.length > 0 || t.status !== 'ok');
  if (listed.length > 0) {
    lines.push('| Tenant | Status | Create | Update | Delete |', '|---|---|--:|--:|--:|');
    for (const t of listed) {
      const n = countActions(t);
      lines.push(`| ${t.tenant} | ${STATUS[t.status]} | ${n.create} | ${n.update} | ${n.delete} |`);
    }
    lines.push('');
  }
  for (const t of plan.tenants.filter((x) => x.status !== 'ok')) {
    for (const e of t.errors)
      lines.push(`> ${STATUS[t.status]} **${t.tenant}** ${code(e.code)}: ${e.message}`, '>');
  }
  if (lines[lines.length - 1] === '>') lines.pop();

  const deletes: string[] = [];
  for (const t of plan.tenants)
    for (const c of t.changes.filter((x) => x.action === 'delete'))
      deletes.push(
        `- ➖ **${t.tenant}**: ${describeChangeHeadline(c)}${t.status !== 'ok' ? ` (tenant ${t.status}: not applied)` : ''}`,
      );

  const groups = new Map<string, { change: Change; tenants: string[] }>();
  // Only what will be applied is grouped; blocked and failed tenants are named above.
  for (const t of plan.tenants.filter((x) => x.status === 'ok'))
    for (const c of t.changes) {
      const k = groupKey(c);
      const g = groups.get(k);
      if (g !== undefined) g.tenants.push(t.tenant);
      else groups.set(k, { change: c, tenants: [t.tenant] });
    }
  // Loosening changes first (they are what a reviewer must look at), then most-shared first.
  const loosens = (c: Change): number => (c.effect === 'loosen' ? 0 : 1);
  const grouped = [...groups.values()]
    .sort((a, b) => loosens(a.change) - loosens(b.change) || b.tenants.length - a.tenants.length)
    .map(({ change: c, tenants }) => {
      const where =
        tenants.length === 1 ? `in ${tenants[0] ?? ''}` : `in ${tenants.length} tenants`;
      const verb =
        c.action === 'create'
          ? KIND_VERB[c.kind]
          : c.action === 'delete'
            ? `remove ${KIND_LABELS[c.kind]}`
            : `update ${KIND_LABELS[c.kind]}`;
      return `- ${ACTION_SYMBOL[c.action]} ${verb} ${code(c.key)} ${where}${c.cause === 'expired' ? ' (expired)' : ''}${c.effect === 'loosen' ? ' ⚠️ loosens' : ''}`;
    });

  const details = touched.map((t) => {
    const n = countActions(t);
    const body = t.changes.flatMap((c) => [
      `${ACTION_SYMBOL[c.action]} ${describeChangeHeadline(c)}`,
      ...describeChangeFields(c).map(
        (l) => `${c.action === 'delete' ? '-' : c.action === 'create' ? '+' : '!'}     ${l}`,
      ),
    ]);
    return {
      tenant: t.tenant,
      markdown: `<details><summary><b>${t.tenant}</b>: +${n.create} ~${n.update} -${n.delete}</summary>\n\n\`\`\`diff\n${body.join('\n')}\n\`\`\`\n</details>`,
    };
  });

  return {
    marker: planMarker(plan),
    summary: lines.join('\n').trimEnd(),
    deletes: deletes.length > 0 ? `### Deletes (${deletes.length})\n\n${deletes.join('\n')}` : '',
    grouped: grouped.length > 0 ? `### Changes\n\n${grouped.join('\n')}` : '',
    details,
  };
}

/** The whole markdown plan for a PR comment or job summary. */
export function renderPlanMarkdown(plan: Plan): string {
  const s = planMarkdownSections(plan);
  const parts = [
    s.marker,
    s.summary,
    s.deletes,
    s.grouped,
    ...s.details.map((d) => d.markdown),
  ].filter((p) => p !== '');
  return parts.join('\n\n') + '\n';
}

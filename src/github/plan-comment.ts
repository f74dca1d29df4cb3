import { KIND_LABELS } from '../model/kinds.js';
import type { PlanMarkdownSections } from '../plan/render-markdown.js';
import type { Change, Plan } from '../plan/types.js';
import { fitBody, MAX_BODY_CHARS, type FittedBody } from './fit-body.js';
import { planMarker } from '../plan/plan-marker.js';

export interface PlanCommentOptions {
  /** Where the full plan is: the workflow run with the `mxpolicy-plan` artifact. */
  artifactUrl?: string;
  /** Name of the uploaded artifact (default `mxpolicy-plan`). */
  artifactName?: string;
  /** The commit the plan was computed on. */
  sha?: string;
  maxChars?: number;
}

function artifactRef(opts: PlanCommentOptions): string {
  const name = `\`${opts.artifactName ?? 'mxpolicy-plan'}\``;
  return opts.artifactUrl
    ? `the ${name} artifact of [this run](${opts.artifactUrl})`
    : `the ${name} artifact`;
}

/**
 * The sticky PR comment from the plan's markdown sections, fitted under GitHub's limit. It
 * always keeps the marker (with the reviewed checksum), the summary and every delete; when
 * space runs out it drops per-tenant details from the end first, then the grouped change
 * list, then falls back to a compact rendering that still names every delete, and only then
 * cuts. Whatever is left out is in the plan artifact, and the comment says so.
 */
export function buildPlanCommentBody(
  plan: Plan,
  sections: PlanMarkdownSections,
  opts: PlanCommentOptions = {},
): FittedBody {
  const max = opts.maxChars ?? MAX_BODY_CHARS;
  const omitted = (n: number, grouped: boolean): string =>
    `> [!NOTE]\n> ${grouped ? 'Part of the change list and the details' : `Details of ${n} tenant(s)`} are left out to stay under GitHub's 65,536-character limit; the full plan is in ${artifactRef(opts)}.`;
  const head = [planMarker(plan), sections.summary, commitLine(opts), sections.deletes].filter(
    (p) => p !== '',
  );
  const details = sections.details.map((d) => d.markdown);
  const assemble = (parts: readonly string[]): string =>
    parts.filter((p) => p !== '').join('\n\n') + '\n';
  const full = assemble([...head, sections.grouped, ...details]);
  if (full.length <= max) return { body: full, level: 'full', droppedDetails: 0 };
  // Keep the first k details: the length grows by each block plus its separator.
  const base = assemble([...head, sections.grouped]).length;
  let length = base;
  let keep = 0;
  const noteRoom = omitted(details.length, false).length + 2;
  while (keep < details.length && length + 2 + (details[keep]?.length ?? 0) + noteRoom <= max) {
    length += 2 + (details[keep]?.length ?? 0);
    keep++;
  }
  if (base + noteRoom <= max) {
    const dropped = details.length - keep;
    return {
      body: assemble([
        ...head,
        sections.grouped,
        ...details.slice(0, keep),
        omitted(dropped, false),
      ]),
      level: 'details-dropped',
      droppedDetails: dropped,
    };
  }
  const summaryOnly = assemble([...head, omitted(details.length, true)]);
  if (summaryOnly.length <= max) {
    // The grouped list is sorted most-shared first: keep as many of its lines as fit.
    const [title = '', ...lines] = sections.grouped.split('\n').filter((l) => l !== '');
    let room = max - summaryOnly.length - title.length - 64;
    const kept: string[] = [];
    for (const line of lines) {
      if (line.length + 1 > room) break;
      kept.push(line);
      room -= line.length + 1;
    }
    const more = lines.length - kept.length;
    const grouped =
      kept.length === 0
        ? ''
        : `${title}\n\n${kept.join('\n')}${more > 0 ? `\n- … and ${more} more` : ''}`;
    return {
      body: assemble([...head, grouped, omitted(details.length, true)]),
      level: 'summary',
      droppedDetails: details.length,
    };
  }
  return fitBody(summaryOnly, () => renderCompactPlanMarkdown(plan, opts), {
    maxChars: max,
    omittedDetailsNote: (n) => omitted(n, false),
    cutNote: `> [!WARNING]\n> This comment was cut to stay under GitHub's 65,536-character limit; the full plan is in ${artifactRef(opts)}.`,
  });
}

function commitLine(opts: PlanCommentOptions): string {
  return opts.sha ? `<sub>Planned for commit \`${opts.sha.slice(0, 7)}\`.</sub>` : '';
}

interface ChangeGroup {
  action: Change['action'];
  kind: Change['kind'];
  key: string;
  tenants: string[];
}

/** Identical changes (same action, kind and key) across tenants, in first-seen order. */
export function groupChanges(changes: readonly Change[]): ChangeGroup[] {
  const groups = new Map<string, ChangeGroup>();
  for (const c of changes) {
    const id = `${c.action}\u0000${c.kind}\u0000${c.key}`;
    const g = groups.get(id);
    if (g) g.tenants.push(c.tenant);
    else groups.set(id, { action: c.action, kind: c.kind, key: c.key, tenants: [c.tenant] });
  }
  return [...groups.values()];
}

function groupLine(g: ChangeGroup, nameTenants: boolean): string {
  const what = `${g.action} ${KIND_LABELS[g.kind]} \`${g.key}\``;
  if (g.tenants.length === 1) return `- ${what} in \`${g.tenants[0] ?? ''}\``;
  const where = `in ${g.tenants.length} tenants`;
  return nameTenants ? `- ${what} ${where}: ${g.tenants.join(', ')}` : `- ${what} ${where}`;
}

/**
 * A short rendering of the plan from the Plan value itself: totals, blocked and failed
 * tenants, every delete (grouped), then — space permitting — other changes and per-tenant
 * counts. Used when the full markdown does not fit in one comment.
 */
export function renderCompactPlanMarkdown(plan: Plan, opts: PlanCommentOptions = {}): string {
  const max = opts.maxChars ?? MAX_BODY_CHARS;
  const changes = plan.tenants.flatMap((t) => t.changes);
  const changed = plan.tenants.filter((t) => t.changes.length > 0);
  const { create, update, delete: del } = plan.summary;
  const head = [
    planMarker(plan),
    `### mxpolicy plan: ${create} to create, ${update} to update, ${del} to delete in ${changed.length} of ${plan.tenants.length} tenant(s)`,
    ...(opts.sha ? ['', commitLine(opts)] : []),
    '',
    `> [!NOTE]\n> The full plan is too long for one comment; this is its summary. Every change is in ${artifactRef(opts)}.`,
  ];
  const blocked = plan.tenants.filter((t) => t.status === 'blocked').map((t) => t.tenant);
  const failed = plan.tenants.filter((t) => t.status === 'error').map((t) => t.tenant);
  if (blocked.length > 0)
    head.push('', `**Blocked by a safety gate (${blocked.length}):** ${blocked.join(', ')}`);
  if (failed.length > 0) head.push('', `**Errors (${failed.length}):** ${failed.join(', ')}`);
  const deletes = groupChanges(changes.filter((c) => c.action === 'delete'));
  const others = groupChanges(changes.filter((c) => c.action !== 'delete'));
  const deleteSection = (named: boolean): string =>
    deletes.length === 0
      ? ''
      : [`#### Deletes (${del})`, ...deletes.map((g) => groupLine(g, named))].join('\n');
  const required = (named: boolean): string =>
    [head.join('\n'), deleteSection(named)].filter((s) => s !== '').join('\n\n') + '\n';
  let body = required(true);
  if (body.length > max) body = required(false);
  const optional = [
    others.length === 0
      ? ''
      : [`#### Creates and updates`, ...others.map((g) => groupLine(g, false))].join('\n'),
    changed.length === 0
      ? ''
      : [
          '#### Per tenant',
          '| tenant | create | update | delete | status |',
          '|---|--:|--:|--:|---|',
          ...changed.map((t) => {
            const n = (a: Change['action']): number =>
              t.changes.filter((c) => c.action === a).length;
            return `| ${t.tenant} | ${n('create')} | ${n('update')} | ${n('delete')} | ${t.status} |`;
          }),
        ].join('\n'),
  ];
  for (const section of optional) {
    if (section !== '' && body.length + section.length + 2 <= max) body += `\n${section}\n`;
  }
  return body;
}

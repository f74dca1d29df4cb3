import { KIND_LABELS } from '../model/kinds.js';
import { isUnapplied, type AuditRow } from './audit-trail.js';
import { describeChange, formatInstant, formatPerson, renderCsv } from './render-history.js';

export function renderAuditJson(rows: readonly AuditRow[]): string {
  const unapplied = rows.filter((r) => isUnapplied(r.status)).length;
  return (
    JSON.stringify(
      { formatVersion: 1, summary: { changes: rows.length, unapplied }, changes: rows },
      null,
      2,
    ) + '\n'
  );
}

export function renderAuditCsv(rows: readonly AuditRow[]): string {
  return renderCsv(
    [
      'merged_at',
      'tenant',
      'kind',
      'key',
      'action',
      'fields',
      'reason',
      'pr',
      'commit',
      'proposed_by',
      'proposed_by_email',
      'proposed_at',
      'merged_by',
      'merged_by_email',
      'status',
      'applied_at',
      'apply_commit',
      'apply_result',
      'apply_reason',
      'apply_checksum',
      'apply_run',
      'attempts',
    ],
    rows.map((r) => [
      r.mergedAt,
      r.tenant,
      r.kind,
      r.key,
      r.action,
      r.fields.join(' '),
      r.reason,
      r.pr,
      r.commit,
      r.proposedBy.name,
      r.proposedBy.email,
      r.proposedAt,
      r.mergedBy.name,
      r.mergedBy.email,
      r.status,
      r.apply?.finishedAt,
      r.apply?.commit,
      r.apply?.result,
      r.apply?.reason,
      r.apply?.checksum,
      r.apply?.runner.runUrl ?? r.apply?.runner.user,
      r.attempts,
    ]),
  );
}

/** Markdown table cell: no pipes or line breaks. */
function cell(value: string | number | undefined): string {
  if (value === undefined || value === '') return '';
  return String(value)
    .replaceAll('\\', '\\\\')
    .replaceAll('|', '\\|')
    .replace(/\s*\n\s*/g, ' ');
}

const STATUS_LABEL: Record<AuditRow['status'], string> = {
  applied: 'applied',
  'already-live': 'already live',
  failed: '**FAILED**',
  skipped: '**skipped**',
  pending: '**pending** at the vendor',
  superseded: '**never applied** (superseded)',
  'not-applied': '**NOT APPLIED**',
};

function pr(r: AuditRow): string {
  return r.pr !== undefined ? `#${r.pr}` : 'direct push';
}

function appliedCell(r: AuditRow): string {
  if (r.apply === undefined) return '';
  const when = formatInstant(r.apply.finishedAt);
  const link = r.apply.runner.runUrl !== undefined ? `[${when}](${r.apply.runner.runUrl})` : when;
  return r.apply.uncommittedChanges === true ? `${link} (with uncommitted edits)` : link;
}

/** For the auditor: changes merged but never applied first, then every change. */
export function renderAuditMarkdown(rows: readonly AuditRow[], title = 'mxpolicy audit'): string {
  const unapplied = rows.filter((r) => isUnapplied(r.status));
  const out = [
    `# ${title}`,
    '',
    `${rows.length} change(s); ${unapplied.length} merged but not applied.`,
    '',
  ];
  if (unapplied.length > 0) {
    out.push(
      '## Merged but not applied',
      '',
      '| merged | tenant | entry | change | PR | proposed by | merged by | status | why |',
      '|---|---|---|---|---|---|---|---|---|',
      ...unapplied.map(
        (r) =>
          `| ${cell(formatInstant(r.mergedAt))} | ${cell(r.tenant)} | ${cell(KIND_LABELS[r.kind])} \`${cell(r.key)}\` | ${cell(describeChange(r))} | ${pr(r)} | ${cell(formatPerson(r.proposedBy))} | ${cell(formatPerson(r.mergedBy))} | ${STATUS_LABEL[r.status]} | ${cell(r.apply?.reason)} |`,
      ),
      '',
    );
  }
  out.push(
    '## All changes',
    '',
    '| merged | tenant | entry | change | reason | PR | commit | proposed by | merged by | applied | result |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(formatInstant(r.mergedAt))} | ${cell(r.tenant)} | ${cell(KIND_LABELS[r.kind])} \`${cell(r.key)}\` | ${cell(describeChange(r))} | ${cell(r.reason)} | ${pr(r)} | \`${r.commit.slice(0, 10)}\` | ${cell(formatPerson(r.proposedBy))} | ${cell(formatPerson(r.mergedBy))} | ${appliedCell(r)} | ${STATUS_LABEL[r.status]} |`,
    ),
  );
  return out.join('\n') + '\n';
}

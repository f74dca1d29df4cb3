import { KIND_LABELS } from '../model/kinds.js';
import type { ApplyReport, ChangeStatus, PlanSummary, TenantApplyStatus } from '../plan/types.js';
import { fitBody, MAX_BODY_CHARS } from './fit-body.js';
import { renderMarker } from './markers.js';

export interface CommitLink {
  sha: string;
  /** https://github.com/owner/repo (for links); plain SHAs without it. */
  repoUrl?: string;
  runUrl?: string;
}

function commitRef(link: CommitLink): string {
  const short = link.sha.slice(0, 7);
  return link.repoUrl ? `[\`${short}\`](${link.repoUrl}/commit/${link.sha})` : `\`${short}\``;
}

function runRef(link: CommitLink): string {
  return link.runUrl ? ` ([workflow run](${link.runUrl}))` : '';
}

const STATUS_LABEL: Record<TenantApplyStatus, string> = {
  applied: '✅ applied',
  partial: '⚠️ partial',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
  unchanged: 'unchanged',
  pending: '⏳ pending',
};

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').replaceAll('|', '\\|').trim();
}

/**
 * The comment on the merged PR after apply: per tenant applied / failed / skipped, with the
 * commit, every failed change with its reason. Unchanged tenants are only counted.
 */
export function renderApplyReportComment(report: ApplyReport, link: CommitLink): string {
  const { applied, failed, skipped, pending } = report.summary;
  const icon = failed > 0 ? '❌' : skipped > 0 ? '⚠️' : pending > 0 ? '⏳' : '✅';
  const touched = report.tenants.filter((t) => t.status !== 'unchanged');
  const unchanged = report.tenants.length - touched.length;
  const count = (t: ApplyReport['tenants'][number], s: ChangeStatus): number =>
    t.results.filter((r) => r.status === s).length;
  const head = [
    renderMarker('apply', { sha: link.sha, checksum: report.checksum }),
    `### ${icon} mxpolicy apply of ${commitRef(link)}: ${applied} applied, ${failed} failed, ${skipped} skipped${pending > 0 ? `, ${pending} pending` : ''}`,
    '',
    `Plan \`${report.checksum.slice(0, 12)}\` applied to ${report.tenants.length} tenant(s) from ${report.startedAt} to ${report.finishedAt}${runRef(link)}.` +
      (unchanged > 0 ? ` ${unchanged} tenant(s) had nothing to change.` : ''),
  ].join('\n');
  const table =
    touched.length === 0
      ? ''
      : [
          '| tenant | result | applied | failed | skipped | note |',
          '|---|---|--:|--:|--:|---|',
          ...touched.map(
            (t) =>
              `| ${t.tenant} | ${STATUS_LABEL[t.status]} | ${count(t, 'applied')} | ${count(t, 'failed')} | ${count(t, 'skipped')} | ${oneLine(t.reason ?? '')} |`,
          ),
        ].join('\n');
  const failures = touched.flatMap((t) =>
    t.results
      .filter((r) => r.status !== 'applied')
      .map(
        (r) =>
          `- \`${t.tenant}\`: ${r.status} ${r.action} ${KIND_LABELS[r.kind]} \`${r.key}\`${r.reason ? ` — ${oneLine(r.reason)}` : ''}`,
      ),
  );
  const failureSection =
    failures.length === 0
      ? ''
      : `<details><summary>Failed, skipped and pending changes (${failures.length})</summary>\n\n${failures.join('\n')}\n\n</details>`;
  const footer =
    failed > 0
      ? 'Re-running the apply workflow retries what failed: apply converges on the state of `main`.'
      : '';
  const full = [head, table, failureSection, footer].filter((s) => s !== '').join('\n\n') + '\n';
  return fitBody(full, undefined, {
    maxChars: MAX_BODY_CHARS,
    omittedDetailsNote: () =>
      `The list of failed and skipped changes is too long for a comment; see the apply report in the workflow run${runRef(link)}.`,
    cutNote: `This report was cut to stay under GitHub's 65,536-character limit; the full apply report is in the workflow run${runRef(link)}.`,
  }).body;
}

export type RefusalReason =
  | { kind: 'checksum-mismatch'; reviewed: string; fresh: string; freshSummary: PlanSummary }
  | { kind: 'no-reviewed-plan' }
  | { kind: 'no-pull-request' }
  /** apply stopped with an error before it could report per tenant. */
  | { kind: 'error'; message: string };

/** The comment (or job summary) when apply refuses to run: nothing was applied, and why. */
export function renderApplyRefusal(
  reason: RefusalReason,
  link: CommitLink,
  details: readonly string[] = [],
): string {
  const lines = [
    renderMarker('apply', { sha: link.sha }),
    reason.kind === 'error'
      ? `### ❌ mxpolicy apply of ${commitRef(link)}: stopped with an error`
      : `### ⛔ mxpolicy apply of ${commitRef(link)}: nothing applied`,
    '',
  ];
  switch (reason.kind) {
    case 'checksum-mismatch': {
      const s = reason.freshSummary;
      lines.push(
        `The plan reviewed on this pull request has checksum \`${reason.reviewed}\`, but planning ${commitRef(link)} against the live systems now gives \`${reason.fresh}\` (${s.create} to create, ${s.update} to update, ${s.delete} to delete). Something changed after the review — another merge, a live change, or an entry that expired — so applying now would do something nobody reviewed.`,
        '',
        `**Nothing was changed${runRef(link)}.** Review the current plan (open a pull request, or run the plan workflow) and merge again, or run apply by hand with the new checksum once someone has reviewed it.`,
      );
      break;
    }
    case 'no-reviewed-plan':
      lines.push(
        `This pull request has no mxpolicy plan comment with a checksum, so there is no reviewed plan to hold apply to. **Nothing was changed${runRef(link)}.** Let the plan workflow comment on a pull request before merging, or run apply by hand after reviewing the plan.`,
      );
      break;
    case 'error':
      lines.push(
        `mxpolicy stopped with an error before it could report per tenant: \`${oneLine(reason.message).replaceAll('`', "'")}\`. Changes made before the error stay made${runRef(link)}; re-running the apply workflow converges on the state of \`main\`.`,
      );
      break;
    case 'no-pull-request':
      lines.push(
        `No merged pull request contains this commit, so there is no reviewed plan. **Nothing was changed${runRef(link)}.** Changes to policies reach main through pull requests.`,
      );
      break;
  }
  if (details.length > 0) {
    lines.push(
      '',
      '<details><summary>What differs</summary>',
      '',
      '```',
      ...details,
      '```',
      '</details>',
    );
  }
  return fitBody(lines.join('\n') + '\n', undefined, {
    maxChars: MAX_BODY_CHARS,
    omittedDetailsNote: () =>
      `The list of differences is too long for a comment; see the workflow run${runRef(link)}.`,
    cutNote: `Cut to stay under GitHub's 65,536-character limit; see the workflow run${runRef(link)}.`,
  }).body;
}

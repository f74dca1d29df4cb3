import {
  renderApplyRefusal,
  renderApplyReportComment,
  type CommitLink,
  type RefusalReason,
} from '../github/apply-report.js';
import { upsertApplyComment } from '../github/comments.js';
import { findMergedPullRequest, readReviewedPlan } from '../github/pulls.js';
import { readRepoConfig } from './repo-config.js';
import { renderApplyReportText } from '../plan/render-apply.js';
import { executeApply, type ApplyCommandOptions } from './apply-command.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
import { openGithubSession, type GithubSession } from './github-session.js';
import { emit } from './plan-command.js';

/**
 * `apply --github`, for the merge workflow: find the pull request merged as GITHUB_SHA, take
 * the checksums of the plan reviewed on it (its sticky plan comment), and apply each tenant
 * whose fresh plan has the checksum reviewed for it; a tenant whose plan moved is refused
 * alone (a comment without per-tenant checksums holds the whole plan to the whole checksum).
 * Either way the outcome is commented on the pull request and written to the job summary,
 * naming what was refused and why.
 */
export async function runApplyFromGithub(
  ctx: CliContext,
  opts: ApplyCommandOptions,
): Promise<ExitCode> {
  if (opts.checksum !== undefined || opts.plan !== undefined) {
    throw new Error(
      'apply --github reads the reviewed checksum from the pull request; drop --checksum/--plan',
    );
  }
  const gh = await openGithubSession(ctx);
  const sha = gh.actions.sha;
  if (!sha) throw new Error('GITHUB_SHA is not set: apply --github runs on a push to main');
  const link: CommitLink = {
    sha,
    repoUrl: gh.repoUrl,
    ...(gh.actions.runUrl ? { runUrl: gh.actions.runUrl } : {}),
  };
  const repo = { owner: gh.actions.owner, repo: gh.actions.repo };

  const pull = await findMergedPullRequest(gh.client, repo, sha);
  if (!pull) return refuse(ctx, gh, undefined, { kind: 'no-pull-request' }, link, []);
  const target = { ...repo, issueNumber: pull.number };
  // Only the plan workflow's own comment carries the reviewed checksum (mxpolicy.config.yaml
  // github.planCommentAuthor; github-actions[bot] by default).
  const { planCommentAuthor } = await readRepoConfig(ctx);
  const reviewed = await readReviewedPlan(gh.client, target, planCommentAuthor);
  if (!reviewed) return refuse(ctx, gh, target, { kind: 'no-reviewed-plan' }, link, []);
  // Tenant by tenant when the comment carries each tenant's part (a tenant whose live state
  // moved after review is refused alone); else all or nothing on the whole checksum.
  const perTenant = reviewed.tenants;
  ctx.stderr.write(
    `applying the plan reviewed on #${pull.number} (checksum ${reviewed.checksum}${perTenant !== undefined ? ', checked tenant by tenant' : ''})\n`,
  );

  let outcome: Awaited<ReturnType<typeof executeApply>>;
  try {
    outcome = await executeApply(
      ctx,
      perTenant !== undefined
        ? { ...opts, reviewedTenants: perTenant, pr: pull.number }
        : { ...opts, checksum: reviewed.checksum, pr: pull.number },
    );
  } catch (err) {
    // Say so on the PR before failing the run: a silent PR reads as "applied".
    const message = err instanceof Error ? err.message : String(err);
    await upsertApplyComment(
      gh.client,
      target,
      renderApplyRefusal({ kind: 'error', message }, link),
      sha,
    );
    throw err;
  }
  if (outcome.report === undefined) {
    const reason: RefusalReason = {
      kind: 'checksum-mismatch',
      reviewed: reviewed.checksum,
      fresh: outcome.plan.checksum,
      freshSummary: outcome.plan.summary,
    };
    return refuse(ctx, gh, target, reason, link, outcome.mismatch ?? [], outcome.exitCode);
  }
  const refusedNote =
    outcome.mismatch !== undefined && outcome.mismatch.length > 0
      ? `> [!WARNING]\n${outcome.mismatch.map((l) => `> ${l}`).join('\n>\n')}\n\n`
      : '';
  const body = insertAfterHeadline(renderApplyReportComment(outcome.report, link), refusedNote);
  if (refusedNote !== '') ctx.stderr.write(`${(outcome.mismatch ?? []).join('\n')}\n`);
  const posted = await upsertApplyComment(gh.client, target, body, sha);
  await gh.summary(body);
  const text =
    opts.format === 'json'
      ? JSON.stringify(outcome.report, null, 2) + '\n'
      : renderApplyReportText(outcome.report, { colour: false });
  await emit(ctx, text, opts.out);
  ctx.stderr.write(`apply report ${posted.action} on #${pull.number}: ${posted.comment.url}\n`);
  return outcome.exitCode;
}

async function refuse(
  ctx: CliContext,
  gh: GithubSession,
  target: { owner: string; repo: string; issueNumber: number } | undefined,
  reason: RefusalReason,
  link: CommitLink,
  details: readonly string[],
  exitCode: ExitCode = EXIT.error,
): Promise<ExitCode> {
  const body = renderApplyRefusal(reason, link, details);
  if (target) await upsertApplyComment(gh.client, target, body, link.sha);
  await gh.summary(body);
  const why =
    reason.kind === 'checksum-mismatch'
      ? `the fresh plan (${reason.fresh}) differs from the reviewed one (${reason.reviewed})`
      : reason.kind === 'no-reviewed-plan'
        ? `pull request #${target?.issueNumber ?? '?'} has no plan comment with a checksum`
        : `no merged pull request contains ${link.sha}`;
  ctx.stderr.write(`nothing applied: ${why}\n${details.map((d) => `${d}\n`).join('')}`);
  return exitCode;
}

/** Put a note right under the report's headline (after the marker and the `###` line). */
function insertAfterHeadline(body: string, note: string): string {
  if (note === '') return body;
  const lines = body.split('\n');
  const at = lines.findIndex((l) => l.startsWith('### '));
  if (at < 0) return note + body;
  return [...lines.slice(0, at + 1), '', note.trimEnd(), ...lines.slice(at + 1)].join('\n');
}

import { upsertPlanComment } from '../github/comments.js';
import { buildPlanCommentBody } from '../github/plan-comment.js';
import { planMarkdownSections, renderPlanMarkdown } from '../plan/render-markdown.js';
import type { Plan } from '../plan/types.js';
import type { CliContext } from './context.js';
import { openGithubSession } from './github-session.js';

/**
 * `plan --github-comment`: the sticky comment on the pull request of the event (created or
 * updated in place, under GitHub's size limit) and the markdown plan in the job summary.
 */
export async function publishPlanOnPullRequest(
  ctx: CliContext,
  plan: Plan,
  author: string,
): Promise<void> {
  const gh = await openGithubSession(ctx);
  const issueNumber = gh.actions.issueNumber;
  if (issueNumber === undefined) {
    throw new Error(
      `--github-comment needs a pull_request event; ${gh.actions.eventName ?? 'this event'} has no pull request`,
    );
  }
  const markdown = renderPlanMarkdown(plan);
  const head = headShaOf(gh.actions.event);
  const fitted = buildPlanCommentBody(plan, planMarkdownSections(plan), {
    ...(gh.actions.runUrl ? { artifactUrl: gh.actions.runUrl } : {}),
    // Which commit of the PR this plan is for (an audit aid; the checksum is what counts).
    ...(head ? { sha: head } : {}),
  });
  const result = await upsertPlanComment(
    gh.client,
    { owner: gh.actions.owner, repo: gh.actions.repo, issueNumber },
    fitted.body,
    author,
  );
  await gh.summary(markdown);
  const shortened = fitted.level === 'full' ? '' : ` (shortened: ${fitted.level})`;
  ctx.stderr.write(
    `plan comment ${result.action} on #${issueNumber}${shortened}: ${result.comment.url}\n`,
  );
}

function headShaOf(event: Record<string, unknown>): string | undefined {
  const pr = event['pull_request'];
  if (pr === null || typeof pr !== 'object') return undefined;
  const head = (pr as Record<string, unknown>)['head'];
  const sha =
    head !== null && typeof head === 'object'
      ? (head as Record<string, unknown>)['sha']
      : undefined;
  return typeof sha === 'string' && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
}

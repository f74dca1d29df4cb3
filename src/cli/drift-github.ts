import { driftOfPlan } from '../github/drift-issues.js';
import { syncDriftIssues } from '../github/drift-sync.js';
import { renderPlanMarkdown } from '../plan/render-markdown.js';
import type { Plan } from '../plan/types.js';
import type { CliContext } from './context.js';
import { openGithubSession } from './github-session.js';

/**
 * `drift --github-issues`: one labelled issue per drifted tenant, updated while the drift
 * changes, closed when it is gone, reopened when it returns; tenants whose live state could
 * not be read keep their issue as it is; when every tenant was checked (no --tenant, no
 * --shard), issues of tenants gone from the policies are closed. The drift markdown goes to
 * the job summary.
 */
export async function publishDriftIssues(
  ctx: CliContext,
  drift: Plan,
  opts: { complete: boolean },
): Promise<void> {
  const gh = await openGithubSession(ctx);
  const results = await syncDriftIssues(
    gh.client,
    { owner: gh.actions.owner, repo: gh.actions.repo },
    driftOfPlan(drift),
    {
      at: ctx.now().toISOString(),
      ...(gh.actions.sha ? { sha: gh.actions.sha } : {}),
      ...(gh.actions.runUrl ? { runUrl: gh.actions.runUrl } : {}),
    },
    opts,
  );
  const lines = results.map((r) => `- ${r.action} [#${r.number}](${r.url}) for \`${r.tenant}\``);
  await gh.summary(
    `${renderPlanMarkdown(drift)
      .replace(/^<!-- mxpolicy:plan[^\n]*\n+/, '')
      .replace(
        '## mxpolicy plan',
        '## mxpolicy drift',
      )}\n### Drift issues\n\n${lines.join('\n') || 'No change to drift issues.'}\n`,
  );
  for (const r of results)
    ctx.stderr.write(`drift issue #${r.number} (${r.tenant}): ${r.action}\n`);
}

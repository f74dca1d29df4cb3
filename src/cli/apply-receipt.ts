import { pushApplyReceipts, runnerFromEnv, writeApplyReceipt } from '../git/apply-receipts.js';
import type { ApplyReport } from '../plan/types.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
import { findRepository, policiesInRepository } from './git-repo.js';

/**
 * Note what `apply` did on HEAD under refs/notes/mxpolicy, and push the notes in GitHub
 * Actions. Outside a git repository there is no commit to note on, and nothing is written.
 * A receipt that cannot be recorded fails the command: the audit trail would have a hole.
 */
export async function recordApplyReceipt(
  ctx: CliContext,
  report: ApplyReport,
  policies: string,
): Promise<ExitCode> {
  const repo = await findRepository(ctx);
  if (repo === undefined) return EXIT.ok;
  let head: string;
  try {
    head = (await repo.git.revparse(['--verify', 'HEAD'])).trim();
  } catch {
    return EXIT.ok;
  }
  let dir: string;
  try {
    dir = await policiesInRepository(repo, ctx, policies);
  } catch {
    ctx.stderr.write(`no apply receipt: ${policies} is not inside the git repository\n`);
    return EXIT.ok;
  }
  const inActions = ctx.env['GITHUB_ACTIONS'] === 'true';
  try {
    const status = await repo.git.raw(['status', '--porcelain', '--', dir]);
    const uncommittedChanges = status.trim() !== '';
    if (uncommittedChanges)
      ctx.stderr.write(
        `warning: ${dir} has uncommitted changes: the receipt on ${head.slice(0, 10)} says so\n`,
      );
    await writeApplyReceipt(repo.git, head, report, runnerFromEnv(ctx.env), {
      uncommittedChanges,
    });
    ctx.stderr.write(`apply receipt noted on ${head.slice(0, 10)} (refs/notes/mxpolicy)\n`);
    if (inActions) {
      const remote = ctx.env['MXPOLICY_RECEIPTS_REMOTE'] ?? 'origin';
      const token = ctx.env['GITHUB_TOKEN'];
      const serverUrl = ctx.env['GITHUB_SERVER_URL'];
      await pushApplyReceipts(repo.git, {
        name: remote,
        ...(token !== undefined && token !== '' ? { token } : {}),
        ...(serverUrl !== undefined && serverUrl !== '' ? { serverUrl } : {}),
      });
      ctx.stderr.write(`apply receipts pushed to ${remote}\n`);
    }
    return EXIT.ok;
  } catch (err) {
    const message = `the changes were applied, but the apply receipt could not be recorded: ${
      err instanceof Error ? err.message.trim() : String(err)
    }${inActions ? ' (the apply job needs `permissions: contents: write` to push refs/notes/mxpolicy)' : ''}`;
    ctx.stderr.write(`mxpolicy: ${message}\n`);
    // stderr: stdout may carry the JSON report; the runner reads workflow commands on both.
    if (inActions)
      ctx.stderr.write(
        `::error title=apply receipt not recorded::${message.replace(/\r?\n/g, ' ')}\n`,
      );
    return EXIT.error;
  }
}

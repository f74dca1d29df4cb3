import { readApplyReceipts } from '../git/apply-receipts.js';
import { buildAuditTrail, filterAuditRows } from '../git/audit-trail.js';
import { readFirstParentChain } from '../git/commit-log.js';
import { renderAuditCsv, renderAuditJson, renderAuditMarkdown } from '../git/render-audit.js';
import { parseSince } from '../git/render-history.js';
import { readSemanticHistory } from '../git/semantic-history.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
import { openRepository, policiesInRepository } from './git-repo.js';
import { schemaValidator } from './load.js';
import { emit } from './plan-command.js';

export interface AuditCommandOptions {
  policies: string;
  tenant: string[];
  since?: string;
  rev: string;
  format: 'markdown' | 'json' | 'csv';
  out?: string;
}

/** Each merged change: who proposed it, who merged it, when it was applied and how. */
export async function runAuditCommand(
  ctx: CliContext,
  opts: AuditCommandOptions,
): Promise<ExitCode> {
  const since = opts.since !== undefined ? parseSince(opts.since) : undefined;
  const repo = await openRepository(ctx, 'audit');
  const [history, { receipts, problems }, mainline] = await Promise.all([
    readSemanticHistory(repo.git, {
      rev: opts.rev,
      policiesDir: await policiesInRepository(repo, ctx, opts.policies),
      validator: schemaValidator(),
    }),
    readApplyReceipts(repo.git),
    readFirstParentChain(repo.git, opts.rev),
  ]);
  for (const p of problems) ctx.stderr.write(`warning: ${p}\n`);
  if (receipts.length === 0)
    ctx.stderr.write(
      'warning: no apply receipts in refs/notes/mxpolicy (fetch them: git fetch origin refs/notes/mxpolicy:refs/notes/mxpolicy)\n',
    );
  // The join needs every change (a receipt settles the earliest change it covers), so
  // filter the rows afterwards.
  // The join needs every change (a receipt settles the earliest change it covers), so
  // rows are filtered after it.
  const rows = filterAuditRows(buildAuditTrail(history, receipts, mainline), {
    tenant: opts.tenant,
    ...(since !== undefined ? { since } : {}),
  });
  const text =
    opts.format === 'json'
      ? renderAuditJson(rows)
      : opts.format === 'csv'
        ? renderAuditCsv(rows)
        : renderAuditMarkdown(rows);
  await emit(ctx, text, opts.out);
  return EXIT.ok;
}

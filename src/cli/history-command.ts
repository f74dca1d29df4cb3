import {
  filterHistory,
  parseKind,
  parseSince,
  renderHistoryCsv,
  renderHistoryJson,
  renderHistoryText,
} from '../git/render-history.js';
import { readSemanticHistory } from '../git/semantic-history.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
import { policiesInRepository, openRepository } from './git-repo.js';
import { schemaValidator } from './load.js';
import { emit } from './plan-command.js';

export interface HistoryCommandOptions {
  policies: string;
  tenant: string[];
  kind?: string;
  key?: string;
  since?: string;
  rev: string;
  format: 'text' | 'json' | 'csv';
  out?: string;
}

/** Every commit that added, changed or removed each entry, from the repository alone. */
export async function runHistoryCommand(
  ctx: CliContext,
  opts: HistoryCommandOptions,
): Promise<ExitCode> {
  const query = {
    tenant: opts.tenant,
    ...(opts.kind !== undefined ? { kind: parseKind(opts.kind) } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.since !== undefined ? { since: parseSince(opts.since) } : {}),
  };
  const repo = await openRepository(ctx, 'history');
  const records = filterHistory(
    await readSemanticHistory(repo.git, {
      rev: opts.rev,
      policiesDir: await policiesInRepository(repo, ctx, opts.policies),
      validator: schemaValidator(),
    }),
    query,
  );
  const text =
    opts.format === 'json'
      ? renderHistoryJson(records)
      : opts.format === 'csv'
        ? renderHistoryCsv(records)
        : renderHistoryText(records);
  await emit(ctx, text, opts.out);
  return EXIT.ok;
}

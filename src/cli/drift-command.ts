import { renderPlanJson } from '../plan/render-json.js';
import { renderPlanMarkdown } from '../plan/render-markdown.js';
import { renderPlanText } from '../plan/render-text.js';
import { driftOf } from '../plan/drift.js';
import { EXIT, useColour, type CliContext, type ExitCode } from './context.js';
import { publishDriftIssues } from './drift-github.js';
import { driftEvents } from '../plan/events.js';
import { eventContext, writeEvents } from './events-output.js';
import { emit } from './plan-command.js';
import { runPlan, type PlanRunOptions } from './run-plan.js';

export interface DriftCommandOptions extends PlanRunOptions {
  format: 'text' | 'markdown' | 'json';
  out?: string;
  githubIssues?: boolean;
  /** `--events FILE|-`: one ECS event per drift finding, as NDJSON. */
  events?: string;
  /** Text: every finding on its own line (default: grouped across tenants, counted per tenant). */
  verbose?: boolean;
}

/** Read-only: what differs live from the policies, less what the policies expect to change. */
export async function runDriftCommand(
  ctx: CliContext,
  opts: DriftCommandOptions,
): Promise<ExitCode> {
  const run = await runPlan(ctx, { ...opts, access: 'read' });
  await run.close();
  const { plan } = run;
  const drift = driftOf(plan);
  const text =
    opts.format === 'json'
      ? renderPlanJson(drift)
      : opts.format === 'markdown'
        ? renderPlanMarkdown(drift)
        : renderPlanText(drift, {
            colour: opts.out === undefined && useColour(ctx),
            verbose: opts.verbose === true,
          }).replace(/^No changes\./m, 'No drift.');
  await emit(ctx, text, opts.out);
  if (opts.events !== undefined)
    await writeEvents(ctx, opts.events, driftEvents(drift, await eventContext(ctx)));
  if (opts.githubIssues === true)
    await publishDriftIssues(ctx, drift, {
      complete: opts.tenant.length === 0 && opts.shard === undefined,
    });
  if (drift.tenants.some((t) => t.status === 'error')) return EXIT.error;
  return drift.summary.create + drift.summary.update + drift.summary.delete > 0
    ? EXIT.changes
    : EXIT.ok;
}

import { driftOf } from '../plan/drift.js';
import { EXIT, useColour, type CliContext, type ExitCode } from './context.js';
import { emit, renderPlan } from './plan-command.js';
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
  const rendered = await renderPlan(
    drift,
    opts.format,
    opts.out === undefined && useColour(ctx),
    opts.verbose === true,
  );
  const text = opts.format === 'text' ? rendered.replace(/^No changes\./m, 'No drift.') : rendered;
  await emit(ctx, text, opts.out);
  // Loaded only when asked for (octokit, simple-git): a drift check starts reading sooner.
  if (opts.events !== undefined) {
    const [{ driftEvents }, { eventContext, writeEvents }] = await Promise.all([
      import('../plan/events.js'),
      import('./events-output.js'),
    ]);
    await writeEvents(ctx, opts.events, driftEvents(drift, await eventContext(ctx)));
  }
  if (opts.githubIssues === true)
    await (
      await import('./drift-github.js')
    ).publishDriftIssues(ctx, drift, {
      complete: opts.tenant.length === 0 && opts.shard === undefined,
    });
  if (drift.tenants.some((t) => t.status === 'error')) return EXIT.error;
  return drift.summary.create + drift.summary.update + drift.summary.delete > 0
    ? EXIT.changes
    : EXIT.ok;
}

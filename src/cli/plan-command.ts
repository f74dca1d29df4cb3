import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hasChanges } from '../plan/build-plan.js';
import type { Plan } from '../plan/types.js';
import { changedSinceOption } from './changed-since.js';
import { EXIT, useColour, type CliContext, type ExitCode } from './context.js';
import { runPlan, type PlanRunOptions } from './run-plan.js';

export type PlanFormat = 'text' | 'markdown' | 'json';

export interface PlanCommandOptions extends PlanRunOptions {
  format: PlanFormat;
  out?: string;
  detailedExitcode?: boolean;
  /** Plan only tenants whose effective desired state differs from this git ref. */
  changedSince?: string;
  /** With `changedSince`: plan the selected tenants whole instead of only the keys that differ. */
  fullRead?: boolean;
  githubComment?: boolean;
  /** Text: every change on its own line (default: grouped across tenants, counted per tenant). */
  verbose?: boolean;
}

/**
 * Render a plan (or a drift report) in `format`. Each renderer is loaded when it is used, once
 * the plan is made: loading them up front would delay the first request to a vendor, and a
 * text plan never needs the markdown one.
 */
export async function renderPlan(
  plan: Plan,
  format: PlanFormat,
  colour: boolean,
  verbose = false,
): Promise<string> {
  if (format === 'json') return (await import('../plan/render-json.js')).renderPlanJson(plan);
  if (format === 'markdown')
    return (await import('../plan/render-markdown.js')).renderPlanMarkdown(plan);
  return (await import('../plan/render-text.js')).renderPlanText(plan, { colour, verbose });
}

/** Exit code of a plan: errors beat safety blocks beat changes (DESIGN §8). */
export function planExitCode(plan: Plan, detailed: boolean): ExitCode {
  if (plan.tenants.some((t) => t.status === 'error')) return EXIT.error;
  if (plan.tenants.some((t) => t.status === 'blocked')) return EXIT.blocked;
  return detailed && hasChanges(plan) ? EXIT.changes : EXIT.ok;
}

/** Write rendered output to `--out FILE` (relative to cwd) or stdout. */
export async function emit(ctx: CliContext, text: string, out: string | undefined): Promise<void> {
  if (out === undefined) {
    ctx.stdout.write(text);
    return;
  }
  const file = path.resolve(ctx.cwd, out);
  await writeFile(file, text);
  ctx.stderr.write(`wrote ${path.relative(ctx.cwd, file) || file}\n`);
}

export async function runPlanCommand(ctx: CliContext, opts: PlanCommandOptions): Promise<ExitCode> {
  const run = await runPlan(ctx, { ...opts, access: 'read' }, await changedSinceOption(ctx, opts));
  await run.close();
  const { plan, config } = run;
  await emit(
    ctx,
    await renderPlan(
      plan,
      opts.format,
      opts.out === undefined && useColour(ctx),
      opts.verbose === true,
    ),
    opts.out,
  );
  if (opts.out !== undefined) {
    const { create, update, delete: del } = plan.summary;
    ctx.stdout.write(
      `Plan: ${create} to create, ${update} to update, ${del} to delete (checksum ${plan.checksum}).\n`,
    );
  }
  if (opts.githubComment === true)
    // Loaded only here: octokit is not needed for a plan printed locally.
    await (
      await import('./plan-github.js')
    ).publishPlanOnPullRequest(ctx, plan, config.planCommentAuthor);
  return planExitCode(plan, opts.detailedExitcode === true);
}

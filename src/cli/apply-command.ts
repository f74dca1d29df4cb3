import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { explainPlanDifference, tenantChecksum } from '../plan/build-plan.js';
import type { ApplyReport, Plan } from '../plan/types.js';
import {
  applyPlan,
  createReadAhead,
  planAndApplyTenants,
  type StreamedRun,
} from '../reconcile/reconcile.js';
import { changedSinceOption } from './changed-since.js';
import { EXIT, useColour, type CliContext, type ExitCode } from './context.js';
import { emit } from './plan-command.js';
import { DEFAULT_TENANT_TIMEOUT, parseDuration } from './deadline.js';
import { preparePlan, reconcileDeps, runPlan, type PlanRunOptions } from './run-plan.js';

export interface ApplyCommandOptions extends PlanRunOptions {
  checksum?: string;
  plan?: string;
  format: 'text' | 'json';
  out?: string;
  /**
   * `--receipt` / `--no-receipt`. Unset: a receipt in CI (`CI` or `GITHUB_ACTIONS` true),
   * none on a workstation, where a rehearsal (usually on the sandbox) must not enter the
   * audit trail and a note would stay in that one clone anyway.
   */
  receipt?: boolean;
  /** Apply only tenants whose effective desired state differs from this git ref (as plan). */
  changedSince?: string;
  /** With `changedSince`: plan the selected tenants whole instead of only the keys that differ. */
  fullRead?: boolean;
  /** `--tenant-timeout`: bound on one tenant's read, plan and apply (default 10m). */
  tenantTimeout?: string;
  /** `--events FILE|-`: one ECS event per change result, as NDJSON. */
  events?: string;
  /** Text: every change result on its own line (default: grouped, counted per tenant). */
  verbose?: boolean;
  /** The pull request applied (the GitHub merge flow), for the events. */
  pr?: number;
  /**
   * Each tenant's reviewed checksum (or its 16-digit prefix), from the PR's plan comment: the
   * merge flow checks and applies tenant by tenant. Not a command-line option.
   */
  reviewedTenants?: ReadonlyMap<string, string>;
}

/**
 * What `--events` needs, loaded only then (and the report renderer only once there is a
 * report): an apply without them starts talking to the vendors sooner.
 */
const eventsModules = () =>
  Promise.all([import('../plan/events.js'), import('./events-output.js')]);

const eventExtra = (opts: ApplyCommandOptions): { pr?: number } =>
  opts.pr !== undefined ? { pr: opts.pr } : {};

export { DEFAULT_TENANT_TIMEOUT };

export function applyExitCode(plan: Plan, report: ApplyReport): ExitCode {
  if (report.summary.failed > 0 || plan.tenants.some((t) => t.status === 'error'))
    return EXIT.error;
  if (plan.tenants.some((t) => t.status === 'blocked')) return EXIT.blocked;
  return EXIT.ok;
}

export interface ApplyOutcome {
  exitCode: ExitCode;
  plan: Plan;
  /** Undefined when nothing was applied because the plan did not match the reviewed one. */
  report?: ApplyReport;
  mismatch?: string[];
}

/** Re-plan, check the reviewed checksum, apply. Shared by `apply` and the GitHub merge flow. */
export async function executeApply(
  ctx: CliContext,
  opts: ApplyCommandOptions,
): Promise<ApplyOutcome> {
  const reviewed =
    opts.plan !== undefined
      ? (await import('../plan/render-json.js')).parsePlanJson(
          await readFile(path.resolve(ctx.cwd, opts.plan), 'utf8'),
        )
      : undefined;
  // Without a whole-plan checksum, each tenant is applied as soon as its own plan is ready
  // (checked against its part of the reviewed plan, when one is given).
  if (opts.checksum === undefined) {
    const checksums =
      opts.reviewedTenants ??
      (reviewed !== undefined
        ? new Map(reviewed.tenants.map((t) => [t.tenant, tenantChecksum(t)]))
        : undefined);
    return streamApply(ctx, opts, checksums, reviewed);
  }
  const expected = opts.checksum;
  const run = await runPlan(ctx, opts, await changedSinceOption(ctx, opts));
  const { plan, sessions } = run;
  let report: ApplyReport;
  try {
    if (expected !== plan.checksum) {
      const mismatch = [
        `The plan changed since it was reviewed: reviewed checksum ${expected}, fresh plan ${plan.checksum}. Nothing was applied.`,
        ...(reviewed !== undefined
          ? explainPlanDifference(reviewed, plan)
          : [
              'Live state or the policies changed after review (a hand edit on the gateway, another merge, an expiry date passing).',
              `The fresh plan has ${plan.summary.create} create(s), ${plan.summary.update} update(s), ${plan.summary.delete} delete(s) in ${
                plan.tenants
                  .filter((t) => t.changes.length > 0)
                  .map((t) => t.tenant)
                  .join(', ') || 'no tenant'
              }.`,
              'Re-run plan, review it, and apply with the new checksum.',
            ]),
      ];
      if (opts.events !== undefined) {
        const [{ applyRefusedEvent }, { eventContext, writeEvents }] = await eventsModules();
        await writeEvents(ctx, opts.events, [
          applyRefusedEvent(
            mismatch[0] ?? 'plan changed',
            await eventContext(ctx, eventExtra(opts)),
          ),
        ]);
      }
      return { exitCode: EXIT.error, plan, mismatch };
    }
    report = await applyPlan(
      plan,
      sessions,
      reconcileDeps(ctx, { ...opts, phase: 'apply' }, undefined, run.signal, run.deadlineAt),
    );
  } finally {
    await run.close();
  }
  return finishApply(ctx, opts, plan, report);
}

async function finishApply(
  ctx: CliContext,
  opts: ApplyCommandOptions,
  plan: Plan,
  report: ApplyReport,
  mismatch?: string[],
): Promise<ApplyOutcome> {
  if (opts.events !== undefined) {
    const [{ applyEvents }, { eventContext, writeEvents }] = await eventsModules();
    await writeEvents(
      ctx,
      opts.events,
      applyEvents(plan, report, await eventContext(ctx, eventExtra(opts))),
    );
  }
  // Here rather than in runApplyCommand so every way of applying leaves a receipt.
  const inCi = ctx.env['CI'] === 'true' || ctx.env['GITHUB_ACTIONS'] === 'true';
  const receipt =
    (opts.receipt ?? inCi)
      ? await (await import('./apply-receipt.js')).recordApplyReceipt(ctx, report, opts.policies)
      : EXIT.ok;
  return {
    exitCode:
      receipt === EXIT.ok && (mismatch ?? []).length === 0
        ? applyExitCode(plan, report)
        : EXIT.error,
    plan,
    report,
    ...(mismatch !== undefined && mismatch.length > 0 ? { mismatch } : {}),
  };
}

/** Plan and apply tenant by tenant (see `planAndApplyTenants`). */
async function streamApply(
  ctx: CliContext,
  opts: ApplyCommandOptions,
  checksums: ReadonlyMap<string, string> | undefined,
  reviewed: Plan | undefined,
): Promise<ApplyOutcome> {
  const spec = opts.tenantTimeout ?? DEFAULT_TENANT_TIMEOUT;
  const tenantTimeoutMs = parseDuration(spec, '--tenant-timeout');
  const prepared = await preparePlan(
    ctx,
    opts,
    await changedSinceOption(ctx, opts),
    (config, signal, deadlineAt, diff) =>
      createReadAhead(
        reconcileDeps(
          ctx,
          { ...opts, trust: config.trust, phase: 'apply' },
          undefined,
          signal,
          deadlineAt,
        ),
        { tenantTimeoutMs, diff },
      ),
  );
  let run: StreamedRun;
  try {
    run = await planAndApplyTenants(
      prepared.selected,
      reconcileDeps(
        ctx,
        { ...opts, trust: prepared.config.trust, phase: 'apply' },
        undefined,
        prepared.signal,
        prepared.deadlineAt,
      ),
      {
        ...prepared.planOptions,
        tenantTimeoutMs,
        ...(checksums !== undefined ? { reviewed: checksums } : {}),
      },
    );
  } finally {
    prepared.dispose();
  }
  const refused = new Set(run.refused.map((r) => r.tenant));
  const onlyRefused = (p: Plan): Plan => ({
    ...p,
    tenants: p.tenants.filter((t) => refused.has(t.tenant)),
  });
  const mismatch =
    refused.size === 0
      ? []
      : [
          `Not applied to ${run.refused.map((r) => r.tenant).join(', ')}: the plan of ${run.refused.length === 1 ? 'this tenant' : 'these tenants'} changed since it was reviewed; the other tenants were applied.`,
          ...(reviewed !== undefined
            ? explainPlanDifference(onlyRefused(reviewed), onlyRefused(run.plan))
            : run.refused.map((r) => {
                const t = run.plan.tenants.find((p) => p.tenant === r.tenant);
                const n = t?.changes.length ?? 0;
                return `${r.tenant}: the fresh plan has ${n} change(s)${t?.status !== undefined && t.status !== 'ok' ? ` and is ${t.status}` : ''} (reviewed ${r.reviewed.slice(0, 12)}, fresh ${r.fresh.slice(0, 12)})`;
              })),
          'Re-run plan for them, review it, and apply again.',
        ];
  return finishApply(ctx, opts, run.plan, run.report, mismatch);
}

export async function runApplyCommand(
  ctx: CliContext,
  opts: ApplyCommandOptions,
): Promise<ExitCode> {
  // The plan is not kept: its changes (and the policies they came from) are garbage while
  // the report is rendered, which a full apply of a large estate needs the memory for.
  const { exitCode, report, mismatch } = await executeApply(ctx, opts);
  if (mismatch !== undefined) ctx.stderr.write(mismatch.join('\n') + '\n');
  if (report === undefined) return exitCode;
  const { renderApplyReportText } = await import('../plan/render-apply.js');
  const text =
    opts.format === 'json'
      ? JSON.stringify(report, null, 2) + '\n'
      : renderApplyReportText(report, {
          colour: opts.out === undefined && useColour(ctx),
          verbose: opts.verbose === true,
        });
  try {
    await emit(ctx, text, opts.out);
  } catch (err) {
    // The changes are made: whoever runs this must see what happened to each of them even
    // when the report file cannot be written.
    ctx.stdout.write(
      opts.format === 'json'
        ? text
        : renderApplyReportText(report, {
            colour: false,
            verbose: opts.verbose === true,
          }),
    );
    ctx.stderr.write(
      `error: could not write --out ${opts.out ?? ''}: ${(err as Error).message}; the results are above\n`,
    );
    return EXIT.error;
  }
  return exitCode;
}

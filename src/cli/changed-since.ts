import { today, type CliContext } from './context.js';
import { builtinCapabilities, schemaValidator } from './load.js';
import type { TenantFilter } from './run-plan.js';

/**
 * `plan --changed-since REF`: keep the selected tenants whose effective desired state differs
 * between merge-base(REF, HEAD) and the policies being planned (the working tree; on a
 * clean checkout, as in CI, that is HEAD). A bundle change selects every tenant including it.
 * Each tenant's plan is limited to the keys that differ (read with the vendor's filters),
 * unless the tenant is new or its settings changed, or `fullRead` is set.
 */
export async function changedSinceFilter(
  ctx: CliContext,
  opts: { policies: string; changedSince: string; narrowed: boolean; fullRead?: boolean },
): Promise<TenantFilter> {
  // Loaded here, not with the module: plan, apply and drift without --changed-since never
  // need git (simple-git), and loading it would delay their first request.
  const [{ affectedKeysSince, resolveChangedSinceBase }, { openRepository, policiesInRepository }] =
    await Promise.all([import('../git/changed-since.js'), import('./git-repo.js')]);
  const repo = await openRepository(ctx, '--changed-since');
  const base = await resolveChangedSinceBase(repo.git, opts.changedSince);
  const dir = await policiesInRepository(repo, ctx, opts.policies);
  return async (selected) => {
    const { keys, removed } = await affectedKeysSince(repo.git, base, dir, selected, {
      validator: schemaValidator(),
      capabilities: builtinCapabilities(),
      today: today(ctx),
    });
    const affected = selected.filter((t) => keys.has(t.tenant));
    ctx.stderr.write(
      `--changed-since ${opts.changedSince} (merge base ${base.slice(0, 10)}): ${affected.length} of ${selected.length} tenant(s) changed${
        affected.length > 0 ? `: ${affected.map((t) => t.tenant).join(', ')}` : ''
      }\n`,
    );
    // With --tenant or --shard the others are merely unselected, not removed.
    if (!opts.narrowed && removed.length > 0)
      ctx.stderr.write(
        `tenant file(s) removed since ${opts.changedSince}: ${removed.join(', ')} (mxpolicy does not touch their live entries)\n`,
      );
    return opts.fullRead === true ? { tenants: affected } : { tenants: affected, targets: keys };
  };
}

/** The `--changed-since` filter for `runPlan`, or undefined when the option is not given. */
export async function changedSinceOption(
  ctx: CliContext,
  opts: {
    policies: string;
    tenant: string[];
    shard?: string;
    changedSince?: string;
    fullRead?: boolean;
  },
): Promise<TenantFilter | undefined> {
  if (opts.changedSince === undefined) return undefined;
  return changedSinceFilter(ctx, {
    policies: opts.policies,
    changedSince: opts.changedSince,
    narrowed: opts.tenant.length > 0 || opts.shard !== undefined,
    ...(opts.fullRead === true ? { fullRead: true } : {}),
  });
}

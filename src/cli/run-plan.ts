import type { PolicySet, TenantConfig } from '../config/policy-set.js';
import type { RepoConfig } from '../config/repo-config.js';
import type { TrustPolicy } from '../model/trust.js';
import { shardOf } from '../config/select-tenants.js';
import type { PlanTargets } from '../plan/read-scope.js';
import type { PlanError } from '../plan/types.js';
import { builtinProviders, type ProviderRegistry } from '../providers/registry.js';
import {
  createReadAhead,
  planTenants,
  type PlanOptions,
  type AheadDiff,
  type ReadAhead,
  type PlanRun,
  type ReconcileDeps,
} from '../reconcile/reconcile.js';
import { today, type CliContext } from './context.js';
import { createProgress, type ProgressPhase } from './progress.js';
import { DEFAULT_TIMEOUT, parseDuration, startDeadline } from './deadline.js';
import { loadSelectedPolicies, type SelectionOptions } from './load.js';

/**
 * Narrows the selected tenants (`--changed-since`, `propose`) and may limit each one's plan
 * to the keys that changed (`targets`: only those are read and diffed).
 */
export type TenantFilter = (
  selected: TenantConfig[],
) => Promise<{ tenants: TenantConfig[]; targets?: PlanTargets }>;

export interface PlanRunOptions extends SelectionOptions {
  /** `read` for plan and drift: providers use the bindings' read-only credentials. */
  access?: 'read' | 'write';
  allowLargeChanges?: boolean;
  concurrency?: string;
  shard?: string;
  /** `--timeout`: the whole command's deadline for talking to vendors (default 30m). */
  timeout?: string;
}

/** Validation errors of each tenant's own file and of the bundles it includes. */
export function validationErrorsByTenant(
  set: PolicySet,
  tenants: readonly TenantConfig[],
): Map<string, PlanError[]> {
  const out = new Map<string, PlanError[]>();
  for (const t of tenants) {
    const files = new Set([
      t.file,
      ...t.include.map((b) => set.bundles.find((x) => x.bundle === b)?.file ?? `bundles/${b}`),
    ]);
    const errors = set.diagnostics
      .filter((d) => d.severity === 'error' && files.has(d.file))
      .map((d): PlanError => ({
        code: d.code,
        message: d.message,
        file: d.file,
        line: d.line,
        column: d.column,
      }));
    if (errors.length > 0) out.set(t.tenant, errors);
  }
  return out;
}

/** `k/n` -> the tenants of shard k of n (stable: by a hash of the tenant id). */
export function parseShard(spec: string): { k: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const k = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (m === null || n < 1 || k < 1 || k > n)
    throw new Error(`--shard must look like k/n with 1 <= k <= n (got '${spec}')`);
  return { k, n };
}

export function reconcileDeps(
  ctx: CliContext,
  opts: {
    concurrency?: string;
    trust?: TrustPolicy;
    access?: 'read' | 'write';
    /** What the progress line on stderr says is being done (default `read`). */
    phase?: ProgressPhase;
  },
  registry: ProviderRegistry = builtinProviders,
  signal?: AbortSignal,
  deadlineAt?: number,
): ReconcileDeps {
  const concurrency = Number(opts.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`--concurrency must be a positive whole number`);
  const progress = createProgress(ctx, opts.phase ?? 'read');
  return {
    registry,
    rootDir: ctx.cwd,
    // A plain copy: reading process.env goes through the OS environment on every access.
    env: { ...ctx.env },
    trust: opts.trust ?? {},
    ...(opts.access !== undefined ? { access: opts.access } : {}),
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message) => {
        progress.interrupt();
        ctx.stderr.write(`warning: ${message}\n`);
      },
    },
    now: ctx.now,
    concurrency,
    ...(signal !== undefined ? { signal } : {}),
    ...(deadlineAt !== undefined ? { deadlineAt } : {}),
    onTenantStart: (tenant, total) => {
      progress.tenantStarted(tenant, total);
    },
    onTenantDone: (tenant, done, total, result) => {
      progress.tenantDone(done, total, result, tenant);
    },
  };
}

export interface PlannedRun extends PlanRun {
  /** The repository configuration the policies were checked against. */
  config: RepoConfig;
  set: PolicySet;
  selected: TenantConfig[];
  /** The command's deadline (`--timeout`): pass it on to apply. */
  signal: AbortSignal;
  /** When that deadline fires (epoch ms), if there is one. */
  deadlineAt?: number;
  /** Close every provider and stop the deadline timer; call when the command is done. */
  close(): Promise<void>;
}

export interface PreparedPlan {
  /** The repository configuration: pass `config.trust` on to `reconcileDeps`. */
  config: RepoConfig;
  set: PolicySet;
  selected: TenantConfig[];
  planOptions: PlanOptions;
  /** The command's deadline (`--timeout`). */
  signal: AbortSignal;
  /** When that deadline fires (epoch ms), if there is one. */
  deadlineAt?: number;
  /** Stop the deadline timer. */
  dispose(): void;
}

/**
 * Load and select the tenants (shard, `--changed-since` filter) and start the deadline.
 * With `readAhead` (and no `--changed-since` filter, which needs every tenant first), a
 * selected tenant's live state is read as soon as its own file and its bundles loaded
 * without error, while the other files are still being parsed (`planOptions.readAhead`).
 */
export async function preparePlan(
  ctx: CliContext,
  opts: PlanRunOptions,
  filter?: TenantFilter,
  readAhead?: (
    config: RepoConfig,
    signal: AbortSignal,
    deadlineAt: number | undefined,
    diff: AheadDiff,
  ) => ReadAhead,
): Promise<PreparedPlan> {
  // The options every tenant is planned with, a read ahead included (decided once: a run
  // that crosses midnight plans all its tenants for the same day).
  const diff: AheadDiff = {
    today: today(ctx),
    allowLargeChanges: opts.allowLargeChanges === true,
  };
  const spec = opts.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(spec);
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  const deadline = startDeadline(timeoutMs, spec);
  let ahead: ReadAhead | undefined;
  try {
    const loaded = await loadSelectedPolicies(
      ctx,
      opts,
      readAhead === undefined || filter !== undefined
        ? undefined
        : (t, config) => {
            if (!t.clean || (shard !== undefined && shardOf(t.tenant.tenant, shard.n) !== shard.k))
              return;
            ahead ??= readAhead(config, deadline.signal, deadline.at, diff);
            ahead.start(t.tenant);
          },
    );
    let selected = loaded.selected;
    if (shard !== undefined)
      selected = selected.filter((t) => shardOf(t.tenant, shard.n) === shard.k);
    let targets: PlanTargets | undefined;
    if (filter !== undefined) ({ tenants: selected, targets } = await filter(selected));
    return {
      config: loaded.config,
      set: loaded.set,
      selected,
      planOptions: {
        ...diff,
        validationErrors: validationErrorsByTenant(loaded.set, selected),
        ...(targets !== undefined ? { targets } : {}),
        ...(ahead !== undefined ? { readAhead: ahead } : {}),
      },
      signal: deadline.signal,
      ...(deadline.at !== undefined ? { deadlineAt: deadline.at } : {}),
      dispose: () => {
        deadline.dispose();
      },
    };
  } catch (err) {
    await ahead?.close();
    deadline.dispose();
    throw err;
  }
}

/**
 * Load the selected tenants and plan them against live state. The caller must `close()` the
 * run (in a `finally`) once it no longer needs the providers in `sessions`.
 */
export async function runPlan(
  ctx: CliContext,
  opts: PlanRunOptions,
  filter?: TenantFilter,
): Promise<PlannedRun> {
  const deps = (config: RepoConfig, signal: AbortSignal, deadlineAt?: number): ReconcileDeps =>
    reconcileDeps(
      ctx,
      { ...opts, trust: config.trust, access: opts.access ?? 'write', phase: 'plan' },
      undefined,
      signal,
      deadlineAt,
    );
  const prepared = await preparePlan(ctx, opts, filter, (config, signal, deadlineAt, diff) =>
    createReadAhead(deps(config, signal, deadlineAt), { diff }),
  );
  let run: PlanRun;
  try {
    run = await planTenants(
      prepared.selected,
      deps(prepared.config, prepared.signal, prepared.deadlineAt),
      prepared.planOptions,
    );
  } catch (err) {
    await prepared.planOptions.readAhead?.close();
    prepared.dispose();
    throw err;
  }
  return {
    ...run,
    config: prepared.config,
    set: prepared.set,
    selected: prepared.selected,
    signal: prepared.signal,
    ...(prepared.deadlineAt !== undefined ? { deadlineAt: prepared.deadlineAt } : {}),
    close: async () => {
      await run.close();
      prepared.dispose();
    },
  };
}

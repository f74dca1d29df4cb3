import { setTimeout as setTimeoutPromise } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { KindCapability } from '../model/capabilities.js';
import type { TenantConfig } from '../config/policy-set.js';
import { KINDS, type Kind, type LiveEntry } from '../model/kinds.js';
import { checkBindingTrust, secretNamesOf, type TrustPolicy } from '../model/trust.js';
import {
  buildPlan,
  EMPTY_TENANT_CHECKSUM,
  tenantChecksum,
  type SharedLines,
} from '../plan/build-plan.js';
import { diffTenant, type LiveState } from '../plan/diff-tenant.js';
import { planTenantReads, type PlanTargets, type TenantReadPlan } from '../plan/read-scope.js';
import type {
  ApplyReport,
  Change,
  ChangeResult,
  Plan,
  PlanError,
  TenantApplyResult,
  TenantPlan,
} from '../plan/types.js';
import type { Logger, Provider } from '../providers/provider.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { abortAfter } from './abort-after.js';
import { mapConcurrent } from './concurrency.js';
import { DEFAULT_SETTLE, settlePending, type SettleOptions } from './settle.js';

const sleepFor = (ms: number, signal?: AbortSignal): Promise<void> =>
  setTimeoutPromise(ms, undefined, signal !== undefined ? { signal } : {});

export interface ReconcileDeps {
  registry: ProviderRegistry;
  rootDir: string;
  env: Readonly<Record<string, string | undefined>>;
  /**
   * What the repository allows bindings to name (secret variables, hosts). Checked again
   * here, before a provider is made, whatever validate said: a provider is never created
   * for a refused binding, and sees only the variables its binding names (plus MXPOLICY_*).
   */
  trust?: TrustPolicy;
  /** `read` when nothing will be written (plan, drift): providers use read-only credentials. */
  access?: 'read' | 'write';
  dispatcher?: Dispatcher;
  logger: Logger;
  now: () => Date;
  /** Tenants handled at once. */
  concurrency: number;
  /** Called as each tenant finishes (progress for long runs); with its result when applied. */
  onTenantDone?: (tenant: string, done: number, total: number, result?: TenantApplyResult) => void;
  /** Called as work on a tenant begins (progress names tenants that take long). */
  onTenantStart?: (tenant: string, total: number) => void;
  /**
   * The command's deadline (or Ctrl-C). Passed to every provider read, apply and settle (and
   * so to every request); once it fires, tenants not yet read fail, and changes not yet
   * applied are reported failed — never dropped.
   */
  signal?: AbortSignal;
  /**
   * When that deadline fires (epoch ms), if known: a provider told to wait longer than this
   * (a vendor's rate-limit block) fails at once, naming the wait, instead of waiting.
   */
  deadlineAt?: number;
  /** Waits between polls of changes that settle later (injected in tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Bounds on polling pending changes; defaults in `DEFAULT_SETTLE`. */
  settle?: Partial<Pick<SettleOptions, 'maxWaitMs' | 'firstDelayMs' | 'maxDelayMs'>>;
}

export interface PlanOptions {
  today: string;
  allowLargeChanges: boolean;
  /** Validation errors per tenant id: such a tenant is `error` and is not read live. */
  validationErrors: ReadonlyMap<string, PlanError[]>;
  /**
   * Limit each listed tenant's plan to these keys (`--changed-since`, `propose`): only they are
   * read (with the vendor's filters) and diffed. A tenant not listed, or `all`, is planned whole.
   */
  targets?: PlanTargets;
  /**
   * Reads started while the policy files were still loading (`createReadAhead`): a tenant
   * read ahead is not read again, unless it turned out invalid (its read is then dropped).
   */
  readAhead?: ReadAhead;
}

/**
 * Live reads started before the final list of tenants is known: the CLI starts a tenant's
 * read as soon as its own file (and its bundles) loaded without error, while the next files
 * are still being parsed. Reads only, never a write; at most `deps.concurrency` at once.
 */
export interface ReadAhead {
  /** Start reading this tenant (its file and bundles passed validation so far). */
  start(tenant: TenantConfig): void;
  /** The read started for this tenant, if any: handed over once (a second call gives none). */
  take(tenant: TenantConfig): Promise<TenantRead> | undefined;
  /** Close the providers the reads created (a run that took them closes them too). */
  close(): Promise<void>;
}

/** The deps of one tenant under its own deadline; `dispose()` stops its timer when it is done. */
interface TenantDeadline {
  deps: ReconcileDeps;
  dispose(): void;
}

/**
 * A tenant's own deadline: the command's, and `tenantTimeoutMs` from now (the earlier of the
 * two is its `deadlineAt`). Its timer is `abortAfter`'s, not `AbortSignal.timeout`, which
 * Node 20 could collect inside `AbortSignal.any` before it fired: a hung tenant then kept a
 * 125-tenant apply alive for 158 s instead of 20 s (the hung-tenant tests in
 * reconcile.test.ts force collections to show it).
 */
export function tenantDeadline(
  deps: ReconcileDeps,
  tenantTimeoutMs: number | undefined,
): TenantDeadline {
  if (tenantTimeoutMs === undefined) return { deps, dispose: () => undefined };
  const limit = `${Math.round(tenantTimeoutMs / 100) / 10} s`;
  const own = abortAfter(
    tenantTimeoutMs,
    () => new Error(`the tenant's time limit (--tenant-timeout, ${limit}) passed`),
  );
  const signal =
    deps.signal !== undefined ? AbortSignal.any([deps.signal, own.signal]) : own.signal;
  const ends = deps.now().getTime() + tenantTimeoutMs;
  return {
    deps: {
      ...deps,
      signal,
      deadlineAt: deps.deadlineAt !== undefined ? Math.min(deps.deadlineAt, ends) : ends,
    },
    dispose: own.dispose,
  };
}

/** The options a read ahead is diffed with as soon as it arrives (the command's own). */
export interface AheadDiff {
  today: string;
  allowLargeChanges: boolean;
}

export function createReadAhead(
  deps: ReconcileDeps,
  opts: { tenantTimeoutMs?: number; diff?: AheadDiff } = {},
): ReadAhead {
  const created: Provider[] = [];
  // A read is handed over once (`take`) and then forgotten here: the tenant's live state is
  // garbage once its plan is made, not kept until the run ends.
  const started = new Map<TenantConfig, Promise<TenantRead>>();
  const seen = new Set<TenantConfig>();
  const queue: (() => void)[] = [];
  let active = 0;
  const slot = async (): Promise<void> => {
    if (active >= deps.concurrency) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
  };
  const release = (): void => {
    active--;
    queue.shift()?.();
  };
  return {
    start(tenant) {
      if (seen.has(tenant) || !tenant.valid) return;
      seen.add(tenant);
      const early = (async (): Promise<TenantRead> => {
        await slot();
        try {
          // The tenant's deadline bounds its read from when the read starts.
          const own = tenantDeadline(deps, opts.tenantTimeoutMs);
          try {
            // A read ahead is a full read (targeted plans wait for the whole list): the kinds
            // the plan cannot change are skipped as in any full plan.
            const read = await readOneTenant(tenant, own.deps, new Map(), created, (caps) =>
              planTenantReads(tenant, caps, { today: '', allowLargeChanges: false }),
            );
            // Diffed now (pure: the tenant's file and bundles are loaded), so that its live
            // state is let go at once instead of waiting, with every other tenant's, for the
            // last file to load: at 125 x 2,500 that was the whole live estate held for
            // seconds. Used only if the tenant is still valid once every file is loaded.
            if (read.status !== 'ok' || opts.diff === undefined) return read;
            return {
              ...read,
              live: {},
              planned: { plan: diffRead(tenant, read, opts.diff), options: opts.diff },
            };
          } finally {
            own.dispose();
          }
        } finally {
          release();
        }
      })();
      started.set(tenant, early);
    },
    take: (tenant) => {
      const read = started.get(tenant);
      started.delete(tenant);
      return read;
    },
    close: closer(created, deps.logger),
  };
}

/** A tenant's providers by kind, kept from planning so apply writes through the same ones. */
export interface TenantSession {
  tenant: string;
  providers: Map<Kind, Provider>;
}

export interface PlanRun {
  plan: Plan;
  sessions: Map<string, TenantSession>;
  /**
   * Close every provider created for the run (planned tenants and failed ones alike). Call it
   * when the command is done with `sessions` (after apply); safe to call more than once.
   */
  close(): Promise<void>;
}

/** Why the deadline fired, in words. */
function deadlineReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason.message : 'the deadline passed';
}

/** Close providers once each; a provider that fails to close is logged, never thrown. */
function closer(created: readonly Provider[], logger: Logger): () => Promise<void> {
  let closed: Promise<void> | undefined;
  return () => {
    closed ??= Promise.allSettled(
      [...new Set(created)].map(async (p) => {
        await p.close?.();
      }),
    ).then((all) => {
      for (const r of all)
        if (r.status === 'rejected')
          logger.warn(`closing a provider failed: ${describeError(r.reason)}`);
    });
    return closed;
  };
}

/**
 * The read started ahead for a tenant, when it still counts: the tenant is still valid now
 * that every file is loaded. Otherwise it is planned as if it had never been read.
 */
async function readAheadOf(
  tenant: TenantConfig,
  opts: PlanOptions,
): Promise<TenantRead | undefined> {
  const early = opts.readAhead?.take(tenant);
  if (early === undefined || !tenant.valid) return undefined;
  if ((opts.validationErrors.get(tenant.tenant) ?? []).length > 0) return undefined;
  return early;
}

/** A run's close that also closes the providers of the reads it took from `readAhead`. */
function withReadAhead(close: () => Promise<void>, readAhead?: ReadAhead): () => Promise<void> {
  if (readAhead === undefined) return close;
  return async () => {
    await Promise.all([close(), readAhead.close()]);
  };
}

/** Only the variables a binding names as secrets, and mxpolicy's own settings. */
function envFor(
  env: Readonly<Record<string, string | undefined>>,
  names: readonly string[],
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env))
    if (k.startsWith('MXPOLICY_') || names.includes(k)) out[k] = v;
  return out;
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Read every selected tenant's live state and diff it against the desired state. */
export async function planTenants(
  tenants: readonly TenantConfig[],
  deps: ReconcileDeps,
  opts: PlanOptions,
): Promise<PlanRun> {
  const sessions = new Map<string, TenantSession>();
  const created: Provider[] = [];
  const close = withReadAhead(closer(created, deps.logger), opts.readAhead);
  let done = 0;
  try {
    const tenantPlans = await mapConcurrent(
      tenants,
      deps.concurrency,
      async (tenant): Promise<TenantPlan> => {
        deps.onTenantStart?.(tenant.tenant, tenants.length);
        const early = await readAheadOf(tenant, opts);
        const result = await planOneTenant(tenant, deps, opts, sessions, created, early);
        deps.onTenantDone?.(tenant.tenant, ++done, tenants.length);
        return result;
      },
    );
    return { plan: buildPlan(tenantPlans), sessions, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface StreamOptions extends PlanOptions {
  /**
   * The reviewed plan's checksum of each tenant (`tenantChecksum`, or its first 16 or more hex
   * digits); a tenant missing from it
   * had nothing to do when reviewed. When given, a tenant whose fresh plan differs from what
   * was reviewed is refused alone; the others are applied.
   */
  reviewed?: ReadonlyMap<string, string>;
  /**
   * Bound on one tenant's reading, and again on its planning and applying (ms); it then
   * fails alone. (A tenant read ahead may wait for the other files to load in between.)
   */
  tenantTimeoutMs?: number;
}

/** A tenant refused because its fresh plan is not the one reviewed. */
export interface Refusal {
  tenant: string;
  reviewed: string;
  fresh: string;
}

export interface StreamedRun {
  plan: Plan;
  report: ApplyReport;
  refused: Refusal[];
}

/**
 * Plan and apply tenant by tenant: each tenant is written as soon as its own plan is ready
 * (and matches the reviewed one, when given), so a slow, hung or failing tenant never
 * delays another's writes; each tenant also has its own deadline. The plan and report are
 * the same values a plan-then-apply run gives.
 */
export async function planAndApplyTenants(
  tenants: readonly TenantConfig[],
  deps: ReconcileDeps,
  opts: StreamOptions,
): Promise<StreamedRun> {
  const startedAt = deps.now().toISOString();
  const sessions = new Map<string, TenantSession>();
  const created: Provider[] = [];
  const close = withReadAhead(closer(created, deps.logger), opts.readAhead);
  const refused: Refusal[] = [];
  // Each tenant's checksum, as it is planned: the whole plan's is built from them.
  const checksums = new Map<string, string>();
  const lines: SharedLines = new Map();
  let done = 0;
  try {
    const pairs = await mapConcurrent(tenants, deps.concurrency, async (tenant, _i, leave) => {
      deps.onTenantStart?.(tenant.tenant, tenants.length);
      const early = await readAheadOf(tenant, opts);
      // A fresh deadline for planning and applying: a tenant read ahead may have waited for
      // the other files to load (its read had a deadline of its own).
      const deadline = tenantDeadline(deps, opts.tenantTimeoutMs);
      const own = deadline.deps;
      try {
        const plan = await planOneTenant(tenant, own, opts, sessions, created, early);
        let result: TenantApplyResult;
        const reviewed =
          opts.reviewed === undefined
            ? undefined
            : (opts.reviewed.get(plan.tenant) ?? EMPTY_TENANT_CHECKSUM);
        // Checked before writing when there is a reviewed one to check it against.
        const fresh = reviewed !== undefined ? tenantChecksum(plan, lines) : undefined;
        // A reviewed checksum may be a prefix (the PR comment keeps 16 hex digits per tenant).
        if (
          reviewed !== undefined &&
          fresh !== undefined &&
          (reviewed.length < 16 || !fresh.startsWith(reviewed))
        ) {
          refused.push({ tenant: plan.tenant, reviewed, fresh });
          checksums.set(plan.tenant, fresh);
          const reason = `refused: this tenant's plan changed since it was reviewed (reviewed ${reviewed.slice(0, 12)}, fresh ${fresh.slice(0, 12)}); re-run plan and review it`;
          result = {
            tenant: plan.tenant,
            status: 'skipped',
            results: allResults(plan.changes, 'skipped', reason),
            reason,
          };
        } else {
          const applying = applyTenant(plan, sessions.get(plan.tenant), own, leave);
          // Its checksum while its first writes are on the wire (the whole plan's is made of
          // the tenants' own: none is left to compute once the last tenant is done).
          checksums.set(plan.tenant, fresh ?? tenantChecksum(plan, lines));
          result = await applying;
        }
        deps.onTenantDone?.(tenant.tenant, ++done, tenants.length, result);
        return { plan, result };
      } finally {
        deadline.dispose();
      }
    });
    const plan = buildPlan(
      pairs.map((p) => p.plan),
      checksums,
    );
    const order = new Map(plan.tenants.map((t, i) => [t.tenant, i]));
    const results = pairs
      .map((p) => p.result)
      .sort((a, b) => (order.get(a.tenant) ?? 0) - (order.get(b.tenant) ?? 0));
    return {
      plan,
      refused: refused.sort((a, b) => (a.tenant < b.tenant ? -1 : 1)),
      report: applyReport(plan, startedAt, deps.now().toISOString(), results),
    };
  } finally {
    await close();
  }
}

async function planOneTenant(
  tenant: TenantConfig,
  deps: ReconcileDeps,
  opts: PlanOptions,
  sessions: Map<string, TenantSession>,
  created: Provider[],
  early?: TenantRead,
): Promise<TenantPlan> {
  const read =
    (early !== undefined && plannedAs(early, tenant, opts) ? early : undefined) ??
    (await readOneTenant(tenant, deps, opts.validationErrors, created, (caps) =>
      planTenantReads(tenant, caps, {
        targets: opts.targets?.get(tenant.tenant),
        today: opts.today,
        allowLargeChanges: opts.allowLargeChanges,
      }),
    ));
  if (read.status === 'ok' && read.planned !== undefined) {
    sessions.set(tenant.tenant, read.session);
    return read.planned.plan;
  }
  if (read.status === 'error')
    return {
      tenant: tenant.tenant,
      status: 'error',
      changes: [],
      errors: read.errors,
      unmanaged: [],
    };
  sessions.set(tenant.tenant, read.session);
  return diffRead(tenant, read, opts);
}

/**
 * Whether a read ahead can stand for this run's read of the tenant: a read not yet diffed
 * can; one diffed as it arrived only with this run's options (otherwise it is read again:
 * its live state is gone).
 */
function plannedAs(read: TenantRead, tenant: TenantConfig, opts: PlanOptions): boolean {
  if (read.status !== 'ok' || read.planned === undefined) return true;
  const { options } = read.planned;
  return (
    options.today === opts.today &&
    options.allowLargeChanges === opts.allowLargeChanges &&
    opts.targets?.get(tenant.tenant) === undefined
  );
}

/** The plan of a tenant from what was read of it. */
function diffRead(
  tenant: TenantConfig,
  read: Extract<TenantRead, { status: 'ok' }>,
  opts: AheadDiff,
): TenantPlan {
  const targets = read.readPlan?.targets;
  const plan = diffTenant(tenant, read.live, {
    today: opts.today,
    allowLargeChanges: opts.allowLargeChanges,
    capabilities: read.capabilities,
    ...(targets !== undefined ? { targets } : {}),
  });
  return read.readPlan !== undefined ? { ...plan, read: read.readPlan.scope } : plan;
}

/** One tenant's live state as its providers read it (every kind completely), or why not. */
export type TenantRead =
  | {
      tenant: string;
      status: 'ok';
      live: LiveState;
      capabilities: Partial<Record<Kind, KindCapability>>;
      /** The provider type serving each kind (e.g. `cloudflare`). */
      providerTypes: Partial<Record<Kind, string>>;
      session: TenantSession;
      /** What was read, when the caller limited it (plans); absent: every served kind in full. */
      readPlan?: TenantReadPlan;
      /**
       * A read ahead diffed as soon as it arrived (`createReadAhead`'s `diff`): the tenant's
       * plan under those options, and `live` is then empty (let go once the plan was made).
       */
      planned?: { plan: TenantPlan; options: AheadDiff };
    }
  | { tenant: string; status: 'error'; errors: PlanError[] };

export interface ReadRun {
  reads: TenantRead[];
  /** Close every provider created for the run; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Read every selected tenant's live state through the providers `plan` uses, without
 * diffing (`import` turns it into policy files). Keep the providers open for writes through
 * `session` until `close()`.
 */
export async function readTenants(
  tenants: readonly TenantConfig[],
  deps: ReconcileDeps,
  validationErrors: ReadonlyMap<string, PlanError[]>,
): Promise<ReadRun> {
  const created: Provider[] = [];
  const close = closer(created, deps.logger);
  let done = 0;
  try {
    const reads = await mapConcurrent(tenants, deps.concurrency, async (tenant) => {
      deps.onTenantStart?.(tenant.tenant, tenants.length);
      const result = await readOneTenant(tenant, deps, validationErrors, created);
      deps.onTenantDone?.(tenant.tenant, ++done, tenants.length);
      return result;
    });
    return { reads, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function readOneTenant(
  tenant: TenantConfig,
  deps: ReconcileDeps,
  validationErrors: ReadonlyMap<string, PlanError[]>,
  created: Provider[],
  scope?: (capabilities: Partial<Record<Kind, KindCapability>>) => TenantReadPlan,
): Promise<TenantRead> {
  const failed = (errors: PlanError[]): TenantRead => ({
    tenant: tenant.tenant,
    status: 'error',
    errors,
  });
  const invalid = validationErrors.get(tenant.tenant);
  if (invalid !== undefined && invalid.length > 0) return failed(invalid);
  if (!tenant.valid)
    return failed([
      {
        code: 'INVALID_POLICY',
        message: 'the tenant or a bundle it includes has validation errors (run mxpolicy validate)',
        file: tenant.file,
      },
    ]);

  if (deps.signal?.aborted === true)
    return failed([
      {
        code: 'DEADLINE_EXCEEDED',
        message: `not read: ${deadlineReason(deps.signal)}; nothing is planned for this tenant`,
      },
    ]);

  const providers = new Map<Kind, Provider>();
  const capabilities: Partial<Record<Kind, KindCapability>> = {};
  const providerTypes: Partial<Record<Kind, string>> = {};
  const errors: PlanError[] = [];
  for (const binding of tenant.bindings) {
    const factory = deps.registry[binding.type];
    if (factory === undefined) {
      errors.push({
        code: 'PROVIDER_UNAVAILABLE',
        message: `provider type '${binding.type}' (binding '${binding.name}') is not available in this version`,
        file: tenant.file,
      });
      continue;
    }
    const settings = binding.settings as unknown as Record<string, unknown>;
    const refused = checkBindingTrust(
      binding.type,
      settings,
      factory.capabilities.binding,
      deps.trust ?? {},
    );
    if (refused.length > 0) {
      errors.push(
        ...refused.map((v) => ({
          code: v.code,
          message: `binding '${binding.name}': ${v.message}; nothing was read or sent`,
          file: tenant.file,
        })),
      );
      continue;
    }
    try {
      const provider = factory.create({
        tenant: tenant.tenant,
        binding,
        rootDir: deps.rootDir,
        env: envFor(deps.env, secretNamesOf(settings, factory.capabilities.binding)),
        ...(deps.access !== undefined ? { access: deps.access } : {}),
        logger: deps.logger,
        now: deps.now,
        ...(deps.dispatcher !== undefined ? { dispatcher: deps.dispatcher } : {}),
        ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
        ...(deps.deadlineAt !== undefined ? { deadlineAt: deps.deadlineAt } : {}),
      });
      created.push(provider);
      for (const kind of binding.kinds) {
        providers.set(kind, provider);
        providerTypes[kind] = binding.type;
        const cap = factory.capabilities.kinds[kind];
        if (cap !== undefined) capabilities[kind] = cap;
      }
    } catch (err) {
      errors.push({
        code: 'PROVIDER_CONFIG',
        message: `binding '${binding.name}': ${describeError(err)}`,
        file: tenant.file,
      });
    }
  }
  if (errors.length > 0) return failed(errors);

  // Fail closed: if any kind cannot be read completely, plan nothing for the tenant.
  const readPlan = scope?.(capabilities);
  const readKinds =
    readPlan === undefined
      ? KINDS.filter((k) => providers.has(k))
      : KINDS.filter((k) => readPlan.full.includes(k) || readPlan.keys[k] !== undefined);
  const live: LiveState = {};
  const reads = await Promise.allSettled(
    readKinds.map(async (kind) => {
      live[kind] = await readKind(
        providers.get(kind) as Provider,
        kind,
        readPlan?.keys[kind],
        deps.signal,
      );
    }),
  );
  // One error per binding and cause: a missing token fails every kind of its binding the
  // same way, and saying so once per kind only buries it.
  const failures = new Map<string, { binding: string; kinds: Kind[]; reason: string }>();
  for (const [i, r] of reads.entries()) {
    if (r.status !== 'rejected') continue;
    const kind = readKinds[i] as Kind;
    const binding = tenant.bindings.find((b) => b.kinds.includes(kind))?.name ?? '';
    const reason = describeError(r.reason);
    const id = `${binding}\u0000${reason}`;
    const known = failures.get(id);
    if (known !== undefined) known.kinds.push(kind);
    else failures.set(id, { binding, kinds: [kind], reason });
  }
  for (const f of failures.values())
    errors.push({
      code: 'LIVE_READ_FAILED',
      message: `reading ${f.kinds.join(', ')}${f.binding !== '' ? ` (binding '${f.binding}')` : ''} failed: ${f.reason}; nothing is planned for this tenant`,
    });
  if (errors.length > 0) return failed(errors);

  return {
    tenant: tenant.tenant,
    status: 'ok',
    live,
    capabilities,
    providerTypes,
    session: { tenant: tenant.tenant, providers },
    ...(readPlan !== undefined ? { readPlan } : {}),
  };
}

/**
 * One kind of a tenant: in full, or only `keys` (the provider's filtered read where it has
 * one, else its full listing), keeping exactly those keys: an entry a filter let through
 * that was not asked for never reaches the planner.
 */
async function readKind(
  provider: Provider,
  kind: Kind,
  keys: readonly string[] | undefined,
  signal: AbortSignal | undefined,
): Promise<LiveEntry[]> {
  const opts = signal !== undefined ? { signal } : {};
  if (keys === undefined) return provider.read(kind, opts);
  const wanted = new Set(keys);
  const got =
    provider.readKeys !== undefined
      ? await provider.readKeys(kind, keys, opts)
      : await provider.read(kind, opts);
  return got.filter((e) => wanted.has(e.key));
}

/**
 * Apply a plan tenant by tenant: never a tenant in `error` or `blocked`; one tenant's
 * failure never stops the others; every change ends applied, failed (with reason) or skipped.
 */
export async function applyPlan(
  plan: Plan,
  sessions: ReadonlyMap<string, TenantSession>,
  deps: ReconcileDeps,
): Promise<ApplyReport> {
  const startedAt = deps.now().toISOString();
  let done = 0;
  const tenants = await mapConcurrent(
    plan.tenants,
    deps.concurrency,
    async (t, _i, leave): Promise<TenantApplyResult> => {
      deps.onTenantStart?.(t.tenant, plan.tenants.length);
      const result = await applyTenant(t, sessions.get(t.tenant), deps, leave);
      deps.onTenantDone?.(t.tenant, ++done, plan.tenants.length, result);
      return result;
    },
  );
  return applyReport(plan, startedAt, deps.now().toISOString(), tenants);
}

/** The apply report of a plan: per-tenant results and their counts. */
function applyReport(
  plan: Plan,
  startedAt: string,
  finishedAt: string,
  tenants: TenantApplyResult[],
): ApplyReport {
  const summary = { applied: 0, failed: 0, skipped: 0, pending: 0 };
  for (const t of tenants) for (const r of t.results) summary[r.status]++;
  return { formatVersion: 1, checksum: plan.checksum, startedAt, finishedAt, tenants, summary };
}

/** The same outcome for every change of a group (a skipped tenant, a provider that threw). */
const allResults = (
  changes: readonly Change[],
  status: ChangeResult['status'],
  reason: string,
): ChangeResult[] =>
  changes.map((c) => ({ kind: c.kind, key: c.key, action: c.action, status, reason }));

async function applyTenant(
  t: TenantPlan,
  session: TenantSession | undefined,
  deps: ReconcileDeps,
  /** The tenant no longer holds a place among the `concurrency` tenants at once. */
  leave?: () => void,
): Promise<TenantApplyResult> {
  if (t.status !== 'ok') {
    const reason = `tenant ${t.status}: ${t.errors.map((e) => e.message).join('; ')}`;
    return {
      tenant: t.tenant,
      status: 'skipped',
      results: allResults(t.changes, 'skipped', reason),
      reason,
    };
  }
  if (t.changes.length === 0) return { tenant: t.tenant, status: 'unchanged', results: [] };
  if (session === undefined) {
    const reason = 'no live session for this tenant (it was not planned in this run)';
    return {
      tenant: t.tenant,
      status: 'failed',
      results: allResults(t.changes, 'failed', reason),
      reason,
    };
  }
  // Kinds one after another; a kind whose writes are all sent lets the next start while its
  // own check (a low-priority re-read) runs, and the tenant leaves its slot once only checks
  // remain: other tenants' reads and writes go first. It ends when every check has.
  const perKind: Promise<ChangeResult[]>[] = [];
  for (const kind of KINDS) {
    const changes = t.changes.filter((c) => c.kind === kind);
    if (changes.length === 0) continue;
    const provider = session.providers.get(kind);
    if (provider === undefined) {
      perKind.push(Promise.resolve(allResults(changes, 'failed', `no provider serves ${kind}`)));
      continue;
    }
    if (deps.signal?.aborted === true) {
      perKind.push(
        Promise.resolve(
          allResults(changes, 'failed', `not applied: ${deadlineReason(deps.signal)}`),
        ),
      );
      continue;
    }
    const signal = deps.signal !== undefined ? { signal: deps.signal } : {};
    let sent: () => void = () => undefined;
    const writesSent = new Promise<void>((resolve) => (sent = resolve));
    const done = (async (): Promise<ChangeResult[]> => {
      try {
        const got = reconcileResults(
          changes,
          await provider.apply(kind, changes, {
            ...signal,
            onWritesSent: () => {
              sent();
            },
          }),
        );
        return await settlePending(provider, kind, got, {
          ...DEFAULT_SETTLE,
          ...deps.settle,
          now: () => deps.now().getTime(),
          sleep: deps.sleep ?? sleepFor,
          ...signal,
        });
      } catch (err) {
        return allResults(changes, 'failed', describeError(err));
      }
    })();
    perKind.push(done);
    await Promise.race([writesSent, done]);
  }
  leave?.();
  const results = (await Promise.all(perKind)).flat();
  const count = (s: ChangeResult['status']): number => results.filter((r) => r.status === s).length;
  const applied = count('applied');
  const pending = count('pending');
  const status: TenantApplyResult['status'] =
    applied === results.length
      ? 'applied'
      : pending > 0 && applied + pending === results.length
        ? 'pending'
        : applied + pending === 0
          ? 'failed'
          : 'partial';
  return { tenant: t.tenant, status, results };
}

const sameChange = (c: Change, r: ChangeResult | undefined): boolean =>
  r !== undefined && r.key === c.key && r.action === c.action;

/** A provider must return one result per change; anything it left out is reported, not lost. */
function reconcileResults(
  changes: readonly Change[],
  got: readonly ChangeResult[],
): ChangeResult[] {
  // The usual answer: one result per change, in order (no lookup needed).
  if (got.length === changes.length && changes.every((c, i) => sameChange(c, got[i])))
    return [...got];
  const byId = new Map(got.map((r) => [`${r.action} ${r.key}`, r]));
  const missing = changes.filter((c) => !byId.has(`${c.action} ${c.key}`));
  for (const r of allResults(missing, 'failed', 'the provider reported no result for this change'))
    byId.set(`${r.action} ${r.key}`, r);
  return changes.map((c) => byId.get(`${c.action} ${c.key}`) as ChangeResult);
}

import type { Agent, Dispatcher } from 'undici';
import type { Kind } from '../../model/kinds.js';
import type { CloudflareBinding } from '../../model/schema-types.generated.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import { converge, outcomeOfError, type Write, type WriteOutcome } from '../converge.js';
import { staticBearer } from '../http/auth.js';
import type { RetryPolicy } from '../http/backoff.js';
import {
  createHttpClient,
  createHttpDispatcher,
  withPriority,
  type HttpClient,
} from '../http/client.js';
import { createSystemClock, type Clock } from '../http/clock.js';
import { isHttpError } from '../http/errors.js';
import {
  createTokenBudgets,
  effectiveBudget,
  ratelimitHeaderState,
  type SharedBudget,
} from '../http/budget.js';
import {
  CLOUDFLARE_IP_RATE_LIMIT,
  CLOUDFLARE_RATE_LIMIT,
  createTokenBucket,
  type RateLimiter,
  type TokenBucketOptions,
} from '../http/rate-limiter.js';
import { requireSecureUrl } from '../http/url.js';
import type { LiveEntry, Provider, ProviderContext, ProviderFactory } from '../provider.js';
import { cloudflareBindingSchema } from './binding-schema.js';
import { keepOneCopyOnCloudflare, newRunId, stampRunId } from './dedupe.js';
import { listForKeys } from './read-keys.js';
import { CLOUDFLARE_CAPABILITIES } from './capabilities.js';
import {
  createCloudflareApi,
  MAX_BATCH_ITEMS,
  type BatchBody,
  type CloudflareApi,
  type SettingsResource,
} from './api.js';
import {
  blockedSenderFromVendor,
  blockedSenderToVendor,
  exemptionFromVendor,
  exemptionToVendor,
  routeFromVendor,
  routeToVendor,
  type Mapped,
} from './map.js';
import {
  cloudflareErrorText,
  cloudflareInspect,
  cloudflareUnroutable,
  parseAllowPolicy,
  parseBlockedSender,
  parseDomain,
} from './wire.js';

export const CLOUDFLARE_BASE_URL = 'https://api.cloudflare.com/client/v4';

export { CLOUDFLARE_CAPABILITIES };

export interface CloudflareProviderOptions {
  clock?: Clock;
  /** Jitter source for backoff. */
  random?: () => number;
  /**
   * The vendor's budget per API token (Cloudflare: 1,200 requests per 5 minutes per user);
   * MXPOLICY_CLOUDFLARE_BUDGET may only narrow it, MXPOLICY_BUDGET_SHARE takes a share.
   */
  rateLimit?: TokenBucketOptions;
  /**
   * Where what each token spent is kept for the next command on this machine (default
   * `<rootDir>/.mxpolicy/budget`, or MXPOLICY_BUDGET_STATE); `false`: nowhere.
   */
  budgetStateDir?: string | false;
  /**
   * Client-side budget per origin, shared by every tenant of the factory (Cloudflare: 200
   * requests per second per IP); `false` turns it off.
   */
  originRateLimit?: TokenBucketOptions | false;
  retry?: Partial<RetryPolicy>;
  /** `per_page` for listings (≤ 1000). */
  pageSize?: number;
  /** Changes per `/batch` call (≤ 1000). */
  batchSize?: number;
  /** Requests in flight at once per tenant binding. */
  maxConcurrent?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** After a write whose outcome is unknown: rounds of "re-read, retry what is missing". */
  verifyRounds?: number;
}

/** A binding's clients: `verify*` send at low priority (the re-read after creates). */
interface Session {
  http: HttpClient;
  api: CloudflareApi;
  verifyHttp: HttpClient;
  verifyApi: CloudflareApi;
}

/** Every update is a PATCH with the full body: the SDK has no single-item PUT (api.ts). */
type Op = 'delete' | 'patch' | 'post';

/** One change as one vendor operation. */
interface CfWrite extends Write {
  op: Op;
  id?: string;
  body?: object;
}

interface KindSpec {
  resource: SettingsResource;
  fromVendor(raw: unknown, path: string): LiveEntry;
  toVendor(change: Change): Mapped<object>;
  /** Whether entries may be created and deleted (domains may not). */
  createDelete: boolean;
}

const SPECS: Partial<Record<Kind, KindSpec>> = {
  blockedSenders: {
    resource: 'block_senders',
    fromVendor: (raw, path) => blockedSenderFromVendor(parseBlockedSender(raw, path)),
    toVendor: (c) =>
      c.kind === 'blockedSenders' && c.after !== undefined
        ? blockedSenderToVendor(c.after)
        : { ok: false, reason: 'change has no desired value' },
    createDelete: true,
  },
  exemptions: {
    resource: 'allow_policies',
    fromVendor: (raw, path) => exemptionFromVendor(parseAllowPolicy(raw, path)),
    toVendor: (c) =>
      c.kind === 'exemptions' && c.after !== undefined
        ? exemptionToVendor(c.after, { clearDeprecated: c.action === 'update' })
        : { ok: false, reason: 'change has no desired value' },
    createDelete: true,
  },
  routes: {
    resource: 'domains',
    fromVendor: (raw, path) => routeFromVendor(parseDomain(raw, path)),
    toVendor: (c) =>
      c.kind === 'routes' && c.after !== undefined
        ? routeToVendor(c.after)
        : { ok: false, reason: 'change has no desired value' },
    createDelete: false,
  },
};

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Step 1 of apply: turn each change into one vendor operation, or a failure known up front
 * (a kind mismatch, a domain to create or delete, no live id, a value Cloudflare cannot hold).
 */
function prepareWrites(
  kind: Kind,
  s: KindSpec,
  changes: readonly Change[],
  account: string,
  /**
   * The body of a bundle entry's create, by entry value: the same object in every tenant
   * that includes the bundle, so it is mapped once per run (each write gets its own copy:
   * `stampRunId` stamps bodies in place).
   */
  bundleBodies: WeakMap<object, Mapped<object>>,
): { writes: { index: number; write: CfWrite }[]; refused: Map<number, string> } {
  const writes: { index: number; write: CfWrite }[] = [];
  const refused = new Map<number, string>();
  changes.forEach((change, index) => {
    if (change.kind !== kind) {
      refused.set(index, `change of ${change.kind} given to ${kind}`);
      return;
    }
    if (!s.createDelete && change.action !== 'update') {
      refused.set(
        index,
        `${change.key} is not set up as a domain in Cloudflare Email Security account ${account}; mxpolicy never creates or deletes protected domains`,
      );
      return;
    }
    if (change.action !== 'create' && change.liveId === undefined) {
      refused.set(index, 'the change carries no live id (re-plan)');
      return;
    }
    if (change.action === 'delete') {
      writes.push({ index, write: { change, op: 'delete', id: change.liveId ?? '' } });
      return;
    }
    const shared =
      change.action === 'create' && change.source?.bundle !== undefined ? change.after : undefined;
    let mapped = shared !== undefined ? bundleBodies.get(shared) : undefined;
    if (mapped === undefined) {
      mapped = s.toVendor(change);
      if (shared !== undefined) bundleBodies.set(shared, mapped);
    }
    // The kept body stays as mapped: this write gets a copy.
    if (shared !== undefined && mapped.ok) mapped = { ok: true, body: { ...mapped.body } };
    if (!mapped.ok) {
      refused.set(index, mapped.reason);
      return;
    }
    writes.push({
      index,
      write:
        change.action === 'create'
          ? { change, op: 'post', body: mapped.body }
          : { change, op: 'patch', id: change.liveId ?? '', body: mapped.body },
    });
  });
  return { writes, refused };
}

/**
 * A write that threw: unknown when it may have reached Cloudflare, else failed (Cloudflare
 * does not resend a throttled or unsent write within one apply: the next run will).
 */
function outcomeOfCloudflareError(err: unknown): WriteOutcome {
  if (isHttpError(err) && err.code === 'ABORTED') return outcomeOfError(err);
  if (isHttpError(err) && err.mayHaveReachedServer)
    return { status: 'unknown', reason: err.message };
  return { status: 'failed', reason: message(err) };
}

/** Step 2a: one write on its own (POST, PATCH or DELETE of one entry). */
async function sendOne(
  api: CloudflareApi,
  resource: SettingsResource,
  w: CfWrite,
  signal: AbortSignal | undefined,
): Promise<WriteOutcome> {
  try {
    if (w.op === 'post') await api.create(resource, w.body ?? {}, signal);
    else if (w.op === 'patch') await api.patch(resource, w.id ?? '', w.body ?? {}, signal);
    else await api.remove(resource, w.id ?? '', signal);
    return { status: 'applied' };
  } catch (err) {
    // Cloudflare found no route (codes 7000/7003): the request, not the entry, is the
    // problem, so a delete is not "already gone" and an update is not "entry gone".
    if (isHttpError(err) && cloudflareUnroutable(err.body))
      return {
        status: 'failed',
        reason: `${message(err)} (Cloudflare has no route for this request: nothing was changed, and the live entry was not looked at)`,
      };
    // Already gone: the desired state holds.
    if (w.op === 'delete' && isHttpError(err) && err.status === 404) return { status: 'applied' };
    if (isHttpError(err) && err.status === 404 && !err.mayHaveReachedServer)
      return { status: 'failed', reason: `${message(err)} (the live entry is gone; re-plan)` };
    return outcomeOfCloudflareError(err);
  }
}

/**
 * Step 2b: one atomic `/batch` call. When Cloudflare refuses it (4xx), nothing was written;
 * one bad entry must not fail the others, so they are sent one by one to learn which ones
 * are refused.
 */
async function sendBatch(
  api: CloudflareApi,
  resource: SettingsResource,
  batch: readonly CfWrite[],
  signal: AbortSignal | undefined,
): Promise<WriteOutcome[]> {
  if (batch.length === 1) return [await sendOne(api, resource, batch[0] as CfWrite, signal)];
  const body: BatchBody = { deletes: [], patches: [], puts: [], posts: [] };
  for (const w of batch) {
    if (w.op === 'delete') body.deletes.push({ id: w.id ?? '' });
    else if (w.op === 'patch') body.patches.push({ id: w.id, ...w.body });
    else body.posts.push(w.body as Record<string, unknown>);
  }
  try {
    await api.batch(resource, body, signal);
    return batch.map(() => ({ status: 'applied' }));
  } catch (err) {
    if (
      isHttpError(err) &&
      err.code === 'HTTP_STATUS' &&
      err.status !== undefined &&
      err.status < 500
    ) {
      const out: WriteOutcome[] = [];
      for (const w of batch) out.push(await sendOne(api, resource, w, signal));
      return out;
    }
    const o = outcomeOfCloudflareError(err);
    return batch.map(() => o);
  }
}

/** Step 2: the writes in atomic batches of at most `size` (so every array is ≤ 1000 too). */
async function sendWrites(
  api: CloudflareApi,
  resource: SettingsResource,
  writes: readonly CfWrite[],
  size: number,
  signal: AbortSignal | undefined,
): Promise<WriteOutcome[]> {
  const out: WriteOutcome[] = [];
  for (let i = 0; i < writes.length; i += size)
    out.push(...(await sendBatch(api, resource, writes.slice(i, i + size), signal)));
  return out;
}

/**
 * The Cloudflare Email Security provider. The factory owns what tenants share: the rate
 * limiter of each API token (the budget is per user, not per tenant). Tests and benchmarks
 * create their own factory with an injected clock; the registry uses `cloudflareProvider`.
 */
export function createCloudflareProviderFactory(
  opts: CloudflareProviderOptions = {},
): ProviderFactory {
  const clock = opts.clock ?? createSystemClock();
  // One budget per token and origin, shared by every tenant using it and, through a
  // spending log beside the repository's cache, by the commands run one after another.
  const budgets = createTokenBudgets({
    vendor: 'cloudflare',
    vendorLimit: opts.rateLimit ?? CLOUDFLARE_RATE_LIMIT,
    variable: 'MXPOLICY_CLOUDFLARE_BUDGET',
    clock,
    ...(opts.budgetStateDir !== undefined ? { stateDir: opts.budgetStateDir } : {}),
  });
  const originLimiters = new Map<string, RateLimiter>();
  // A bundle entry's create maps to the same body in every tenant (an entry value is one
  // kind's, so one map serves them all).
  const bundleBodies = new WeakMap<object, Mapped<object>>();
  const originLimiterFor = (baseUrl: string): RateLimiter | undefined => {
    if (opts.originRateLimit === false) return undefined;
    const origin = new URL(baseUrl).origin;
    let limiter = originLimiters.get(origin);
    if (limiter === undefined) {
      limiter = createTokenBucket(opts.originRateLimit ?? CLOUDFLARE_IP_RATE_LIMIT, clock);
      originLimiters.set(origin, limiter);
    }
    return limiter;
  };
  // Without an injected dispatcher, the factory's tenants share one keep-alive pool per
  // origin (idle sockets are unref'ed, so it never keeps a CLI run alive).
  let sharedAgent: Agent | undefined;

  return {
    type: 'cloudflare',
    capabilities: CLOUDFLARE_CAPABILITIES,
    bindingSchema: cloudflareBindingSchema,
    create(ctx: ProviderContext): Provider {
      const settings = ctx.binding.settings as CloudflareBinding;
      const { account, baseUrl } = settings;
      // plan and drift read with the read-only token when the binding names one.
      const tokenEnv =
        ctx.access === 'read' && settings.readTokenEnv !== undefined
          ? settings.readTokenEnv
          : settings.tokenEnv;
      // validate checks these against the binding schema; a binding built in code may not have.
      if (!/^[0-9a-f]{32}$/.test(account))
        throw new Error('cloudflare binding needs `account`: the 32-hex-digit account id');
      if (typeof tokenEnv !== 'string')
        throw new Error('cloudflare binding needs `tokenEnv`: the variable holding the API token');
      if (baseUrl !== undefined) requireSecureUrl(baseUrl, 'cloudflare binding: baseUrl');
      let session: Session | undefined;
      // Stamped into the tag of what this run writes: concurrent runs keep one copy (dedupe.ts).
      const runId = newRunId();
      let budget: SharedBudget | undefined;

      const budgetRequest = (token: string): Parameters<typeof budgets.budgetFor>[0] => ({
        identity: token,
        origin: new URL(baseUrl ?? CLOUDFLARE_BASE_URL).origin,
        env: ctx.env,
        rootDir: ctx.rootDir,
        logger: ctx.logger,
      });
      // MXPOLICY_CLOUDFLARE_BUDGET (REQUESTS/SECONDS) narrows the per-token budget, e.g. when
      // other tools share the token; checked here so a bad value fails the binding at once.
      effectiveBudget(
        opts.rateLimit ?? CLOUDFLARE_RATE_LIMIT,
        ctx.env,
        'MXPOLICY_CLOUDFLARE_BUDGET',
      );

      const connect = (): Session => {
        if (session !== undefined) return session;
        const token = ctx.env[tokenEnv];
        if (token === undefined || token.trim() === '')
          throw new Error(`environment variable ${tokenEnv} (the Cloudflare API token) is not set`);
        const dispatcher: Dispatcher = ctx.dispatcher ?? (sharedAgent ??= createHttpDispatcher());
        const originLimiter = originLimiterFor(baseUrl ?? CLOUDFLARE_BASE_URL);
        const http = createHttpClient({
          baseUrl: baseUrl ?? CLOUDFLARE_BASE_URL,
          ...(originLimiter !== undefined ? { originRateLimiter: originLimiter } : {}),
          dispatcher,
          clock,
          logger: ctx.logger,
          auth: staticBearer(token, `the Cloudflare API token in ${tokenEnv}`),
          // Cloudflare answers a wrong or under-privileged token with 403 (code 10000).
          authFailureStatuses: [403],
          errorText: cloudflareErrorText,
          inspect: cloudflareInspect,
          rateLimiter: (budget = budgets.budgetFor(budgetRequest(token.trim()))),
          rateLimitState: ratelimitHeaderState,
          ...(ctx.deadlineAt !== undefined ? { deadlineAt: ctx.deadlineAt } : {}),
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
          ...(opts.maxConcurrent !== undefined ? { maxConcurrent: opts.maxConcurrent } : {}),
          ...(opts.headersTimeoutMs !== undefined
            ? { headersTimeoutMs: opts.headersTimeoutMs }
            : {}),
          ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
        });
        const pageSize = opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {};
        const api = createCloudflareApi(http, account, pageSize);
        // The re-read after a create (the concurrent-copy check) waits until no plan read
        // or write of any tenant does: an emergency block lands everywhere first.
        const verifyHttp = withPriority(http, 'low');
        const verifyApi = createCloudflareApi(verifyHttp, account, pageSize);
        session = { http, api, verifyHttp, verifyApi };
        return session;
      };

      const spec = (kind: Kind): KindSpec => {
        const s = SPECS[kind];
        if (s === undefined) throw new Error(`the cloudflare provider does not serve ${kind}`);
        return s;
      };

      const read = async (kind: Kind, signal?: AbortSignal): Promise<LiveEntry[]> => {
        const s = spec(kind);
        const { api } = connect();
        const path = `/accounts/${account}/email-security/settings/${s.resource}`;
        return api.listAll(s.resource, signal, undefined, {
          map: (raw) => s.fromVendor(raw, path),
          idOf: (l: LiveEntry) => l.id ?? '',
        });
      };

      /**
       * Prepare (step 1), then send in batches (step 2) until each change is in effect or
       * failed: `converge` re-reads after a write whose outcome is unknown and sends only
       * what is not yet in effect (step 3).
       */
      const apply = async (
        kind: Kind,
        changes: readonly Change[],
        signal?: AbortSignal,
        onWritesSent?: () => void,
      ): Promise<ChangeResult[]> => {
        const s = spec(kind);
        const { api, http, verifyApi, verifyHttp } = connect();
        const { writes, refused, created } = stampRunId(
          prepareWrites(kind, s, changes, account, bundleBodies),
          runId,
        );
        const size = Math.min(MAX_BATCH_ITEMS, Math.max(1, opts.batchSize ?? MAX_BATCH_ITEMS));
        const sent = await converge(
          writes.map((w) => w.write),
          {
            kind,
            send: (batch) => sendWrites(api, s.resource, batch, size, signal),
            read: () => read(kind, signal),
            // Domains carry no marker (they are update-only): any live domain is ours to set.
            owned: (l) => l.managed || !s.createDelete,
            rounds: opts.verifyRounds ?? 3,
            clock,
            logger: ctx.logger,
            tenant: ctx.tenant,
            redact: http.redact,
            ...(signal !== undefined ? { signal } : {}),
          },
        );
        const results = new Array<ChangeResult>(changes.length);
        writes.forEach((w, n) => {
          results[w.index] = sent[n] as ChangeResult;
        });
        for (const [index, reason] of refused) {
          const c = changes[index] as Change;
          results[index] = {
            kind: c.kind,
            key: c.key,
            action: c.action,
            status: 'failed',
            reason: http.redact(reason),
          };
        }
        // Every write is answered: what remains is the check (low priority).
        onWritesSent?.();
        // Another run may have created the same entries meanwhile: keep one copy of each.
        const path = `/accounts/${account}/email-security/settings/${s.resource}`;
        return keepOneCopyOnCloudflare(changes, results, {
          api,
          readApi: verifyApi,
          readHttp: verifyHttp,
          resource: s.resource,
          path,
          kind,
          run: runId,
          entry: (raw) => s.fromVendor(raw, path),
          created,
          clock,
          logger: ctx.logger,
          tenant: ctx.tenant,
          redact: http.redact,
          ...(signal !== undefined ? { signal } : {}),
        });
      };

      return {
        type: 'cloudflare',
        capabilities: CLOUDFLARE_CAPABILITIES,
        read: (kind, o) => read(kind, o?.signal),
        // Targeted reads (read-keys.ts): only the keys a limited plan needs, by filter.
        readKeys: async (kind, keys, o) => {
          const s = spec(kind);
          const path = `/accounts/${account}/email-security/settings/${s.resource}`;
          const items = await listForKeys(connect().api, s.resource, keys, o?.signal);
          const wanted = new Set(keys);
          return items.map((raw) => s.fromVendor(raw, path)).filter((e) => wanted.has(e.key));
        },
        apply: (kind, changes, o) => apply(kind, changes, o?.signal, o?.onWritesSent),
        // The pool is the factory's (shared by every tenant); this binding's client only.
        close: async () => {
          await session?.http.close();
          // What this token spent, for the next command on this machine.
          await budget?.flush();
        },
      };
    },
  };
}

/** The registry's instance: system clock, Cloudflare's documented rate limit. */
export const cloudflareProvider: ProviderFactory = createCloudflareProviderFactory();

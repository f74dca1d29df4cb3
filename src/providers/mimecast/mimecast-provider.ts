import type { Agent, Dispatcher } from 'undici';
import type { Kind } from '../../model/kinds.js';
import type { MimecastBinding } from '../../model/schema-types.generated.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import {
  converge,
  isInEffect,
  outcomeOfError,
  outcomeOfItem,
  type LiveIndex,
  type Write,
  type WriteOutcome,
} from '../converge.js';
import { createTokenCache, type TokenCache } from '../http/auth.js';
import type { RetryPolicy } from '../http/backoff.js';
import {
  createHttpClient,
  createHttpDispatcher,
  resetHeaderMs,
  type HttpClient,
} from '../http/client.js';
import { createSystemClock, type Clock } from '../http/clock.js';
import { isHttpError } from '../http/errors.js';
import {
  createTokenBudgets,
  effectiveBudget,
  xRateLimitState,
  type SharedBudget,
} from '../http/budget.js';
import type { TokenBucketOptions } from '../http/rate-limiter.js';
import { requireSecureUrl } from '../http/url.js';
import type { LiveEntry, Provider, ProviderContext, ProviderFactory } from '../provider.js';
import {
  createMimecastApi,
  MAX_ITEMS_PER_CALL,
  mimecastErrorText,
  UNATTRIBUTED,
  type Family,
  type MimecastApi,
  type WriteAction,
  type WriteItem,
} from './api.js';
import { MIMECAST_BASE_URL, MIMECAST_HOSTS, mimecastBindingSchema } from './binding-schema.js';
import { MIMECAST_CAPABILITIES } from './capabilities.js';
import {
  blockedSenderFromVendor,
  blockedSenderToVendor,
  exemptionFromVendor,
  exemptionToVendor,
  type Mapped,
  type ReadPolicy,
} from './map.js';
import type { McPolicyItem } from './wire.js';

export { MIMECAST_CAPABILITIES };

/**
 * The client-side budget per client id when MXPOLICY_MIMECAST_BUDGET does not narrow it.
 * Mimecast publishes no numbers (vendor notes §2.5: a per-user bucket, reported in
 * X-RateLimit-* headers): this is our choice, generous enough for a full apply, and a 429
 * makes every request of the client id wait X-RateLimit-Reset milliseconds anyway.
 */
export const MIMECAST_DEFAULT_BUDGET: TokenBucketOptions = { requests: 600, windowMs: 60_000 };

export interface MimecastProviderOptions {
  clock?: Clock;
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  /** Budget per client id (default MIMECAST_DEFAULT_BUDGET; the environment may narrow it). */
  budget?: TokenBucketOptions;
  /**
   * Where what each client id spent is kept for the next command on this machine (default
   * `<rootDir>/.mxpolicy/budget`, or MXPOLICY_BUDGET_STATE); `false`: nowhere.
   */
  budgetStateDir?: string | false;
  /** Requests in flight at once per binding (default 4). */
  maxConcurrent?: number;
  /** Items per write call (default and most: 50). */
  batchSize?: number;
  pageSize?: number;
  /** Rounds of "send, re-read what is unknown, send what is not in effect" (default 3). */
  rounds?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

interface KindSpec {
  family: Family;
  fromVendor(item: McPolicyItem): ReadPolicy<'blockedSenders'> | ReadPolicy<'exemptions'>;
  toVendor(change: Change): Mapped<WriteItem>;
  /** Whether the family has update-policy; without, a changed entry is created anew. */
  canUpdate: boolean;
}

const SPECS: Partial<Record<Kind, KindSpec>> = {
  blockedSenders: {
    family: 'blockedsenders',
    fromVendor: blockedSenderFromVendor,
    toVendor: (c) =>
      c.kind === 'blockedSenders' && c.after !== undefined
        ? blockedSenderToVendor(c.after)
        : { ok: false, reason: 'no desired value' },
    canUpdate: false,
  },
  exemptions: {
    family: 'antispoofing-bypass',
    fromVendor: exemptionFromVendor,
    toVendor: (c) =>
      c.kind === 'exemptions' && c.after !== undefined
        ? exemptionToVendor(c.after)
        : { ok: false, reason: 'no desired value' },
    canUpdate: true,
  },
};

/** One call's worth of work for converge: a change, and the vendor item that carries it. */
interface McWrite extends Write {
  /** Which step of the change: a blocked sender's update is `create` then `delete`. */
  action: WriteAction;
  item: WriteItem;
  /** Sent alone next time (a response did not say which of its items failed). */
  alone?: boolean;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * update-policy changes only the fields it is given (the contract: "all optional"), and a
 * `toDate` once set overrides `toEternal`: an update that removes an end date cannot be
 * trusted to, so that change is made like a blocked sender's (create new, delete old).
 */
function dropsEndDate(change: Change): boolean {
  const before = change.before as { expires?: string } | undefined;
  const after = change.after as { expires?: string } | undefined;
  return before?.expires !== undefined && after?.expires === undefined;
}

/** An update item: every condition list is sent, empty ones too, so none lingers. */
function updateItem(body: WriteItem, change: Change): WriteItem {
  if (!('policy' in body)) return body;
  const conditions = body.policy.conditions ?? {};
  return {
    ...body,
    id: change.liveId ?? '',
    policy: {
      ...body.policy,
      conditions: {
        sourceIPs: conditions.sourceIPs ?? [],
        spfDomains: conditions.spfDomains ?? [],
      },
    },
  };
}

/** Run `fn` over `items` with at most `limit` at once; results in order. */
async function mapLimit<A, B>(
  items: readonly A[],
  limit: number,
  fn: (a: A) => Promise<B>,
): Promise<B[]> {
  const out = new Array<B>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as A);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export function createMimecastProviderFactory(opts: MimecastProviderOptions = {}): ProviderFactory {
  const clock = opts.clock ?? createSystemClock();
  // Shared by every binding of this factory: 125 tenants of one client id fetch one token and
  // spend one budget.
  const tokens: TokenCache = createTokenCache();
  const budgets = createTokenBudgets({
    vendor: 'mimecast',
    vendorLimit: opts.budget ?? MIMECAST_DEFAULT_BUDGET,
    variable: 'MXPOLICY_MIMECAST_BUDGET',
    clock,
    ...(opts.budgetStateDir !== undefined ? { stateDir: opts.budgetStateDir } : {}),
  });
  let sharedAgent: Agent | undefined;
  const batchSize = Math.min(MAX_ITEMS_PER_CALL, Math.max(1, opts.batchSize ?? MAX_ITEMS_PER_CALL));
  const inFlight = Math.max(1, opts.maxConcurrent ?? 4);

  return {
    type: 'mimecast',
    capabilities: MIMECAST_CAPABILITIES,
    bindingSchema: mimecastBindingSchema,
    create(ctx: ProviderContext): Provider {
      const { clientId, secretEnv, baseUrl } = ctx.binding.settings as MimecastBinding;
      const where = `Mimecast binding '${ctx.binding.name}' (client id ${clientId})`;
      if (typeof clientId !== 'string' || clientId.trim() === '')
        throw new Error(`${where}: needs \`clientId\`, the API 2.0 application's client id`);
      if (typeof secretEnv !== 'string' || secretEnv === '')
        throw new Error(`${where}: needs \`secretEnv\`, the variable holding the client secret`);
      const url = requireSecureUrl(baseUrl ?? MIMECAST_BASE_URL, `${where}: baseUrl`);
      const hostOk =
        (url.protocol === 'https:' &&
          (MIMECAST_HOSTS as readonly string[]).includes(url.hostname)) ||
        (url.protocol === 'http:' && url.hostname === '127.0.0.1');
      if (!hostOk || (url.pathname !== '/' && url.pathname !== ''))
        throw new Error(
          `${where}: baseUrl must be one of ${MIMECAST_HOSTS.map((h) => `https://${h}`).join(', ')} (plain http only to 127.0.0.1)`,
        );
      const origin = url.origin;
      // MXPOLICY_MIMECAST_BUDGET (REQUESTS/SECONDS) narrows the budget per client id, e.g.
      // when other integrations use the same application; a bad value fails the binding now.
      effectiveBudget(opts.budget ?? MIMECAST_DEFAULT_BUDGET, ctx.env, 'MXPOLICY_MIMECAST_BUDGET');

      let session: { http: HttpClient; api: MimecastApi } | undefined;
      let budget: SharedBudget | undefined;
      const connect = (): { http: HttpClient; api: MimecastApi } => {
        if (session !== undefined) return session;
        const secret = ctx.env[secretEnv];
        if (secret === undefined || secret.trim() === '')
          throw new Error(
            `${where}: environment variable ${secretEnv} (the client secret) is not set`,
          );
        const dispatcher: Dispatcher = ctx.dispatcher ?? (sharedAgent ??= createHttpDispatcher());
        const auth = tokens.clientCredentials({
          tokenUrl: `${origin}/oauth/token`,
          clientId,
          clientSecret: secret.trim(),
          dispatcher,
          clock,
          logger: ctx.logger,
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
        });
        const http = createHttpClient({
          baseUrl: origin,
          dispatcher,
          clock,
          logger: ctx.logger,
          headers: { accept: 'application/json' },
          auth,
          // 418: "binding expired" (the application's credentials no longer work).
          authFailureStatuses: [418],
          rateLimiter: (budget = budgets.budgetFor({
            identity: clientId,
            origin,
            env: ctx.env,
            rootDir: ctx.rootDir,
            logger: ctx.logger,
          })),
          rateLimitState: xRateLimitState,
          ...(ctx.deadlineAt !== undefined ? { deadlineAt: ctx.deadlineAt } : {}),
          rateLimitWait: resetHeaderMs('x-ratelimit-reset'),
          errorText: mimecastErrorText,
          maxConcurrent: inFlight,
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
          ...(opts.headersTimeoutMs !== undefined
            ? { headersTimeoutMs: opts.headersTimeoutMs }
            : {}),
          ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
        });
        const api = createMimecastApi(http, {
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
        });
        session = { http, api };
        return session;
      };

      /** Credentials refused: say which binding and what to check, never the secret. */
      const explain = (err: unknown): Error => {
        if (isHttpError(err) && err.code === 'UNAUTHORIZED')
          return new Error(
            `${where} at ${origin}: ${err.message}. Check that ${secretEnv} holds the client secret of that API 2.0 application, that the application is enabled and has Gateway | Policies permissions (a 418 means its binding expired: create new credentials)`,
          );
        return err instanceof Error ? err : new Error(String(err));
      };

      const kindSpec = (kind: Kind): KindSpec => {
        const s = SPECS[kind];
        if (s === undefined) throw new Error(`the mimecast provider does not serve ${kind}`);
        return s;
      };

      const read = async (kind: Kind, signal?: AbortSignal): Promise<LiveEntry[]> => {
        const s = kindSpec(kind);
        try {
          const items = await connect().api.list(s.family, signal);
          const out: LiveEntry[] = [];
          for (const item of items) {
            const r = s.fromVendor(item);
            if (r.ok) out.push(r.entry);
            else
              out.push({
                kind,
                key: r.foreign.key,
                value: { sender: r.foreign.key, reason: r.foreign.why },
                managed: false,
                foreign: true,
                id: r.foreign.id,
              } as LiveEntry);
          }
          return out;
        } catch (err) {
          throw explain(err);
        }
      };

      const apply = async (
        kind: Kind,
        changes: readonly Change[],
        signal?: AbortSignal,
      ): Promise<ChangeResult[]> => {
        const s = kindSpec(kind);
        const results = new Array<ChangeResult | undefined>(changes.length);
        const fail = (i: number, reason: string): void => {
          const c = changes[i] as Change;
          results[i] = { kind: c.kind, key: c.key, action: c.action, status: 'failed', reason };
        };
        let api: MimecastApi;
        let http: HttpClient;
        try {
          ({ api, http } = connect());
        } catch (err) {
          changes.forEach((_, i) => {
            fail(i, message(err));
          });
          return results as ChangeResult[];
        }

        // 1. Each change as the vendor items that carry it.
        const first: { index: number; write: McWrite }[] = [];
        const replaced: number[] = []; // blocked senders: create new, then delete old
        changes.forEach((change, index) => {
          if (change.kind !== kind) {
            fail(index, `change of ${change.kind} given to ${kind}`);
            return;
          }
          if (change.action !== 'create' && change.liveId === undefined) {
            fail(index, 'the change carries no live id (re-plan)');
            return;
          }
          if (change.action === 'delete') {
            first.push({
              index,
              write: { change, action: 'delete', item: { id: change.liveId ?? '' } },
            });
            return;
          }
          const mapped = s.toVendor(change);
          if (!mapped.ok) {
            fail(index, mapped.reason);
            return;
          }
          if (change.action === 'update' && s.canUpdate && !dropsEndDate(change))
            first.push({
              index,
              write: { change, action: 'update', item: updateItem(mapped.body, change) },
            });
          else {
            first.push({ index, write: { change, action: 'create', item: mapped.body } });
            if (change.action === 'update') replaced.push(index);
          }
        });

        const run = (writes: McWrite[]): Promise<ChangeResult[]> =>
          converge(writes, {
            kind,
            clock,
            tenant: ctx.tenant,
            logger: ctx.logger,
            redact: (t) => http.redact(t),
            ...(opts.rounds !== undefined ? { rounds: opts.rounds } : {}),
            ...(signal !== undefined ? { signal } : {}),
            read: () => read(kind, signal),
            inEffect: (w, live) => inEffect(w, live),
            send: (batch) => send(s.family, batch),
          });

        // 2. Creates, updates and deletes; a replaced blocked sender's old policy is deleted
        // only once its successor exists, so the sender is never unblocked in between.
        const firstResults = await run(first.map((f) => f.write));
        const second: { index: number; write: McWrite }[] = [];
        first.forEach((f, n) => {
          const r = firstResults[n] as ChangeResult;
          if (r.status !== 'applied' || !replaced.includes(f.index)) {
            results[f.index] = { ...r, action: f.write.change.action };
            return;
          }
          second.push({
            index: f.index,
            write: {
              change: f.write.change,
              action: 'delete',
              item: { id: f.write.change.liveId ?? '' },
            },
          });
        });
        const secondResults = await run(second.map((x) => x.write));
        second.forEach((x, n) => {
          const r = secondResults[n] as ChangeResult;
          const c = x.write.change;
          results[x.index] =
            r.status === 'applied'
              ? { kind: c.kind, key: c.key, action: c.action, status: 'applied' }
              : {
                  kind: c.kind,
                  key: c.key,
                  action: c.action,
                  status: 'failed',
                  reason: `the new policy is in place, but deleting the old one (${c.liveId ?? '?'}) failed: ${r.reason ?? 'unknown'}; re-run apply`,
                };
        });
        return changes.map(
          (c, i) =>
            results[i] ?? {
              kind: c.kind,
              key: c.key,
              action: c.action,
              status: 'failed',
              reason: 'no result (internal error)',
            },
        );

        /** Sends a round: per action, calls of ≤ batchSize items (one each if `alone`). */
        async function send(family: Family, batch: readonly McWrite[]): Promise<WriteOutcome[]> {
          const outcomes = new Array<WriteOutcome>(batch.length);
          const calls: { action: WriteAction; members: number[] }[] = [];
          for (const action of ['create', 'update', 'delete'] as const) {
            const members = batch
              .map((w, i) => (w.action === action ? i : -1))
              .filter((i) => i >= 0);
            const alone = members.filter((i) => batch[i]?.alone === true);
            const together = members.filter((i) => batch[i]?.alone !== true);
            for (const i of alone) calls.push({ action, members: [i] });
            for (let k = 0; k < together.length; k += batchSize)
              calls.push({ action, members: together.slice(k, k + batchSize) });
          }
          await mapLimit(calls, inFlight, async ({ action, members }) => {
            const items = members.map((i) => (batch[i] as McWrite).item);
            try {
              const got = await api.write(family, action, items, signal);
              got.forEach((o, n) => {
                const i = members[n] as number;
                if (!o.ok && o.code === UNATTRIBUTED) (batch[i] as McWrite).alone = true;
                outcomes[i] = outcomeOfItem(o);
              });
            } catch (err) {
              const o = outcomeOfError(err);
              for (const i of members) outcomes[i] = o;
            }
          });
          return outcomes;
        }

        function inEffect(w: McWrite, live: LiveIndex): boolean {
          if (w.action === 'delete') {
            const id = 'id' in w.item ? w.item.id : undefined;
            return id !== undefined && !live.byId.has(id);
          }
          if (w.action === 'create') return isInEffect({ ...w.change, action: 'create' }, live);
          return isInEffect(w.change, live);
        }
      };

      return {
        type: 'mimecast',
        capabilities: MIMECAST_CAPABILITIES,
        read: (kind, o) => read(kind, o?.signal ?? ctx.signal),
        apply: (kind, changes, o) => apply(kind, changes, o?.signal ?? ctx.signal),
        close: async () => {
          await session?.http.close();
          await budget?.flush();
        },
      };
    },
  };
}

/** The registry's instance: system clock, the default budget per client id. */
export const mimecastProvider: ProviderFactory = createMimecastProviderFactory();

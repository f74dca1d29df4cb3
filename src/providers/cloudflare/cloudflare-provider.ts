import { createHash } from 'node:crypto';
import type { Agent, Dispatcher } from 'undici';
import { sameJson } from '../../model/entries.js';
import type { Kind } from '../../model/kinds.js';
import type { CloudflareBinding } from '../../model/schema-types.generated.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import type { RetryPolicy } from '../http/backoff.js';
import { createHttpClient, createHttpDispatcher, type HttpClient } from '../http/client.js';
import { createSystemClock, type Clock } from '../http/clock.js';
import type { HttpError } from '../http/errors.js';
import { isHttpError } from '../http/errors.js';
import {
  CLOUDFLARE_IP_RATE_LIMIT,
  CLOUDFLARE_RATE_LIMIT,
  createTokenBucket,
  parseBudget,
  type RateLimiter,
  type TokenBucketOptions,
} from '../http/rate-limiter.js';
import type { LiveEntry, Provider, ProviderContext, ProviderFactory } from '../provider.js';
import { cloudflareBindingSchema } from './binding-schema.js';
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
  createPatternCache,
  type Mapped,
  type PatternCache,
} from './map.js';
import { parseAllowPolicy, parseBlockedSender, parseDomain } from './wire.js';

export const CLOUDFLARE_BASE_URL = 'https://api.cloudflare.com/client/v4';

export { CLOUDFLARE_CAPABILITIES };

export interface CloudflareProviderOptions {
  clock?: Clock;
  /** Jitter source for backoff. */
  random?: () => number;
  /** Client-side budget per API token (Cloudflare: 1,200 requests per 5 minutes per user). */
  rateLimit?: TokenBucketOptions;
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

type Op = 'delete' | 'patch' | 'put' | 'post';

interface Prepared {
  index: number;
  change: Change;
  op: Op;
  id?: string;
  body?: object;
}

interface KindSpec {
  resource: SettingsResource;
  fromVendor(raw: unknown, path: string, cache: PatternCache): LiveEntry;
  toVendor(change: Change): Mapped<object>;
  /** How an update is sent: a full replacement, or a patch of the fields we manage. */
  update: 'put' | 'patch';
  /** Whether entries may be created and deleted (domains may not). */
  createDelete: boolean;
}

const SPECS: Partial<Record<Kind, KindSpec>> = {
  blockedSenders: {
    resource: 'block_senders',
    fromVendor: (raw, path, cache) => blockedSenderFromVendor(parseBlockedSender(raw, path), cache),
    toVendor: (c) =>
      c.kind === 'blockedSenders' && c.after !== undefined
        ? blockedSenderToVendor(c.after)
        : { ok: false, reason: 'change has no desired value' },
    update: 'put',
    createDelete: true,
  },
  exemptions: {
    resource: 'allow_policies',
    fromVendor: (raw, path, cache) => exemptionFromVendor(parseAllowPolicy(raw, path), cache),
    toVendor: (c) =>
      c.kind === 'exemptions' && c.after !== undefined
        ? exemptionToVendor(c.after)
        : { ok: false, reason: 'change has no desired value' },
    update: 'put',
    createDelete: true,
  },
  routes: {
    resource: 'domains',
    fromVendor: (raw, path) => routeFromVendor(parseDomain(raw, path)),
    toVendor: (c) =>
      c.kind === 'routes' && c.after !== undefined
        ? routeToVendor(c.after)
        : { ok: false, reason: 'change has no desired value' },
    update: 'patch',
    createDelete: false,
  },
};

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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
  const limiters = new Map<string, RateLimiter>();
  const patterns = createPatternCache();
  const originLimiters = new Map<string, RateLimiter>();
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
  const limiterFor = (token: string, budget: TokenBucketOptions | undefined): RateLimiter => {
    const id = createHash('sha256').update(token).digest('hex');
    let limiter = limiters.get(id);
    if (limiter === undefined) {
      limiter = createTokenBucket(budget ?? opts.rateLimit ?? CLOUDFLARE_RATE_LIMIT, clock);
      limiters.set(id, limiter);
    }
    return limiter;
  };

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
      if (baseUrl !== undefined) {
        let url: URL;
        try {
          url = new URL(baseUrl);
        } catch {
          throw new Error(`cloudflare binding: baseUrl '${baseUrl}' is not a URL`);
        }
        // The token goes in a header: never in clear text beyond this machine.
        const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
        if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
          throw new Error(
            `cloudflare binding: baseUrl must be https (plain http only to 127.0.0.1/localhost)`,
          );
      }
      let session: { http: HttpClient; api: CloudflareApi } | undefined;

      // MXPOLICY_CLOUDFLARE_BUDGET (REQUESTS/SECONDS) narrows the per-token budget, e.g. when
      // other tools share the token; checked here so a bad value fails the binding at once.
      const budgetSpec = ctx.env['MXPOLICY_CLOUDFLARE_BUDGET'];
      const budget =
        budgetSpec !== undefined && budgetSpec !== ''
          ? parseBudget(budgetSpec, 'MXPOLICY_CLOUDFLARE_BUDGET')
          : undefined;

      const connect = (): { http: HttpClient; api: CloudflareApi } => {
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
          headers: { authorization: `Bearer ${token.trim()}` },
          rateLimiter: limiterFor(token.trim(), budget),
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
          ...(opts.maxConcurrent !== undefined ? { maxConcurrent: opts.maxConcurrent } : {}),
          ...(opts.headersTimeoutMs !== undefined
            ? { headersTimeoutMs: opts.headersTimeoutMs }
            : {}),
          ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
        });
        const api = createCloudflareApi(http, account, {
          ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
        });
        session = { http, api };
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
        const items = await api.listAll(s.resource, signal);
        const out: LiveEntry[] = new Array<LiveEntry>(items.length);
        for (let i = 0; i < items.length; i++) out[i] = s.fromVendor(items[i], path, patterns);
        return out;
      };

      const apply = async (
        kind: Kind,
        changes: readonly Change[],
        signal?: AbortSignal,
      ): Promise<ChangeResult[]> => {
        const s = spec(kind);
        const { api, http } = connect();
        const results: (ChangeResult | undefined)[] = new Array<ChangeResult | undefined>(
          changes.length,
        );
        const done = (p: Prepared, status: ChangeResult['status'], reason?: string): void => {
          const r: ChangeResult = {
            kind: p.change.kind,
            key: p.change.key,
            action: p.change.action,
            status,
          };
          if (reason !== undefined) r.reason = http.redact(reason);
          results[p.index] = r;
        };

        // 1. Turn each change into one vendor operation, or a failure we know up front.
        const ops: Prepared[] = [];
        changes.forEach((change, index) => {
          const p: Prepared = { index, change, op: 'post' };
          if (change.kind !== kind) {
            done(p, 'failed', `change of ${change.kind} given to ${kind}`);
            return;
          }
          if (!s.createDelete && change.action !== 'update') {
            done(
              p,
              'failed',
              `${change.key} is not set up as a domain in Cloudflare Email Security account ${account}; mxpolicy never creates or deletes protected domains`,
            );
            return;
          }
          if (change.action !== 'create' && change.liveId === undefined) {
            done(p, 'failed', 'the change carries no live id (re-plan)');
            return;
          }
          if (change.action === 'delete') {
            ops.push({ ...p, op: 'delete', id: change.liveId ?? '' });
            return;
          }
          const mapped = s.toVendor(change);
          if (!mapped.ok) {
            done(p, 'failed', mapped.reason);
            return;
          }
          if (change.action === 'create') ops.push({ ...p, op: 'post', body: mapped.body });
          else ops.push({ ...p, op: s.update, id: change.liveId ?? '', body: mapped.body });
        });

        // 2. Atomic batches of ≤ 1000 changes (so every array is ≤ 1000 too).
        const size = Math.min(MAX_BATCH_ITEMS, Math.max(1, opts.batchSize ?? MAX_BATCH_ITEMS));
        for (let i = 0; i < ops.length; i += size) await runBatch(ops.slice(i, i + size), 1);
        return results.map(
          (r, i) =>
            r ?? {
              kind,
              key: changes[i]?.key ?? '',
              action: changes[i]?.action ?? 'create',
              status: 'failed',
              reason: 'no result (internal error)',
            },
        );

        async function runBatch(batch: Prepared[], round: number): Promise<void> {
          if (batch.length === 0) return;
          if (batch.length === 1) return runSingle(batch[0] as Prepared, round);
          const body: BatchBody = { deletes: [], patches: [], puts: [], posts: [] };
          for (const p of batch) {
            if (p.op === 'delete') body.deletes.push({ id: p.id ?? '' });
            else if (p.op === 'patch') body.patches.push({ id: p.id, ...p.body });
            else if (p.op === 'put') body.puts.push({ id: p.id, ...p.body });
            else body.posts.push({ ...p.body });
          }
          try {
            await api.batch(s.resource, body, signal);
            for (const p of batch) done(p, 'applied');
          } catch (err) {
            if (isHttpError(err) && err.mayHaveReachedServer)
              return afterUncertainWrite(batch, err, round, runBatch);
            if (
              isHttpError(err) &&
              err.code === 'HTTP_STATUS' &&
              err.status !== undefined &&
              err.status < 500
            ) {
              // The batch is atomic, so nothing was written; one bad entry must not fail the
              // others, so send them one by one to learn exactly which ones are refused.
              for (const p of batch) await runSingle(p, round);
              return;
            }
            for (const p of batch) done(p, 'failed', message(err));
          }
        }

        async function runSingle(p: Prepared, round: number): Promise<void> {
          try {
            if (p.op === 'post') await api.create(s.resource, p.body ?? {}, signal);
            else if (p.op === 'put')
              await api.replace(s.resource, p.id ?? '', p.body ?? {}, signal);
            else if (p.op === 'patch')
              await api.patch(s.resource, p.id ?? '', p.body ?? {}, signal);
            else await api.remove(s.resource, p.id ?? '', signal);
            done(p, 'applied');
          } catch (err) {
            if (p.op === 'delete' && isHttpError(err) && err.status === 404) {
              done(p, 'applied');
              return;
            } // already gone: the desired state holds
            if (isHttpError(err) && err.mayHaveReachedServer)
              return afterUncertainWrite([p], err, round, (rest, r) =>
                runSingle(rest[0] as Prepared, r),
              );
            if (isHttpError(err) && err.status === 404) {
              done(p, 'failed', `${message(err)} (the live entry is gone; re-plan)`);
              return;
            }
            done(p, 'failed', message(err));
          }
        }

        /**
         * A write may or may not have happened (a 5xx, a reset, a timeout after sending).
         * Re-read the kind and count every change already in effect as applied; send only
         * the rest again, so a retry never duplicates a create.
         */
        async function afterUncertainWrite(
          batch: Prepared[],
          err: HttpError,
          round: number,
          retry: (rest: Prepared[], round: number) => Promise<void>,
        ): Promise<void> {
          let live: LiveEntry[];
          try {
            live = await read(kind, signal);
          } catch (readErr) {
            for (const p of batch)
              done(
                p,
                'failed',
                `outcome unknown: ${err.message}; checking failed: ${message(readErr)} (re-run apply to converge)`,
              );
            return;
          }
          const byId = new Map(live.map((l) => [l.id, l]));
          const byKey = new Map<string, LiveEntry[]>();
          for (const l of live) {
            const list = byKey.get(l.key);
            if (list === undefined) byKey.set(l.key, [l]);
            else list.push(l);
          }
          const rest = batch.filter((p) => {
            let inEffect: boolean;
            if (p.op === 'delete') inEffect = !byId.has(p.id);
            else if (p.op === 'post')
              inEffect = (byKey.get(p.change.key) ?? []).some(
                (l) => (l.managed || !s.createDelete) && sameJson(l.value, p.change.after),
              );
            else {
              const l = byId.get(p.id);
              inEffect =
                l !== undefined &&
                (l.managed || !s.createDelete) &&
                sameJson(l.value, p.change.after);
            }
            if (inEffect) done(p, 'applied');
            return !inEffect;
          });
          if (rest.length === 0) return;
          if (round >= (opts.verifyRounds ?? 3)) {
            for (const p of rest)
              done(p, 'failed', `${err.message} (not in effect after ${round} attempts)`);
            return;
          }
          ctx.logger.warn('cloudflare write outcome unknown; retrying what is not in effect', {
            tenant: ctx.tenant,
            kind,
            pending: rest.length,
            round,
          });
          await retry(rest, round + 1);
        }
      };

      return {
        type: 'cloudflare',
        capabilities: CLOUDFLARE_CAPABILITIES,
        read: (kind, o) => read(kind, o?.signal),
        apply: (kind, changes, o) => apply(kind, changes, o?.signal),
      };
    },
  };
}

/** The registry's instance: system clock, Cloudflare's documented rate limit. */
export const cloudflareProvider: ProviderFactory = createCloudflareProviderFactory();

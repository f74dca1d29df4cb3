import type { Clock } from './clock.js';

/** A client-side budget of requests, shared by every request to one account. */
export interface RateLimiter {
  /** Wait for one request's worth of budget. */
  acquire(signal?: AbortSignal, opts?: AcquireOptions): Promise<void>;
  /** The server said "slow down": hold every request until `untilMs` (epoch ms). */
  pauseUntil(untilMs: number): void;
  /** Until when requests are held (epoch ms; in the past when they are not). */
  pausedUntil?(): number;
  /** The vendor said this much remains (rate-limit headers): correct the estimate. */
  observe?(state: VendorBudgetState): void;
}

/** A vendor's word on the budget, from its response headers. */
export interface VendorBudgetState {
  /** Requests left in the current window. */
  remaining: number;
  /** Milliseconds until that window resets (capacity comes back). */
  resetMs: number;
}

export interface AcquireOptions {
  /**
   * The command's deadline (epoch ms): when the vendor holds every request until after it,
   * fail at once (`BudgetBlockedError`) instead of waiting for a deadline that comes first.
   */
  notAfter?: number;
}

/**
 * A budget written as `REQUESTS/SECONDS` (`600/300`: 600 requests per 5 minutes), e.g. from
 * an environment variable, to leave room for other tools that share an API token.
 */
export function parseBudget(spec: string, name: string): TokenBucketOptions {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(spec);
  const requests = Number(m?.[1]);
  const seconds = Number(m?.[2]);
  if (m === null || requests < 1 || seconds < 1)
    throw new Error(`${name} must look like REQUESTS/SECONDS, e.g. 600/300 (got '${spec}')`);
  return { requests, windowMs: seconds * 1000 };
}

export interface TokenBucketOptions {
  /** Requests allowed per window, e.g. Cloudflare's 1,200. */
  requests: number;
  /** Window length in ms, e.g. 5 minutes. */
  windowMs: number;
  /** Burst size; default: the whole window's budget (a fresh account may spend it at once). */
  burst?: number;
}

/** Cloudflare: 1,200 requests per 5 minutes per user (vendor-apis/README.md §1.4). */
export const CLOUDFLARE_RATE_LIMIT: TokenBucketOptions = { requests: 1200, windowMs: 300_000 };

/**
 * Cloudflare: 200 requests per second per IP. A small burst keeps the rate honest over any
 * second instead of letting a full second's budget out at once.
 */
export const CLOUDFLARE_IP_RATE_LIMIT: TokenBucketOptions = {
  requests: 200,
  windowMs: 1000,
  burst: 10,
};

/**
 * A token bucket that refills continuously at `requests / windowMs`. Waiters are served in
 * arrival order (a promise chain), so a storm of concurrent callers cannot starve one.
 */
export function createTokenBucket(opts: TokenBucketOptions, clock: Clock): RateLimiter {
  if (!(opts.requests > 0) || !(opts.windowMs > 0))
    throw new Error('rate limit needs requests > 0 and windowMs > 0');
  const capacity = Math.max(1, opts.burst ?? opts.requests);
  const perMs = opts.requests / opts.windowMs;
  let tokens = capacity;
  let last = clock.now();
  let pausedUntil = 0;
  let queue: Promise<void> = Promise.resolve();

  const refill = (): void => {
    const now = clock.now();
    tokens = Math.min(capacity, tokens + (now - last) * perMs);
    last = now;
  };

  const take = async (signal?: AbortSignal, o?: AcquireOptions): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      const now = clock.now();
      if (pausedUntil > now) {
        if (o?.notAfter !== undefined && pausedUntil > o.notAfter)
          throw new BudgetBlockedError(pausedUntil);
        await clock.sleep(pausedUntil - now, signal);
        continue;
      }
      refill();
      if (tokens >= 1) {
        tokens -= 1;
        return;
      }
      await clock.sleep(Math.ceil((1 - tokens) / perMs), signal);
    }
  };

  return {
    acquire(signal, o) {
      const mine = queue.then(() => take(signal, o));
      // The chain must survive an aborted waiter.
      queue = mine.catch(() => undefined);
      return mine;
    },
    pauseUntil(untilMs) {
      pausedUntil = Math.max(pausedUntil, untilMs);
    },
    pausedUntil: () => pausedUntil,
  };
}

/** The vendor holds every request of the token until after the command's deadline. */
export class BudgetBlockedError extends Error {
  constructor(readonly untilMs: number) {
    super(`every request is held until ${new Date(untilMs).toISOString()}`);
    this.name = 'BudgetBlockedError';
  }
}

/** A limiter that never waits (tests, or vendors with no documented budget). */
export function unlimited(): RateLimiter {
  return { acquire: () => Promise.resolve(), pauseUntil: () => undefined };
}

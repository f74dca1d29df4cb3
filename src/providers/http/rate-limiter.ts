import { abortReason, type Clock } from './clock.js';

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
  /**
   * The request admitted at `admittedAt` (epoch ms) went out only now, after waiting at
   * another limit (the per-IP one): count it from now, as the vendor does.
   */
  sentLate?(admittedAt: number): void;
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
  /** Default `normal`; `low` goes once no `normal` request is waiting. */
  priority?: RequestPriority;
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
 * How soon a request must go. `normal`: what a plan must read and every write. `low`: work
 * that may wait until nothing more urgent does, e.g. the re-read after a create that looks
 * for a concurrent run's copy: it goes out once no `normal` request is waiting.
 */
export type RequestPriority = 'normal' | 'low';
const LEVELS: Record<RequestPriority, number> = { normal: 0, low: 1 };

/**
 * One place requests wait for a limit: served by priority, then in arrival order (so a storm
 * of concurrent callers cannot starve one of its own level); a pause (the vendor said "slow
 * down") holds everyone. `admit(now)` counts one request and returns 0 when the limit
 * allows it now, else how many ms until it may.
 */
export interface AdmissionQueue {
  acquire(signal?: AbortSignal, opts?: AcquireOptions): Promise<void>;
  pauseUntil(untilMs: number): void;
  pausedUntil(): number;
}

export function createAdmissionQueue(o: {
  clock: Clock;
  admit(now: number): number;
  /** Settles before the first request is admitted (a budget loading what others spent). */
  ready?: Promise<void>;
}): AdmissionQueue {
  const { clock } = o;
  interface Waiter {
    resolve(): void;
    reject(err: unknown): void;
    notAfter: number | undefined;
    done(): void;
  }
  const levels: Waiter[][] = Object.values(LEVELS).map(() => []);
  let pausedUntil = 0;
  let running = false;
  /** The low-priority waiter the queue last stepped aside for (once per admission). */
  let yieldedFor: Waiter | undefined;
  /** Ends the queue's own sleep early: set while it sleeps. */
  let wake: AbortController | undefined;

  const head = (): Waiter | undefined => levels.find((l) => l.length > 0)?.[0];
  const remove = (w: Waiter): void => {
    for (const l of levels) {
      const i = l.indexOf(w);
      if (i >= 0) l.splice(i, 1);
    }
  };
  const nap = async (ms: number): Promise<void> => {
    // Let those just admitted go first (a virtual clock moves time as soon as it is asked).
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (head() === undefined) return;
    yieldedFor = undefined;
    wake = new AbortController();
    try {
      await clock.sleep(Math.max(1, ms), wake.signal);
    } catch {
      // Woken: every waiter left.
    } finally {
      wake = undefined;
    }
  };

  const serve = async (): Promise<void> => {
    running = true;
    try {
      await o.ready;
      for (let first = head(); first !== undefined; first = head()) {
        const now = clock.now();
        if (pausedUntil > now) {
          // Held past a waiter's deadline: it fails now rather than wait for nothing.
          for (const l of levels)
            for (const w of [...l])
              if (w.notAfter !== undefined && pausedUntil > w.notAfter) {
                remove(w);
                w.done();
                w.reject(new BudgetBlockedError(pausedUntil));
              }
          if (head() !== undefined) await nap(pausedUntil - now);
          continue;
        }
        // Before a low one goes, answers already received get their turn to queue the
        // urgent requests that follow them (a busy event loop runs timers before I/O).
        if (first !== yieldedFor && (levels[0]?.length ?? 0) === 0) {
          yieldedFor = first;
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        const wait = o.admit(now);
        if (wait <= 0) {
          remove(first);
          first.done();
          first.resolve();
          continue;
        }
        await nap(wait);
      }
    } finally {
      running = false;
    }
  };

  return {
    acquire(signal, opts) {
      if (signal?.aborted === true) return Promise.reject(abortReason(signal));
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          remove(waiter);
          reject(abortReason(signal));
          // Nobody left to serve: no timer may keep the process alive.
          if (head() === undefined) wake?.abort();
        };
        const waiter: Waiter = {
          resolve,
          reject,
          notAfter: opts?.notAfter,
          done: () => signal?.removeEventListener('abort', onAbort),
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        (levels[LEVELS[opts?.priority ?? 'normal']] as Waiter[]).push(waiter);
        if (!running) void serve();
      });
    },
    pauseUntil(untilMs) {
      pausedUntil = Math.max(pausedUntil, untilMs);
    },
    pausedUntil: () => pausedUntil,
  };
}

/**
 * A token bucket that refills continuously at `requests / windowMs`, served by priority
 * then in arrival order (`createAdmissionQueue`).
 */
export function createTokenBucket(opts: TokenBucketOptions, clock: Clock): RateLimiter {
  if (!(opts.requests > 0) || !(opts.windowMs > 0))
    throw new Error('rate limit needs requests > 0 and windowMs > 0');
  const capacity = Math.max(1, opts.burst ?? opts.requests);
  const perMs = opts.requests / opts.windowMs;
  let tokens = capacity;
  let last = clock.now();
  const queue = createAdmissionQueue({
    clock,
    admit(now) {
      tokens = Math.min(capacity, tokens + (now - last) * perMs);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return Math.ceil((1 - tokens) / perMs);
    },
  });
  return queue;
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

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../provider.js';
import type { Clock } from './clock.js';
import {
  createAdmissionQueue,
  parseBudget,
  type RateLimiter,
  type TokenBucketOptions,
  type VendorBudgetState,
} from './rate-limiter.js';

/**
 * One budget per API token, whoever spends it: the parallel shards of a run (each takes its
 * share), the commands run one after another on one machine (a spending log beside the
 * repository's cache), and what the vendor says remains (its rate-limit headers).
 */

/** Where back-to-back commands leave what they spent, below the repository root. */
export const BUDGET_STATE_DIR = '.mxpolicy/budget';

type Headers = Record<string, string | string[] | undefined>;
const header = (h: Headers, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/**
 * The IETF draft `RateLimit` header as Cloudflare sends it on every response since
 * 2025-09: a list of `"name";r=REMAINING;t=SECONDS-TO-RESET` items, e.g.
 * `"default";r=50;t=30` (developers.cloudflare.com/fundamentals/api/reference/limits).
 * The most restrictive item counts.
 */
export function ratelimitHeaderState(headers: Headers): VendorBudgetState | undefined {
  const value = header(headers, 'ratelimit');
  if (value === undefined) return undefined;
  let best: VendorBudgetState | undefined;
  for (const item of value.split(',')) {
    const r = /;\s*r=(\d+)/.exec(item)?.[1];
    const t = /;\s*t=(\d+)/.exec(item)?.[1];
    if (r === undefined) continue;
    const state = { remaining: Number(r), resetMs: Number(t ?? 0) * 1000 };
    if (best === undefined || state.remaining < best.remaining) best = state;
  }
  return best;
}

/**
 * `X-RateLimit-Remaining` with `X-RateLimit-Reset` in milliseconds (Mimecast, vendor notes
 * §2.5).
 */
export function xRateLimitState(headers: Headers): VendorBudgetState | undefined {
  const remaining = header(headers, 'x-ratelimit-remaining')?.trim();
  if (remaining === undefined || !/^\d+$/.test(remaining)) return undefined;
  const reset = header(headers, 'x-ratelimit-reset')?.trim();
  return {
    remaining: Number(remaining),
    resetMs: reset !== undefined && /^\d+(\.\d+)?$/.test(reset) ? Math.ceil(Number(reset)) : 0,
  };
}

/** A budget that may be told what the vendor counted, and saved for the next command. */
export interface SharedBudget extends RateLimiter {
  /** The vendor said this much remains: count what we did not know about as spent. */
  observe(state: VendorBudgetState): void;
  pausedUntil(): number;
  /** Requests this window still allows, as far as we know. */
  remaining(): number;
  /** Write what this process spent (best effort; never throws). */
  flush(): Promise<void>;
}

/** `MXPOLICY_BUDGET_SHARE`: a fraction `k/n` or a decimal in (0, 1]. */
export function parseShare(spec: string, name = 'MXPOLICY_BUDGET_SHARE'): number {
  const s = spec.trim();
  const frac = /^(\d+)\s*\/\s*(\d+)$/.exec(s);
  const value =
    frac !== null ? Number(frac[1]) / Number(frac[2]) : /^\d*\.?\d+$/.test(s) ? Number(s) : NaN;
  if (!(value > 0 && value <= 1))
    throw new Error(
      `${name} must be a share of the budget in (0, 1], e.g. 1/3 or 0.25 (got '${spec}')`,
    );
  return value;
}

export interface EffectiveBudget {
  limit: TokenBucketOptions;
  /** Set when the variable asked for more than the vendor allows (the vendor's limit holds). */
  warning?: string;
}

/**
 * The budget a process may spend on one token: the vendor's limit, narrowed (never widened)
 * by the budget variable, times this shard's share.
 */
export function effectiveBudget(
  vendor: TokenBucketOptions,
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
): EffectiveBudget {
  const spec = env[variable];
  let limit = { requests: vendor.requests, windowMs: vendor.windowMs };
  let warning: string | undefined;
  if (spec !== undefined && spec.trim() !== '') {
    const asked = parseBudget(spec, variable);
    const vendorRate = vendor.requests / vendor.windowMs;
    const askedRate = asked.requests / asked.windowMs;
    // A budget only narrows: no more per window than asked, and never a faster rate or a
    // bigger burst than the vendor allows.
    const requests = Math.max(
      1,
      Math.min(asked.requests, vendor.requests, Math.floor(vendorRate * asked.windowMs)),
    );
    limit = { requests, windowMs: asked.windowMs };
    if (askedRate > vendorRate * 1.000001 || asked.requests > vendor.requests)
      warning = `${variable}=${spec.trim()} asks for more than the vendor allows (${vendor.requests}/${Math.round(vendor.windowMs / 1000)}); it can only narrow the budget, so ${requests}/${Math.round(asked.windowMs / 1000)} is used`;
  }
  const shareSpec = env['MXPOLICY_BUDGET_SHARE'];
  if (shareSpec !== undefined && shareSpec.trim() !== '') {
    const share = parseShare(shareSpec);
    limit = { ...limit, requests: Math.max(1, Math.floor(limit.requests * share)) };
  }
  return warning !== undefined ? { limit, warning } : { limit };
}

/** The identity a budget is saved under: a hash, never the token (nor reversible to it). */
export function budgetKey(vendor: string, origin: string, identity: string): string {
  return createHash('sha256')
    .update(`mxpolicy budget\0${vendor}\0${origin}\0${identity}`)
    .digest('hex')
    .slice(0, 40);
}

type Slot = [start: number, count: number];

/** The spending of the other processes on one key, and a place to write our own. */
export interface SpendStore {
  /** Every other writer's slots of `key` (corrupt or unreadable files are skipped). */
  load(key: string, sinceMs: number): Promise<Slot[]>;
  /** Replace this process's record of `key`. */
  save(key: string, record: { windowMs: number; slotMs: number; slots: Slot[] }): Promise<void>;
}

function isSlot(v: unknown): v is Slot {
  return (
    Array.isArray(v) &&
    v.length === 2 &&
    Number.isFinite(v[0]) &&
    Number.isInteger(v[1]) &&
    (v[1] as number) > 0
  );
}

/**
 * A spending log on disk: `<dir>/<key>/<writer>.json`, one file per process, so concurrent
 * writers never lose each other's counts; each is replaced atomically (temp file + rename).
 * Files whose last spending left the window are removed by the next reader.
 */
export function createFileSpendStore(dir: string, logger?: Logger): SpendStore {
  const writer = `${process.pid}-${randomBytes(4).toString('hex')}`;
  return {
    load(key, sinceMs) {
      const folder = join(dir, key);
      // Read synchronously: a few small files, and a token's first request waits for them.
      // Each await here would be a turn of the event loop in which the CLI parses another
      // tenant's policy file (tens of ms) before that first request goes out.
      let names: string[];
      try {
        names = readdirSync(folder);
      } catch {
        return Promise.resolve([]);
      }
      const out: Slot[] = [];
      for (const name of names) {
        if (!name.endsWith('.json') || name === `${writer}.json`) continue;
        const file = join(folder, name);
        let slots: unknown;
        try {
          const parsed = JSON.parse(readFileSync(file, 'utf8')) as { slots?: unknown };
          slots = parsed.slots;
        } catch {
          // Half-written by a crashed tool, or not ours: no spending known from it.
          logger?.debug('budget: skipping an unreadable spending file', { file });
          continue;
        }
        if (!Array.isArray(slots)) continue;
        const live = slots.filter(isSlot).filter((s) => s[0] >= sinceMs);
        if (live.length === 0) {
          try {
            rmSync(file, { force: true });
          } catch {
            // Someone else's to remove, then.
          }
          continue;
        }
        out.push(...live);
      }
      return Promise.resolve(out.sort((a, b) => a[0] - b[0]));
    },
    save(key, record) {
      // Written synchronously too: a file of a few hundred bytes, saved about once a second
      // per token in use; the promise API's open/write/close/rename cost several times the
      // system calls themselves (a 125-token apply saves a few hundred times).
      const folder = join(dir, key);
      try {
        const file = join(folder, `${writer}.json`);
        const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
        const text = JSON.stringify({ version: 1, ...record }) + '\n';
        try {
          writeFileSync(temp, text, { mode: 0o600 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          // No folder yet (the token's first save on this machine), or it went away
          // meanwhile (someone cleared the cache): made then, not tried on every save.
          mkdirSync(folder, { recursive: true });
          writeFileSync(temp, text, { mode: 0o600 });
        }
        renameSync(temp, file);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },
  };
}

export interface WindowBudgetOptions {
  limit: TokenBucketOptions;
  clock: Clock;
  /** Where other processes' spending comes from and ours goes (none: this process only). */
  store?: { spend: SpendStore; key: string };
  logger?: Logger;
}

/**
 * "N requests per window": a request may go when fewer than N were sent in the window
 * before it (a sliding window, the strictest reading of a vendor's "1,200 per 5 minutes":
 * it also keeps within a fixed window or a token bucket of the same numbers). Spending is
 * counted in slots of 1/300 of the window, ours and that of the other processes on this
 * machine; waiters are served by priority, then in arrival order (`createAdmissionQueue`).
 */
export function createWindowBudget(opts: WindowBudgetOptions): SharedBudget {
  const { clock } = opts;
  const windowMs = opts.limit.windowMs;
  const limit = Math.max(1, Math.floor(opts.limit.requests));
  if (!(windowMs > 0)) throw new Error('a budget needs a window > 0');
  const slotMs = Math.max(1, Math.ceil(windowMs / 300));
  const own: Slot[] = [];
  let others: Slot[] = [];
  /** Spending the vendor reported that no log of ours explains (another machine or tool). */
  const unseen: Slot[] = [];
  let dirty = false;
  let lastSave = clock.now();
  let saving: Promise<void> = Promise.resolve();

  const since = (now: number): number => now - windowMs;
  const prune = (slots: Slot[], now: number): void => {
    // A slot is gone once all of it is older than the window.
    while (slots.length > 0 && (slots[0] as Slot)[0] + slotMs <= since(now)) slots.shift();
  };
  const sum = (slots: readonly Slot[]): number => slots.reduce((n, s) => n + s[1], 0);
  const spent = (now: number): number => {
    prune(own, now);
    prune(unseen, now);
    others = others.filter((s) => s[0] + slotMs > since(now));
    return sum(own) + sum(others) + sum(unseen);
  };
  const add = (slots: Slot[], at: number, n: number): void => {
    const start = Math.floor(at / slotMs) * slotMs;
    const last = slots[slots.length - 1];
    if (last !== undefined && last[0] === start) last[1] += n;
    else {
      slots.push([start, n]);
      slots.sort((a, b) => a[0] - b[0]);
    }
  };
  const oldest = (): number =>
    Math.min(own[0]?.[0] ?? Infinity, others[0]?.[0] ?? Infinity, unseen[0]?.[0] ?? Infinity);

  const reload = async (): Promise<void> => {
    if (opts.store === undefined) return;
    try {
      others = await opts.store.spend.load(opts.store.key, since(clock.now()) - slotMs);
    } catch (err) {
      opts.logger?.debug('budget: could not read the spending log', { error: String(err) });
    }
  };
  const loaded = reload();

  const save = (): Promise<void> => {
    if (opts.store === undefined || !dirty) return saving;
    const store = opts.store;
    dirty = false;
    lastSave = clock.now();
    prune(own, clock.now());
    const record = { windowMs, slotMs, slots: own.map((s): Slot => [s[0], s[1]]) };
    saving = saving
      .then(() => store.spend.save(store.key, record))
      .then(reload)
      .catch((err: unknown) => {
        opts.logger?.debug('budget: could not write the spending log', { error: String(err) });
      });
    return saving;
  };

  const queue = createAdmissionQueue({
    clock,
    ready: loaded,
    admit(now) {
      if (spent(now) < limit) {
        add(own, now, 1);
        dirty = true;
        // Other processes on this machine see our spending within about a second.
        if (now - lastSave >= 1000) void save();
        return 0;
      }
      return Math.max(1, oldest() + slotMs + windowMs - now);
    },
  });

  return {
    acquire: (signal, o) => queue.acquire(signal, o),
    pauseUntil: (untilMs) => {
      queue.pauseUntil(untilMs);
    },
    pausedUntil: () => queue.pausedUntil(),
    sentLate(admittedAt) {
      const now = clock.now();
      const from = Math.floor(admittedAt / slotMs) * slotMs;
      if (from === Math.floor(now / slotMs) * slotMs) return;
      const slot = own.find((s) => s[0] === from);
      // Gone from the window already: counting it again from now only errs on the safe side.
      if (slot !== undefined && slot[1] > 1) slot[1] -= 1;
      else if (slot !== undefined) own.splice(own.indexOf(slot), 1);
      add(own, now, 1);
      dirty = true;
    },
    observe({ remaining, resetMs }) {
      const now = clock.now();
      const known = limit - spent(now);
      if (!(remaining >= 0) || remaining >= known) return;
      // Counted as spent now, leaving our window when the vendor's resets.
      const at = Math.min(now, now - windowMs + Math.max(0, resetMs));
      add(unseen, at, known - Math.floor(remaining));
    },
    remaining: () => Math.max(0, limit - spent(clock.now())),
    flush: save,
  };
}

export interface TokenBudgetsOptions {
  /** Provider type, e.g. `cloudflare` (part of the saved key). */
  vendor: string;
  /** The vendor's documented limit per token (the variable may narrow it). */
  vendorLimit: TokenBucketOptions;
  /** `MXPOLICY_CLOUDFLARE_BUDGET`. */
  variable: string;
  clock: Clock;
  /**
   * Where spending is saved between commands: a folder, `false` for nowhere; default
   * `<rootDir>/.mxpolicy/budget` (or `MXPOLICY_BUDGET_STATE`: a folder, or `off`).
   */
  stateDir?: string | false;
}

export interface BudgetRequest {
  /** The secret or id the vendor counts by (hashed; never stored). */
  identity: string;
  origin: string;
  env: Readonly<Record<string, string | undefined>>;
  rootDir: string;
  logger: Logger;
}

/**
 * The budgets of a provider factory: one per token identity and origin, shared by every
 * tenant binding that uses the token; the narrowing warning is said once.
 */
export function createTokenBudgets(opts: TokenBudgetsOptions): {
  budgetFor(req: BudgetRequest): SharedBudget;
  flushAll(): Promise<void>;
} {
  const budgets = new Map<string, SharedBudget>();
  const warned = new Set<string>();
  const stores = new Map<string, SpendStore>();
  const storeFor = (dir: string, logger: Logger): SpendStore => {
    let s = stores.get(dir);
    if (s === undefined) {
      s = createFileSpendStore(dir, logger);
      stores.set(dir, s);
    }
    return s;
  };
  return {
    budgetFor(req) {
      const key = budgetKey(opts.vendor, req.origin, req.identity);
      const { limit, warning } = effectiveBudget(opts.vendorLimit, req.env, opts.variable);
      if (warning !== undefined && !warned.has(warning)) {
        warned.add(warning);
        req.logger.warn(warning);
      }
      const known = `${key} ${limit.requests}/${limit.windowMs}`;
      const existing = budgets.get(known);
      if (existing !== undefined) return existing;
      const fromEnv = req.env['MXPOLICY_BUDGET_STATE'];
      const dir =
        opts.stateDir !== undefined
          ? opts.stateDir
          : fromEnv === 'off'
            ? false
            : resolve(
                req.rootDir,
                fromEnv !== undefined && fromEnv !== '' ? fromEnv : BUDGET_STATE_DIR,
              );
      const budget = createWindowBudget({
        limit,
        clock: opts.clock,
        logger: req.logger,
        ...(dir !== false ? { store: { spend: storeFor(dir, req.logger), key } } : {}),
      });
      budgets.set(known, budget);
      return budget;
    },
    flushAll: async () => {
      await Promise.all([...budgets.values()].map((b) => b.flush()));
    },
  };
}

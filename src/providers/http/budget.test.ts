import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../provider.js';
import {
  budgetKey,
  createFileSpendStore,
  createTokenBudgets,
  createWindowBudget,
  effectiveBudget,
  parseShare,
  ratelimitHeaderState,
  xRateLimitState,
} from './budget.js';
import { createVirtualClock } from './clock.js';
import { BudgetBlockedError } from './rate-limiter.js';

const CF = { requests: 1200, windowMs: 300_000 };
const VAR = 'MXPOLICY_CLOUDFLARE_BUDGET';
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'mxpolicy-budget-'));
  dirs.push(d);
  return d;
};
const quiet = (warnings: string[] = []): Logger => ({
  debug: () => undefined,
  info: () => undefined,
  warn: (m) => void warnings.push(m),
});

describe('effectiveBudget: the variable only narrows, the share divides', () => {
  it('is the vendor limit without a variable', () => {
    expect(effectiveBudget(CF, {}, VAR)).toEqual({ limit: CF });
  });

  it('takes a narrower value as it is', () => {
    expect(effectiveBudget(CF, { [VAR]: '600/300' }, VAR)).toEqual({
      limit: { requests: 600, windowMs: 300_000 },
    });
    expect(effectiveBudget(CF, { [VAR]: '120/60' }, VAR).warning).toBeUndefined();
  });

  it('never widens: more requests, or a faster rate, falls back to the vendor limit with a warning', () => {
    const wide = effectiveBudget(CF, { [VAR]: '5000/300' }, VAR);
    expect(wide.limit).toEqual({ requests: 1200, windowMs: 300_000 });
    expect(wide.warning).toMatch(
      /MXPOLICY_CLOUDFLARE_BUDGET=5000\/300 asks for more than the vendor allows \(1200\/300\); it can only narrow the budget, so 1200\/300 is used/,
    );
    // 100 per second is 30,000 per 5 minutes: the vendor's rate (4/s) holds.
    const fast = effectiveBudget(CF, { [VAR]: '100/1' }, VAR);
    expect(fast.limit).toEqual({ requests: 4, windowMs: 1000 });
    expect(fast.warning).toMatch(/can only narrow/);
  });

  it("gives a shard its share of the token's budget", () => {
    expect(effectiveBudget(CF, { MXPOLICY_BUDGET_SHARE: '1/3' }, VAR).limit).toEqual({
      requests: 400,
      windowMs: 300_000,
    });
    expect(
      effectiveBudget(CF, { [VAR]: '600/300', MXPOLICY_BUDGET_SHARE: '0.25' }, VAR).limit,
    ).toEqual({ requests: 150, windowMs: 300_000 });
  });

  it.each(['0', '2/1', '1.5', 'half', '-1/3', '1/0'])('refuses the share %j', (spec) => {
    expect(() => parseShare(spec)).toThrow(/MXPOLICY_BUDGET_SHARE must be a share of the budget/);
  });
});

describe('vendor rate-limit headers', () => {
  it("reads Cloudflare's Ratelimit header (the most restrictive item)", () => {
    expect(ratelimitHeaderState({ ratelimit: '"default";r=50;t=30' })).toEqual({
      remaining: 50,
      resetMs: 30_000,
    });
    expect(ratelimitHeaderState({ ratelimit: '"default";r=50;t=30, "burst";r=7;t=4' })).toEqual({
      remaining: 7,
      resetMs: 4000,
    });
    expect(ratelimitHeaderState({})).toBeUndefined();
    expect(ratelimitHeaderState({ ratelimit: 'garbage' })).toBeUndefined();
  });

  it("reads Mimecast's X-RateLimit-Remaining with the reset in milliseconds", () => {
    expect(xRateLimitState({ 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': '1500' })).toEqual({
      remaining: 3,
      resetMs: 1500,
    });
    expect(xRateLimitState({ 'x-ratelimit-reset': '1500' })).toBeUndefined();
  });
});

describe('createWindowBudget', () => {
  it('lets the whole window through, then waits for the first request to leave it', async () => {
    const clock = createVirtualClock();
    const b = createWindowBudget({ limit: { requests: 3, windowMs: 3000 }, clock });
    const start = clock.now();
    for (let i = 0; i < 3; i++) await b.acquire();
    expect(clock.now()).toBe(start);
    expect(b.remaining()).toBe(0);
    await b.acquire();
    // A sliding window: never more than 3 in any 3 s (to within a slot of 10 ms).
    expect(clock.now() - start).toBeGreaterThanOrEqual(3000);
    expect(clock.now() - start).toBeLessThanOrEqual(3010);
  });

  it('counts what the vendor says was spent elsewhere, until its window resets', async () => {
    const clock = createVirtualClock();
    const b = createWindowBudget({ limit: { requests: 100, windowMs: 60_000 }, clock });
    await b.acquire();
    expect(b.remaining()).toBe(99);
    b.observe({ remaining: 10, resetMs: 20_000 });
    expect(b.remaining()).toBe(10);
    // Saying more remains than we know of changes nothing: the budget only narrows.
    b.observe({ remaining: 50, resetMs: 1000 });
    expect(b.remaining()).toBe(10);
    clock.advance(20_500);
    expect(b.remaining()).toBe(99);
  });

  it('fails at once when a pause outlasts the caller deadline', async () => {
    const clock = createVirtualClock();
    const b = createWindowBudget({ limit: { requests: 10, windowMs: 1000 }, clock });
    b.pauseUntil(clock.now() + 300_000);
    const err = await b
      .acquire(undefined, { notAfter: clock.now() + 60_000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetBlockedError);
    expect(clock.sleeps).toEqual([]);
    await b.acquire(undefined, { notAfter: clock.now() + 400_000 });
    expect(clock.sleeps).toEqual([300_000]);
  });
  it('counts a request from when it went out when it waited at another limit after admission', async () => {
    const clock = createVirtualClock();
    const b = createWindowBudget({ limit: { requests: 2, windowMs: 3000 }, clock });
    const admitted = clock.now();
    await b.acquire();
    await b.acquire();
    // The second waited 2 s at the per-IP limit (a low-priority re-read) before it was sent.
    clock.advance(2000);
    b.sentLate?.(admitted);
    // When the first leaves the window, the second is still in it, as the vendor counts it.
    clock.advance(1100);
    expect(b.remaining()).toBe(1);
    clock.advance(2000);
    expect(b.remaining()).toBe(2);
  });

  it('serves normal requests before low ones when the window is full', async () => {
    const clock = createVirtualClock();
    const b = createWindowBudget({ limit: { requests: 1, windowMs: 1000 }, clock });
    await b.acquire();
    const order: string[] = [];
    await Promise.all([
      b.acquire(undefined, { priority: 'low' }).then(() => void order.push('low')),
      b.acquire().then(() => void order.push('normal')),
    ]);
    expect(order).toEqual(['normal', 'low']);
  });
});

describe('the spending log beside the repository cache', () => {
  it('starts a command from what the previous one spent within the window', async () => {
    const dir = await tempDir();
    const clock = createVirtualClock();
    const limit = { requests: 10, windowMs: 60_000 };
    const first = createWindowBudget({
      limit,
      clock,
      store: { spend: createFileSpendStore(dir), key: 'k' },
    });
    for (let i = 0; i < 7; i++) await first.acquire();
    await first.flush();
    // The next command, on the same machine.
    const second = createWindowBudget({
      limit,
      clock,
      store: { spend: createFileSpendStore(dir), key: 'k' },
    });
    await second.acquire();
    expect(second.remaining()).toBe(2);
    const start = clock.now();
    await second.acquire();
    await second.acquire();
    await second.acquire();
    // The 4th had to wait for the first command's requests to leave the window.
    expect(clock.now() - start).toBeGreaterThanOrEqual(60_000);
    // Another key is another budget.
    const other = createWindowBudget({
      limit,
      clock,
      store: { spend: createFileSpendStore(dir), key: 'other' },
    });
    await other.acquire();
    expect(other.remaining()).toBe(9);
  });

  it('keeps every concurrent writer (one file each, replaced atomically) and skips corrupt files', async () => {
    const dir = await tempDir();
    const clock = createVirtualClock();
    const limit = { requests: 100, windowMs: 60_000 };
    const writers = Array.from({ length: 5 }, () =>
      createWindowBudget({ limit, clock, store: { spend: createFileSpendStore(dir), key: 'k' } }),
    );
    await Promise.all(
      writers.map(async (w, i) => {
        for (let n = 0; n <= i; n++) await w.acquire();
        await w.flush();
      }),
    );
    await mkdir(join(dir, 'k'), { recursive: true });
    await writeFile(join(dir, 'k', 'crashed.json'), '{"slots": [[1, 5]');
    await writeFile(join(dir, 'k', 'odd.json'), '{"slots": [["x", 2], [1, -4]]}');
    const reader = createWindowBudget({
      limit,
      clock,
      store: { spend: createFileSpendStore(dir), key: 'k' },
    });
    await reader.acquire();
    // 1 + 2 + 3 + 4 + 5 by the writers, 1 by the reader; the broken files count nothing.
    expect(reader.remaining()).toBe(100 - 15 - 1);
    const files = (await readdir(join(dir, 'k'))).filter((f) => f.endsWith('.tmp'));
    expect(files).toEqual([]);
  });

  it('forgets (and removes) what left the window', async () => {
    const dir = await tempDir();
    const clock = createVirtualClock();
    const limit = { requests: 10, windowMs: 1000 };
    const store = createFileSpendStore(dir);
    const a = createWindowBudget({ limit, clock, store: { spend: store, key: 'k' } });
    await a.acquire();
    await a.flush();
    clock.advance(5000);
    const b = createWindowBudget({
      limit,
      clock,
      store: { spend: createFileSpendStore(dir), key: 'k' },
    });
    await b.acquire();
    expect(b.remaining()).toBe(9);
    expect(await readdir(join(dir, 'k'))).toEqual([]);
  });

  it('makes its folder when it is missing: at the first save, and again when the cache was cleared meanwhile', async () => {
    const dir = await tempDir();
    const store = createFileSpendStore(dir);
    const record = { windowMs: 1000, slotMs: 10, slots: [[0, 1]] as [number, number][] };
    await store.save('k', record);
    await rm(dir, { recursive: true, force: true });
    await store.save('k', { ...record, slots: [[0, 2]] });
    const files = await readdir(join(dir, 'k'));
    expect(files).toHaveLength(1);
    const saved = JSON.parse(await readFile(join(dir, 'k', files[0] ?? ''), 'utf8')) as {
      slots: unknown;
    };
    expect(saved.slots).toEqual([[0, 2]]);
  });

  it('names files by a hash of the token identity and never stores the token', async () => {
    const dir = await tempDir();
    const clock = createVirtualClock();
    const token = 'cf-secret-token-Zx81b7c0ffee';
    const budgets = createTokenBudgets({
      vendor: 'cloudflare',
      vendorLimit: CF,
      variable: VAR,
      clock,
      stateDir: dir,
    });
    const warnings: string[] = [];
    const req = {
      identity: token,
      origin: 'https://api.cloudflare.com',
      env: { [VAR]: '9999/300' },
      rootDir: dir,
      logger: quiet(warnings),
    };
    const b = budgets.budgetFor(req);
    expect(budgets.budgetFor(req)).toBe(b);
    await b.acquire();
    await budgets.flushAll();
    const key = budgetKey('cloudflare', 'https://api.cloudflare.com', token);
    expect(key).toMatch(/^[0-9a-f]{40}$/);
    const [file] = await readdir(join(dir, key));
    const text = await readFile(join(dir, key, file ?? ''), 'utf8');
    expect(text).not.toContain(token);
    expect(key).not.toContain(token.slice(3, 12));
    // The wider variable was said once, whatever the number of bindings.
    budgets.budgetFor({ ...req, identity: 'another-token' });
    expect(warnings).toHaveLength(1);
  });

  it('keeps the log under <rootDir>/.mxpolicy/budget, or where MXPOLICY_BUDGET_STATE says, or nowhere', async () => {
    const root = await tempDir();
    const clock = createVirtualClock();
    const make = (env: Record<string, string>) => {
      const budgets = createTokenBudgets({
        vendor: 'cloudflare',
        vendorLimit: CF,
        variable: VAR,
        clock,
      });
      return {
        budgets,
        req: { identity: 't', origin: 'https://x', env, rootDir: root, logger: quiet() },
      };
    };
    const def = make({});
    await def.budgets.budgetFor(def.req).acquire();
    await def.budgets.flushAll();
    expect(await readdir(join(root, '.mxpolicy', 'budget'))).toHaveLength(1);
    const moved = make({ MXPOLICY_BUDGET_STATE: 'elsewhere' });
    await moved.budgets.budgetFor(moved.req).acquire();
    await moved.budgets.flushAll();
    expect(await readdir(join(root, 'elsewhere'))).toHaveLength(1);
    const off = make({ MXPOLICY_BUDGET_STATE: 'off' });
    const b = off.budgets.budgetFor(off.req);
    await b.acquire();
    await off.budgets.flushAll();
    // `off` neither reads the spending above nor writes its own.
    expect(b.remaining()).toBe(1199);
    expect((await readdir(root)).sort()).toEqual(['.mxpolicy', 'elsewhere']);
  });
});

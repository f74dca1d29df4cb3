import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createCloudflareProviderFactory } from '../../src/providers/cloudflare/cloudflare-provider.js';
import { createSystemClock, type Clock } from '../../src/providers/http/clock.js';
import type { ProviderFactory } from '../../src/providers/provider.js';
import { recordingLogger } from '../support/tenants.js';
import { ACCOUNT, setupCloudflare, TOKEN, type CloudflareSetup } from './cloudflare-harness.js';

/**
 * One budget per token, whoever spends it: commands run back to back, shards of one run,
 * and Cloudflare's 5-minute block when the limit is hit all the same. Where requests run
 * concurrently (pages after the first are read at once, shards run side by side) the tests
 * run on real time with a budget window of one second: a virtual clock would jump while
 * requests are in flight. The block tests share a virtual clock: the 5 minutes cost nothing.
 */

let cf: CloudflareSetup | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await cf?.close();
  cf = undefined;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const LIMIT = { requests: 4, windowMs: 60_000 };
/** Real time: 4 requests a second, and a block of 1.5 s once exceeded. */
const FAST = { requests: 4, windowMs: 1000 };
const realTime = { rateLimit: FAST, blockMs: 1500, now: () => Date.now() };

/** Six senders read two per page: 3 requests a read (the total count ends the listing). */
function seed(setup: CloudflareSetup): void {
  setup.account.seed(
    'block_senders',
    Array.from({ length: 6 }, (_, i) => ({
      pattern: `b${i}.example`,
      pattern_type: 'DOMAIN',
      is_regex: false,
    })),
  );
}

/** A command: its own factory (as a new process is), reading the senders once. */
async function command(
  setup: CloudflareSetup,
  opts: {
    stateDir: string | false;
    env?: Record<string, string>;
    deadlineAt?: number;
    pageSize?: number;
    clock?: Clock;
  },
): Promise<{ entries: number; logger: ReturnType<typeof recordingLogger> }> {
  const clock = opts.clock ?? setup.clock;
  const factory: ProviderFactory = createCloudflareProviderFactory({
    clock,
    random: () => 0.5,
    pageSize: opts.pageSize ?? 2,
    originRateLimit: false,
    rateLimit: opts.clock !== undefined ? FAST : LIMIT,
    budgetStateDir: opts.stateDir,
  });
  const logger = recordingLogger();
  const provider = factory.create({
    tenant: 'acme',
    binding: setup.binding,
    rootDir: '.',
    env: { ...setup.env, ...opts.env },
    dispatcher: setup.dispatcher,
    logger,
    now: () => new Date(clock.now()),
    ...(opts.deadlineAt !== undefined ? { deadlineAt: opts.deadlineAt } : {}),
  });
  try {
    return { entries: (await provider.read('blockedSenders')).length, logger };
  } finally {
    await provider.close?.();
  }
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mxpolicy-cf-budget-'));
  dirs.push(d);
  return d;
}

describe('cloudflare: one budget per token', () => {
  const real = createSystemClock();

  it('a command run right after another starts from what that one spent (no 429, no block)', async () => {
    // No Ratelimit headers here: only the spending log can tell the second command.
    cf = await setupCloudflare({ emulator: { ...realTime, rateLimitHeaders: false } });
    seed(cf);
    const dir = await tempDir();
    expect((await command(cf, { stateDir: dir, clock: real })).entries).toBe(6);
    const start = Date.now();
    expect((await command(cf, { stateDir: dir, clock: real })).entries).toBe(6);
    expect(cf.emu.stats.byStatus['429']).toBeUndefined();
    // The second command sent 1, then waited for the first one's requests to leave the window.
    expect(Date.now() - start).toBeGreaterThanOrEqual(800);
  });

  it('without the log the second command exceeds the budget and the token is blocked', async () => {
    cf = await setupCloudflare({ emulator: { ...realTime, rateLimitHeaders: false } });
    seed(cf);
    await command(cf, { stateDir: false, clock: real });
    const second = await command(cf, { stateDir: false, clock: real });
    expect(second.entries).toBe(6);
    expect(cf.emu.stats.byStatus['429']).toBeGreaterThanOrEqual(1);
    expect(cf.emu.stats.blocked).toBeGreaterThanOrEqual(1);
  });

  it("shards each spend their share of the token's budget, so together they stay within it", async () => {
    cf = await setupCloudflare({ emulator: { ...realTime, rateLimitHeaders: false } });
    seed(cf);
    const run = (env: Record<string, string>) =>
      Promise.all([
        command(cf as CloudflareSetup, { stateDir: false, clock: real, env }),
        command(cf as CloudflareSetup, { stateDir: false, clock: real, env }),
      ]);
    const [a, b] = await run({ MXPOLICY_BUDGET_SHARE: '1/2' });
    expect([a.entries, b.entries]).toEqual([6, 6]);
    expect(cf.emu.stats.byStatus['429']).toBeUndefined();
    // Without the share, two shards spend twice the budget and the token is blocked.
    await new Promise((r) => setTimeout(r, 1100));
    await run({});
    expect(cf.emu.stats.blocked).toBeGreaterThanOrEqual(1);
  });

  it('MXPOLICY_CLOUDFLARE_BUDGET can only narrow: a wider value warns and the vendor limit holds', async () => {
    cf = await setupCloudflare({ emulator: { ...realTime, rateLimitHeaders: false } });
    seed(cf);
    // One page per entry: 6 requests in one command on a budget of 4 a second.
    const wide = await command(cf, {
      stateDir: false,
      clock: real,
      pageSize: 1,
      env: { MXPOLICY_CLOUDFLARE_BUDGET: '600/1' },
    });
    expect(wide.entries).toBe(6);
    expect(wide.logger.lines.join('\n')).toMatch(
      /MXPOLICY_CLOUDFLARE_BUDGET=600\/1 asks for more than the vendor allows \(4\/1\)/,
    );
    // Had 600/1 been taken, the token would have been blocked.
    expect(cf.emu.stats.byStatus['429']).toBeUndefined();
  });

  it("Cloudflare's Ratelimit header corrects the estimate when another tool spent the token", async () => {
    cf = await setupCloudflare({ emulator: { rateLimit: LIMIT } });
    seed(cf);
    // Another tool on another machine spends 3 of the 4.
    for (let i = 0; i < 3; i++)
      await request(`${cf.emu.url}/accounts/${ACCOUNT}/email-security/settings/domains`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then((r) => r.body.dump());
    expect((await command(cf, { stateDir: false })).entries).toBe(6);
    expect(cf.emu.stats.byStatus['429']).toBeUndefined();
  });
});

describe('cloudflare: the 5-minute block after the limit is hit', () => {
  /** Another tool exceeds the token's budget: Cloudflare blocks it for 5 minutes. */
  async function blockToken(setup: CloudflareSetup): Promise<void> {
    for (let i = 0; i < LIMIT.requests + 1; i++)
      await request(`${setup.emu.url}/accounts/${ACCOUNT}/email-security/settings/domains`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then((r) => r.body.dump());
    expect(setup.emu.stats.blocked).toBe(1);
    setup.emu.resetStats();
  }

  it('waits it out when the deadline allows, saying so once, without a retry storm', async () => {
    cf = await setupCloudflare({ emulator: { rateLimit: LIMIT } });
    seed(cf);
    await blockToken(cf);
    const start = cf.clock.now();
    const run = await command(cf, { stateDir: false, deadlineAt: start + 10 * 60_000 });
    expect(run.entries).toBe(6);
    // One request met the block; nothing else was sent until it ended.
    expect(cf.emu.stats.byStatus['429']).toBe(1);
    expect(cf.clock.now() - start).toBeGreaterThanOrEqual(300_000);
    const warnings = run.logger.lines.filter((l) => /waiting it out/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /rate limit hit: .* blocks every request of the Cloudflare API token in CF_TOKEN_TEST for 300 s \(until .*Z\); waiting it out/,
    );
    expect(warnings[0]).not.toContain(TOKEN);
  });

  it('fails at once, naming the wait, when the deadline comes first', async () => {
    cf = await setupCloudflare({ emulator: { rateLimit: LIMIT } });
    seed(cf);
    await blockToken(cf);
    const start = cf.clock.now();
    const err = await command(cf, { stateDir: false, deadlineAt: start + 60_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /429 Too Many Requests: .* blocks every request of the Cloudflare API token in CF_TOKEN_TEST for 300 s \(until .*\), past the command's deadline; nothing more was sent with it: re-run after/,
    );
    expect(cf.emu.stats.requests).toBe(1);
    expect(cf.clock.now() - start).toBeLessThan(1000);
  });
});

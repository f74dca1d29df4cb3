import { CLOUDFLARE_CAPABILITIES } from '../../src/providers/cloudflare/capabilities.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import { diffTenant, type DiffOptions, type LiveState } from '../../src/plan/diff-tenant.js';
import type { ChangeResult, TenantPlan } from '../../src/plan/types.js';
import type { Provider } from '../../src/providers/provider.js';
import { planTenants } from '../../src/reconcile/reconcile.js';
import { tenantConfig } from '../support/tenants.js';
import { setupCloudflare, TOKEN, type CloudflareSetup } from './cloudflare-harness.js';

let cf: CloudflareSetup;
afterEach(async () => {
  expect(cf.emu.violations).toEqual([]);
  expect(cf.logger.lines.join('\n')).not.toContain(TOKEN);
  await cf.close();
});

type Raw = { [K in Kind]?: RawEntryOf[K][] };
const KINDS: Kind[] = ['blockedSenders', 'exemptions'];

const senders = (n: number, prefix = 's'): RawEntryOf['blockedSenders'][] =>
  Array.from({ length: n }, (_, i) => ({
    sender: `${prefix}${String(i).padStart(3, '0')}.example`,
    reason: `r${i}`,
  }));

async function plan(
  p: Provider,
  raw: Raw,
  capabilities: DiffOptions['capabilities'] = CLOUDFLARE_CAPABILITIES.kinds,
): Promise<TenantPlan> {
  const live: LiveState = {};
  for (const k of KINDS) live[k] = await p.read(k);
  return diffTenant(tenantConfig('acme', cf.binding, raw), live, {
    capabilities,
    today: '2026-11-23',
    allowLargeChanges: true,
  });
}

async function applyAll(p: Provider, t: TenantPlan): Promise<ChangeResult[]> {
  const out: ChangeResult[] = [];
  for (const k of KINDS) {
    const changes = t.changes.filter((c) => c.kind === k);
    if (changes.length > 0) out.push(...(await p.apply(k, changes)));
  }
  return out;
}

function expectNoDuplicates(): void {
  for (const resource of ['block_senders', 'allow_policies'] as const) {
    const patterns = cf.account.list(resource).map((o) => String(o['pattern']));
    expect(patterns.length, `duplicates in ${resource}`).toBe(new Set(patterns).size);
  }
}

const BATCH = /\/batch$/;

describe('cloudflare provider under faults', () => {
  it.each([
    ['the connection is reset after the batch was applied', 'reset-after'],
    ['a 500 comes back after the batch was applied', 'status-500-after'],
  ] as const)('counts a batch as applied when %s, without sending it again', async (_, fault) => {
    cf = await setupCloudflare();
    const p = cf.provider();
    const raw = { blockedSenders: senders(12) };
    cf.emu.inject({ method: 'POST', path: BATCH, fault });
    const results = await applyAll(p, await plan(p, raw));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill('applied'));
    expect(cf.emu.stats.byOperation['email_security_batch_blocked_senders']).toBe(1);
    expect(cf.account.list('block_senders')).toHaveLength(12);
    expect((await plan(p, raw)).changes).toEqual([]);
  });

  it('sends a batch again, once, when the failure came before it was applied', async () => {
    cf = await setupCloudflare();
    const p = cf.provider();
    const raw = { blockedSenders: senders(5) };
    cf.emu.inject({ method: 'POST', path: BATCH, fault: 'status-500' });
    const results = await applyAll(p, await plan(p, raw));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('applied'));
    expect(cf.emu.stats.byOperation['email_security_batch_blocked_senders']).toBe(2);
    expectNoDuplicates();
    expect(cf.account.list('block_senders')).toHaveLength(5);
  });

  it('never duplicates a single create whose answer was lost', async () => {
    cf = await setupCloudflare();
    const p = cf.provider();
    cf.emu.inject({ method: 'POST', fault: 'reset-after' });
    const results = await applyAll(p, await plan(p, { blockedSenders: senders(1) }));
    expect(results).toEqual([
      { kind: 'blockedSenders', key: 's000.example', action: 'create', status: 'applied' },
    ]);
    expect(cf.emu.stats.byOperation['email_security_create_blocked_sender']).toBe(1);
    expect(cf.account.list('block_senders')).toHaveLength(1);
  });

  it('reports exactly the changes of the batch that failed when a reset hits mid-apply', async () => {
    cf = await setupCloudflare({ provider: { batchSize: 5, verifyRounds: 1 } });
    const p = cf.provider();
    const raw = { blockedSenders: senders(12) };
    // Batch 2 of 3 fails before it is applied, and its retry is out of rounds.
    cf.emu.inject({ method: 'POST', path: BATCH, fault: 'reset', skip: 1 });
    const results = await applyAll(p, await plan(p, raw));
    const failed = results.filter((r) => r.status === 'failed').map((r) => r.key);
    expect(failed).toEqual([
      's005.example',
      's006.example',
      's007.example',
      's008.example',
      's009.example',
    ]);
    expect(results.filter((r) => r.status === 'applied')).toHaveLength(7);
    expect(results.find((r) => r.status === 'failed')?.reason).toMatch(
      /not in effect after 1 attempts/,
    );
    // The next run converges.
    const next = await plan(p, raw);
    expect(next.changes.map((c) => c.key)).toEqual(failed);
    expect((await applyAll(p, next)).every((r) => r.status === 'applied')).toBe(true);
    expect((await plan(p, raw)).changes).toEqual([]);
    expectNoDuplicates();
  });

  it('keeps within a tight budget the server announces in its Ratelimit headers', async () => {
    cf = await setupCloudflare({
      emulator: { rateLimit: { requests: 4, windowMs: 4000 } },
      provider: { pageSize: 10, batchSize: 10 },
    });
    const p = cf.provider();
    const raw: Raw = {
      blockedSenders: senders(45),
      exemptions: Array.from({ length: 25 }, (_, i) => ({
        sender: `ok${i}.example`,
        bypass: 'spam' as const,
        reason: 'x',
      })),
    };
    const results = await applyAll(p, await plan(p, raw));
    expect(results.filter((r) => r.status !== 'applied')).toEqual([]);
    // The client's own budget is 1,200 per 5 minutes: only the headers can have paced it.
    expect(cf.emu.stats.byStatus['429'] ?? 0).toBe(0);
    expect(cf.clock.sleeps.filter((ms) => ms >= 500).length).toBeGreaterThan(0);
    expect((await plan(p, raw)).changes).toEqual([]);
    expectNoDuplicates();
  });

  it('retries reads that time out, and checks a write that timed out before resending it', async () => {
    cf = await setupCloudflare({ provider: { headersTimeoutMs: 150 } });
    const p = cf.provider();
    cf.emu.inject({ method: 'GET', fault: 'timeout' });
    cf.emu.inject({ method: 'POST', path: BATCH, fault: 'timeout' });
    const results = await applyAll(p, await plan(p, { blockedSenders: senders(3) }));
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(cf.account.list('block_senders')).toHaveLength(3);
  });

  it('reports every change failed, with the reason, when the vendor keeps failing; a later run converges', async () => {
    cf = await setupCloudflare({ provider: { retry: { maxRetries: 1 } } });
    const p = cf.provider();
    const raw = { blockedSenders: senders(4) };
    const t = await plan(p, raw);
    cf.emu.inject({ method: 'POST', fault: 'status-500', times: 100 });
    const results = await applyAll(p, t);
    expect(results.map((r) => r.status)).toEqual(Array(4).fill('failed'));
    expect(results[0]?.reason).toMatch(/HTTP 500/);
    expect(cf.account.list('block_senders')).toHaveLength(0);
    cf.emu.clearFaults();
    const next = await plan(p, raw);
    expect(next.changes).toHaveLength(4);
    expect((await applyAll(p, next)).map((r) => r.status)).toEqual(Array(4).fill('applied'));
    expect((await plan(p, raw)).changes).toEqual([]);
  });

  it('never plans deletes for a tenant whose live state cannot be read', async () => {
    cf = await setupCloudflare({ provider: { retry: { maxRetries: 1 } } });
    const p = cf.provider();
    const raw = { blockedSenders: senders(3) };
    await applyAll(p, await plan(p, raw));
    cf.emu.inject({ method: 'GET', fault: 'status-500', times: 100 });
    const run = await planTenants(
      [tenantConfig('acme', { ...cf.binding, kinds: ['blockedSenders'] }, { blockedSenders: [] })],
      {
        registry: { cloudflare: cf.factory },
        rootDir: '.',
        env: cf.env,
        dispatcher: cf.dispatcher,
        logger: cf.logger,
        now: () => new Date(cf.clock.now()),
        concurrency: 2,
      },
      { today: '2026-11-23', allowLargeChanges: true, validationErrors: new Map() },
    );
    const [tenant] = run.plan.tenants;
    expect(tenant?.status).toBe('error');
    expect(tenant?.changes).toEqual([]);
    expect(tenant?.errors[0]?.code).toBe('LIVE_READ_FAILED');
    expect(tenant?.errors[0]?.message).toMatch(/HTTP 500/);
  });

  it('converges under random 500s and resets without ever duplicating an entry', async () => {
    cf = await setupCloudflare({ provider: { batchSize: 8, pageSize: 10 }, emulator: { seed: 7 } });
    const p = cf.provider();
    const raw: Raw = {
      blockedSenders: senders(40),
      exemptions: Array.from({ length: 12 }, (_, i) => ({
        sender: `ok${i}.example`,
        bypass: 'all' as const,
        reason: 'x',
      })),
    };
    cf.emu.setFaults({ errorRate: 0.15, resetRate: 0.1 });
    let runs = 0;
    for (; runs < 8; runs++) {
      let t: TenantPlan;
      try {
        t = await plan(p, raw);
      } catch {
        continue; // a read that fails after its retries plans nothing; try the next run
      }
      if (t.changes.length === 0) break;
      await applyAll(p, t);
      expectNoDuplicates();
    }
    cf.emu.setFaults({});
    expect((await plan(p, raw)).changes).toEqual([]);
    expect(cf.emu.stats.faults).toBeGreaterThan(0);
    expectNoDuplicates();
  });

  it('stops at the command deadline: reads in flight abort, changes not applied are reported', async () => {
    cf = await setupCloudflare();
    const raw = { blockedSenders: senders(3) };
    const p = cf.provider();
    const t = await plan(p, raw);
    cf.emu.setLatency(5_000);
    const ctl = new AbortController();
    setTimeout(() => {
      ctl.abort(new Error('the --timeout of 0.2s passed'));
    }, 200);
    const started = Date.now();
    const deps = {
      registry: { cloudflare: cf.factory },
      rootDir: '.',
      env: cf.env,
      dispatcher: cf.dispatcher,
      logger: cf.logger,
      now: () => new Date(cf.clock.now()),
      concurrency: 2,
      signal: ctl.signal,
    };
    const run = await planTenants(
      [tenantConfig('acme', { ...cf.binding, kinds: ['blockedSenders'] }, raw)],
      deps,
      { today: '2026-11-23', allowLargeChanges: true, validationErrors: new Map() },
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    const [tenant] = run.plan.tenants;
    expect(tenant?.status).toBe('error');
    expect(tenant?.errors[0]?.message).toMatch(/the --timeout of 0\.2s passed/);
    await run.close();
    // Apply with the deadline gone while the batch is in flight: every change has a result.
    const ctl2 = new AbortController();
    setTimeout(() => {
      ctl2.abort(new Error('the --timeout of 0.2s passed'));
    }, 200);
    const results = await p.apply(
      'blockedSenders',
      t.changes.filter((c) => c.kind === 'blockedSenders'),
      {
        signal: ctl2.signal,
      },
    );
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed', 'failed']);
    expect(results[0]?.reason).toMatch(
      /the --timeout of 0\.2s passed \(outcome unknown: it may have been applied/,
    );
    // A closed provider sends nothing more.
    cf.emu.setLatency(0);
    await p.close?.();
    await expect(p.read('blockedSenders')).rejects.toThrow(/the client is closed/);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import { diffTenant, type LiveState } from '../../src/plan/diff-tenant.js';
import type { ChangeResult, TenantPlan } from '../../src/plan/types.js';
import { MIMECAST_CAPABILITIES } from '../../src/providers/mimecast/capabilities.js';
import type { Provider } from '../../src/providers/provider.js';
import { tenantConfig } from '../support/tenants.js';
import { SECRET, setupMimecast, type MimecastSetup } from './mimecast-harness.js';

/** Scope 7 of issue 10: what goes wrong between mxpolicy and Mimecast, and what it does. */

let mc: MimecastSetup;
afterEach(async () => {
  expect(mc.emu.violations).toEqual([]);
  expect(mc.logger.lines.join('\n')).not.toContain(SECRET);
  await mc.close();
});

type Raw = { [K in Kind]?: RawEntryOf[K][] };
const KINDS: Kind[] = ['blockedSenders', 'exemptions'];

async function plan(p: Provider, raw: Raw): Promise<TenantPlan> {
  const live: LiveState = {};
  for (const k of KINDS) live[k] = await p.read(k);
  return diffTenant(tenantConfig('acme', mc.binding, raw), live, {
    capabilities: MIMECAST_CAPABILITIES.kinds,
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

const senders = (n: number, prefix = 's'): Raw => ({
  blockedSenders: Array.from({ length: n }, (_, i) => ({
    sender: `${prefix}${i}.fault.example`,
    reason: 'fault test',
  })),
});

/** Live blocked-sender domains, sorted, duplicates kept (a duplicate would show twice). */
const liveSenders = (): string[] =>
  mc.account
    .list('blockedsenders')
    .map((x) => String(x.policy['fromValue']))
    .sort();

const statuses = (rs: ChangeResult[]): Record<string, number> =>
  rs.reduce<Record<string, number>>((acc, r) => {
    acc[r.status] = (acc[r.status] ?? 0) + 1;
    return acc;
  }, {});

describe('mimecast faults', () => {
  it('an item refused inside a 200 fails only its change, with Mimecast code and message', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const t = await plan(p, senders(5));
    mc.emu.inject({
      path: /create-policy/,
      fault: 'fail-item',
      item: 2,
      code: 'err_policy_limit',
      retryable: false,
    });
    mc.emu.resetStats();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 4, failed: 1 });
    const failed = rs.find((r) => r.status === 'failed');
    expect(failed?.key).toBe('s2.fault.example');
    expect(failed?.reason).toContain('err_policy_limit');
    expect(liveSenders()).toEqual(['s0', 's1', 's3', 's4'].map((s) => `${s}.fault.example`).sort());
    // Refused for good: not sent again.
    expect(mc.emu.stats.byOperation['blockedsenders/create-policy']).toBe(1);
  });

  it('an item that failed but may work later is sent again, alone', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const t = await plan(p, senders(3));
    mc.emu.inject({ path: /create-policy/, fault: 'fail-item', item: 1 });
    mc.emu.resetStats();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 3 });
    expect(liveSenders()).toHaveLength(3);
    expect(mc.emu.stats.log).toEqual([
      'blockedsenders/create-policy 3',
      'blockedsenders/create-policy 1',
    ]);
  });

  it('a 429 storm is waited out with X-RateLimit-Reset (milliseconds), nothing duplicated', async () => {
    mc = await setupMimecast({ emulator: { faults: { throttleRate: 0.5 }, seed: 11 } });
    const p = mc.provider();
    const t = await plan(p, senders(260));
    const start = mc.clock.now();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 260 });
    expect(liveSenders()).toHaveLength(260);
    expect(new Set(liveSenders()).size).toBe(260);
    expect(mc.emu.stats.byStatus['429']).toBeGreaterThan(0);
    // Each 429 asked for 50 ms: the client waited on the (virtual) clock, not by hammering.
    expect(mc.clock.now() - start).toBeGreaterThanOrEqual(50);
    expect((await plan(p, senders(260))).changes).toEqual([]);
  });

  it('a token that expires mid-apply is refreshed once and the apply goes on', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const t = await plan(p, senders(120));
    expect(mc.emu.stats.tokenRequests).toBe(1);
    // The second create call finds its token expired.
    mc.emu.inject({ path: /create-policy/, fault: 'status-401', skip: 1 });
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 120 });
    expect(mc.emu.stats.tokenRequests).toBe(2);
    expect(liveSenders()).toHaveLength(120);
    // A real expiry (the token's lifetime ran out on the clock) is handled the same way.
    mc.emu.expireTokens();
    expect(await p.read('blockedSenders')).toHaveLength(120);
    expect(mc.emu.stats.tokenRequests).toBe(3);
  });

  it('a second 401 after a fresh token makes the tenant fail, naming the binding', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    await p.read('blockedSenders');
    mc.emu.inject({ path: /get-policy/, fault: 'status-401', times: 2 });
    const err = (await p.read('exemptions').catch((e: unknown) => e)) as Error;
    expect(err.message).toContain("Mimecast binding 'gateway' (client id mxpolicy-test-client)");
    expect(err.message).toContain('MIMECAST_SECRET_TEST');
    expect(mc.emu.stats.tokenRequests).toBe(2);
  });

  it('a 5xx before the work is retried; a 5xx after it is checked by reading: no duplicate', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    mc.emu.inject({ path: /create-policy/, fault: 'status-500' });
    expect(statuses(await applyAll(p, await plan(p, senders(3, 'a'))))).toEqual({ applied: 3 });
    mc.emu.inject({ path: /create-policy/, fault: 'status-500-after' });
    const both: Raw = {
      blockedSenders: [
        ...(senders(3, 'a').blockedSenders ?? []),
        ...(senders(3, 'b').blockedSenders ?? []),
      ],
    };
    expect(statuses(await applyAll(p, await plan(p, both)))).toEqual({ applied: 3 });
    expect(liveSenders()).toHaveLength(6);
    expect(new Set(liveSenders()).size).toBe(6);
  });

  it('a create whose response is lost is re-read before anything is sent again: never a duplicate', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const t = await plan(p, senders(70));
    // The second call of 50 + 20: its 20 policies are created, the answer never arrives.
    mc.emu.inject({ path: /create-policy/, fault: 'reset-after', skip: 1 });
    mc.emu.resetStats();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 70 });
    expect(liveSenders()).toHaveLength(70);
    expect(new Set(liveSenders()).size).toBe(70);
    // Two create calls, one re-read, and no third create.
    expect(mc.emu.stats.byOperation['blockedsenders/create-policy']).toBe(2);
    expect(mc.emu.stats.byOperation['blockedsenders/get-policy']).toBeGreaterThanOrEqual(1);
  });

  it('a lost response to half-applied work sends only what is not in effect', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const t = await plan(p, senders(40));
    // The call runs, item 7 fails, and the answer is lost: 39 exist, 1 does not.
    mc.emu.inject({ path: /create-policy/, fault: 'reset-after', item: 7 });
    mc.emu.resetStats();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 40 });
    expect(liveSenders()).toHaveLength(40);
    expect(new Set(liveSenders()).size).toBe(40);
    expect(mc.emu.stats.log).toEqual([
      'blockedsenders/create-policy 40',
      'blockedsenders/get-policy 0',
      'blockedsenders/create-policy 1',
    ]);
  });

  it('a replaced blocked sender whose new policy fails keeps the old one: blocking has no gap', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    await applyAll(p, await plan(p, senders(2)));
    const changed: Raw = {
      blockedSenders: [
        { sender: 's0.fault.example', reason: 'reason changed' },
        { sender: 's1.fault.example', reason: 'reason changed too' },
      ],
    };
    const t = await plan(p, changed);
    expect(t.changes.map((c) => c.action)).toEqual(['update', 'update']);
    mc.emu.inject({ path: /create-policy/, fault: 'fail-item', item: 0, code: 'err_x', times: 3 });
    const rs = await applyAll(p, t);
    expect(rs.map((r) => `${r.key} ${r.status}`)).toEqual([
      's0.fault.example failed',
      's1.fault.example applied',
    ]);
    const live = mc.account
      .list('blockedsenders')
      .map((x) => [x.policy['fromValue'], x.policy['description']]);
    expect(live).toHaveLength(2);
    expect(live).toContainEqual(['s0.fault.example', '[mxpolicy] fault test']);
    expect(live).toContainEqual(['s1.fault.example', '[mxpolicy] reason changed too']);
  });

  it('a listing that breaks off is an error for the tenant, never a partial list', async () => {
    mc = await setupMimecast({ provider: { pageSize: 10 } });
    mc.account.seed(
      'blockedsenders',
      Array.from({ length: 25 }, (_, i) => ({
        option: 'block_sender',
        policy: {
          description: 'seed',
          from: { type: 'email_domain', emailDomain: `seed${i}.example` },
          to: { type: 'everyone' },
        },
      })),
    );
    const p = mc.provider();
    // Once: read again, and the second listing is whole.
    mc.emu.inject({ path: /get-policy/, fault: 'truncate-list', skip: 1 });
    expect(await p.read('blockedSenders')).toHaveLength(25);
    // Every time: the tenant fails.
    mc.emu.inject({ path: /get-policy/, fault: 'truncate-list', times: 10 });
    await expect(p.read('blockedSenders')).rejects.toThrow(/incomplete listing.*expected 25/);
    mc.emu.clearFaults();
    mc.emu.inject({ path: /get-policy/, fault: 'bad-page-token', skip: 1, times: 10 });
    await expect(p.read('blockedSenders')).rejects.toThrow(/err_invalid_page_token/);
  });

  it('without fail[].key, items refused together are sent alone to learn which failed', async () => {
    mc = await setupMimecast({ emulator: { echoFailKey: false } });
    const p = mc.provider();
    const t = await plan(p, senders(6));
    mc.emu.inject({ path: /create-policy/, fault: 'fail-item', item: [1, 4] });
    mc.emu.resetStats();
    const rs = await applyAll(p, t);
    expect(statuses(rs)).toEqual({ applied: 6 });
    expect(liveSenders()).toHaveLength(6);
    expect(mc.emu.stats.log).toEqual([
      'blockedsenders/create-policy 6',
      'blockedsenders/create-policy 1',
      'blockedsenders/create-policy 1',
    ]);
  });
});

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clientCredentials } from '../../src/providers/http/auth.js';
import { createHttpClient, createHttpDispatcher } from '../../src/providers/http/client.js';
import { createSystemClock } from '../../src/providers/http/clock.js';
import { createGraphHolds, type GraphHolds } from '../../src/providers/msgraph/holds.js';
import { graphErrorText } from '../../src/providers/msgraph/wire.js';
import { silentLogger } from '../../src/providers/provider.js';
import {
  startMsGraphEmulator,
  type MsGraphEmulator,
  type TenantState,
} from '../emulators/msgraph/emulator.js';

/**
 * The hold engine of the msgraph provider against the Graph emulator (real HTTP on
 * 127.0.0.1, every request checked against contracts/msgraph): issue 11 scope 7.
 */

const TENANT = 'a1b2c3d4-0000-4000-8000-000000000001';
const CLIENT = 'mxpolicy-app';
const SECRET = 'emulator-secret-value';
const CASE = 'case-holds';

describe('msgraph holds against the Graph emulator', () => {
  let emu: MsGraphEmulator;
  let tenant: TenantState;
  let n = 0;
  let caseId = CASE;
  const dispatcher = createHttpDispatcher();
  const clock = createSystemClock();

  const engine = (opts: { caseId?: string; limit?: number } = {}): GraphHolds => {
    const auth = clientCredentials({
      tokenUrl: `${emu.authorityUrl}/${TENANT}/oauth2/v2.0/token`,
      clientId: CLIENT,
      clientSecret: SECRET,
      scope: 'https://graph.microsoft.com/.default',
      dispatcher,
      clock,
      logger: silentLogger,
    });
    const http = createHttpClient({
      baseUrl: emu.graphUrl,
      dispatcher,
      clock,
      logger: silentLogger,
      auth,
      errorText: graphErrorText,
      retry: { baseDelayMs: 5, maxDelayMs: 20 },
    });
    return createGraphHolds({
      http,
      clock,
      logger: silentLogger,
      tenantId: TENANT,
      caseId: opts.caseId ?? caseId,
      binding: 'm365',
      sourcesPerPolicy: opts.limit ?? 3,
      batchesInFlight: 3,
    });
  };
  const settleAll = async (
    g: GraphHolds,
    results: Awaited<ReturnType<GraphHolds['apply']>>[],
  ): Promise<typeof results> => {
    let out = results;
    for (let i = 0; i < 50 && out.some((r) => r.status === 'pending'); i++) {
      await new Promise((r) => setTimeout(r, 10));
      out = await g.settle(out);
    }
    return out;
  };
  const live = async (id: string) => (await engine().read()).find((h) => h.key === id);

  beforeAll(async () => {
    emu = await startMsGraphEmulator({ settleMs: 5, defaultPageSize: 4 });
    tenant = emu.addTenant(TENANT);
    tenant.addApp(CLIENT, SECRET);
    tenant.addCase({ id: CASE, displayName: 'Matter' });
    tenant.addCase({ id: 'closed-case', displayName: 'Done', status: 'closed' });
    tenant.addUsers([
      ...Array.from({ length: 9 }, (_, i) => ({ mail: `emp${i}@acme.example` })),
      { mail: null, displayName: 'Board room' },
      { mail: 'left@acme.example', accountEnabled: false },
    ]);
  });
  beforeEach(() => {
    // Each test works in a case of its own.
    caseId = `case-${++n}`;
    tenant.addCase({ id: caseId, displayName: `Matter ${n}` });
  });
  afterEach(() => {
    expect(emu.violations).toEqual([]);
    emu.clearFaults();
  });
  afterAll(async () => {
    await emu.close();
    await dispatcher.close();
  });

  it('creates a hold (pending), settles it to applied, and reads it back equal', async () => {
    const g = engine();
    const r = await g.apply({
      key: 'LH-1',
      action: 'create',
      matter: 'Smith v. Acme',
      custodians: ['emp1@acme.example', 'EMP0@acme.example'],
      since: '2026-11-01',
    });
    expect(r.status).toBe('pending');
    const [done] = await settleAll(g, [r]);
    expect(done?.status).toBe('applied');
    const h = await live('LH-1');
    expect(h?.managed).toBe(true);
    expect(h?.value).toEqual({
      id: 'LH-1',
      matter: 'Smith v. Acme',
      custodians: ['emp0@acme.example', 'emp1@acme.example'],
      since: '2026-11-01',
    });
    expect(tenant.holds(caseId).map((p) => p.displayName)).toEqual(['LH-1']);
  });

  it('adds custodians, into a second policy when the first is full; never moves one', async () => {
    const g = engine();
    await g.apply({
      key: 'LH-2',
      action: 'create',
      matter: 'M',
      custodians: ['emp0@acme.example'],
    });
    const before = tenant.holds(caseId)[0]?.sources.map((s) => s.id);
    const r = await g.apply({
      key: 'LH-2',
      action: 'update',
      matter: 'M',
      custodians: [
        'emp0@acme.example',
        'emp1@acme.example',
        'emp2@acme.example',
        'emp3@acme.example',
      ],
    });
    expect(r.status).toBe('pending');
    const policies = tenant.holds(caseId);
    expect(policies.map((p) => [p.displayName, p.sources.length])).toEqual([
      ['LH-2', 3],
      ['LH-2#2', 1],
    ]);
    expect(policies[0]?.sources.slice(0, 1).map((s) => s.id)).toEqual(before);
    expect((await live('LH-2'))?.value.custodians).toHaveLength(4);
  });

  it('refuses to remove a custodian, and removes nothing', async () => {
    const g = engine();
    await g.apply({
      key: 'LH-3',
      action: 'create',
      matter: 'M',
      custodians: ['emp0@acme.example', 'emp1@acme.example'],
    });
    const r = await g.apply({
      key: 'LH-3',
      action: 'update',
      matter: 'M',
      custodians: ['emp0@acme.example'],
    });
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/never narrows a hold.*released/);
    expect(tenant.holds(caseId)[0]?.sources).toHaveLength(2);
    const del = await g.apply({ key: 'LH-3', action: 'delete' });
    expect(del.status).toBe('failed');
    expect(tenant.holds(caseId)).toHaveLength(1);
  });

  it('deletes every policy of a hold only when it is released', async () => {
    const g = engine();
    await g.apply({
      key: 'LH-4',
      action: 'create',
      matter: 'M',
      custodians: [
        'emp0@acme.example',
        'emp1@acme.example',
        'emp2@acme.example',
        'emp3@acme.example',
      ],
    });
    expect(tenant.holds(caseId)).toHaveLength(2);
    const r = await g.apply({
      key: 'LH-4',
      action: 'delete',
      matter: 'M',
      custodians: ['emp0@acme.example'],
      released: { by: 'legal', reason: 'settled', date: '2026-12-01' },
    });
    expect(r.status).toBe('applied');
    expect(r.reason).toMatch(/released: hold policy LH-4#2, LH-4 deleted/);
    expect(tenant.holds(caseId)).toEqual([]);
  });

  it('custodians: all holds every enabled mailbox across pages, split into #1..#k, and reads back as all', async () => {
    const g = engine();
    const r = await g.apply({
      key: 'LH-ALL',
      action: 'create',
      matter: 'Everyone',
      custodians: 'all',
    });
    expect(r.status).toBe('pending');
    expect(r.reason).toMatch(
      /9 custodian\(s\) added .*1 users without mail and 1 disabled skipped.*3 hold policies/,
    );
    const policies = tenant.holds(caseId);
    expect(policies.map((p) => [p.displayName, p.sources.length])).toEqual([
      ['LH-ALL#1', 3],
      ['LH-ALL#2', 3],
      ['LH-ALL#3', 3],
    ]);
    expect((await live('LH-ALL'))?.value.custodians).toBe('all');
  });

  it('a new mailbox in the directory reads as missing and lands in the last policy on the next apply', async () => {
    const g = engine({ limit: 5 });
    await g.apply({ key: 'LH-DIR', action: 'create', matter: 'Everyone', custodians: 'all' });
    const before = tenant.holds(caseId).map((p) => p.sources.map((s) => s.id));
    tenant.addUsers([{ mail: 'newhire@acme.example' }]);
    try {
      const h = await live('LH-DIR');
      expect(h?.value.custodians).not.toBe('all');
      expect(h?.value.custodians).not.toContain('newhire@acme.example');
      const r = await engine({ limit: 5 }).apply({
        key: 'LH-DIR',
        action: 'update',
        matter: 'Everyone',
        custodians: 'all',
      });
      expect(r.status).toBe('pending');
      const after = tenant.holds(caseId);
      expect(after.map((p) => p.sources.length)).toEqual([5, 5]);
      expect(after[1]?.sources.at(-1)?.email).toBe('newhire@acme.example');
      after.forEach((p, i) => {
        expect(p.sources.slice(0, before[i]?.length).map((s) => s.id)).toEqual(before[i]);
      });
      expect((await live('LH-DIR'))?.value.custodians).toBe('all');
    } finally {
      tenant.removeUser('newhire@acme.example');
    }
  });

  it('pending -> error is reported; the hold reads with its problem; the next apply retries it', async () => {
    tenant.failSettle('LH-ERR');
    const g = engine();
    const r = await g.apply({
      key: 'LH-ERR',
      action: 'create',
      matter: 'M',
      custodians: ['emp0@acme.example'],
    });
    const [ended] = await settleAll(g, [r]);
    expect(ended?.status).toBe('failed');
    expect(ended?.reason).toMatch(/ended in error: Policy distribution failed/);
    const h = await live('LH-ERR');
    expect(h?.value.liveProblem).toMatch(/hold policy LH-ERR in error/);
    const retryCalls = emu.stats.byOperation['legalHolds.retryPolicy'] ?? 0;
    const fix = await engine().apply({
      key: 'LH-ERR',
      action: 'update',
      matter: 'M',
      custodians: ['emp0@acme.example'],
    });
    expect(fix.reason).toMatch(/retried LH-ERR/);
    expect(emu.stats.byOperation['legalHolds.retryPolicy']).toBe(retryCalls + 1);
    const [settled] = await settleAll(g, [fix]);
    expect(settled?.status).toBe('applied');
    expect((await live('LH-ERR'))?.value.liveProblem).toBeUndefined();
  });

  it('a lost create response never doubles a hold', async () => {
    emu.inject({ method: 'POST', path: /legalHolds$/, fault: 'reset-after' });
    const r = await engine().apply({
      key: 'LH-LOST',
      action: 'create',
      matter: 'M',
      custodians: ['emp0@acme.example', 'emp1@acme.example'],
    });
    expect(r.status).toBe('pending');
    expect(tenant.holds(caseId).map((p) => [p.displayName, p.sources.length])).toEqual([
      ['LH-LOST', 2],
    ]);
  });

  it('retries inner 429s of a $batch after their own Retry-After', async () => {
    emu.inject({
      inner: true,
      path: /userSources$/,
      fault: 'status-429',
      retryAfterS: 1,
      times: 2,
    });
    const started = Date.now();
    const r = await engine({ limit: 10 }).apply({
      key: 'LH-429',
      action: 'create',
      matter: 'M',
      custodians: Array.from({ length: 9 }, (_, i) => `emp${i}@acme.example`),
    });
    expect(r.status).toBe('pending');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(tenant.holds(caseId)[0]?.sources).toHaveLength(9);
  });

  it('a lost $batch answer is checked by reading: no source doubled, none missing', async () => {
    emu.inject({ method: 'POST', path: /^\/\$batch$/, fault: 'reset-after' });
    emu.inject({ inner: true, path: /userSources$/, fault: 'status-500-after', skip: 3 });
    const r = await engine({ limit: 10 }).apply({
      key: 'LH-BATCH',
      action: 'create',
      matter: 'M',
      custodians: Array.from({ length: 9 }, (_, i) => `emp${i}@acme.example`),
    });
    expect(r.status).toBe('pending');
    const [p] = tenant.holds(caseId);
    expect(p?.sources).toHaveLength(9);
    expect(new Set(p?.sources.map((s) => s.email)).size).toBe(9);
    expect(emu.stats.byOperation['userSources.list']).toBeGreaterThan(0);
  });

  it('fails one change (not the hold) when a custodian has no mailbox', async () => {
    const r = await engine().apply({
      key: 'LH-GHOST',
      action: 'create',
      matter: 'M',
      custodians: ['emp0@acme.example', 'ghost@acme.example'],
    });
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/1 custodian\(s\) could not be added: ghost@acme.example/);
    expect(tenant.holds(caseId)[0]?.sources.map((s) => s.email)).toEqual(['emp0@acme.example']);
  });

  it('a missing or closed case is an error naming it', async () => {
    await expect(engine({ caseId: 'no-such-case' }).read()).rejects.toThrow(
      /eDiscovery case 'no-such-case' does not exist/,
    );
    await expect(engine({ caseId: 'closed-case' }).read()).rejects.toThrow(
      /eDiscovery case 'closed-case' \(Done\).* is closed/,
    );
  });

  it('lists holds mxpolicy did not make as unmanaged, and refuses to change them', async () => {
    tenant.seedHold(caseId, {
      displayName: 'HR-manual',
      description: 'by hand',
      emails: ['emp0@acme.example'],
    });
    const h = await live('HR-manual');
    expect(h?.managed).toBe(false);
    const r = await engine().apply({
      key: 'HR-manual',
      action: 'create',
      matter: 'x',
      custodians: ['emp1@acme.example'],
    });
    expect(r.status).toBe('failed');
    expect(tenant.holds(caseId)[0]?.sources).toHaveLength(1);
  });

  it('fetches a fresh token when Graph says the one it has expired', async () => {
    const g = engine();
    await g.read();
    const tokens = emu.stats.tokenRequests;
    emu.expireTokens();
    await g.read();
    expect(emu.stats.tokenRequests).toBe(tokens + 1);
  });
});

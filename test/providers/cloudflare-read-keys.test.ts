import Cloudflare from 'cloudflare';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyTargets } from '../../src/config/affected-tenants.js';
import type { TenantConfig } from '../../src/config/policy-set.js';
import type { Kind } from '../../src/model/kinds.js';
import { applyPlan, planTenants, type ReconcileDeps } from '../../src/reconcile/reconcile.js';
import { tenantConfig } from '../support/tenants.js';
import { ACCOUNT, setupCloudflare, type CloudflareSetup } from './cloudflare-harness.js';

/**
 * Targeted reads against the Cloudflare emulator, counting the requests it received: a plan
 * limited to known keys reads those keys with the `pattern` / `domain` filters, never a kind
 * it does not need, and the planner never takes an entry it did not read for deleted.
 */

let cf: CloudflareSetup | undefined;
afterEach(async () => {
  expect(cf?.emu.violations ?? []).toEqual([]);
  await cf?.close();
  cf = undefined;
});

const BASE = `/accounts/${ACCOUNT}/email-security/settings`;
const marked = (pattern: string, reason = 'r'): Record<string, unknown> => ({
  pattern,
  pattern_type: pattern.includes('@') ? 'EMAIL' : 'DOMAIN',
  is_regex: false,
  comments: `[mxpolicy] ${reason}`,
});
const domain = (name: string, transport: string): Record<string, unknown> => ({
  domain: name,
  allowed_delivery_modes: ['DIRECT'],
  drop_dispositions: [],
  ip_restrictions: [],
  regions: ['GLOBAL'],
  transport,
});
const gets = (s: CloudflareSetup): string[] =>
  s.emu.log.filter((r) => r.method === 'GET').map((r) => `${r.path.slice(BASE.length)}?${r.query}`);
const keys = (o: Partial<Record<Kind, string[]>>): KeyTargets =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, new Set(v)]));

describe('Cloudflare readKeys', () => {
  it('reads one key with one filtered request, keeping every live copy of it', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('block_senders', [
      ...Array.from({ length: 2500 }, (_, i) => marked(`s${i}.example`)),
      marked('evil.example', 'first copy'),
      marked('evil.example', 'second copy'),
    ]);
    const got = await cf.provider().readKeys?.('blockedSenders', ['evil.example']);
    expect(got?.map((e) => `${e.key} ${(e.value as { reason: string }).reason}`)).toEqual([
      'evil.example first copy',
      'evil.example second copy',
    ]);
    expect(gets(cf)).toEqual(['/block_senders?pattern=evil.example&page=1&per_page=1000']);
  });

  it('keeps exactly the keys asked for when the filter matches substrings', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true, patternFilter: 'substring' } });
    cf.account.seed('block_senders', [
      marked('evil.example'),
      marked('very-evil.example'),
      marked('x@evil.example'),
    ]);
    const got = await cf.provider().readKeys?.('blockedSenders', ['evil.example']);
    expect(got?.map((e) => e.key)).toEqual(['evil.example']);
    expect(cf.emu.stats.requests).toBe(1);
  });

  it('finds a sender and a recipient exemption of one pattern with one request', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    const policy = (recipient: boolean): Record<string, unknown> => ({
      ...marked('news@partner.example'),
      is_exempt_recipient: recipient,
      is_trusted_sender: !recipient,
      is_acceptable_sender: false,
      verify_sender: true,
    });
    cf.account.seed('allow_policies', [policy(false), policy(true)]);
    const got = await cf
      .provider()
      .readKeys?.('exemptions', ['sender:news@partner.example', 'recipient:news@partner.example']);
    expect(got?.map((e) => e.key).sort()).toEqual([
      'recipient:news@partner.example',
      'sender:news@partner.example',
    ]);
    expect(gets(cf)).toEqual([
      '/allow_policies?pattern=news%40partner.example&page=1&per_page=1000',
    ]);
  });

  it('reads domains with one `domain` array filter', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('domains', [
      domain('a.example', 'mx.a.example'),
      domain('b.example', 'mx.b.example'),
      domain('c.example', 'mx.c.example'),
    ]);
    const got = await cf.provider().readKeys?.('routes', ['c.example', 'a.example']);
    expect(got?.map((e) => e.key).sort()).toEqual(['a.example', 'c.example']);
    expect(gets(cf)).toEqual(['/domains?domain=a.example&domain=c.example&page=1&per_page=1000']);
  });

  it("sends its filters as Cloudflare's SDK sends them (repeated `domain`, one `pattern`)", async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('domains', [domain('a.example', 'mx.a.example')]);
    const p = cf.provider();
    await p.readKeys?.('routes', ['a.example', 'c.example']);
    await p.readKeys?.('blockedSenders', ['x@evil.example']);
    const ours = gets(cf);
    cf.emu.log.length = 0;
    const sdk = new Cloudflare({
      apiToken: cf.env['CF_TOKEN_TEST'] ?? '',
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: cf.emu.url,
      maxRetries: 0,
    });
    const settings = sdk.emailSecurity.settings;
    const listed = await settings.domains.list({
      account_id: ACCOUNT,
      domain: ['a.example', 'c.example'],
      page: 1,
      per_page: 1000,
    });
    expect(listed.result.map((d) => d.domain)).toEqual(['a.example']);
    await settings.blockSenders.list({
      account_id: ACCOUNT,
      pattern: 'x@evil.example',
      page: 1,
      per_page: 1000,
    });
    const sorted = (q: string): string => {
      const [path = '', query = ''] = q.split('?');
      return `${path}?${query.split('&').sort().join('&')}`;
    };
    expect(gets(cf).map(sorted)).toEqual(ours.map(sorted));
  });

  it('chooses N filtered reads or the full listing, whichever costs fewer requests', async () => {
    // 550 entries, 100 per page: the listing is 6 pages.
    cf = await setupCloudflare({ emulator: { recordRequests: true }, provider: { pageSize: 100 } });
    cf.account.seed(
      'block_senders',
      Array.from({ length: 550 }, (_, i) => marked(`s${i}.example`)),
    );
    const p = cf.provider();
    // 3 keys: page 1 says 6 pages; 5 more pages cost more than 3 filtered reads.
    const three = await p.readKeys?.('blockedSenders', [
      's1.example',
      's200.example',
      'nope.example',
    ]);
    expect(three?.map((e) => e.key).sort()).toEqual(['s1.example', 's200.example']);
    expect(gets(cf)).toEqual([
      '/block_senders?page=1&per_page=100',
      '/block_senders?pattern=nope.example&page=1&per_page=100',
      '/block_senders?pattern=s1.example&page=1&per_page=100',
      '/block_senders?pattern=s200.example&page=1&per_page=100',
    ]);
    // 5 keys: finishing the listing (5 more pages) costs no more: page 1 is reused, not re-read.
    cf.emu.resetStats();
    const five = await p.readKeys?.('blockedSenders', [
      's1.example',
      's2.example',
      's3.example',
      's4.example',
      's549.example',
    ]);
    expect(five?.map((e) => e.key).sort()).toEqual([
      's1.example',
      's2.example',
      's3.example',
      's4.example',
      's549.example',
    ]);
    expect(gets(cf).filter((g) => g.includes('pattern='))).toEqual([]);
    expect(cf.emu.stats.requests).toBe(6);
  });
});

describe('plans limited to keys, on the emulator', () => {
  const deps = (s: CloudflareSetup): ReconcileDeps => ({
    registry: { cloudflare: s.factory },
    rootDir: '.',
    env: s.env,
    dispatcher: s.dispatcher,
    logger: s.logger,
    now: () => new Date(s.clock.now()),
    concurrency: 4,
  });
  const opts = { today: '2026-11-23', allowLargeChanges: false, validationErrors: new Map() };
  const tenant = (s: CloudflareSetup, senders: string[], extra: Partial<TenantConfig> = {}) =>
    tenantConfig(
      'acme',
      s.binding,
      { blockedSenders: senders.map((sender) => ({ sender, reason: 'r' })) },
      extra,
    );

  it('a full plan never reads domains when the tenant declares no route', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('domains', [domain('acme.example', 'mx.acme.example')]);
    const run = await planTenants([tenant(cf, ['a.example'])], deps(cf), opts);
    await run.close();
    expect(run.plan.read).toEqual({ mode: 'full' });
    expect(gets(cf)).toEqual([
      '/block_senders?page=1&per_page=1000',
      '/allow_policies?page=1&per_page=1000',
    ]);
  });

  it('an emergency block reads one key: one request per tenant instead of every listing', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('block_senders', [
      ...Array.from({ length: 1500 }, (_, i) => marked(`s${i}.example`)),
      marked('drifted.example', 'changed by hand'), // drift elsewhere: not this plan's business
      marked('orphan.example'), // managed, not in YAML: a full plan deletes it, this one must not
    ]);
    cf.account.seed('allow_policies', [
      {
        ...marked('news@partner.example'),
        is_exempt_recipient: false,
        is_trusted_sender: true,
        is_acceptable_sender: false,
        verify_sender: true,
      },
    ]);
    const senders = [
      ...Array.from({ length: 1500 }, (_, i) => `s${i}.example`),
      'drifted.example',
      'evil.example',
    ];
    const t = tenant(cf, senders);
    const targets = new Map([['acme', keys({ blockedSenders: ['evil.example'] })]]);
    const run = await planTenants([t], deps(cf), { ...opts, targets });
    expect(gets(cf)).toEqual(['/block_senders?pattern=evil.example&page=1&per_page=1000']);
    expect(run.plan.read).toEqual({ mode: 'targeted', keys: 1, tenants: 1, fullTenants: 0 });
    expect(run.plan.tenants[0]?.read).toEqual({ mode: 'targeted', keys: 1 });
    expect(run.plan.tenants[0]?.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'create evil.example',
    ]);
    const report = await applyPlan(run.plan, run.sessions, deps(cf));
    await run.close();
    expect(report.summary).toEqual({ applied: 1, failed: 0, skipped: 0, pending: 0 });

    // The same tenant planned in full finds the drift and the orphan, at full cost.
    cf.emu.resetStats();
    const full = await planTenants([t], deps(cf), opts);
    await full.close();
    expect(full.plan.tenants[0]?.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'update drifted.example',
      'delete orphan.example',
      'delete sender:news@partner.example',
    ]);
    expect(cf.emu.stats.requests).toBe(3); // 2 pages of senders + 1 of exemptions
  });

  it('a key removed from the YAML is read and deleted; a tenant that dropped a whole section still has it deleted by a full plan', async () => {
    cf = await setupCloudflare({ emulator: { recordRequests: true } });
    cf.account.seed('block_senders', [marked('kept.example'), marked('gone.example')]);
    cf.account.seed('allow_policies', [
      {
        ...marked('news@partner.example'),
        is_exempt_recipient: false,
        is_trusted_sender: true,
        is_acceptable_sender: false,
        verify_sender: true,
      },
    ]);
    // The YAML has no exemptions section any more, and gone.example was removed.
    const t = tenant(cf, ['kept.example']);
    const targeted = await planTenants([t], deps(cf), {
      ...opts,
      targets: new Map([['acme', keys({ blockedSenders: ['gone.example'] })]]),
    });
    await targeted.close();
    expect(targeted.plan.tenants[0]?.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'delete gone.example',
    ]);
    expect(gets(cf)).toEqual(['/block_senders?pattern=gone.example&page=1&per_page=1000']);

    const full = await planTenants([t], deps(cf), opts);
    await full.close();
    expect(full.plan.tenants[0]?.changes.map((c) => `${c.action} ${c.kind} ${c.key}`)).toEqual([
      'delete blockedSenders gone.example',
      'delete exemptions sender:news@partner.example',
    ]);
  });
});

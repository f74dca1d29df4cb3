import { CLOUDFLARE_CAPABILITIES } from '../../src/providers/cloudflare/capabilities.js';
import type { CloudflareBinding } from '../../src/model/schema-types.generated.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import { diffTenant, type DiffOptions, type LiveState } from '../../src/plan/diff-tenant.js';
import type { ChangeResult, TenantPlan } from '../../src/plan/types.js';
import type { Provider } from '../../src/providers/provider.js';
import { tenantConfig } from '../support/tenants.js';
import { ACCOUNT, setupCloudflare, TOKEN, type CloudflareSetup } from './cloudflare-harness.js';

let cf: CloudflareSetup;
afterEach(async () => {
  expect(cf.emu.violations).toEqual([]);
  expect(cf.logger.lines.join('\n')).not.toContain(TOKEN);
  await cf.close();
});

type Raw = { [K in Kind]?: RawEntryOf[K][] };
const KINDS: Kind[] = ['blockedSenders', 'exemptions', 'routes'];

async function plan(
  p: Provider,
  raw: Raw,
  today = '2026-11-23',
  capabilities: DiffOptions['capabilities'] = CLOUDFLARE_CAPABILITIES.kinds,
): Promise<TenantPlan> {
  const live: LiveState = {};
  for (const k of KINDS) live[k] = await p.read(k);
  return diffTenant(tenantConfig('acme', cf.binding, raw), live, {
    capabilities,
    today,
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

const DESIRED: Raw = {
  blockedSenders: [
    { sender: 'CEO.Acme@Lookalike.example', reason: 'CEO impersonation', ticket: 'INC 4411 ]' },
    { sender: 'phish.example', reason: 'campaign', expires: '2027-01-31' },
    { sender: '203.0.113.0/24', reason: 'spam host range' },
    { sender: '2001:db8:0:0::1', reason: 'v6 host' },
  ],
  exemptions: [
    { sender: 'allhands@acme.example', bypass: 'spam', reason: 'company comms' },
    { sender: 'partner.example', bypass: 'all', verifySender: false, reason: 'partner' },
    { recipient: 'abuse@acme.example', bypass: 'all', reason: 'abuse desk must see everything' },
  ],
};

describe('cloudflare provider', () => {
  it("maps a bundle entry once for every tenant that includes it, each write stamped with its own run's id", async () => {
    cf = await setupCloudflare();
    const other = '9'.repeat(32);
    const otherAccount = cf.emu.addAccount(other, TOKEN);
    const tenantOn = (account: string, tenant: string): Provider =>
      cf.factory.create({
        tenant,
        binding: {
          ...cf.binding,
          settings: { ...(cf.binding.settings as CloudflareBinding), account },
        },
        rootDir: '.',
        env: cf.env,
        dispatcher: cf.dispatcher,
        logger: cf.logger,
        now: () => new Date(cf.clock.now()),
      });
    // The same entry value in both tenants' changes, as the loader shares a bundle's.
    const value = { sender: 'baseline.example', reason: 'baseline block', ticket: 'SEC-9' };
    const change = (tenant: string): TenantPlan['changes'][number] => ({
      tenant,
      kind: 'blockedSenders',
      key: 'baseline.example',
      action: 'create',
      cause: 'desired',
      patch: [],
      after: value,
      source: { file: 'policies/bundles/baseline.yaml', line: 4, bundle: 'baseline' },
    });
    // Both tenants at once: each prepares its writes before either is sent.
    const tenants = [
      [ACCOUNT, 'acme', cf.account],
      [other, 'globex', otherAccount],
    ] as const;
    const applied = await Promise.all(
      tenants.map(([account, tenant]) =>
        tenantOn(account, tenant).apply('blockedSenders', [change(tenant)]),
      ),
    );
    const runs: string[] = [];
    for (const [n, [, , acct]] of tenants.entries()) {
      // Applied as this run's own copy (another run's id would read as a concurrent copy).
      expect(applied[n]).toEqual([
        { kind: 'blockedSenders', key: 'baseline.example', action: 'create', status: 'applied' },
      ]);
      const live = acct.list('block_senders');
      expect(live.map((o) => o['pattern'])).toEqual(['baseline.example']);
      const comments = String(live[0]?.['comments']);
      expect(comments).toMatch(/^\[mxpolicy ticket=SEC-9 run=[0-9a-f]{12}\] baseline block$/);
      runs.push(comments);
    }
    // Each tenant's own run id (a body shared between tenants would carry the last's).
    expect(new Set(runs).size).toBe(2);
    expect(value).toEqual({
      sender: 'baseline.example',
      reason: 'baseline block',
      ticket: 'SEC-9',
    });
  });

  it("re-reads a large create once when every created key has only this run's copy, and again copy by copy when another run's copy shows up", async () => {
    cf = await setupCloudflare({ provider: { pageSize: 10 } });
    const p = cf.provider();
    const senders = (n: number): Raw => ({
      blockedSenders: Array.from({ length: n }, (_, i) => ({
        sender: `wave${i}.example`,
        reason: 'campaign',
      })),
    });
    // 25 creates: more than the few re-read one pattern at a time, so the kind is listed.
    const first = await plan(p, senders(25));
    cf.emu.resetStats();
    const results = await applyAll(p, first);
    expect(results.filter((r) => r.status !== 'applied' || r.reason !== undefined)).toEqual([]);
    // One batch, then one pass over the kind's 3 pages: no copy was anyone else's.
    expect(cf.emu.stats.byOperation).toEqual({
      email_security_batch_blocked_senders: 1,
      email_security_list_blocked_senders: 3,
    });

    // Planned before another run writes one of the same entries (created earlier: its copy
    // is the one every run keeps): the quick pass sees two copies of a key, so the kind is
    // read again copy by copy, and this run removes its own copy.
    const second = await plan(p, senders(50));
    cf.clock.advance(1000);
    cf.account.seed('block_senders', [
      {
        pattern: 'wave30.example',
        pattern_type: 'DOMAIN',
        is_regex: false,
        comments: '[mxpolicy run=0123456789ab] campaign',
      },
    ]);
    cf.clock.advance(1000);
    cf.emu.resetStats();
    const raced = await applyAll(p, second);
    expect(raced.filter((r) => r.reason !== undefined)).toEqual([
      {
        kind: 'blockedSenders',
        key: 'wave30.example',
        action: 'create',
        status: 'applied',
        reason: expect.stringMatching(
          /^a concurrent run created wave30\.example first \(its copy, id \S+, is kept\); this run's copy was removed$/,
        ) as string,
      },
    ]);
    expect(raced.every((r) => r.status === 'applied')).toBe(true);
    // 51 objects before the removal: two passes of 6 pages, then one delete of this run's copy.
    expect(cf.emu.stats.byOperation).toEqual({
      email_security_batch_blocked_senders: 1,
      email_security_list_blocked_senders: 12,
      email_security_delete_blocked_sender: 1,
    });
    const copies = cf.account
      .list('block_senders')
      .filter((o) => o['pattern'] === 'wave30.example');
    expect(copies.map((o) => o['comments'])).toEqual(['[mxpolicy run=0123456789ab] campaign']);
  });

  it('creates everything in one batch per kind, reads it back equal, and then plans nothing', async () => {
    cf = await setupCloudflare();
    const p = cf.provider();
    const first = await plan(p, DESIRED);
    expect(first.changes.map((c) => `${c.action} ${c.kind} ${c.key}`)).toHaveLength(7);
    cf.emu.resetStats();
    const results = await applyAll(p, first);
    expect(results.filter((r) => r.status !== 'applied')).toEqual([]);
    // One batch per kind, then a look at each pattern it created (a filtered list: a few
    // creates): did a concurrent run create the same entries meanwhile (dedupe.ts)?
    expect(cf.emu.stats.byOperation).toEqual({
      email_security_batch_blocked_senders: 1,
      email_security_batch_allow_policies: 1,
      email_security_list_blocked_senders: 4,
      email_security_list_allow_policies: 3,
    });
    const again = await plan(p, DESIRED);
    expect(again.changes).toEqual([]);
    expect(again.unmanaged).toEqual([]);

    const live = cf.account.list('block_senders');
    // Posts go in plan order (sorted by key).
    expect(live.map((o) => [o['pattern'], o['pattern_type'], o['is_regex']])).toEqual([
      ['2001:db8::1', 'IP', false],
      ['203.0.113.0/24', 'IP', false],
      ['ceo.acme@lookalike.example', 'EMAIL', false],
      ['phish.example', 'DOMAIN', false],
    ]);
    const comments: Record<string, unknown> = Object.fromEntries(
      live.map((o) => [String(o['pattern']), o['comments']]),
    );
    // The tag names the run that wrote it (one id per provider instance).
    expect(comments['ceo.acme@lookalike.example']).toMatch(
      /^\[mxpolicy ticket=INC%204411%20%5D run=([0-9a-f]{12})\] CEO impersonation$/,
    );
    const run = /run=([0-9a-f]{12})/.exec(String(comments['ceo.acme@lookalike.example']))?.[1];
    expect(comments['phish.example']).toBe(`[mxpolicy expires=2027-01-31 run=${run}] campaign`);
    const allow = cf.account.list('allow_policies');
    expect(
      allow.map((o) => [
        o['pattern'],
        o['is_acceptable_sender'],
        o['is_trusted_sender'],
        o['is_exempt_recipient'],
        o['verify_sender'],
      ]),
    ).toEqual([
      ['abuse@acme.example', false, false, true, true],
      ['allhands@acme.example', true, false, false, true],
      ['partner.example', false, true, false, false],
    ]);
  });

  it('updates and deletes only what it owns, and leaves unmanaged entries alone', async () => {
    cf = await setupCloudflare();
    cf.account.seed('block_senders', [
      {
        pattern: 'by-hand.example',
        pattern_type: 'DOMAIN',
        is_regex: false,
        comments: 'added in the dashboard',
      },
      {
        pattern: '.*@evil\\..*',
        pattern_type: 'EMAIL',
        is_regex: true,
        comments: '[mxpolicy] copied tag',
      },
    ]);
    const p = cf.provider();
    await applyAll(p, await plan(p, DESIRED));
    const changed: Raw = {
      blockedSenders: [{ sender: 'phish.example', reason: 'campaign, wave 2' }],
      exemptions: DESIRED.exemptions ?? [],
    };
    const t = await plan(p, changed);
    expect(t.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'delete 2001:db8::1',
      'delete 203.0.113.0/24',
      'delete ceo.acme@lookalike.example',
      'update phish.example',
    ]);
    expect(t.unmanaged.map((u) => u.key).sort()).toEqual(['by-hand.example', 'regex:.*@evil\\..*']);
    cf.emu.resetStats();
    expect((await applyAll(p, t)).map((r) => r.status)).toEqual(Array(4).fill('applied'));
    expect(cf.emu.stats.requests).toBe(1);
    expect((await plan(p, changed)).changes).toEqual([]);
    expect(cf.account.list('block_senders').map((o) => o['pattern'])).toEqual([
      'by-hand.example',
      '.*@evil\\..*',
      'phish.example',
    ]);
  });

  it('adopts an unmarked entry the YAML declares by writing the marker', async () => {
    cf = await setupCloudflare();
    cf.account.seed('block_senders', [
      { pattern: 'phish.example', pattern_type: 'DOMAIN', is_regex: false, comments: null },
    ]);
    const p = cf.provider();
    const t = await plan(p, { blockedSenders: [{ sender: 'phish.example', reason: 'campaign' }] });
    expect(t.changes.map((c) => `${c.action}/${c.cause}`)).toEqual(['update/adopt']);
    await applyAll(p, t);
    expect(cf.account.list('block_senders')).toHaveLength(1);
    expect(cf.account.list('block_senders')[0]?.['comments']).toMatch(
      /^\[mxpolicy run=[0-9a-f]{12}\] campaign$/,
    );
  });

  it('reads every page: page 1 first, then the rest at once, each page exactly once', async () => {
    cf = await setupCloudflare({ provider: { pageSize: 7 } });
    cf.account.seed(
      'block_senders',
      Array.from({ length: 30 }, (_, i) => ({
        pattern: `s${i}.example`,
        pattern_type: 'DOMAIN',
        is_regex: false,
        comments: `[mxpolicy] r${i}`,
      })),
    );
    const entries = await cf.provider().read('blockedSenders');
    expect(entries).toHaveLength(30);
    expect(new Set(entries.map((e) => e.key)).size).toBe(30);
    expect(cf.emu.stats.byOperation['email_security_list_blocked_senders']).toBe(5);
  });

  it('re-reads after a short page, and throws rather than return a partial list', async () => {
    cf = await setupCloudflare({ provider: { pageSize: 5 } });
    cf.account.seed(
      'block_senders',
      Array.from({ length: 12 }, (_, i) => ({
        pattern: `s${i}.example`,
        pattern_type: 'DOMAIN',
        is_regex: false,
      })),
    );
    cf.emu.inject({ method: 'GET', fault: 'short-page' });
    expect(await cf.provider().read('blockedSenders')).toHaveLength(12);
    // Every full page of both attempts comes back short.
    cf.emu.inject({ method: 'GET', fault: 'short-page', times: 6 });
    await expect(cf.provider().read('blockedSenders')).rejects.toThrow(
      /incomplete listing: expected 12 entries, got 10/,
    );
  });

  it('combines each deprecated allow-policy flag with its successor and ignores read-only fields', async () => {
    cf = await setupCloudflare();
    cf.account.seed('allow_policies', [
      {
        pattern: 'old.example',
        pattern_type: 'DOMAIN',
        is_regex: false,
        verify_sender: true,
        is_sender: true,
        is_trusted_sender: undefined,
        comments: '[mxpolicy] legacy',
      },
    ]);
    // The emulator fills is_trusted_sender: false beside the old is_sender: true, as reads
    // carry every flag: the old one still counts (a trusted sender bypasses every check).
    expect(cf.account.list('allow_policies')[0]).toMatchObject({
      is_sender: true,
      is_trusted_sender: false,
    });
    const [e] = await cf.provider().read('exemptions');
    expect(e).toMatchObject({
      key: 'sender:old.example',
      managed: true,
      value: { sender: 'old.example', bypass: 'all', verifySender: true, reason: 'legacy' },
    });
  });

  it('updates routes of existing domains and refuses to create or configure the impossible', async () => {
    cf = await setupCloudflare();
    cf.account.seed('domains', [
      {
        domain: 'acme.example',
        allowed_delivery_modes: ['DIRECT'],
        drop_dispositions: ['MALICIOUS'],
        ip_restrictions: [],
        regions: ['GLOBAL'],
        transport: 'mx1.acme.example',
      },
      {
        domain: 'other.example',
        allowed_delivery_modes: ['DIRECT'],
        drop_dispositions: [],
        ip_restrictions: [],
        regions: ['GLOBAL'],
        transport: 'mx.other.example',
      },
    ]);
    const p = cf.provider();
    const raw: Raw = {
      routes: [
        { domain: 'acme.example', deliverTo: 'MX2.acme.example', requireTls: true },
        { domain: 'missing.example', deliverTo: 'mx.missing.example' },
        { domain: 'other.example', deliverTo: 'mx.other.example', port: 2525 },
      ],
    };
    // The planner, reading Cloudflare's capabilities, refuses the route it cannot create
    // (validate refuses port 2525 before that).
    const refused = await plan(p, raw);
    expect(refused.status).toBe('blocked');
    expect(refused.errors.map((e) => e.code)).toEqual(['ENTRY_NOT_CREATABLE']);
    expect(refused.errors[0]?.message).toMatch(/missing\.example/);
    // Handed such changes anyway, the provider refuses them itself and applies the rest.
    const FULL = { lifecycle: 'full', ownershipMarker: true, settles: 'immediately' } as const;
    const t = await plan(p, raw, undefined, { routes: FULL });
    const results = await applyAll(p, t);
    expect(results.map((r) => [r.key, r.status])).toEqual([
      ['acme.example', 'applied'],
      ['missing.example', 'failed'],
      ['other.example', 'failed'],
    ]);
    expect(results[1]?.reason).toMatch(/never creates or deletes protected domains/);
    expect(results[2]?.reason).toMatch(/port 2525/);
    expect(cf.account.list('domains')[0]).toMatchObject({
      transport: 'mx2.acme.example',
      require_tls_inbound: true,
      require_tls_outbound: true,
      drop_dispositions: ['MALICIOUS'],
    });
    expect(cf.account.list('domains')).toHaveLength(2);
    const after = await plan(p, { routes: [raw.routes?.[0] as RawEntryOf['routes']] });
    expect(after.changes).toEqual([]);
  });

  it('reports exactly which change the vendor refuses when a batch is rejected', async () => {
    cf = await setupCloudflare();
    const p = cf.provider();
    const raw: Raw = {
      blockedSenders: [
        { sender: 'a.example', reason: 'a' },
        { sender: '10.1.2.3', reason: 'a private address Cloudflare refuses' },
        { sender: 'b.example', reason: 'b'.repeat(1100) },
        { sender: 'c.example', reason: 'c' },
      ],
    };
    const results = await applyAll(p, await plan(p, raw));
    expect(results.map((r) => [r.key, r.status])).toEqual([
      ['10.1.2.3', 'failed'],
      ['a.example', 'applied'],
      ['b.example', 'failed'],
      ['c.example', 'applied'],
    ]);
    expect(results[0]?.reason).toMatch(/private/);
    expect(results[2]?.reason).toMatch(/comments allow 1024/);
  });

  it('fails to read without its token, naming the variable but never a value', async () => {
    cf = await setupCloudflare();
    const p = cf.factory.create({
      tenant: 'acme',
      binding: cf.binding,
      rootDir: '.',
      env: {},
      dispatcher: cf.dispatcher,
      logger: cf.logger,
      now: () => new Date(),
    });
    await expect(p.read('blockedSenders')).rejects.toThrow(
      'environment variable CF_TOKEN_TEST (the Cloudflare API token) is not set',
    );
    const wrong = cf.factory.create({
      tenant: 'acme',
      binding: cf.binding,
      rootDir: '.',
      env: { CF_TOKEN_TEST: 'not-the-token-123' },
      dispatcher: cf.dispatcher,
      logger: cf.logger,
      now: () => new Date(),
    });
    const err = await wrong.read('blockedSenders').catch((e: unknown) => e);
    expect(String(err)).toMatch(/HTTP 403: 10000 Authentication error/);
    expect(String(err)).not.toContain('not-the-token-123');
    // A distinct code, naming where the token comes from; sent once (nothing to refresh).
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 403, attempts: 1 });
    expect(String(err)).toContain('the Cloudflare API token in CF_TOKEN_TEST');
  });

  it('refuses to send the token over plain http beyond this machine', async () => {
    cf = await setupCloudflare();
    const make = (baseUrl: string): unknown =>
      cf.factory.create({
        tenant: 'acme',
        binding: {
          ...cf.binding,
          settings: { ...(cf.binding.settings as CloudflareBinding), baseUrl },
        },
        rootDir: '.',
        env: cf.env,
        logger: cf.logger,
        now: () => new Date(),
      });
    expect(() => make('http://api.example.com/client/v4')).toThrow(/must be https/);
    expect(() => make('not a url')).toThrow(/not a URL/);
    expect(make('https://api.cloudflare.com/client/v4')).toBeDefined();
    expect(make('http://localhost:8787/client/v4')).toBeDefined();
  });

  it('refuses a binding without a valid account id', async () => {
    cf = await setupCloudflare();
    expect(() =>
      cf.factory.create({
        tenant: 'acme',
        binding: { ...cf.binding, settings: { type: 'cloudflare', account: 'xyz', tokenEnv: 'X' } },
        rootDir: '.',
        env: {},
        logger: cf.logger,
        now: () => new Date(),
      }),
    ).toThrow(/32-hex-digit/);
  });

  it('spends no more than MXPOLICY_CLOUDFLARE_BUDGET allows: waits once it is used up', async () => {
    cf = await setupCloudflare({ provider: { pageSize: 2, originRateLimit: false } });
    cf.account.seed(
      'block_senders',
      Array.from({ length: 6 }, (_, i) => ({
        pattern: `b${i}.example`,
        pattern_type: 'DOMAIN',
        is_regex: false,
      })),
    );
    const provider = cf.factory.create({
      tenant: 'acme',
      binding: cf.binding,
      rootDir: '.',
      env: { ...cf.env, MXPOLICY_CLOUDFLARE_BUDGET: '2/60' },
      dispatcher: cf.dispatcher,
      logger: cf.logger,
      now: () => new Date(cf.clock.now()),
    });
    expect(await provider.read('blockedSenders')).toHaveLength(6);
    // 3 pages (or more, with the empty page) on a budget of 2 per minute: at least one wait
    // for the first requests to leave the window (60 s, to within a slot of 1/300 of it);
    // the default budget never waits here.
    const waits = cf.clock.sleeps.filter((ms) => ms >= 1000);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...waits)).toBeLessThanOrEqual(60_200);
    expect(Math.min(...waits)).toBeGreaterThanOrEqual(10_000);
  });

  it('refuses a malformed MXPOLICY_CLOUDFLARE_BUDGET when the binding is created', async () => {
    cf = await setupCloudflare();
    expect(() =>
      cf.factory.create({
        tenant: 'acme',
        binding: cf.binding,
        rootDir: '.',
        env: { MXPOLICY_CLOUDFLARE_BUDGET: '600 per 5 minutes' },
        logger: cf.logger,
        now: () => new Date(),
      }),
    ).toThrow(
      "MXPOLICY_CLOUDFLARE_BUDGET must look like REQUESTS/SECONDS, e.g. 600/300 (got '600 per 5 minutes')",
    );
  });
});

describe('cloudflare provider paging and cancelling', () => {
  it('pages one by one until an empty page when the API gives no total_count', async () => {
    cf = await setupCloudflare({ emulator: { omitTotalCount: true }, provider: { pageSize: 4 } });
    cf.account.seed(
      'block_senders',
      Array.from({ length: 10 }, (_, i) => ({
        pattern: `s${i}.example`,
        pattern_type: 'DOMAIN',
        is_regex: false,
      })),
    );
    expect(await cf.provider().read('blockedSenders')).toHaveLength(10);
    // Pages 1-3 hold entries, page 4 is the empty one that ends the listing.
    expect(cf.emu.stats.byOperation['email_security_list_blocked_senders']).toBe(4);
  });

  it('stops a read when its signal aborts', async () => {
    cf = await setupCloudflare({ emulator: { latencyMs: 200 } });
    const ctl = new AbortController();
    const pending = cf.provider().read('blockedSenders', { signal: ctl.signal });
    setTimeout(() => {
      ctl.abort();
    }, 20);
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

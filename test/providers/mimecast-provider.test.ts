import { afterEach, describe, expect, it } from 'vitest';
import type { RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import { diffTenant, type LiveState } from '../../src/plan/diff-tenant.js';
import type { ChangeResult, TenantPlan } from '../../src/plan/types.js';
import { MIMECAST_CAPABILITIES } from '../../src/providers/mimecast/capabilities.js';
import type { Provider } from '../../src/providers/provider.js';
import { tenantConfig } from '../support/tenants.js';
import { SECRET, SECRET_ENV, setupMimecast, type MimecastSetup } from './mimecast-harness.js';

let mc: MimecastSetup;
afterEach(async () => {
  expect(mc.emu.violations).toEqual([]);
  expect(mc.logger.lines.join('\n')).not.toContain(SECRET);
  await mc.close();
});

type Raw = { [K in Kind]?: RawEntryOf[K][] };
const KINDS: Kind[] = ['blockedSenders', 'exemptions'];

async function plan(
  p: Provider,
  raw: Raw,
  extra: { ownership?: 'managed' | 'authoritative'; today?: string } = {},
): Promise<TenantPlan> {
  const live: LiveState = {};
  for (const k of KINDS) live[k] = await p.read(k);
  return diffTenant(
    tenantConfig(
      'acme',
      mc.binding,
      raw,
      extra.ownership !== undefined ? { ownership: extra.ownership } : {},
    ),
    live,
    {
      capabilities: MIMECAST_CAPABILITIES.kinds,
      today: extra.today ?? '2026-11-23',
      allowLargeChanges: true,
    },
  );
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
    { sender: 'allhands@acme-mailer.example', bypass: 'spoof', reason: 'company-wide mail' },
    { sender: '198.51.100.0/24', bypass: 'spoof', verifySender: false, reason: 'print relay' },
  ],
};

const summary = (t: TenantPlan): string[] => t.changes.map((c) => `${c.action} ${c.kind} ${c.key}`);

describe('mimecast provider', () => {
  it('creates everything in one call per kind, reads it back equal, and then plans nothing', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const first = await plan(p, DESIRED);
    expect(first.changes).toHaveLength(6);
    mc.emu.resetStats();
    const results = await applyAll(p, first);
    expect(results.filter((r) => r.status !== 'applied')).toEqual([]);
    expect(mc.emu.stats.log).toEqual([
      'blockedsenders/create-policy 4',
      'antispoofing-bypass/create-policy 2',
    ]);
    const again = await plan(p, DESIRED);
    expect(again.changes).toEqual([]);
    expect(again.unmanaged).toEqual([]);
    // The token the first plan fetched serves the apply and the second plan.
    expect(mc.emu.stats.tokenRequests).toBe(0);

    const live = mc.account.list('blockedsenders').map((x) => x.policy);
    expect(live.find((x) => x['fromValue'] === 'ceo.acme@lookalike.example')).toMatchObject({
      description: '[mxpolicy ticket=INC%204411%20%5D] CEO impersonation',
      from: { type: 'individual_email_address' },
      to: { type: 'everyone' },
    });
    expect(live.find((x) => x['fromValue'] === 'phish.example')).toMatchObject({
      toDate: '2027-01-31T23:59:59+0000',
      toEternal: false,
    });
    expect(live.map((x) => (x['conditions'] as { sourceIPs?: string[] }).sourceIPs)).toContainEqual(
      ['2001:db8::1/128'],
    );
    const bypass = mc.account.list('antispoofing-bypass').map((x) => x.policy);
    expect(bypass.find((x) => x['fromValue'] === 'allhands@acme-mailer.example')).toMatchObject({
      conditions: { spfDomains: ['acme-mailer.example'] },
      enabled: true,
    });
  });

  it('replaces a changed blocked sender: the new policy first, the old one deleted after', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    await applyAll(p, await plan(p, DESIRED));
    const oldIds = mc.account.list('blockedsenders').map((x) => x.id);
    const changed: Raw = {
      ...DESIRED,
      blockedSenders: (DESIRED.blockedSenders ?? []).map((e) =>
        e.sender === 'phish.example' ? { ...e, reason: 'campaign, widened' } : e,
      ),
    };
    const second = await plan(p, changed);
    expect(summary(second)).toEqual(['update blockedSenders phish.example']);
    mc.emu.resetStats();
    expect((await applyAll(p, second)).map((r) => r.status)).toEqual(['applied']);
    expect(mc.emu.stats.log).toEqual([
      'blockedsenders/create-policy 1',
      'blockedsenders/delete-policy 1',
    ]);
    const now = mc.account.list('blockedsenders');
    expect(now).toHaveLength(4);
    expect(now.filter((x) => !oldIds.includes(x.id)).map((x) => x.policy['description'])).toEqual([
      '[mxpolicy] campaign, widened',
    ]);
    expect((await plan(p, changed)).changes).toEqual([]);
  });

  it('updates a changed exemption in place (update-policy keeps its id)', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    await applyAll(p, await plan(p, DESIRED));
    const before = mc.account.list('antispoofing-bypass').map((x) => x.id);
    const changed: Raw = {
      ...DESIRED,
      exemptions: [
        {
          sender: 'allhands@acme-mailer.example',
          bypass: 'spoof',
          verifySender: false,
          reason: 'x',
        },
        DESIRED.exemptions?.[1] as RawEntryOf['exemptions'],
      ],
    };
    mc.emu.resetStats();
    expect((await applyAll(p, await plan(p, changed))).map((r) => r.status)).toEqual(['applied']);
    expect(mc.emu.stats.log.filter((l) => !l.includes('get-policy'))).toEqual([
      'antispoofing-bypass/update-policy 1',
    ]);
    expect(
      mc.account
        .list('antispoofing-bypass')
        .map((x) => x.id)
        .sort(),
    ).toEqual(before.sort());
    expect((await plan(p, changed)).changes).toEqual([]);
  });

  it('sends at most 50 items per call and pages listings 500 at a time', async () => {
    mc = await setupMimecast();
    const p = mc.provider();
    const many: Raw = {
      blockedSenders: Array.from({ length: 1120 }, (_, i) => ({
        sender: `d${i}.bulk.example`,
        reason: 'bulk',
      })),
    };
    mc.emu.resetStats();
    const results = await applyAll(p, await plan(p, many));
    expect(results.every((r) => r.status === 'applied')).toBe(true);
    expect(mc.emu.stats.maxItemsPerCall).toBe(50);
    expect(mc.emu.stats.byOperation['blockedsenders/create-policy']).toBe(23);
    expect(mc.account.list('blockedsenders')).toHaveLength(1120);
    mc.emu.resetStats();
    expect(await p.read('blockedSenders')).toHaveLength(1120);
    expect(mc.emu.stats.byOperation['blockedsenders/get-policy']).toBe(3);
  });

  it('lists console policies as unmanaged, adopts a declared one, never touches what it cannot model', async () => {
    mc = await setupMimecast();
    mc.account.seed('blockedsenders', [
      {
        option: 'block_sender',
        policy: { description: 'by hand', fromType: 'email_domain', fromValue: 'hand.example' },
      },
      {
        option: 'block_sender',
        policy: {
          description: 'phish.example, for the finance group only',
          from: { type: 'email_domain', emailDomain: 'phish.example' },
          to: { type: 'profile_group', groupId: 'grp-finance' },
        },
      },
      {
        option: 'block_sender',
        policy: {
          description: '[mxpolicy] a display name',
          from: { type: 'header_display_name', headerDisplayName: 'The CEO' },
          to: { type: 'everyone' },
        },
      },
    ]);
    const p = mc.provider();
    const raw: Raw = {
      blockedSenders: [
        { sender: 'hand.example', reason: 'now in YAML' },
        { sender: 'phish.example', reason: 'everyone' },
      ],
    };
    const managed = await plan(p, raw);
    expect(summary(managed)).toEqual([
      'update blockedSenders hand.example',
      'create blockedSenders phish.example',
    ]);
    expect(managed.changes[0]?.cause).toBe('adopt');
    expect(managed.unmanaged.map((u) => u.key)).toEqual([
      expect.stringMatching(/^email_domain phish\.example \(policy eNo1.+\)$/),
      expect.stringMatching(/^header_display_name The CEO \(policy eNo1.+\)$/),
    ]);
    // Authoritative mode prunes unmarked entries it can model, never the foreign ones.
    const auth = await plan(p, { blockedSenders: [] }, { ownership: 'authoritative' });
    expect(summary(auth)).toEqual(['delete blockedSenders hand.example']);
    expect(auth.unmanaged).toHaveLength(2);
    await applyAll(p, managed);
    const live = mc.account.list('blockedsenders');
    expect(live).toHaveLength(4);
    expect(live.filter((x) => x.policy['fromValue'] === 'hand.example')).toHaveLength(1);
    expect((await plan(p, raw)).changes).toEqual([]);
  });

  it('fails the tenant with a message naming the binding when the secret is wrong, or the binding expired', async () => {
    mc = await setupMimecast();
    const wrong = mc.provider({ [SECRET_ENV]: 'not-the-secret' });
    const err = (await wrong.read('blockedSenders').catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain("Mimecast binding 'gateway' (client id mxpolicy-test-client)");
    expect(err.message).toContain(SECRET_ENV);
    expect(err.message).not.toContain('not-the-secret');
    const p = mc.provider();
    await p.read('blockedSenders');
    mc.emu.expireBinding(mc.account.clientId);
    const expired = (await p.read('blockedSenders').catch((e: unknown) => e)) as Error;
    expect(expired.message).toMatch(/418|expired/);
    expect(expired.message).toContain("binding 'gateway'");
    const missing = mc.provider({ [SECRET_ENV]: '' });
    await expect(missing.read('exemptions')).rejects.toThrow(/MIMECAST_SECRET_TEST .* is not set/);
  });

  it('refuses a base URL that is not a Mimecast API host, and a bad budget', async () => {
    {
      mc = await setupMimecast();
      const make = (baseUrl: string): unknown =>
        mc.factory.create({
          tenant: 'acme',
          binding: {
            ...mc.binding,
            settings: { type: 'mimecast', clientId: 'c', secretEnv: SECRET_ENV, baseUrl },
          },
          rootDir: '.',
          env: mc.env,
          logger: mc.logger,
          now: () => new Date(),
        });
      expect(() => make('https://evil.example')).toThrow(/api\.services\.mimecast\.com/);
      expect(() => make('http://api.services.mimecast.com')).toThrow(/https/);
      expect(make('https://uk-api.services.mimecast.com')).toBeDefined();
      expect(() => mc.provider({ MXPOLICY_MIMECAST_BUDGET: 'lots' })).toThrow(
        /MXPOLICY_MIMECAST_BUDGET must look like REQUESTS\/SECONDS/,
      );
    }
  });

  it('spends the budget MXPOLICY_MIMECAST_BUDGET narrows to, per client id', async () => {
    mc = await setupMimecast();
    const p = mc.provider({ MXPOLICY_MIMECAST_BUDGET: '2/10' });
    const start = mc.clock.now();
    for (let i = 0; i < 4; i++) await p.read('blockedSenders');
    // 2 at once, then one every 5 s.
    expect(mc.clock.now() - start).toBeGreaterThanOrEqual(10_000);
    expect(mc.emu.stats.requests).toBe(4);
  });
});

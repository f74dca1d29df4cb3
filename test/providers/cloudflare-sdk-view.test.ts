import { afterEach, describe, expect, it } from 'vitest';
import type { RawEntryOf } from '../../src/model/entries.js';
import type { Kind } from '../../src/model/kinds.js';
import { diffTenant, type LiveState } from '../../src/plan/diff-tenant.js';
import type { Change, ChangeResult, TenantPlan } from '../../src/plan/types.js';
import { CLOUDFLARE_CAPABILITIES } from '../../src/providers/cloudflare/capabilities.js';
import type { Provider } from '../../src/providers/provider.js';
import { tenantConfig } from '../support/tenants.js';
import { ACCOUNT, setupCloudflare, TOKEN, type CloudflareSetup } from './cloudflare-harness.js';

/**
 * The provider against the emulator's default view, Cloudflare's SDK's: block senders and
 * allow policies have `edit` (PATCH) and `batch`, no single-item PUT (a PUT there answers
 * 404 "Could not route to ..."). Allow policies read back exactly as Cloudflare holds them.
 */

let cf: CloudflareSetup;
afterEach(async () => {
  expect(cf.emu.violations).toEqual([]);
  expect(cf.logger.lines.join('\n')).not.toContain(TOKEN);
  await cf.close();
});

type Raw = { [K in Kind]?: RawEntryOf[K][] };
const KINDS: Kind[] = ['blockedSenders', 'exemptions', 'routes'];

async function plan(p: Provider, raw: Raw): Promise<TenantPlan> {
  const live: LiveState = {};
  for (const k of KINDS) live[k] = await p.read(k);
  return diffTenant(tenantConfig('acme', cf.binding, raw), live, {
    capabilities: CLOUDFLARE_CAPABILITIES.kinds,
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

const pattern = (p: string, comments: string, extra: Record<string, unknown> = {}) => ({
  pattern: p,
  pattern_type: 'DOMAIN',
  is_regex: false,
  comments,
  ...extra,
});

describe('cloudflare provider, as Cloudflare’s SDK sees the API', () => {
  it('sends a single update as PATCH with the full body, never as PUT', async () => {
    cf = await setupCloudflare();
    cf.account.seed('block_senders', [pattern('phish.example', '[mxpolicy] old reason')]);
    cf.account.seed('allow_policies', [
      pattern('partner.example', '[mxpolicy] partner', {
        is_acceptable_sender: true,
        is_trusted_sender: false,
        is_exempt_recipient: false,
        verify_sender: true,
      }),
    ]);
    const p = cf.provider();
    const desired: Raw = {
      blockedSenders: [{ sender: 'phish.example', reason: 'new reason', ticket: 'INC-1' }],
      exemptions: [
        { sender: 'partner.example', bypass: 'all', verifySender: false, reason: 'partner' },
      ],
    };
    const first = await plan(p, desired);
    expect(first.changes.map((c) => `${c.action} ${c.key}`)).toEqual([
      'update phish.example',
      'update sender:partner.example',
    ]);
    cf.emu.resetStats();
    const results = await applyAll(p, first);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(cf.emu.stats.unroutable).toEqual([]);
    expect(cf.emu.stats.byOperation).toEqual({
      email_security_update_blocked_sender: 1,
      email_security_update_allow_policy: 1,
    });
    expect(cf.account.list('block_senders')[0]).toMatchObject({
      pattern: 'phish.example',
      pattern_type: 'DOMAIN',
      is_regex: false,
      // The tag names the run that wrote it (dedupe.ts).
      comments: expect.stringMatching(
        /^\[mxpolicy ticket=INC-1 run=[0-9a-f]{12}\] new reason$/,
      ) as unknown,
    });
    expect((await plan(p, desired)).changes).toEqual([]);
  });

  it('falls back to PATCH one by one when a batch is refused, and says "gone" only for a missing entry', async () => {
    cf = await setupCloudflare();
    const [a, b] = cf.account.seed('block_senders', [
      pattern('a.example', '[mxpolicy] a'),
      pattern('b.example', '[mxpolicy] b'),
    ]);
    const p = cf.provider();
    const desired: Raw = {
      blockedSenders: [
        { sender: 'a.example', reason: 'a, updated' },
        { sender: 'b.example', reason: 'b, updated' },
      ],
    };
    const first = await plan(p, desired);
    // b is deleted in the dashboard after the plan: the batch is refused (404), nothing of it
    // is written, and the changes go one by one.
    await deleteBehindOurBack(String(b?.['id']));
    cf.emu.resetStats();
    const results = await p.apply('blockedSenders', first.changes);
    expect(cf.emu.stats.unroutable).toEqual([]);
    expect(cf.emu.stats.byOperation).toMatchObject({
      email_security_batch_blocked_senders: 1,
      email_security_update_blocked_sender: 2,
    });
    expect(results[0]).toMatchObject({ key: 'a.example', status: 'applied' });
    expect(results[1]).toMatchObject({ key: 'b.example', status: 'failed' });
    expect(results[1]?.reason).toMatch(/the live entry is gone; re-plan/);
    expect(cf.account.list('block_senders')).toEqual([
      expect.objectContaining({
        id: a?.['id'],
        comments: expect.stringMatching(/^\[mxpolicy run=[0-9a-f]{12}\] a, updated$/) as unknown,
      }),
    ]);
  });

  it('never takes "no route" for "entry gone": a delete is not applied, an update names the route', async () => {
    cf = await setupCloudflare();
    const [a] = cf.account.seed('block_senders', [pattern('a.example', '[mxpolicy] a')]);
    const id = String(a?.['id']);
    // A base URL Cloudflare routes nothing under: every request is unroutable.
    const binding = {
      ...cf.binding,
      settings: { ...cf.binding.settings, baseUrl: cf.emu.url.replace('/client/v4', '/v4') },
    };
    const p = cf.factory.create({
      tenant: 'acme',
      binding,
      rootDir: '.',
      env: cf.env,
      dispatcher: cf.dispatcher,
      logger: cf.logger,
      now: () => new Date(cf.clock.now()),
    });
    const change = (action: 'update' | 'delete', key: string): Change => ({
      tenant: 'acme',
      kind: 'blockedSenders',
      key,
      action,
      cause: 'desired',
      patch: [],
      liveId: id,
      before: { sender: key, reason: 'a' },
      ...(action === 'update' ? { after: { sender: key, reason: 'a, updated' } } : {}),
    });
    const alone = await p.apply('blockedSenders', [change('delete', 'a.example')]);
    expect(alone[0]?.status).toBe('failed');
    expect(alone[0]?.reason).toMatch(/7003 Could not route to .*; 7000 No route for that URI/);
    expect(alone[0]?.reason).toMatch(/no route for this request/);
    const both = await p.apply('blockedSenders', [
      change('update', 'a.example'),
      change('delete', 'a.example'),
    ]);
    expect(both.map((r) => r.status)).toEqual(['failed', 'failed']);
    for (const r of both) expect(r.reason).not.toMatch(/gone/);
    expect(cf.emu.stats.unroutable.length).toBeGreaterThanOrEqual(4);
    expect(cf.account.list('block_senders')).toHaveLength(1);
  });

  it('reads a managed allow policy with every flag off as drift, and an update turns it on again', async () => {
    cf = await setupCloudflare();
    // Unticked in the dashboard: the policy bypasses nothing now.
    cf.account.seed('allow_policies', [
      pattern('allhands.example', '[mxpolicy] company comms', {
        is_acceptable_sender: false,
        is_trusted_sender: false,
        is_exempt_recipient: false,
        verify_sender: true,
      }),
    ]);
    const p = cf.provider();
    const [live] = await p.read('exemptions');
    expect(live?.value).toMatchObject({ sender: 'allhands.example', bypass: 'none' });
    const desired: Raw = {
      exemptions: [{ sender: 'allhands.example', bypass: 'spam', reason: 'company comms' }],
    };
    const first = await plan(p, desired);
    expect(first.changes).toMatchObject([
      {
        action: 'update',
        key: 'sender:allhands.example',
        before: { bypass: 'none' },
        after: { bypass: 'spam' },
      },
    ]);
    expect((await applyAll(p, first)).map((r) => r.status)).toEqual(['applied']);
    expect(cf.account.list('allow_policies')[0]).toMatchObject({ is_acceptable_sender: true });
    expect((await plan(p, desired)).changes).toEqual([]);
  });

  it('combines a deprecated flag with its successor, and an update clears the deprecated one', async () => {
    cf = await setupCloudflare();
    // An old entry: trusted through the deprecated is_sender, acceptable through the new flag.
    cf.account.seed('allow_policies', [
      pattern('old.example', '[mxpolicy] legacy', {
        is_sender: true,
        is_trusted_sender: false,
        is_acceptable_sender: true,
        is_exempt_recipient: false,
        verify_sender: true,
      }),
      pattern('older.example', '[mxpolicy] legacy spoof', {
        is_spoof: true,
        is_acceptable_sender: false,
        is_trusted_sender: false,
        is_exempt_recipient: false,
        verify_sender: true,
      }),
    ]);
    const p = cf.provider();
    const read = await p.read('exemptions');
    expect(read.map((e) => [e.key, e.kind === 'exemptions' ? e.value.bypass : ''])).toEqual([
      ['sender:old.example', 'all'],
      ['sender:older.example', 'spam'],
    ]);
    const desired: Raw = {
      exemptions: [
        { sender: 'old.example', bypass: 'spam', reason: 'legacy' },
        { sender: 'older.example', bypass: 'spam', reason: 'legacy spoof' },
      ],
    };
    const first = await plan(p, desired);
    expect(first.changes.map((c) => `${c.action} ${c.key}`)).toEqual(['update sender:old.example']);
    expect((await applyAll(p, first)).map((r) => r.status)).toEqual(['applied']);
    expect(cf.account.list('allow_policies')[0]).toMatchObject({
      is_sender: false,
      is_trusted_sender: false,
      is_acceptable_sender: true,
    });
    expect((await plan(p, desired)).changes).toEqual([]);
  });
});

async function deleteBehindOurBack(id: string): Promise<void> {
  const res = await fetch(
    `${cf.emu.url}/accounts/${ACCOUNT}/email-security/settings/block_senders/${id}`,
    { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } },
  );
  expect(res.status).toBe(200);
}

import Cloudflare from 'cloudflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change, ChangeResult } from '../../../src/plan/types.js';
import {
  ACCOUNT as PROVIDER_ACCOUNT,
  setupCloudflare,
} from '../../providers/cloudflare-harness.js';
import { loadContract, type Contract } from './contract.js';
import {
  SDK_ABSENT_OPERATIONS,
  startCloudflareEmulator,
  type CloudflareEmulator,
} from './emulator.js';

/**
 * Cloudflare's own TypeScript SDK (`cloudflare` 7.3.0, generated from Cloudflare's OpenAPI)
 * against the emulator, so that the two stay in step: every call the SDK makes for block
 * senders and allow policies is served and conforms to the contract, the emulator refuses
 * exactly the routes the SDK does not have, and mxpolicy's provider only makes requests the
 * SDK can make too. Nothing leaves 127.0.0.1.
 */

// The provider harness's account, so seeded entries and SDK calls share one account id.
const ACCOUNT = PROVIDER_ACCOUNT;
const TOKEN = 'sdk-test-token-0001';
const RESOURCES = [
  'blockSenders',
  'allowPolicies',
  'trustedDomains',
  'domains',
  'impersonationRegistry',
] as const;

function sdkClient(baseURL: string, fetchImpl?: typeof fetch): Cloudflare {
  return new Cloudflare({
    apiToken: TOKEN,
    // Never pick credentials up from the environment (CLOUDFLARE_API_KEY, ...).
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    baseURL,
    maxRetries: 0,
    ...(fetchImpl !== undefined ? { fetch: fetchImpl } : {}),
  });
}

let contract: Contract;
beforeAll(() => {
  contract = loadContract();
});

/**
 * Every operation the SDK's settings resources can send, as contract operation ids: each
 * method of each resource is called once through a recording `fetch` that answers an empty
 * success (no server involved), and its method and path are matched to the contract.
 */
async function sdkOperations(): Promise<{ ops: Set<string>; outside: string[] }> {
  const seen: { method: string; path: string }[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    seen.push({ method: init?.method ?? 'GET', path: url.pathname.replace(/^\/client\/v4/, '') });
    return Promise.resolve(
      new Response(
        JSON.stringify({ success: true, errors: [], messages: [], result: [], result_info: {} }),
        { status: 200, headers: { 'content-type': 'application/json' } },
      ),
    );
  };
  const client = sdkClient('http://127.0.0.1:9/client/v4', recording);
  const settings = client.emailSecurity.settings as unknown as Record<string, object>;
  const ID = 'f174e90a-fafe-4643-bbbc-4a0ed4fc8415';
  for (const name of RESOURCES) {
    const resource = settings[name] as Record<string, unknown>;
    let proto: object | null = Object.getPrototypeOf(resource) as object | null;
    const methods = new Set<string>();
    while (proto !== null && proto !== Object.prototype) {
      for (const m of Object.getOwnPropertyNames(proto))
        if (m !== 'constructor' && typeof resource[m] === 'function') methods.add(m);
      proto = Object.getPrototypeOf(proto) as object | null;
    }
    methods.delete('_key');
    expect(methods.size, `SDK resource ${name} has methods`).toBeGreaterThan(3);
    for (const m of methods) {
      const fn = resource[m] as (...args: unknown[]) => PromiseLike<unknown>;
      // (params, options) or (id, params, options): the generated signatures.
      const args = fn.length >= 3 ? [ID, { account_id: ACCOUNT }] : [{ account_id: ACCOUNT }];
      await fn.apply(resource, args);
    }
  }
  const ops = new Set<string>();
  const outside: string[] = [];
  for (const r of seen) {
    const matched = contract.match(r.method, r.path);
    if (matched === undefined) outside.push(`${r.method} ${r.path}`);
    else ops.add(matched.op.id);
  }
  return { ops, outside };
}

describe("Cloudflare's SDK against the emulator", () => {
  let emu: CloudflareEmulator;
  let cf: Cloudflare;
  beforeAll(async () => {
    emu = await startCloudflareEmulator({ contract });
    emu.addAccount(ACCOUNT, TOKEN);
    cf = sdkClient(emu.url);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('lists, creates, edits, batches and deletes block senders', async () => {
    const api = cf.emailSecurity.settings.blockSenders;
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const created = await api.create({
        account_id: ACCOUNT,
        pattern: `p${i}.example`,
        pattern_type: 'DOMAIN',
        is_regex: false,
        comments: `made by the SDK ${i}`,
      });
      expect(created.pattern).toBe(`p${i}.example`);
      ids.push(String(created.id));
    }
    // The SDK pages until an empty page: all 25 come back, once each.
    const listed: string[] = [];
    for await (const b of api.list({ account_id: ACCOUNT, per_page: 10 }))
      listed.push(String(b.id));
    expect(listed).toEqual(ids);
    const filtered = await api.list({ account_id: ACCOUNT, pattern: 'p3.example' });
    expect(filtered.result.map((b) => b.pattern)).toEqual(['p3.example']);

    const edited = await api.edit(ids[0] ?? '', {
      account_id: ACCOUNT,
      comments: 'edited by the SDK',
    });
    expect(edited).toMatchObject({ pattern: 'p0.example', comments: 'edited by the SDK' });
    expect((await api.get(ids[0] ?? '', { account_id: ACCOUNT })).comments).toBe(
      'edited by the SDK',
    );

    // The SDK's batch types leave `id` out of patches and puts; the API requires it there.
    const batch = await api.batch({
      account_id: ACCOUNT,
      deletes: [{ id: ids[1] ?? '' }],
      patches: [{ id: ids[2], comments: 'patched in a batch' } as never],
      puts: [
        { id: ids[3], pattern: 'p3.example', pattern_type: 'DOMAIN', is_regex: false } as never,
      ],
      posts: [{ pattern: 'new.example', pattern_type: 'DOMAIN', is_regex: false }],
    });
    expect(batch.deletes?.map((d) => d.id)).toEqual([ids[1]]);
    expect(batch.patches?.[0]).toMatchObject({ id: ids[2], comments: 'patched in a batch' });
    expect(batch.puts?.[0]).toMatchObject({ id: ids[3], comments: null });
    expect(batch.posts?.[0]).toMatchObject({ pattern: 'new.example' });

    expect(await api.delete(ids[0] ?? '', { account_id: ACCOUNT })).toEqual({ id: ids[0] });
    // A missing entry is an SDK NotFoundError, with Cloudflare's envelope.
    const missing = await api.get(ids[0] ?? '', { account_id: ACCOUNT }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(missing).toBeInstanceOf(Cloudflare.NotFoundError);
    expect(emu.violations).toEqual([]);
    expect(emu.stats.unroutable).toEqual([]);
  });

  it('lists, creates, edits, batches and deletes allow policies', async () => {
    const api = cf.emailSecurity.settings.allowPolicies;
    const created = await api.create({
      account_id: ACCOUNT,
      pattern: 'partner.example',
      pattern_type: 'DOMAIN',
      is_regex: false,
      is_acceptable_sender: true,
      is_trusted_sender: false,
      is_exempt_recipient: false,
      verify_sender: true,
      comments: 'made by the SDK',
    });
    const id = created.id;
    expect(created).toMatchObject({ is_acceptable_sender: true, verify_sender: true });
    const edited = await api.edit(id, {
      account_id: ACCOUNT,
      is_acceptable_sender: false,
      is_trusted_sender: true,
    });
    expect(edited).toMatchObject({ is_acceptable_sender: false, is_trusted_sender: true });
    const page = await api.list({ account_id: ACCOUNT, is_trusted_sender: true });
    expect(page.result.map((p) => p.id)).toEqual([id]);
    const batch = await api.batch({
      account_id: ACCOUNT,
      deletes: [{ id }],
      patches: [],
      puts: [],
      posts: [
        {
          pattern: 'abuse@acme.example',
          pattern_type: 'EMAIL',
          is_regex: false,
          is_exempt_recipient: true,
          is_trusted_sender: false,
          is_acceptable_sender: false,
          verify_sender: false,
        },
      ],
    });
    const posted = String(batch.posts?.[0]?.id);
    const all: string[] = [];
    for await (const p of api.list({ account_id: ACCOUNT })) all.push(p.id);
    expect(all).toEqual([posted]);
    expect(await api.delete(posted, { account_id: ACCOUNT })).toEqual({ id: posted });
    expect(emu.violations).toEqual([]);
    expect(emu.stats.unroutable).toEqual([]);
  });

  it('refuses a wrong token the way the SDK expects (403 PermissionDeniedError)', async () => {
    const other = new Cloudflare({
      apiToken: 'not-the-token',
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: emu.url,
      maxRetries: 0,
    });
    await expect(
      other.emailSecurity.settings.blockSenders.list({ account_id: ACCOUNT }),
    ).rejects.toBeInstanceOf(Cloudflare.PermissionDeniedError);
  });
});

describe("the emulator's routes and the provider's requests, against the SDK's", () => {
  it('the emulator refuses exactly the operations of the OpenAPI file the SDK cannot call', async () => {
    const { ops, outside } = await sdkOperations();
    // Every SDK request for these resources is an operation of the contract file.
    expect(outside).toEqual([]);
    const missing = contract.operations.map((o) => o.id).filter((id) => !ops.has(id));
    expect(missing.sort()).toEqual([...SDK_ABSENT_OPERATIONS].sort());
  });

  it("mxpolicy's provider only sends requests the SDK can send too", async () => {
    const { ops } = await sdkOperations();
    const cf = await setupCloudflare({ provider: { batchSize: 2 } });
    try {
      const [a, b] = cf.account.seed('block_senders', [
        { pattern: 'a.example', pattern_type: 'DOMAIN', is_regex: false, comments: '[mxpolicy] a' },
        { pattern: 'b.example', pattern_type: 'DOMAIN', is_regex: false, comments: '[mxpolicy] b' },
      ]);
      const [e] = cf.account.seed('allow_policies', [
        {
          pattern: 'partner.example',
          pattern_type: 'DOMAIN',
          is_regex: false,
          comments: '[mxpolicy] partner',
          is_acceptable_sender: true,
          is_trusted_sender: false,
          is_exempt_recipient: false,
          verify_sender: true,
        },
      ]);
      const [d] = cf.account.seed('domains', [
        {
          domain: 'acme.example',
          allowed_delivery_modes: ['DIRECT'],
          drop_dispositions: ['MALICIOUS'],
          ip_restrictions: [],
          regions: ['GLOBAL'],
          transport: 'mx.acme.example',
        },
      ]);
      const p = cf.provider();
      for (const k of ['blockedSenders', 'exemptions', 'routes'] as const) await p.read(k);
      const bs = (
        action: Change['action'],
        key: string,
        liveId?: string,
        reason = 'r',
      ): Change => ({
        tenant: 'acme',
        kind: 'blockedSenders',
        key,
        action,
        cause: 'desired',
        patch: [],
        ...(liveId !== undefined ? { liveId } : {}),
        ...(action !== 'delete' ? { after: { sender: key, reason } } : {}),
      });
      const ok = (rs: ChangeResult[]): string[] => rs.map((r) => r.status);
      // One by one (create, update, delete), then batches (update + create, one refused).
      expect(ok(await p.apply('blockedSenders', [bs('create', 'c.example')]))).toEqual(['applied']);
      expect(
        ok(await p.apply('blockedSenders', [bs('update', 'a.example', String(a?.['id']))])),
      ).toEqual(['applied']);
      expect(
        ok(await p.apply('blockedSenders', [bs('delete', 'b.example', String(b?.['id']))])),
      ).toEqual(['applied']);
      const refused = await p.apply('blockedSenders', [
        bs('update', 'a.example', String(a?.['id']), 'again'),
        bs('update', 'b.example', String(b?.['id']), 'gone'),
        bs('create', 'd.example'),
        bs('delete', 'c.example', 'f174e90a-fafe-4643-bbbc-4a0ed4fc8415'),
      ]);
      expect(ok(refused)).toEqual(['applied', 'failed', 'applied', 'applied']);
      expect(
        ok(
          await p.apply('exemptions', [
            {
              tenant: 'acme',
              kind: 'exemptions',
              key: 'sender:partner.example',
              action: 'update',
              cause: 'desired',
              patch: [],
              liveId: String(e?.['id']),
              after: {
                sender: 'partner.example',
                bypass: 'all',
                verifySender: true,
                reason: 'p',
              },
            },
          ]),
        ),
      ).toEqual(['applied']);
      expect(
        ok(
          await p.apply('routes', [
            {
              tenant: 'acme',
              kind: 'routes',
              key: 'acme.example',
              action: 'update',
              cause: 'desired',
              patch: [],
              liveId: String(d?.['id']),
              after: {
                domain: 'acme.example',
                deliverTo: 'mx2.acme.example',
                port: 25,
                requireTls: true,
              },
            },
          ]),
        ),
      ).toEqual(['applied']);
      expect(cf.emu.violations).toEqual([]);
      expect(cf.emu.stats.unroutable).toEqual([]);
      const used = Object.keys(cf.emu.stats.byOperation).sort();
      // The provider used reads, single writes and batches of all three resources...
      expect(used).toEqual(
        expect.arrayContaining([
          'email_security_list_blocked_senders',
          'email_security_create_blocked_sender',
          'email_security_update_blocked_sender',
          'email_security_delete_blocked_sender',
          'email_security_batch_blocked_senders',
          'email_security_update_allow_policy',
          'email_security_update_domain',
        ]),
      );
      // ...and every one of them is an operation the SDK has.
      expect(used.filter((id) => !ops.has(id))).toEqual([]);
    } finally {
      await cf.close();
    }
  });
});

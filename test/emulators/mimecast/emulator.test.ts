import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startMimecastEmulator, type MimecastEmulator, type Obj } from './emulator.js';

const CLIENT = 'client-acme';
const SECRET = 'emulator-test-secret-0001';

let emu: MimecastEmulator;
let clock = 1_800_000_000_000;
const agent = new Agent({ connections: 4 });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Obj;
}

async function token(clientId = CLIENT, secret = SECRET): Promise<Reply> {
  const res = await request(`${emu.url}/oauth/token`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: secret,
    }).toString(),
  });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Obj };
}

async function bearer(clientId = CLIENT, secret = SECRET): Promise<string> {
  const t = await token(clientId, secret);
  expect(t.status).toBe(200);
  return String(t.body['access_token']);
}

async function call(path: string, body: unknown, auth: string): Promise<Reply> {
  const res = await request(`${emu.url}${path}`, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${auth}`,
      'content-type': 'application/json',
      accept: 'application/json',
    },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as Obj };
}

const BS = '/api/policy/blockedsenders';
const AS = '/api/policy/antispoofing-bypass';

const blockItem = (from: Obj, extra: Obj = {}): Obj => ({
  option: 'block_sender',
  policy: { description: 'test', from, to: { type: 'everyone' }, ...extra },
});
const domain = (d: string): Obj => ({ type: 'email_domain', emailDomain: d });

const data = (r: Reply): Obj[] => r.body['data'] as Obj[];
const fails = (r: Reply): { key?: Obj; errors: { code: string; retryable: boolean }[] }[] =>
  r.body['fail'] as { key?: Obj; errors: { code: string; retryable: boolean }[] }[];

beforeAll(async () => {
  emu = await startMimecastEmulator({ now: () => clock, tokenTtlS: 1800 });
});
afterAll(async () => {
  await emu.close();
  await agent.close();
});
afterEach(() => {
  // Tests that send malformed requests on purpose empty this themselves.
  expect(emu.violations).toEqual([]);
  emu.clearFaults();
});

describe('mimecast emulator: OAuth 2.0 client credentials', () => {
  it('issues a bearer token with expires_in for a known client and refuses a wrong secret', async () => {
    emu.addAccount(CLIENT, SECRET);
    const ok = await token();
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 1800 });
    expect(String(ok.body['access_token']).length).toBeGreaterThan(20);
    const bad = await token(CLIENT, 'wrong');
    expect(bad.status).toBe(401);
    expect(bad.body['error']).toBe('invalid_client');
  });

  it('accepts client_secret_basic, and records a JSON token request as a violation', async () => {
    const res = await request(`${emu.url}/oauth/token`, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT}:${SECRET}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const json = await request(`${emu.url}/oauth/token`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT }),
    });
    expect(json.statusCode).toBe(400);
    await json.body.dump();
    expect(emu.violations).toHaveLength(1);
    emu.violations.length = 0;
  });

  it('answers 401 once the token expires (by its TTL on the clock, or forced)', async () => {
    const t = await bearer();
    expect((await call(`${BS}/get-policy`, { data: [] }, t)).status).toBe(200);
    clock += 1800 * 1000;
    const expired = await call(`${BS}/get-policy`, { data: [] }, t);
    expect(expired.status).toBe(401);
    expect(fails(expired)[0]?.errors[0]?.code).toBe('err_auth_token_invalid');
    const fresh = await bearer();
    expect((await call(`${BS}/get-policy`, { data: [] }, fresh)).status).toBe(200);
    emu.expireTokens(CLIENT);
    expect((await call(`${BS}/get-policy`, { data: [] }, fresh)).status).toBe(401);
  });

  it('answers 418 while the binding has expired', async () => {
    const t = await bearer();
    emu.expireBinding(CLIENT);
    const r = await call(`${BS}/get-policy`, { data: [] }, t);
    expect(r.status).toBe(418);
    expect(fails(r)[0]?.errors[0]?.code).toBe('err_xdk_binding_expired');
    emu.expireBinding(CLIENT, false);
    expect((await call(`${BS}/get-policy`, { data: [] }, t)).status).toBe(200);
  });
});

describe('mimecast emulator: blocked-sender policies', () => {
  it('creates several policies in one call and reads them back in nested and flat form', async () => {
    const acct = emu.addAccount('client-blocks', 's1');
    const t = await bearer('client-blocks', 's1');
    const created = await call(
      `${BS}/create-policy`,
      {
        data: [
          blockItem({ type: 'individual_email_address', emailAddress: 'ceo@lookalike.example' }),
          blockItem({ type: 'everyone' }, { conditions: { sourceIPs: ['198.51.100.7/32'] } }),
          blockItem(domain('temp.example'), { toDate: '2026-12-01T23:59:59+0000' }),
        ],
      },
      t,
    );
    expect(created.status).toBe(200);
    expect(fails(created)).toEqual([]);
    expect(data(created)).toHaveLength(3);
    const first = data(created)[0] as { id: string; option: string; policy: Obj };
    expect(first.option).toBe('block_sender');
    expect(first.policy).toMatchObject({
      from: { type: 'individual_email_address', emailAddress: 'ceo@lookalike.example' },
      fromType: 'individual_email_address',
      fromValue: 'ceo@lookalike.example',
      to: { type: 'everyone' },
      toType: 'everyone',
      fromPart: 'envelope_from',
      fromEternal: true,
      toEternal: true,
    });
    expect((data(created)[2] as { policy: Obj }).policy).toMatchObject({
      toDate: '2026-12-01T23:59:59+0000',
      toEternal: false,
    });
    expect(acct.list('blockedsenders')).toHaveLength(3);
    const one = await call(`${BS}/get-policy`, { data: [{ id: first.id }] }, t);
    expect(data(one)).toEqual([first]);
    const deleted = await call(`${BS}/delete-policy`, { data: [{ id: first.id }] }, t);
    expect(data(deleted)).toEqual([{ id: first.id }]);
    expect(acct.list('blockedsenders')).toHaveLength(2);
    expect(emu.stats.byOperation['blockedsenders/create-policy']).toBeGreaterThanOrEqual(1);
  });

  it('fails a bad item inside HTTP 200 and applies the others', async () => {
    const acct = emu.addAccount('client-items', 's');
    const t = await bearer('client-items', 's');
    const r = await call(
      `${BS}/create-policy`,
      {
        data: [
          blockItem(domain('good.example')),
          blockItem({ type: 'individual_email_address', emailAddress: 'not an address' }),
          blockItem({ type: 'everyone' }, { conditions: { sourceIPs: ['198.51.100.7'] } }),
        ],
      },
      t,
    );
    expect(r.status).toBe(200);
    expect(data(r)).toHaveLength(1);
    expect(fails(r).map((f) => f.errors[0]?.code)).toEqual([
      'err_validation_invalid_email_address',
      'err_validation_invalid_ip_range',
    ]);
    expect(fails(r)[0]?.key).toEqual(
      blockItem({ type: 'individual_email_address', emailAddress: 'not an address' }),
    );
    expect(acct.list('blockedsenders')).toHaveLength(1);
    const gone = await call(`${BS}/delete-policy`, { data: [{ id: 'eNo1missing' }] }, t);
    expect(gone.status).toBe(200);
    expect(fails(gone)[0]?.errors[0]?.code).toBe('err_policy_not_found');
  });

  it('fails an item that breaks the contract and records the violation', async () => {
    emu.addAccount('client-contract', 's');
    const t = await bearer('client-contract', 's');
    const r = await call(
      `${BS}/create-policy`,
      {
        data: [
          blockItem(domain('ok.example')),
          { option: 'block_sender', policy: { from: domain('x.example'), reason: 'no' } },
          blockItem({ type: 'email_domain' }),
        ],
      },
      t,
    );
    expect(r.status).toBe(200);
    expect(data(r)).toHaveLength(1);
    expect(fails(r)).toHaveLength(2);
    expect(emu.violations.join('\n')).toMatch(/data\[1\].*description/);
    expect(emu.violations.join('\n')).toMatch(/data\[1\].*'reason'/);
    expect(emu.violations.join('\n')).toMatch(/data\[2\].*emailDomain/);
    emu.violations.length = 0;
  });

  it('refuses a malformed envelope with 400: more than 50 items, no data, a GET', async () => {
    emu.addAccount('client-envelope', 's');
    const t = await bearer('client-envelope', 's');
    const many = Array.from({ length: 51 }, (_, i) => blockItem(domain(`d${i}.example`)));
    expect((await call(`${BS}/create-policy`, { data: many }, t)).status).toBe(400);
    expect((await call(`${BS}/delete-policy`, { meta: {} }, t)).status).toBe(400);
    const get = await request(`${emu.url}${BS}/get-policy`, {
      method: 'GET',
      dispatcher: agent,
      headers: { authorization: `Bearer ${t}` },
    });
    expect(get.statusCode).toBe(405);
    await get.body.dump();
    expect(emu.violations).toHaveLength(3);
    emu.violations.length = 0;
    expect(emu.account('client-envelope').list('blockedsenders')).toEqual([]);
    expect((await call('/api/policy/nothing/get-policy', { data: [] }, t)).status).toBe(404);
  });

  it('pages through meta.pagination.pageToken / next until there is no next', async () => {
    const acct = emu.addAccount('client-pages', 's');
    acct.seed(
      'blockedsenders',
      Array.from({ length: 250 }, (_, i) => blockItem(domain(`p${i}.example`))) as {
        option: string;
        policy: Obj;
      }[],
    );
    const t = await bearer('client-pages', 's');
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const pagination: Obj = { pageSize: 100 };
      if (pageToken !== undefined) pagination['pageToken'] = pageToken;
      const r = await call(`${BS}/get-policy`, { meta: { pagination }, data: [] }, t);
      const meta = r.body['meta'] as { pagination: { next?: string; totalCount: number } };
      expect(meta.pagination.totalCount).toBe(250);
      for (const item of data(r)) seen.push(String(item['id']));
      pageToken = meta.pagination.next;
      pages++;
    } while (pageToken !== undefined);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(250);
    // The default page is 100 items; a made-up token fails inside a 200.
    const first = await call(`${BS}/get-policy`, { data: [] }, t);
    expect(data(first)).toHaveLength(100);
    const bad = await call(`${BS}/get-policy`, { meta: { pagination: { pageToken: 'x' } } }, t);
    expect(bad.status).toBe(200);
    expect(fails(bad)[0]?.errors[0]?.code).toBe('err_invalid_page_token');
    // More than 500 per page breaks the contract.
    const big = await call(`${BS}/get-policy`, { meta: { pagination: { pageSize: 501 } } }, t);
    expect(big.status).toBe(400);
    expect(emu.violations).toHaveLength(1);
    emu.violations.length = 0;
  });
});

describe('mimecast emulator: anti-spoofing bypass policies', () => {
  it('creates, updates and deletes; get-policy returns policy as an array, as documented', async () => {
    const acct = emu.addAccount('client-bypass', 's');
    const t = await bearer('client-bypass', 's');
    const created = await call(
      `${AS}/create-policy`,
      {
        data: [
          {
            option: 'enable_bypass',
            policy: {
              description: 'company-wide mail',
              from: domain('mailer.example'),
              to: { type: 'everyone' },
              conditions: { spfDomains: ['mailer.example'] },
            },
          },
        ],
      },
      t,
    );
    expect(fails(created)).toEqual([]);
    const item = data(created)[0] as { id: string; policy: Obj[] };
    expect(Array.isArray(item.policy)).toBe(true);
    expect(item.policy[0]).toMatchObject({
      enabled: true,
      enforced: false,
      fromType: 'email_domain',
    });
    const updated = await call(
      `${AS}/update-policy`,
      { data: [{ id: item.id, option: 'enable_bypass', policy: { description: 'changed' } }] },
      t,
    );
    expect((data(updated)[0] as { policy: Obj[] }).policy[0]).toMatchObject({
      description: 'changed',
      from: domain('mailer.example'),
      conditions: { spfDomains: ['mailer.example'] },
    });
    expect(acct.list('antispoofing-bypass')[0]?.policy['description']).toBe('changed');
    await call(`${AS}/delete-policy`, { data: [{ id: item.id }] }, t);
    expect(acct.list('antispoofing-bypass')).toEqual([]);
    expect(emu.stats.updated).toBeGreaterThanOrEqual(1);
  });

  it('has no update-policy for blocked senders', async () => {
    emu.addAccount('client-noupdate', 's');
    const t = await bearer('client-noupdate', 's');
    expect((await call(`${BS}/update-policy`, { data: [{ id: 'x' }] }, t)).status).toBe(404);
  });
});

describe('mimecast emulator: rate limits and faults', () => {
  it('sends X-RateLimit-* on every response and 429 with a reset in milliseconds', async () => {
    const limited = await startMimecastEmulator({
      now: () => clock,
      rateLimit: { requests: 2, windowMs: 1000 },
    });
    try {
      limited.addAccount(CLIENT, SECRET);
      const res = await request(`${limited.url}/oauth/token`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=${CLIENT}&client_secret=${SECRET}`,
      });
      const t = String(((await res.body.json()) as Obj)['access_token']);
      const hit = async (): Promise<Reply> => {
        const r = await request(`${limited.url}${BS}/get-policy`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
          body: '{"data":[]}',
        });
        return { status: r.statusCode, headers: r.headers, body: (await r.body.json()) as Obj };
      };
      const a = await hit();
      expect(a.status).toBe(200);
      expect(a.headers['x-ratelimit-limit']).toBe('2');
      expect(a.headers['x-ratelimit-remaining']).toBe('1');
      await hit();
      const c = await hit();
      expect(c.status).toBe(429);
      expect(c.headers['x-ratelimit-remaining']).toBe('0');
      // 2 per 1000 ms: one call comes back after 500 ms.
      expect(Number(c.headers['x-ratelimit-reset'])).toBe(500);
      clock += 500;
      expect((await hit()).status).toBe(200);
      expect(limited.violations).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it('injects 429, 401, 500, a failed item, a lost response and broken listings', async () => {
    const acct = emu.addAccount('client-faults', 's');
    const t = await bearer('client-faults', 's');
    emu.inject({ path: /get-policy/, fault: 'status-429', resetMs: 120 });
    const throttled = await call(`${BS}/get-policy`, { data: [] }, t);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['x-ratelimit-reset']).toBe('120');
    emu.inject({ path: /get-policy/, fault: 'status-401' });
    expect((await call(`${BS}/get-policy`, { data: [] }, t)).status).toBe(401);
    emu.inject({ path: /get-policy/, fault: 'status-500' });
    expect((await call(`${BS}/get-policy`, { data: [] }, t)).status).toBe(500);

    emu.inject({ path: /create-policy/, fault: 'fail-item', item: 1 });
    const partly = await call(
      `${BS}/create-policy`,
      { data: [blockItem(domain('a.example')), blockItem(domain('b.example'))] },
      t,
    );
    expect(data(partly)).toHaveLength(1);
    expect(fails(partly)[0]?.errors[0]).toMatchObject({
      code: 'err_internal_error',
      retryable: true,
    });
    expect(acct.list('blockedsenders')).toHaveLength(1);

    emu.inject({ path: /create-policy/, fault: 'reset-after' });
    await expect(
      call(`${BS}/create-policy`, { data: [blockItem(domain('c.example'))] }, t),
    ).rejects.toThrow();
    // The response was lost, but the policy exists.
    expect(acct.list('blockedsenders')).toHaveLength(2);

    acct.seed(
      'blockedsenders',
      Array.from({ length: 5 }, (_, i) => blockItem(domain(`s${i}.example`))) as {
        option: string;
        policy: Obj;
      }[],
    );
    emu.inject({ path: /get-policy/, fault: 'truncate-list' });
    const cut = await call(`${BS}/get-policy`, { meta: { pagination: { pageSize: 3 } } }, t);
    const meta = cut.body['meta'] as { pagination: Obj };
    expect(meta.pagination['next']).toBeUndefined();
    expect(meta.pagination['totalCount']).toBe(7);
    const page1 = await call(`${BS}/get-policy`, { meta: { pagination: { pageSize: 3 } } }, t);
    const next = String((page1.body['meta'] as { pagination: Obj }).pagination['next']);
    emu.inject({ path: /get-policy/, fault: 'bad-page-token' });
    const expired = await call(
      `${BS}/get-policy`,
      { meta: { pagination: { pageSize: 3, pageToken: next } } },
      t,
    );
    expect(fails(expired)[0]?.errors[0]?.code).toBe('err_invalid_page_token');
    expect(emu.stats.faults).toBeGreaterThanOrEqual(7);
  });

  it('adds the configured latency to every answer and counts requests', async () => {
    emu.addAccount('client-latency', 's');
    const t = await bearer('client-latency', 's');
    emu.resetStats();
    emu.setLatency(40);
    const start = performance.now();
    await call(`${BS}/get-policy`, { data: [] }, t);
    expect(performance.now() - start).toBeGreaterThanOrEqual(38);
    emu.setLatency(0);
    expect(emu.stats.requests).toBe(1);
    expect(emu.stats.byStatus['200']).toBe(1);
  });

  it('keeps each client account apart', async () => {
    const a = emu.addAccount('client-a', 'sa');
    const b = emu.addAccount('client-b', 'sb');
    const ta = await bearer('client-a', 'sa');
    await call(`${BS}/create-policy`, { data: [blockItem(domain('only-a.example'))] }, ta);
    expect(a.list('blockedsenders')).toHaveLength(1);
    expect(b.list('blockedsenders')).toHaveLength(0);
    const tb = await bearer('client-b', 'sb');
    expect(data(await call(`${BS}/get-policy`, { data: [] }, tb))).toEqual([]);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startCloudflareEmulator, type CloudflareEmulator } from './emulator.js';

const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
const TOKEN = 'emulator-test-token-0001';
const SETTINGS = `/accounts/${ACCOUNT}/email-security/settings`;

let emu: CloudflareEmulator;
const agent = new Agent({ connections: 4 });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: {
    success: boolean;
    result: unknown;
    result_info?: Record<string, number>;
    errors: { code: number; message: string }[];
  };
}

async function call(method: string, path: string, body?: unknown, token = TOKEN): Promise<Reply> {
  const res = await request(`${emu.url}${path}`, {
    method: method as 'GET',
    dispatcher: agent,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: (await res.body.json()) as Reply['body'],
  };
}

const sender = (pattern: string, type = 'DOMAIN'): Record<string, unknown> => ({
  pattern,
  pattern_type: type,
  is_regex: false,
  comments: 'test',
});

beforeAll(async () => {
  emu = await startCloudflareEmulator();
});
afterAll(async () => {
  await emu.close();
  await agent.close();
});
afterEach(() => {
  // Tests that send malformed requests on purpose empty this themselves.
  expect(emu.violations).toEqual([]);
});

describe('cloudflare emulator', () => {
  it('creates with 201, reads, patches and deletes with the v4 envelope', async () => {
    emu.addAccount(ACCOUNT, TOKEN);
    const created = await call('POST', `${SETTINGS}/block_senders`, sender('phish.example'));
    expect(created.status).toBe(201);
    const obj = created.body.result as Record<string, unknown>;
    expect(obj['id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(obj['last_modified']).toBe(obj['modified_at']);
    const id = String(obj['id']);
    expect((await call('GET', `${SETTINGS}/block_senders/${id}`)).status).toBe(200);
    const patched = await call('PATCH', `${SETTINGS}/block_senders/${id}`, { comments: 'new' });
    expect((patched.body.result as Record<string, unknown>)['comments']).toBe('new');
    const deleted = await call('DELETE', `${SETTINGS}/block_senders/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.result).toEqual({ id });
    const gone = await call('GET', `${SETTINGS}/block_senders/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.success).toBe(false);
    expect(gone.body.errors[0]?.code).toBeGreaterThanOrEqual(1000);
  });

  it("answers a route Cloudflare's SDK lacks (single-item PUT) as Cloudflare answers an unroutable request", async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    const [obj] = acct.seed('block_senders', [sender('phish.example')]);
    const id = String(obj?.['id']);
    for (const resource of ['block_senders', 'allow_policies', 'trusted_domains']) {
      const put = await call('PUT', `${SETTINGS}/${resource}/${id}`, sender('phish.example'));
      expect(put.status).toBe(404);
      expect(put.body).toEqual({
        success: false,
        errors: [
          {
            code: 7003,
            message: `Could not route to /client/v4${SETTINGS}/${resource}/${id}, perhaps your object identifier is invalid?`,
          },
          { code: 7000, message: 'No route for that URI' },
        ],
        messages: [],
        result: null,
      });
    }
    // Nothing was looked up or changed; a missing object is another answer.
    expect(acct.list('block_senders')[0]?.['comments']).toBe('test');
    const missing = await call(
      'PATCH',
      `${SETTINGS}/block_senders/00000000-0000-4000-8000-000000000000`,
      {
        comments: 'x',
      },
    );
    expect(missing.status).toBe(404);
    expect(missing.body.errors.map((e) => e.code)).not.toContain(7003);
    // The domains PUT is in the SDK (domains.update), so it is routed.
    expect((await call('PUT', `${SETTINGS}/domains/${id}`, {})).body.errors[0]?.code).not.toBe(
      7003,
    );
    emu.violations.length = 0; // the empty domains PUT body is refused on purpose
  });

  it("routes the OpenAPI file's single-item PUT when asked to (routes: openapi), replacing what it omits", async () => {
    const wide = await startCloudflareEmulator({ routes: 'openapi' });
    try {
      const [obj] = wide.addAccount(ACCOUNT, TOKEN).seed('block_senders', [sender('a.example')]);
      const res = await request(`${wide.url}${SETTINGS}/block_senders/${String(obj?.['id'])}`, {
        method: 'PUT',
        dispatcher: agent,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pattern: 'a.example', pattern_type: 'DOMAIN', is_regex: false }),
      });
      expect(res.statusCode).toBe(200);
      const body = (await res.body.json()) as { result: Record<string, unknown> };
      expect(body.result['comments']).toBeNull();
      expect(wide.violations).toEqual([]);
    } finally {
      await wide.close();
    }
  });

  it('paginates with result_info and returns result [] past the last page', async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    acct.seed(
      'block_senders',
      Array.from({ length: 5 }, (_, i) => sender(`p${i}.example`)),
    );
    const p1 = await call('GET', `${SETTINGS}/block_senders?page=1&per_page=2`);
    expect(p1.body.result_info).toEqual({ count: 2, page: 1, per_page: 2, total_count: 5 });
    const p3 = await call('GET', `${SETTINGS}/block_senders?page=3&per_page=2`);
    expect((p3.body.result as unknown[]).length).toBe(1);
    const p4 = await call('GET', `${SETTINGS}/block_senders?page=4&per_page=2`);
    expect(p4.body.result).toEqual([]);
    expect(p4.body.result_info?.['total_count']).toBe(5);
  });

  it('filters lists by exact pattern, type and flags', async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    acct.seed('block_senders', [
      sender('a.example'),
      sender('x@b.example', 'EMAIL'),
      sender('203.0.113.9', 'IP'),
    ]);
    const byType = await call('GET', `${SETTINGS}/block_senders?pattern_type=EMAIL`);
    expect((byType.body.result as { pattern: string }[]).map((o) => o.pattern)).toEqual([
      'x@b.example',
    ]);
    const byPattern = await call('GET', `${SETTINGS}/block_senders?pattern=a.example`);
    expect((byPattern.body.result as unknown[]).length).toBe(1);
    acct.seed('allow_policies', [
      {
        ...sender('ok.example'),
        is_exempt_recipient: false,
        is_trusted_sender: true,
        is_acceptable_sender: false,
        verify_sender: true,
      },
      {
        ...sender('fine.example'),
        is_exempt_recipient: false,
        is_trusted_sender: false,
        is_acceptable_sender: true,
        verify_sender: true,
      },
    ]);
    const trusted = await call('GET', `${SETTINGS}/allow_policies?is_trusted_sender=true`);
    expect((trusted.body.result as { pattern: string }[]).map((o) => o.pattern)).toEqual([
      'ok.example',
    ]);
  });

  it('runs a batch atomically in order, and rolls all of it back on one error', async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    const [a, b] = acct.seed('block_senders', [sender('a.example'), sender('b.example')]);
    const ok = await call('POST', `${SETTINGS}/block_senders/batch`, {
      deletes: [{ id: a?.['id'] }],
      patches: [{ id: b?.['id'], comments: 'patched' }],
      puts: [],
      posts: [sender('c.example')],
    });
    expect(ok.status).toBe(200);
    const result = ok.body.result as Record<string, unknown[]>;
    expect(result['deletes']).toEqual([{ id: a?.['id'] }]);
    expect(result['posts']).toHaveLength(1);
    expect(acct.list('block_senders').map((o) => o['pattern'])).toEqual(['b.example', 'c.example']);

    const bad = await call('POST', `${SETTINGS}/block_senders/batch`, {
      deletes: [{ id: b?.['id'] }],
      patches: [],
      puts: [],
      posts: [sender('d.example'), sender('10.0.0.1', 'IP')],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]?.message).toMatch(/private/);
    expect(acct.list('block_senders').map((o) => o['pattern'])).toEqual(['b.example', 'c.example']);
  });

  it('refuses requests that break the contract and records them', async () => {
    emu.addAccount(ACCOUNT, TOKEN);
    const tooBig = await call('GET', `${SETTINGS}/block_senders?per_page=1001`);
    expect(tooBig.status).toBe(400);
    const missing = await call('POST', `${SETTINGS}/allow_policies`, sender('x.example'));
    expect(missing.status).toBe(400);
    const unknownType = await call(
      'POST',
      `${SETTINGS}/block_senders`,
      sender('x.example', 'UNKNOWN'),
    );
    expect(unknownType.status).toBe(400);
    expect(emu.violations).toHaveLength(2);
    expect(emu.violations[0]).toMatch(/per_page/);
    emu.violations.length = 0;
  });

  it('needs the account token', async () => {
    emu.addAccount(ACCOUNT, TOKEN);
    const denied = await call('GET', `${SETTINGS}/block_senders`, undefined, 'wrong-token');
    expect(denied.status).toBe(403);
    expect(denied.body.errors[0]?.code).toBe(10000);
    const badAccount = await call('GET', '/accounts/nothex/email-security/settings/block_senders');
    expect(badAccount.status).toBe(400);
  });

  it('updates domains but keeps the domain name immutable', async () => {
    const acct = emu.addAccount(ACCOUNT, TOKEN);
    const [d] = acct.seed('domains', [
      {
        domain: 'acme.example',
        allowed_delivery_modes: ['DIRECT'],
        drop_dispositions: [],
        ip_restrictions: [],
        regions: ['GLOBAL'],
        transport: 'mx.acme.example',
      },
    ]);
    const res = await call('PATCH', `${SETTINGS}/domains/${String(d?.['id'])}`, {
      transport: 'mx2.acme.example',
      require_tls_inbound: true,
    });
    expect(res.status).toBe(200);
    expect(res.body.result).toMatchObject({
      domain: 'acme.example',
      transport: 'mx2.acme.example',
      require_tls_inbound: true,
    });
  });

  it('counts requests and injects faults', async () => {
    emu.addAccount(ACCOUNT, TOKEN);
    emu.resetStats();
    emu.inject({ method: 'GET', fault: 'status-500' });
    expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(500);
    expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(200);
    emu.inject({ method: 'GET', fault: 'reset' });
    await expect(call('GET', `${SETTINGS}/domains`)).rejects.toThrow();
    expect(emu.stats.requests).toBe(3);
    expect(emu.stats.byOperation['email_security_list_domains']).toBe(3);
    expect(emu.stats.faults).toBe(2);
  });
});

describe('cloudflare emulator rate limiting', () => {
  it('answers 429 with Retry-After and Ratelimit headers when the budget is spent', async () => {
    let now = 1_000_000;
    const limited = await startCloudflareEmulator({
      rateLimit: { requests: 2, windowMs: 10_000 },
      blockMs: 0,
      now: () => now,
    });
    limited.addAccount(ACCOUNT, TOKEN);
    const prev = emu;
    emu = limited;
    try {
      const first = await call('GET', `${SETTINGS}/domains`);
      expect(first.headers['ratelimit']).toBe('"default";r=1;t=5');
      expect(first.headers['ratelimit-policy']).toBe('"default";q=2;w=10');
      await call('GET', `${SETTINGS}/domains`);
      const third = await call('GET', `${SETTINGS}/domains`);
      expect(third.status).toBe(429);
      expect(third.headers['retry-after']).toBe('5');
      now += 5_000;
      expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(200);
      expect(limited.violations).toEqual([]);
    } finally {
      emu = prev;
      await limited.close();
    }
  });

  it('blocks every request of a token for 5 minutes once its budget is exceeded', async () => {
    let now = 1_000_000;
    const limited = await startCloudflareEmulator({
      rateLimit: { requests: 2, windowMs: 10_000 },
      now: () => now,
    });
    limited.addAccount(ACCOUNT, TOKEN);
    const prev = emu;
    emu = limited;
    try {
      await call('GET', `${SETTINGS}/domains`);
      await call('GET', `${SETTINGS}/domains`);
      const over = await call('GET', `${SETTINGS}/domains`);
      expect(over.status).toBe(429);
      expect(over.headers['retry-after']).toBe('300');
      // The budget would have refilled after 10 s; the block holds for the whole 5 minutes.
      now += 60_000;
      const still = await call('GET', `${SETTINGS}/domains`);
      expect(still.status).toBe(429);
      expect(still.headers['retry-after']).toBe('240');
      now += 240_000;
      expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(200);
      expect(limited.stats.blocked).toBe(2);
      expect(limited.violations).toEqual([]);
    } finally {
      emu = prev;
      await limited.close();
    }
  });

  it('gives each token its own budget; accounts sharing a token share it', async () => {
    const ACCOUNT2 = 'aaaabbbbccccddddeeeeffff00001111';
    const ACCOUNT3 = 'aaaabbbbccccddddeeeeffff00002222';
    const limited = await startCloudflareEmulator({ rateLimit: { requests: 1, windowMs: 60_000 } });
    limited.addAccount(ACCOUNT, TOKEN, { rateLimit: { requests: 3, windowMs: 60_000 } });
    limited.addAccount(ACCOUNT2, 'second-token');
    limited.addAccount(ACCOUNT3, 'second-token');
    const prev = emu;
    emu = limited;
    const path2 = (a: string): string => `/accounts/${a}/email-security/settings/domains`;
    try {
      const own = await call('GET', `${SETTINGS}/domains`);
      expect(own.headers['ratelimit-policy']).toBe('"default";q=3;w=60');
      expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(200);
      expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(200);
      expect((await call('GET', path2(ACCOUNT2), undefined, 'second-token')).status).toBe(200);
      // The second token's one request per minute is spent, whichever account it reaches.
      expect((await call('GET', path2(ACCOUNT3), undefined, 'second-token')).status).toBe(429);
      expect((await call('GET', `${SETTINGS}/domains`)).status).toBe(429);
      expect(limited.violations).toEqual([]);
    } finally {
      emu = prev;
      await limited.close();
    }
  });
});

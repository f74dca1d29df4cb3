import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMsGraphEmulator, type MsGraphEmulator, type TenantState } from './emulator.js';

const TENANT = 'contoso-tenant';
const CLIENT = 'app-1';
const SECRET = 'not-a-real-secret';
const CASE = 'case-1';

type Json = Record<string, unknown>;

describe('Microsoft Graph emulator', () => {
  let emu: MsGraphEmulator;
  let tenant: TenantState;
  let token = '';

  const getToken = async (secret = SECRET, tenantId = TENANT): Promise<Response> =>
    fetch(`${emu.authorityUrl}/${tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: CLIENT,
        client_secret: secret,
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
  const graph = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json; headers: Headers }> => {
    const res = await fetch(path.startsWith('http') ? path : `${emu.graphUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: text === '' ? {} : (JSON.parse(text) as Json),
      headers: res.headers,
    };
  };
  const holds = `/security/cases/ediscoveryCases/${CASE}/legalHolds`;

  beforeAll(async () => {
    emu = await startMsGraphEmulator({ settleMs: 40, sourceLimit: 5, defaultPageSize: 3 });
    tenant = emu.addTenant(TENANT);
    tenant.addApp(CLIENT, SECRET);
    tenant.addCase({ id: CASE, displayName: 'Matter A' });
    tenant.addCase({ id: 'closed', displayName: 'Old', status: 'closed' });
    tenant.addUsers([
      { mail: 'ann@contoso.example', displayName: 'Ann' },
      { mail: 'bob@contoso.example', displayName: 'Bob' },
      { mail: null, displayName: 'Room 1' },
      { mail: 'cid@contoso.example', accountEnabled: false },
      ...Array.from({ length: 6 }, (_, i) => ({ mail: `u${i}@contoso.example` })),
    ]);
    const res = await getToken();
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body['token_type']).toBe('Bearer');
    expect(body['expires_in']).toBe(3599);
    token = String(body['access_token']);
  });
  afterEach(() => {
    expect(emu.violations).toEqual([]);
    emu.clearFaults();
  });
  afterAll(async () => {
    await emu.close();
  });

  it('issues tokens only for a known tenant, app and secret, and rejects other grants', async () => {
    expect((await getToken('wrong')).status).toBe(401);
    expect((await getToken(SECRET, 'nobody')).status).toBe(400);
    const bad = await fetch(`${emu.authorityUrl}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: CLIENT,
        client_secret: SECRET,
        scope: 'x',
      }),
    });
    expect(bad.status).toBe(400);
    expect(emu.violations.splice(0)).toHaveLength(1);
  });

  it('answers 401 without a token, and after the token expired', async () => {
    const saved = token;
    token = 'forged';
    expect((await graph('GET', '/users')).status).toBe(401);
    token = saved;
    const res = await getToken();
    token = String(((await res.json()) as Json)['access_token']);
    emu.expireTokens();
    const expired = await graph('GET', '/users');
    expect(expired.status).toBe(401);
    expect((expired.json['error'] as Json)['code']).toBe('InvalidAuthenticationToken');
    token = String(((await (await getToken()).json()) as Json)['access_token']);
  });

  it('pages users with $select, $top and absolute @odata.nextLink, returning only selected fields', async () => {
    const seen: Json[] = [];
    let next: string | undefined = '/users?$select=id,mail,accountEnabled&$top=4';
    let pages = 0;
    while (next !== undefined) {
      const r = await graph('GET', next);
      expect(r.status).toBe(200);
      seen.push(...(r.json['value'] as Json[]));
      next = r.json['@odata.nextLink'] as string | undefined;
      if (next !== undefined) expect(next.startsWith(`${emu.graphUrl}/users?`)).toBe(true);
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toHaveLength(10);
    expect(Object.keys(seen[0] ?? {}).sort()).toEqual(['accountEnabled', 'id', 'mail']);
    expect(seen.filter((u) => u['mail'] === null)).toHaveLength(1);
    expect(seen.filter((u) => u['accountEnabled'] === false)).toHaveLength(1);
  });

  it('refuses $top above 999 and unknown query options as contract violations', async () => {
    expect((await graph('GET', '/users?$top=1000')).status).toBe(400);
    expect((await graph('GET', '/users?$filter=x')).status).toBe(400);
    expect(emu.violations.splice(0)).toHaveLength(2);
  });

  it('reads cases, including closed ones, and 404s an unknown case', async () => {
    expect((await graph('GET', `/security/cases/ediscoveryCases/${CASE}`)).json['status']).toBe(
      'active',
    );
    expect((await graph('GET', '/security/cases/ediscoveryCases/closed')).json['status']).toBe(
      'closed',
    );
    const missing = await graph('GET', '/security/cases/ediscoveryCases/nope');
    expect(missing.status).toBe(404);
    expect((missing.json['error'] as Json)['code']).toBe('NotFound');
    const closed = await graph('POST', '/security/cases/ediscoveryCases/closed/legalHolds', {
      displayName: 'x',
    });
    expect(closed.status).toBe(400);
  });

  it('creates a hold (201, pending), which settles to success; PATCH and DELETE answer 204', async () => {
    const created = await graph('POST', holds, {
      displayName: 'LH-1',
      description: 'managed',
      'userSources@odata.bind': [
        { '@odata.type': 'microsoft.graph.security.userSource', email: 'ann@contoso.example' },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.json['status']).toBe('pending');
    const id = String(created.json['id']);
    expect((await graph('POST', holds, { displayName: 'LH-1' })).status).toBe(400); // same name
    await new Promise((r) => setTimeout(r, 60));
    expect((await graph('GET', `${holds}/${id}`)).json['status']).toBe('success');
    const sources = await graph('GET', `${holds}/${id}/userSources`);
    expect((sources.json['value'] as Json[]).map((s) => [s['email'], s['holdStatus']])).toEqual([
      ['ann@contoso.example', 'applied'],
    ]);
    const patched = await graph('PATCH', `${holds}/${id}`, { description: 'changed' });
    expect(patched.status).toBe(204);
    expect((await graph('GET', `${holds}/${id}`)).json['status']).toBe('pending');
    expect((await graph('PATCH', `${holds}/${id}`, { displayName: 'renamed' })).status).toBe(400);
    expect(emu.violations.splice(0)).toHaveLength(1);
    expect((await graph('DELETE', `${holds}/${id}`)).status).toBe(204);
    expect((await graph('GET', `${holds}/${id}`)).status).toBe(404);
  });

  it('adds and removes userSources, refuses duplicates, unknown mailboxes and more than the limit', async () => {
    const id = String((await graph('POST', holds, { displayName: 'LH-2' })).json['id']);
    const add = (email: string): Promise<{ status: number; json: Json }> =>
      graph('POST', `${holds}/${id}/userSources`, { email, includedSources: 'mailbox' });
    const first = await add('ann@contoso.example');
    expect(first.status).toBe(201);
    expect(first.json['holdStatus']).toBe('applying');
    expect((await add('ANN@contoso.example')).status).toBe(400);
    expect((await add('ghost@contoso.example')).status).toBe(400);
    for (const e of ['u0', 'u1', 'u2', 'u3'])
      expect((await add(`${e}@contoso.example`)).status).toBe(201);
    const over = await add('u4@contoso.example');
    expect(over.status).toBe(400);
    expect(String((over.json['error'] as Json)['message'])).toMatch(/limit of 5 sources/);
    const list = await graph('GET', `${holds}/${id}/userSources?$top=2`);
    expect(list.json['@odata.nextLink']).toBeDefined();
    expect(
      (await graph('DELETE', `${holds}/${id}/userSources/${String(first.json['id'])}`)).status,
    ).toBe(204);
    expect(tenant.holds(CASE).find((h) => h.id === id)?.sources).toHaveLength(4);
  });

  it('settles to error when told, and retryPolicy takes the hold back to pending then success', async () => {
    tenant.failSettle('LH-3');
    const id = String((await graph('POST', holds, { displayName: 'LH-3' })).json['id']);
    expect((await graph('POST', `${holds}/${id}/retryPolicy`)).status).toBe(400); // still pending
    tenant.settleAll();
    const failed = await graph('GET', `${holds}/${id}`);
    expect(failed.json['status']).toBe('error');
    expect(failed.json['errors']).toHaveLength(1);
    expect((await graph('POST', `${holds}/${id}/retryPolicy`)).status).toBe(204);
    expect((await graph('GET', `${holds}/${id}`)).json['status']).toBe('pending');
    tenant.settleAll();
    expect((await graph('GET', `${holds}/${id}`)).json['status']).toBe('success');
  });

  it('runs $batch (at most 20), validates inner requests and answers inner 429s with Retry-After', async () => {
    const id = String((await graph('POST', holds, { displayName: 'LH-4' })).json['id']);
    emu.inject({ inner: true, path: /userSources$/, fault: 'status-429', retryAfterS: 2 });
    const requests = ['ann', 'bob', 'u5'].map((u, i) => ({
      id: String(i + 1),
      method: 'POST',
      url: `${holds.replace(/^/, '')}/${id}/userSources`,
      headers: { 'Content-Type': 'application/json' },
      body: { email: `${u}@contoso.example`, includedSources: 'mailbox' },
    }));
    const before = emu.stats.innerRequests;
    const r = await graph('POST', '/$batch', { requests });
    expect(r.status).toBe(200);
    const byId = new Map((r.json['responses'] as Json[]).map((x) => [x['id'], x]));
    expect([...byId.keys()].sort()).toEqual(['1', '2', '3']);
    expect(byId.get('1')?.['status']).toBe(429);
    expect((byId.get('1')?.['headers'] as Json)['Retry-After']).toBe('2');
    expect(byId.get('2')?.['status']).toBe(201);
    expect(emu.stats.innerRequests - before).toBe(3);
    const tooMany = Array.from({ length: 21 }, (_, i) => ({
      id: String(i),
      method: 'GET',
      url: '/users',
    }));
    expect((await graph('POST', '/$batch', { requests: tooMany })).status).toBe(400);
    const badInner = await graph('POST', '/$batch', {
      requests: [
        {
          id: '1',
          method: 'POST',
          url: `${holds}/${id}/userSources`,
          headers: { 'content-type': 'application/json' },
          body: { mail: 'x' },
        },
      ],
    });
    expect((badInner.json['responses'] as Json[])[0]?.['status']).toBe(400);
    expect(emu.violations.splice(0)).toHaveLength(2);
  });

  it('injects 429 with Retry-After, 5xx, and lost responses after the work was done; counts requests', async () => {
    emu.inject({ method: 'GET', path: /^\/users$/, fault: 'status-429', retryAfterS: 3 });
    const throttled = await graph('GET', '/users');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('3');
    emu.inject({ method: 'GET', path: /^\/users$/, fault: 'status-503' });
    expect((await graph('GET', '/users')).status).toBe(503);
    emu.inject({ method: 'POST', path: /legalHolds$/, fault: 'reset-after' });
    await expect(graph('POST', holds, { displayName: 'LH-lost' })).rejects.toThrow();
    expect(tenant.holds(CASE).map((h) => h.displayName)).toContain('LH-lost');
    expect(emu.stats.byOperation['legalHolds.create']).toBeGreaterThan(0);
    expect(emu.stats.byStatus['429']).toBeGreaterThan(0);
    expect(emu.stats.faults).toBeGreaterThanOrEqual(3);
  });

  it('refuses writes to an app granted only eDiscovery.Read.All, and users to one without User.Read.All', async () => {
    tenant.addApp('reader', 'r-secret', ['eDiscovery.Read.All']);
    const res = await fetch(`${emu.authorityUrl}/${TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'reader',
        client_secret: 'r-secret',
        scope: 'https://graph.microsoft.com/.default',
      }),
    });
    const saved = token;
    token = String(((await res.json()) as Json)['access_token']);
    expect((await graph('GET', holds)).status).toBe(200);
    expect((await graph('POST', holds, { displayName: 'LH-no' })).status).toBe(403);
    expect((await graph('GET', '/users')).status).toBe(403);
    token = saved;
  });
});

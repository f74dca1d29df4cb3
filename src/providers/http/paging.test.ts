import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../provider.js';
import { createHttpClient } from './client.js';
import { createVirtualClock } from './clock.js';
import { HttpError } from './errors.js';
import { listByCursor, listByNextLink, listByPageNumber, type CursorPage } from './paging.js';

const agents: MockAgent[] = [];
afterEach(async () => {
  while (agents.length > 0) await agents.pop()?.close();
});

function mockAgent(): MockAgent {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  return agent;
}

const items = (from: number, n: number): { id: string }[] =>
  Array.from({ length: n }, (_, i) => ({ id: `e${from + i}` }));

describe('page-number paging', () => {
  it('reads page 1, then the rest concurrently, and checks the total', async () => {
    const asked: number[] = [];
    let inFlight = 0;
    let most = 0;
    const all = await listByPageNumber({
      what: '/things',
      pageSize: 10,
      concurrency: 3,
      fetch: async (n) => {
        asked.push(n);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return { items: items((n - 1) * 10, n === 7 ? 5 : 10), total: 65 };
      },
    });
    expect(all).toHaveLength(65);
    expect(new Set(all.map((x) => x.id)).size).toBe(65);
    expect(asked.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('without a total, reads until an empty page (a short page may be a capped page size)', async () => {
    const asked: number[] = [];
    const all = await listByPageNumber({
      what: '/things',
      pageSize: 100,
      fetch: (n) => {
        asked.push(n);
        return Promise.resolve({ items: n <= 2 ? items(n * 10, 10) : [] });
      },
    });
    expect(all).toHaveLength(20);
    expect(asked).toEqual([1, 2, 3]);
  });

  it('reads once more when the pages do not add up, then throws rather than return part', async () => {
    let reads = 0;
    const err = await listByPageNumber({
      what: '/things',
      pageSize: 10,
      fetch: (n) => {
        if (n === 1) reads++;
        // Page 3 comes back empty: an entry was deleted while we paged, every time.
        return Promise.resolve({ items: n === 3 ? [] : items((n - 1) * 10, 10), total: 25 });
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE', retryable: true });
    expect((err as Error).message).toMatch(/incomplete listing: expected 25 entries, got 20/);
    expect(reads).toBe(2);
  });

  it('a failing page fails the listing', async () => {
    await expect(
      listByPageNumber({
        what: '/things',
        pageSize: 10,
        fetch: (n) =>
          n === 2
            ? Promise.reject(new Error('HTTP 500'))
            : Promise.resolve({ items: items(0, 10), total: 30 }),
      }),
    ).rejects.toThrow('HTTP 500');
  });
});

describe('cursor paging', () => {
  const pages: Record<string, CursorPage<{ id: string }>> = {
    first: { items: items(0, 2), next: 'c2' },
    c2: { items: items(2, 2), next: 'c3' },
    c3: { items: items(4, 1) },
  };

  it('follows the cursor until a page has none', async () => {
    const asked: (string | undefined)[] = [];
    const all = await listByCursor({
      what: '/api/list',
      fetch: (c) => {
        asked.push(c);
        return Promise.resolve(pages[c ?? 'first'] ?? { items: [] });
      },
    });
    expect(all.map((x) => x.id)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    expect(asked).toEqual([undefined, 'c2', 'c3']);
  });

  it('throws on a repeated cursor, a total that does not match, or an error part-way', async () => {
    await expect(
      listByCursor({
        what: '/api/list',
        fetch: (c) => Promise.resolve({ items: items(0, 1), next: c === undefined ? 'a' : 'b' }),
        maxPages: 50,
      }),
    ).rejects.toThrow(/page 3 repeats an earlier cursor/);
    await expect(
      listByCursor({
        what: '/api/list',
        fetch: (c) => Promise.resolve({ ...(pages[c ?? 'first'] ?? { items: [] }), total: 6 }),
      }),
    ).rejects.toThrow(/expected 6 entries, got 5/);
    await expect(
      listByCursor({
        what: '/api/list',
        fetch: (c) =>
          c === 'c3'
            ? Promise.reject(new Error('reset'))
            : Promise.resolve(pages[c ?? 'first'] ?? { items: [] }),
      }),
    ).rejects.toThrow('reset');
    let n = 0;
    await expect(
      listByCursor({
        what: '/api/list',
        maxPages: 10,
        fetch: () => Promise.resolve({ items: [], next: `c${++n}` }),
      }),
    ).rejects.toThrow(/more than 10 pages/);
  });

  it('carries the cursor in a POST body (Mimecast meta.pagination), retried as a read', async () => {
    const agent = mockAgent();
    const pool = agent.get('https://api.services.mimecast.com');
    const seen: unknown[] = [];
    const reply = (next?: string) => ({
      meta: { status: 200, pagination: { pageSize: 2, ...(next ? { next } : {}) } },
      data: items(seen.length * 2, 2),
      fail: [],
    });
    pool
      .intercept({ path: '/api/policy/blockedsenders/get-policy', method: 'POST' })
      .reply(503, {});
    pool
      .intercept({ path: '/api/policy/blockedsenders/get-policy', method: 'POST' })
      .reply(200, (opts) => {
        seen.push(JSON.parse(opts.body as string));
        return reply('tokenB');
      })
      .times(1);
    pool
      .intercept({ path: '/api/policy/blockedsenders/get-policy', method: 'POST' })
      .reply(200, (opts) => {
        seen.push(JSON.parse(opts.body as string));
        return reply();
      });
    const http = createHttpClient({
      baseUrl: 'https://api.services.mimecast.com',
      dispatcher: agent,
      clock: createVirtualClock(),
      logger: silentLogger,
      random: () => 0.5,
    });
    const all = await listByCursor({
      what: '/api/policy/blockedsenders/get-policy',
      fetch: async (cursor, signal) => {
        const res = await http.request({
          method: 'POST',
          path: '/api/policy/blockedsenders/get-policy',
          idempotent: true, // a read, though sent as POST
          body: {
            meta: { pagination: { pageSize: 2, ...(cursor ? { pageToken: cursor } : {}) } },
            data: [],
          },
          ...(signal ? { signal } : {}),
        });
        const body = res.body as {
          data: { id: string }[];
          meta: { pagination: { next?: string } };
        };
        return { items: body.data, next: body.meta.pagination.next };
      },
    });
    expect(all).toHaveLength(4);
    expect(seen).toEqual([
      { meta: { pagination: { pageSize: 2 } }, data: [] },
      { meta: { pagination: { pageSize: 2, pageToken: 'tokenB' } }, data: [] },
    ]);
  });
});

describe('next-link paging', () => {
  const base = 'https://graph.microsoft.com/v1.0';

  function graph(agent: MockAgent) {
    return createHttpClient({
      baseUrl: base,
      dispatcher: agent,
      clock: createVirtualClock(),
      logger: silentLogger,
      headers: { authorization: 'Bearer graph-token-123456' },
    });
  }

  const parse = (body: unknown): CursorPage<{ id: string }> => {
    const b = body as { value: { id: string }[]; '@odata.nextLink'?: string };
    return { items: b.value, next: b['@odata.nextLink'] };
  };

  it('follows absolute @odata.nextLink on the same origin', async () => {
    const agent = mockAgent();
    const pool = agent.get('https://graph.microsoft.com');
    pool
      .intercept({ path: '/v1.0/security/cases/ediscoveryCases/c1/legalHolds?%24top=2' })
      .reply(200, {
        value: items(0, 2),
        '@odata.nextLink': `${base}/security/cases/ediscoveryCases/c1/legalHolds?$top=2&$skiptoken=X%2B1`,
      });
    pool
      .intercept({
        path: '/v1.0/security/cases/ediscoveryCases/c1/legalHolds?$top=2&$skiptoken=X%2B1',
      })
      .reply(200, {
        value: items(2, 1),
      });
    const all = await listByNextLink(graph(agent), {
      first: {
        method: 'GET',
        path: '/security/cases/ediscoveryCases/c1/legalHolds',
        query: { $top: 2 },
      },
      parse,
    });
    expect(all.map((x) => x.id)).toEqual(['e0', 'e1', 'e2']);
  });

  it('refuses a next link to another origin without sending anything there', async () => {
    const agent = mockAgent();
    const pool = agent.get('https://graph.microsoft.com');
    let stolen = 0;
    agent
      .get('https://evil.example')
      .intercept({ path: () => true })
      .reply(200, () => {
        stolen++;
        return { value: [] };
      });
    pool.intercept({ path: '/v1.0/things' }).reply(200, {
      value: items(0, 2),
      '@odata.nextLink': 'https://evil.example/v1.0/things?$skiptoken=1',
    });
    const err = await listByNextLink(graph(agent), {
      first: { method: 'GET', path: '/things' },
      parse,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect((err as Error).message).toMatch(/another origin \(https:\/\/evil\.example\) refused/);
    expect(stolen).toBe(0);
    // http: on the same host is another origin too.
    pool.intercept({ path: '/v1.0/things' }).reply(200, {
      value: [],
      '@odata.nextLink': 'http://graph.microsoft.com/v1.0/things?$skiptoken=1',
    });
    await expect(
      listByNextLink(graph(agent), { first: { method: 'GET', path: '/things' }, parse }),
    ).rejects.toMatchObject({ code: 'INVALID_RESPONSE' });
  });
});

/**
 * The HTTP platform as a vendor provider composes it, against vendor-shaped servers on
 * 127.0.0.1: a Mimecast-like API (OAuth client credentials, POST envelopes with `fail[]`
 * inside HTTP 200, `pageToken` paging in the body, 429 with X-RateLimit-Reset in ms, 418 for
 * expired credentials) and a Graph-like `$batch` (inner 429s with Retry-After seconds).
 * Only the shared layer is under test here: auth + paging + item outcomes + converge.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Change } from '../../src/plan/types.js';
import {
  converge,
  outcomeOfItem,
  type Write,
  type WriteOutcome,
} from '../../src/providers/converge.js';
import {
  createHttpClient,
  createHttpDispatcher,
  createTokenCache,
  createVirtualClock,
  itemFailed,
  itemOk,
  listByCursor,
  outcomesByIndex,
  resetHeaderMs,
  retryAfterHeader,
  type HttpClient,
  type ItemFailed,
} from '../../src/providers/http/index.js';
import type { LiveEntry } from '../../src/providers/provider.js';
import { recordingLogger } from '../support/tenants.js';

const SECRET = 'mc-client-secret-9f8e7d6c';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

async function serve(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handler(req, res, Buffer.concat(chunks).toString());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const send = (res: ServerResponse, status: number, body: unknown, headers = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

interface Policy {
  id: string;
  sender: string;
}

/** A Mimecast-shaped blocked-senders API. */
function mimecast() {
  const state = {
    policies: [] as Policy[],
    tokens: new Set<string>(),
    tokenFetches: 0,
    creates: 0,
    /** Faults to serve on the next create calls, in order. */
    createFaults: [] as ('429' | 'reset-after-apply' | '418')[],
    seq: 0,
  };
  const handler: Handler = (req, res, body) => {
    const headers = {
      'x-ratelimit-limit': '100',
      'x-ratelimit-remaining': '99',
      'x-ratelimit-reset': '20',
    };
    if (req.url === '/oauth/token') {
      const form = new URLSearchParams(body);
      if (form.get('client_secret') !== SECRET) {
        send(res, 401, { error: 'invalid_client', error_description: 'bad credentials' });
        return;
      }
      state.tokenFetches++;
      const token = `mc-token-${state.tokenFetches}-abcdefgh`;
      state.tokens.add(token);
      send(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 1800 });
      return;
    }
    const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
    if (!state.tokens.has(token)) {
      send(
        res,
        418,
        {
          meta: { status: 418 },
          data: [],
          fail: [
            {
              errors: [
                { code: 'err_xdk_binding_expired', message: 'binding expired', retryable: false },
              ],
            },
          ],
        },
        headers,
      );
      return;
    }
    const request = JSON.parse(body) as {
      meta?: { pagination?: { pageSize: number; pageToken?: string } };
      data: { sender: string }[];
    };
    if (req.url === '/api/policy/blockedsenders/get-policy') {
      const size = request.meta?.pagination?.pageSize ?? 100;
      const from = Number(request.meta?.pagination?.pageToken ?? '0');
      const page = state.policies.slice(from, from + size);
      const next = from + size < state.policies.length ? String(from + size) : undefined;
      send(
        res,
        200,
        {
          meta: { status: 200, pagination: { pageSize: size, ...(next ? { next } : {}) } },
          data: page,
          fail: [],
        },
        headers,
      );
      return;
    }
    if (req.url === '/api/policy/blockedsenders/create-policy') {
      state.creates++;
      const fault = state.createFaults.shift();
      if (fault === '429') {
        send(
          res,
          429,
          { meta: { status: 429 }, data: [], fail: [] },
          { ...headers, 'x-ratelimit-reset': '1500' },
        );
        return;
      }
      if (fault === '418') {
        state.tokens.clear(); // the token was revoked on the vendor side
        send(res, 418, { meta: { status: 418 }, data: [], fail: [] }, headers);
        return;
      }
      const data: Policy[] = [];
      const fail: {
        key: { sender: string };
        errors: { code: string; message: string; retryable: boolean }[];
      }[] = [];
      for (const item of request.data) {
        if (item.sender.startsWith('invalid')) {
          fail.push({
            key: item,
            errors: [
              {
                code: 'err_validation_invalid_sender',
                message: `${item.sender} is not an address or domain`,
                retryable: false,
              },
            ],
          });
          continue;
        }
        const p = { id: `mc-${++state.seq}`, sender: item.sender };
        state.policies.push(p);
        data.push(p);
      }
      if (fault === 'reset-after-apply') {
        req.socket.destroy();
        return;
      }
      send(res, 200, { meta: { status: 200 }, data, fail }, headers);
      return;
    }
    send(res, 404, { meta: { status: 404 }, data: [], fail: [] });
  };
  return { state, handler };
}

function create(key: string): Change {
  return {
    tenant: 't',
    kind: 'blockedSenders',
    key,
    action: 'create',
    cause: 'desired',
    after: { sender: key, reason: 'r' },
    patch: [],
  };
}

interface McWrite extends Write {
  sender: string;
}

/** What a Mimecast provider would write with the layer. */
function mimecastClient(base: string, tokens = createTokenCache()) {
  const dispatcher = createHttpDispatcher({ connections: 4 });
  cleanups.push(() => dispatcher.destroy());
  const clock = createVirtualClock();
  const logger = recordingLogger();
  const http: HttpClient = createHttpClient({
    baseUrl: base,
    dispatcher,
    clock,
    logger,
    auth: tokens.clientCredentials({
      tokenUrl: `${base}/oauth/token`,
      clientId: 'mc-app',
      clientSecret: SECRET,
      dispatcher,
      clock,
      logger,
    }),
    authFailureStatuses: [418],
    rateLimitWait: resetHeaderMs('x-ratelimit-reset'),
    random: () => 0.5,
  });
  const read = async (): Promise<LiveEntry[]> => {
    const items = await listByCursor<Policy>({
      what: '/api/policy/blockedsenders/get-policy',
      fetch: async (cursor) => {
        const res = await http.request({
          method: 'POST',
          path: '/api/policy/blockedsenders/get-policy',
          idempotent: true,
          body: {
            meta: { pagination: { pageSize: 2, ...(cursor ? { pageToken: cursor } : {}) } },
            data: [],
          },
        });
        const b = res.body as { data: Policy[]; meta: { pagination: { next?: string } } };
        return { items: b.data, next: b.meta.pagination.next };
      },
    });
    return items.map((p) => ({
      kind: 'blockedSenders',
      key: p.sender,
      value: { sender: p.sender, reason: 'r' },
      managed: true,
      id: p.id,
    }));
  };
  const sendWrites = async (writes: readonly McWrite[]): Promise<WriteOutcome[]> => {
    const res = await http.request({
      method: 'POST',
      path: '/api/policy/blockedsenders/create-policy',
      body: { data: writes.map((w) => ({ sender: w.sender })) },
    });
    const b = res.body as {
      fail: {
        key: { sender: string };
        errors: { code: string; message: string; retryable: boolean }[];
      }[];
    };
    // fail[] echoes each failed item: find its index among those sent.
    const failures = b.fail.map((f) => {
      const e = f.errors[0];
      const failure: ItemFailed = itemFailed(
        e?.code ?? '',
        e?.message ?? 'failed',
        e?.retryable ?? false,
      );
      return { index: writes.findIndex((w) => w.sender === f.key.sender), failure };
    });
    return outcomesByIndex(writes.length, failures).map(outcomeOfItem);
  };
  const apply = (keys: string[]) =>
    converge<McWrite>(
      keys.map((k) => ({ change: create(k), sender: k })),
      {
        kind: 'blockedSenders',
        send: sendWrites,
        read,
        clock,
        redact: http.redact,
        owned: () => true,
      },
    );
  return { http, clock, logger, read, apply };
}

describe('the HTTP platform against a Mimecast-shaped API', () => {
  it('one token, cursor paging in the body, fail[] items as failed changes, the rest applied', async () => {
    const mc = mimecast();
    const base = await serve(mc.handler);
    const tokens = createTokenCache();
    const a = mimecastClient(base, tokens);
    const b = mimecastClient(base, tokens); // a second tenant on the same app registration
    const results = await a.apply([
      'x.example',
      'invalid one',
      'y.example',
      'z.example',
      'w.example',
    ]);
    expect(results.map((r) => [r.key, r.status, r.reason])).toEqual([
      ['x.example', 'applied', undefined],
      [
        'invalid one',
        'failed',
        'err_validation_invalid_sender: invalid one is not an address or domain',
      ],
      ['y.example', 'applied', undefined],
      ['z.example', 'applied', undefined],
      ['w.example', 'applied', undefined],
    ]);
    expect((await b.read()).map((l) => l.key)).toEqual([
      'x.example',
      'y.example',
      'z.example',
      'w.example',
    ]);
    expect(mc.state.tokenFetches).toBe(1);
  });

  it('waits the milliseconds of X-RateLimit-Reset on 429, and refreshes the token on 418', async () => {
    const mc = mimecast();
    const base = await serve(mc.handler);
    const c = mimecastClient(base);
    mc.state.createFaults.push('429', '418');
    const results = await c.apply(['x.example']);
    expect(results[0]?.status).toBe('applied');
    expect(c.clock.sleeps).toEqual([1500]);
    expect(mc.state.tokenFetches).toBe(2);
    expect(c.http.stats.tokenRefreshes).toBe(1);
    expect(mc.state.creates).toBe(3);
    expect(JSON.stringify(c.logger.lines)).not.toMatch(/mc-token-\d|mc-client-secret/);
  });

  it('a reset after the vendor applied a create: re-read, counted applied, never created twice', async () => {
    const mc = mimecast();
    const base = await serve(mc.handler);
    const c = mimecastClient(base);
    mc.state.createFaults.push('reset-after-apply');
    const results = await c.apply(['x.example', 'y.example']);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(mc.state.creates).toBe(1);
    expect(mc.state.policies.map((p) => p.sender)).toEqual(['x.example', 'y.example']);
  });

  it('a wrong client secret fails with UNAUTHORIZED and says what to check', async () => {
    const mc = mimecast();
    const base = await serve(mc.handler);
    const dispatcher = createHttpDispatcher();
    cleanups.push(() => dispatcher.destroy());
    const clock = createVirtualClock();
    const logger = recordingLogger();
    const http = createHttpClient({
      baseUrl: base,
      dispatcher,
      clock,
      logger,
      auth: createTokenCache().clientCredentials({
        tokenUrl: `${base}/oauth/token`,
        clientId: 'mc-app',
        clientSecret: 'wrong-secret-123',
        dispatcher,
        clock,
        logger,
      }),
    });
    const err = await http
      .request({
        method: 'POST',
        path: '/api/policy/blockedsenders/get-policy',
        body: { data: [] },
        idempotent: true,
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect(String(err)).toContain("client 'mc-app'");
    expect(String(err)).toContain('check the client id and secret');
    expect(String(err)).not.toContain('wrong-secret-123');
  });
});

describe('the HTTP platform against a Graph-shaped $batch', () => {
  it('resends only the requests throttled inside a 200, after their Retry-After', async () => {
    const seen: string[][] = [];
    let round = 0;
    const base = await serve((req, res, body) => {
      const batch = JSON.parse(body) as { requests: { id: string; method: string; url: string }[] };
      seen.push(batch.requests.map((r) => r.id));
      round++;
      send(res, 200, {
        responses: batch.requests.map((r) =>
          round === 1 && r.id === '2'
            ? {
                id: r.id,
                status: 429,
                headers: { 'Retry-After': '3' },
                body: { error: { code: 'TooManyRequests', message: 'throttled' } },
              }
            : { id: r.id, status: 201, body: { id: `hold-${r.id}` } },
        ),
      });
    });
    const dispatcher = createHttpDispatcher();
    cleanups.push(() => dispatcher.destroy());
    const clock = createVirtualClock();
    const http = createHttpClient({
      baseUrl: `${base}/v1.0`,
      dispatcher,
      clock,
      logger: recordingLogger(),
    });
    const writes = ['a', 'b', 'c'].map((k, i) => ({
      change: create(`${k}.example`),
      id: String(i + 1),
    }));
    const results = await converge(writes, {
      kind: 'blockedSenders',
      clock,
      read: () => Promise.resolve([]),
      send: async (ws) => {
        const res = await http.request({
          method: 'POST',
          path: '/$batch',
          body: { requests: ws.map((w) => ({ id: w.id, method: 'POST', url: '/x' })) },
        });
        const byId = new Map(
          (
            res.body as {
              responses: {
                id: string;
                status: number;
                headers?: Record<string, string>;
                body: { error?: { code: string; message: string } };
              }[];
            }
          ).responses.map((r) => [r.id, r]),
        );
        return ws.map((w) => {
          const r = byId.get(w.id);
          if (r === undefined)
            return outcomeOfItem(itemFailed('missing', 'no response for this request'));
          if (r.status < 300) return outcomeOfItem(itemOk(r.body));
          const wait = retryAfterHeader({ 'retry-after': r.headers?.['Retry-After'] }, clock.now());
          if (r.status === 429 && wait !== undefined) http.pauseUntil(clock.now() + wait);
          return outcomeOfItem(
            itemFailed(
              r.body.error?.code ?? String(r.status),
              r.body.error?.message ?? '',
              r.status === 429 || r.status >= 500,
              wait,
            ),
          );
        });
      },
    });
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(seen).toEqual([['1', '2', '3'], ['2']]);
    expect(clock.sleeps).toContain(3000);
  });
});

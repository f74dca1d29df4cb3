import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../provider.js';
import { clientCredentials, createTokenCache, staticBearer, type TokenSource } from './auth.js';
import { createHttpClient, createHttpDispatcher, type HttpClientOptions } from './client.js';
import { createVirtualClock, type VirtualClock } from './clock.js';
import { HttpError } from './errors.js';

const SECRET = 'client-secret-Zq9/+&=xY';
const CLIENT = 'app-1234';

interface TokenServer {
  url: string;
  tokenUrl: string;
  /** Form bodies the token endpoint received. */
  tokenRequests: URLSearchParams[];
  /** Authorization headers the API received. */
  apiAuth: (string | undefined)[];
  /** Tokens the API accepts; tests revoke them. */
  valid: Set<string>;
  /** How the token endpoint answers next (default: a new token valid for `expiresIn`). */
  tokenReplies: ((res: ServerResponse) => void)[];
  expiresIn: number | undefined;
  /** Status the API gives for a token it does not accept. */
  refusal: number;
  /** Hold token responses until released (concurrency tests). */
  gate: Promise<void> | undefined;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A real OAuth token endpoint plus an API behind it, on 127.0.0.1. */
async function tokenServer(): Promise<TokenServer> {
  let issued = 0;
  const state: TokenServer = {
    url: '',
    tokenUrl: '',
    tokenRequests: [],
    apiAuth: [],
    valid: new Set(),
    tokenReplies: [],
    expiresIn: 1800,
    refusal: 401,
    gate: undefined,
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url === '/oauth/token') {
          expect(req.method).toBe('POST');
          expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
          state.tokenRequests.push(new URLSearchParams(body));
          if (state.gate !== undefined) await state.gate;
          const reply = state.tokenReplies.shift();
          if (reply !== undefined) {
            reply(res);
            return;
          }
          const token = `tok-${++issued}-${'x'.repeat(20)}`;
          state.valid.add(token);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              access_token: token,
              token_type: 'Bearer',
              ...(state.expiresIn !== undefined ? { expires_in: state.expiresIn } : {}),
            }),
          );
          return;
        }
        const auth = req.headers.authorization;
        state.apiAuth.push(auth);
        const token = auth?.replace(/^Bearer /, '') ?? '';
        if (!state.valid.has(token)) {
          res.writeHead(state.refusal, { 'content-type': 'application/json' });
          // A careless vendor echoing the credentials back.
          res.end(
            JSON.stringify({
              error: { code: 'InvalidAuthenticationToken', message: `token ${token} expired` },
            }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}/api`;
  state.tokenUrl = `http://127.0.0.1:${port}/oauth/token`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  );
  return state;
}

interface Rig {
  clock: VirtualClock;
  logs: string[];
  logger: Logger;
  dispatcher: ReturnType<typeof createHttpDispatcher>;
}

function rig(): Rig {
  const dispatcher = createHttpDispatcher({ connections: 8 });
  // destroy, not close: a test may leave a request hanging on purpose.
  cleanups.push(() => dispatcher.destroy());
  const logs: string[] = [];
  const push = (m: string, f?: Record<string, unknown>): void => {
    logs.push(`${m} ${JSON.stringify(f ?? {})}`);
  };
  return {
    clock: createVirtualClock(),
    logs,
    logger: { debug: push, info: push, warn: push },
    dispatcher,
  };
}

function oauth(
  s: TokenServer,
  r: Rig,
  extra: { scope?: string; extra?: Record<string, string> } = {},
): TokenSource {
  return clientCredentials({
    tokenUrl: s.tokenUrl,
    clientId: CLIENT,
    clientSecret: SECRET,
    dispatcher: r.dispatcher,
    clock: r.clock,
    logger: r.logger,
    random: () => 0.5,
    ...extra,
  });
}

function api(s: TokenServer, r: Rig, auth: TokenSource, extra: Partial<HttpClientOptions> = {}) {
  return createHttpClient({
    baseUrl: s.url,
    dispatcher: r.dispatcher,
    clock: r.clock,
    logger: r.logger,
    auth,
    random: () => 0.5,
    ...extra,
  });
}

describe('OAuth 2.0 client credentials', () => {
  it('posts a form with the client credentials, scope and extra fields, then sends the bearer token', async () => {
    const s = await tokenServer();
    const r = rig();
    const http = api(
      s,
      r,
      oauth(s, r, { scope: 'https://graph.microsoft.com/.default', extra: { resource: 'x' } }),
    );
    await http.request({ method: 'GET', path: '/one' });
    expect(s.tokenRequests).toHaveLength(1);
    expect(Object.fromEntries(s.tokenRequests[0] ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT,
      client_secret: SECRET,
      scope: 'https://graph.microsoft.com/.default',
      resource: 'x',
    });
    expect(s.apiAuth).toEqual([expect.stringMatching(/^Bearer tok-1-/)]);
  });

  it('caches the token until shortly before expires_in, then fetches a new one', async () => {
    const s = await tokenServer();
    s.expiresIn = 600;
    const r = rig();
    const http = api(s, r, oauth(s, r));
    await http.request({ method: 'GET', path: '/a' });
    r.clock.advance(500_000); // 100 s left: still more than the 60 s margin
    await http.request({ method: 'GET', path: '/b' });
    expect(s.tokenRequests).toHaveLength(1);
    r.clock.advance(50_000); // 50 s left: inside the margin
    await http.request({ method: 'GET', path: '/c' });
    expect(s.tokenRequests).toHaveLength(2);
    expect(s.apiAuth.map((a) => a?.slice(0, 12))).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-2',
    ]);
  });

  it('refreshes a short-lived token at half its lifetime, and accepts expires_in as a string', async () => {
    const s = await tokenServer();
    s.tokenReplies.push((res) => {
      s.valid.add('short-lived-token-1');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          access_token: 'short-lived-token-1',
          token_type: 'bearer',
          expires_in: '40',
        }),
      );
    });
    const r = rig();
    const http = api(s, r, oauth(s, r));
    await http.request({ method: 'GET', path: '/a' });
    r.clock.advance(19_000);
    await http.request({ method: 'GET', path: '/a' });
    expect(s.tokenRequests).toHaveLength(1);
    r.clock.advance(1_000);
    await http.request({ method: 'GET', path: '/a' });
    expect(s.tokenRequests).toHaveLength(2);
  });

  it('on a 401 fetches a fresh token once and sends the request once more', async () => {
    const s = await tokenServer();
    const r = rig();
    const http = api(s, r, oauth(s, r));
    await http.request({ method: 'GET', path: '/a' });
    s.valid.clear(); // revoked on the server before it expired
    const res = await http.request({ method: 'POST', path: '/write', body: { a: 1 } });
    expect(res.body).toEqual({ ok: true });
    expect(s.tokenRequests).toHaveLength(2);
    expect(s.apiAuth).toHaveLength(3);
    expect(http.stats.tokenRefreshes).toBe(1);
  });

  it('fails as UNAUTHORIZED after a second refusal, naming the client and no secret', async () => {
    const s = await tokenServer();
    const r = rig();
    const http = api(s, r, oauth(s, r));
    s.valid = new Set(['never-issued']);
    // The server forgets each token as soon as it is issued.
    const add = s.valid.add.bind(s.valid);
    s.valid.add = (v: string) => (v.startsWith('tok-') ? s.valid : add(v));
    const err = await http.request({ method: 'GET', path: '/a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401, retryable: false });
    expect(s.apiAuth).toHaveLength(2);
    expect(s.tokenRequests).toHaveLength(2);
    const message = (err as Error).message;
    expect(message).toContain(`client '${CLIENT}'`);
    expect(message).toContain('also with a freshly fetched token');
    const shown = JSON.stringify({ message, body: (err as HttpError).body, logs: r.logs });
    expect(shown).not.toMatch(/tok-\d/);
    expect(shown).not.toContain(SECRET);
  });

  it('treats a vendor status for expired credentials (Mimecast 418) like a 401', async () => {
    const s = await tokenServer();
    s.refusal = 418;
    const r = rig();
    const http = api(s, r, oauth(s, r), { authFailureStatuses: [418] });
    await http.request({ method: 'GET', path: '/a' });
    s.valid.clear();
    await http.request({ method: 'GET', path: '/a' });
    expect(s.tokenRequests).toHaveLength(2);
    s.valid.clear();
    s.valid.add = () => s.valid;
    await expect(http.request({ method: 'GET', path: '/a' })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      status: 418,
    });
  });

  it('lets concurrent callers of many clients share one token fetch', async () => {
    const s = await tokenServer();
    let release: () => void = () => undefined;
    s.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const r = rig();
    const cache = createTokenCache();
    const source = () =>
      cache.clientCredentials({
        tokenUrl: s.tokenUrl,
        clientId: CLIENT,
        clientSecret: SECRET,
        dispatcher: r.dispatcher,
        clock: r.clock,
        logger: r.logger,
      });
    // 25 tenants bound to the same app registration, 4 requests each.
    const clients = Array.from({ length: 25 }, () => api(s, r, source()));
    const all = Promise.all(
      clients.flatMap((c) => [1, 2, 3, 4].map(() => c.request({ method: 'GET', path: '/x' }))),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await all;
    expect(s.tokenRequests).toHaveLength(1);
    expect(s.apiAuth).toHaveLength(100);
    expect(cache.size).toBe(1);
    // Another client id, or another secret, is another token.
    cache.clientCredentials({
      tokenUrl: s.tokenUrl,
      clientId: 'other',
      clientSecret: SECRET,
      dispatcher: r.dispatcher,
      clock: r.clock,
      logger: r.logger,
    });
    cache.clientCredentials({
      tokenUrl: s.tokenUrl,
      clientId: CLIENT,
      clientSecret: 'another-secret',
      dispatcher: r.dispatcher,
      clock: r.clock,
      logger: r.logger,
    });
    expect(cache.size).toBe(3);
  });

  it('a refused token request fails as UNAUTHORIZED without showing the secret', async () => {
    const s = await tokenServer();
    s.tokenReplies.push((res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: `bad secret ${encodeURIComponent(SECRET)} / ${SECRET}`,
        }),
      );
    });
    const r = rig();
    const http = api(s, r, oauth(s, r));
    const err = await http.request({ method: 'GET', path: '/a' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    const message = (err as Error).message;
    expect(message).toContain('invalid_client');
    expect(message).toContain('check the client id and secret');
    expect(message).not.toContain(SECRET);
    expect(message).not.toContain(encodeURIComponent(SECRET));
    expect(s.apiAuth).toHaveLength(0);
  });

  it('retries a token endpoint 5xx, and a failed fetch is not cached', async () => {
    const s = await tokenServer();
    const fail503 = (res: ServerResponse): void => {
      res.writeHead(503);
      res.end();
    };
    s.tokenReplies.push(fail503);
    const r = rig();
    const source = clientCredentials({
      tokenUrl: s.tokenUrl,
      clientId: CLIENT,
      clientSecret: SECRET,
      dispatcher: r.dispatcher,
      clock: r.clock,
      logger: r.logger,
      random: () => 0.5,
      retry: { maxRetries: 1 },
    });
    const http = api(s, r, source);
    await http.request({ method: 'GET', path: '/a' });
    expect(s.tokenRequests).toHaveLength(2);
    s.tokenReplies.push(fail503, fail503);
    s.valid.clear();
    await expect(http.request({ method: 'GET', path: '/a' })).rejects.toMatchObject({
      code: 'HTTP_STATUS',
      status: 503,
    });
    // The next request asks again rather than reusing a failure.
    await http.request({ method: 'GET', path: '/a' });
    expect(s.tokenRequests).toHaveLength(5);
  });

  it('refuses a token response without access_token, showing no part of it', async () => {
    const s = await tokenServer();
    s.tokenReplies.push((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'looks-like-a-token-1234', expires_in: 60 }));
    });
    const r = rig();
    const err = await api(s, r, oauth(s, r))
      .request({ method: 'GET', path: '/a' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_RESPONSE' });
    expect((err as Error).message).toMatch(/no access_token/);
    expect((err as Error).message).not.toContain('looks-like-a-token');
  });

  it('stops waiting for a token when the caller aborts', async () => {
    const s = await tokenServer();
    s.gate = new Promise<void>(() => undefined); // the token endpoint never answers
    const r = rig();
    const ctl = new AbortController();
    const pending = api(s, r, oauth(s, r)).request({
      method: 'GET',
      path: '/a',
      signal: ctl.signal,
    });
    setTimeout(() => {
      ctl.abort(new Error('deadline of 5s exceeded'));
    }, 30);
    await expect(pending).rejects.toMatchObject({
      code: 'ABORTED',
      message: 'GET /a: deadline of 5s exceeded',
    });
  });
});

describe('static bearer', () => {
  it('sends the token, never refreshes it, and fails a 401 as UNAUTHORIZED at once', async () => {
    const s = await tokenServer();
    const r = rig();
    const token = 'static-api-token-0123456789';
    const http = api(s, r, staticBearer(` ${token} `, 'the token in CF_TOKEN'));
    const err = await http.request({ method: 'DELETE', path: '/a' }).catch((e: unknown) => e);
    expect(s.apiAuth).toEqual([`Bearer ${token}`]);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401, attempts: 1 });
    const message = (err as Error).message;
    expect(message).toContain('the token in CF_TOKEN');
    expect(message).not.toContain(token);
    expect(JSON.stringify((err as HttpError).body)).not.toContain(token);
    expect(() => staticBearer('  ')).toThrow(/empty/);
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import type { Logger } from '../provider.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter } from './backoff.js';
import {
  createHttpClient,
  createHttpDispatcher,
  genericErrorText,
  resetHeaderMs,
  type HttpClientOptions,
} from './client.js';
import { createSystemClock, createVirtualClock } from './clock.js';
import { HttpError } from './errors.js';
import { createTokenBucket, type RateLimiter } from './rate-limiter.js';
import { createRedactor } from './redact.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface TestServer {
  url: string;
  requests: { method: string; url: string; body: string; auth: string | undefined }[];
  connections: number;
  close: () => Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A real server on 127.0.0.1; each request takes the next handler (the last one repeats). */
async function serve(handlers: Handler[]): Promise<TestServer> {
  const requests: TestServer['requests'] = [];
  let i = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        auth: req.headers.authorization,
      });
      const h = handlers[Math.min(i++, handlers.length - 1)];
      h?.(req, res, body);
    });
  });
  const state = { connections: 0 };
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  const t: TestServer = {
    url: `http://127.0.0.1:${port}/client/v4`,
    requests,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
  cleanups.push(t.close);
  return t;
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const reset: Handler = (req) => req.socket.destroy();
const hang: Handler = () => undefined;

interface LogLine {
  message: string;
  fields: Record<string, unknown> | undefined;
}
function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const push = (message: string, fields?: Record<string, unknown>): void => {
    lines.push({ message, fields });
  };
  return { lines, debug: push, info: push, warn: push };
}

const TOKEN = 'cf-secret-token-abcdef123456';

/** A vendor error parser as a provider passes one: `errors[]` as `code message`. */
const errorsText = (body: unknown): string | undefined => {
  const errors = (body as { errors?: { code: number; message: string }[] } | undefined)?.errors;
  return errors?.map((e) => `${e.code} ${e.message}`).join('; ');
};

function client(server: TestServer, extra: Partial<HttpClientOptions> = {}) {
  const dispatcher: Agent = createHttpDispatcher({ connections: 4 });
  cleanups.push(() => dispatcher.close());
  const clock = createVirtualClock();
  const logger = recordingLogger();
  const http = createHttpClient({
    baseUrl: server.url,
    dispatcher,
    clock,
    logger,
    headers: { authorization: `Bearer ${TOKEN}` },
    random: () => 0.5,
    errorText: errorsText,
    ...extra,
  });
  return { http, clock, logger };
}

describe('http client retries', () => {
  it('retries a GET after 5xx with exponential backoff and jitter, then succeeds', async () => {
    const server = await serve([json(503, {}), json(502, {}), json(200, { ok: true })]);
    const { http, clock } = client(server);
    const res = await http.request({
      method: 'GET',
      path: '/x',
      query: { page: 2, per_page: 1000 },
    });
    expect(res.body).toEqual({ ok: true });
    expect(server.requests.map((r) => r.url)).toEqual(
      Array(3).fill('/client/v4/x?page=2&per_page=1000'),
    );
    // base 250 ms, doubling; equal jitter with random 0.5 -> 3/4 of the exponential delay.
    expect(clock.sleeps).toEqual([188, 375]);
    expect(http.stats).toMatchObject({ requests: 3, retries: 2 });
  });

  it('honours Retry-After on 429 for any method, and holds the shared budget meanwhile', async () => {
    const server = await serve([json(429, {}, { 'retry-after': '3' }), json(201, { id: 1 })]);
    const clock = createVirtualClock();
    const limiter = createTokenBucket({ requests: 100, windowMs: 1000 }, clock);
    const pauses: number[] = [];
    const spy = {
      acquire: (signal?: AbortSignal) => limiter.acquire(signal),
      pauseUntil: (t: number) => {
        pauses.push(t);
        limiter.pauseUntil(t);
      },
    };
    const { http } = client(server, { clock, rateLimiter: spy });
    const start = clock.now();
    const res = await http.request({ method: 'POST', path: '/create', body: { a: 1 } });
    expect(res.status).toBe(201);
    expect(clock.sleeps).toEqual([3000]);
    expect(pauses).toEqual([start + 3000]);
    expect(http.stats.rateLimited).toBe(1);
  });

  it('takes every attempt from both the account and the shared per-origin budget', async () => {
    const server = await serve([json(503, {}), json(200, {})]);
    const clock = createVirtualClock();
    const origin = createTokenBucket({ requests: 200, windowMs: 1000, burst: 1 }, clock);
    const taken: string[] = [];
    const count = (name: string, l: RateLimiter): RateLimiter => ({
      acquire: (signal?: AbortSignal) => {
        taken.push(name);
        return l.acquire(signal);
      },
      pauseUntil: (t: number) => {
        l.pauseUntil(t);
      },
    });
    const account = createTokenBucket({ requests: 1200, windowMs: 300_000 }, clock);
    const { http } = client(server, {
      clock,
      rateLimiter: count('account', account),
      originRateLimiter: count('origin', origin),
    });
    const start = clock.now();
    await http.request({ method: 'GET', path: '/x' });
    expect(taken).toEqual(['account', 'origin', 'account', 'origin']);
    // The second attempt waited for the origin bucket (burst 1, 200/s) as well as backoff.
    expect(clock.now() - start).toBeGreaterThanOrEqual(188);
  });

  it('fails as RATE_LIMITED, naming the wait, when a block outlasts the deadline', async () => {
    const server = await serve([
      json(
        429,
        { success: false, errors: [{ code: 1015, message: 'slow down' }] },
        { 'retry-after': '300' },
      ),
    ]);
    const clock = createVirtualClock();
    const { http } = client(server, {
      clock,
      rateLimiter: createTokenBucket({ requests: 100, windowMs: 1000 }, clock),
      deadlineAt: clock.now() + 120_000,
    });
    const err = await http.request({ method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryable: true, attempts: 1 });
    expect((err as Error).message).toMatch(
      /blocks every request of .* for 300 s \(until 2026-11-23T12:05:00Z\), past the command's deadline; nothing more was sent with it: re-run after 2026-11-23T12:05:00Z/,
    );
    expect(clock.sleeps).toEqual([]);
    // A later request of the same account fails at once, without being sent.
    const again = await http.request({ method: 'GET', path: '/y' }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'RATE_LIMITED', attempts: 0 });
    expect(http.stats.requests).toBe(1);
  });

  it('waits out a block the deadline allows, saying so once, and sends nothing meanwhile', async () => {
    const blocked = json(
      429,
      { success: false, errors: [{ code: 1015, message: 'slow down' }] },
      { 'retry-after': '300' },
    );
    const server = await serve([blocked, json(200, { ok: 1 }), json(200, { ok: 2 })]);
    const clock = createVirtualClock();
    const warnings: string[] = [];
    const logger = { ...recordingLogger(), warn: (m: string) => void warnings.push(m) };
    const limiter = createTokenBucket({ requests: 100, windowMs: 1000 }, clock);
    const { http } = client(server, {
      clock,
      logger,
      rateLimiter: limiter,
      maxConcurrent: 1,
      deadlineAt: clock.now() + 600_000,
    });
    const start = clock.now();
    const [a, b] = await Promise.all([
      http.request({ method: 'GET', path: '/a' }),
      http.request({ method: 'GET', path: '/b' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    // /b waited for a connection while /a met the block: it is not sent into it.
    expect(http.stats.requests).toBe(3);
    expect(http.stats.rateLimited).toBe(1);
    expect(clock.now() - start).toBeGreaterThanOrEqual(300_000);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/for 300 s \(until 2026-11-23T12:05:00Z\); waiting it out/);
  });

  it('never retries a POST that got a 5xx: it may have been applied', async () => {
    const server = await serve([
      json(500, { success: false, errors: [{ code: 1000, message: 'boom' }] }),
    ]);
    const { http } = client(server);
    const err = await http
      .request({ method: 'POST', path: '/batch', body: {} })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'HTTP_STATUS',
      status: 500,
      mayHaveReachedServer: true,
      retryable: true,
    });
    expect((err as Error).message).toBe('POST /batch: HTTP 500: 1000 boom');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a GET whose connection was reset, but not a POST', async () => {
    const server = await serve([reset, json(200, { ok: 1 })]);
    const { http } = client(server);
    expect((await http.request({ method: 'GET', path: '/r' })).body).toEqual({ ok: 1 });
    const server2 = await serve([reset, json(201, {})]);
    const { http: http2 } = client(server2);
    const err = await http2
      .request({ method: 'POST', path: '/c', body: {} })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK', mayHaveReachedServer: true });
    expect(server2.requests).toHaveLength(1);
  });

  it('retries even a POST when the connection was refused (it never left)', async () => {
    const server = await serve([json(200, {})]);
    await server.close();
    const { http, clock } = client(server, { retry: { maxRetries: 2 } });
    const err = await http
      .request({ method: 'POST', path: '/c', body: {} })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NETWORK', mayHaveReachedServer: false, attempts: 3 });
    expect(clock.sleeps).toHaveLength(2);
  });

  it('times out waiting for headers', async () => {
    const server = await serve([hang]);
    const { http } = client(server, { headersTimeoutMs: 100, retry: { maxRetries: 0 } });
    const err = await http.request({ method: 'GET', path: '/slow' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  it('stops at once when the caller aborts', async () => {
    const server = await serve([hang]);
    const { http } = client(server);
    const ctl = new AbortController();
    setTimeout(() => {
      ctl.abort();
    }, 50);
    const started = Date.now();
    const err = await http
      .request({ method: 'GET', path: '/slow', signal: ctl.signal })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ABORTED' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reuses kept-alive connections', async () => {
    const server = await serve([json(200, {})]);
    const { http } = client(server, { maxConcurrent: 1 });
    for (let i = 0; i < 10; i++) await http.request({ method: 'GET', path: '/k' });
    // undici may open a second socket while the first is being released; never one each.
    expect(server.connections).toBeLessThanOrEqual(2);
    expect(server.requests).toHaveLength(10);
  });
});

describe('secrets', () => {
  it('sends the token but never shows it in errors or logs', async () => {
    const echo: Handler = (req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          success: false,
          errors: [{ code: 1001, message: `bad header ${req.headers.authorization ?? ''}` }],
          messages: [],
          result: null,
        }),
      );
    };
    const server = await serve([json(503, {}), echo]);
    const { http, logger } = client(server);
    const err = await http.request({ method: 'GET', path: '/s' }).catch((e: unknown) => e);
    expect(server.requests[0]?.auth).toBe(`Bearer ${TOKEN}`);
    expect(err).toBeInstanceOf(HttpError);
    const shown = JSON.stringify({
      message: (err as Error).message,
      body: (err as HttpError).body,
      logs: logger.lines,
    });
    expect(shown).not.toContain(TOKEN);
    expect((err as Error).message).toContain('[REDACTED]');
    expect(logger.lines.length).toBeGreaterThan(0);
  });

  it('redacts registered secrets and any bearer token', () => {
    const redact = createRedactor(['s3cr3t-value']);
    expect(redact('a s3cr3t-value b')).toBe('a [REDACTED] b');
    expect(redact('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [REDACTED]');
  });
});

describe('backoff and rate limiter', () => {
  it('computes jittered exponential delays within bounds, capped', () => {
    const p = DEFAULT_RETRY_POLICY;
    for (let retry = 0; retry < 8; retry++) {
      const exp = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** retry);
      expect(backoffDelay(p, retry, () => 0)).toBe(exp / 2);
      expect(backoffDelay(p, retry, () => 0.999999)).toBeLessThanOrEqual(exp);
    }
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter(new Date(now + 4000).toUTCString(), now)).toBe(4000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('lets a burst through, then spaces requests at the refill rate', async () => {
    const clock = createVirtualClock();
    const bucket = createTokenBucket({ requests: 4, windowMs: 4000, burst: 2 }, clock);
    const start = clock.now();
    const times: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        await bucket.acquire();
        times.push(clock.now() - start);
      }),
    );
    expect(times.slice(0, 2)).toEqual([0, 0]);
    expect(times[4]).toBeGreaterThanOrEqual(3000);
  });

  it('holds every waiter while paused by a 429', async () => {
    const clock = createVirtualClock();
    const bucket = createTokenBucket({ requests: 1200, windowMs: 300_000 }, clock);
    bucket.pauseUntil(clock.now() + 5000);
    const start = clock.now();
    await bucket.acquire();
    expect(clock.now() - start).toBeGreaterThanOrEqual(5000);
  });

  it('rejects a waiter whose signal aborts', async () => {
    const bucket = createTokenBucket(
      { requests: 1, windowMs: 60_000, burst: 1 },
      createSystemClock(),
    );
    await bucket.acquire();
    const ctl = new AbortController();
    const pending = bucket.acquire(ctl.signal);
    ctl.abort();
    await expect(pending).rejects.toThrow();
  });
});

describe('vendor shapes', () => {
  it('fails a 2xx that the inspector says is a failure, as VENDOR_FAILURE', async () => {
    const server = await serve([
      json(200, { success: false, errors: [{ code: 10001, message: 'not entitled' }] }),
    ]);
    const { http } = client(server, {
      inspect: (res) =>
        (res.body as { success?: boolean }).success === false
          ? { message: errorsText(res.body) ?? 'failed' }
          : undefined,
    });
    const err = await http.request({ method: 'GET', path: '/x' }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'VENDOR_FAILURE',
      status: 200,
      retryable: false,
      mayHaveReachedServer: false,
    });
    expect((err as Error).message).toBe('GET /x: HTTP 200: 10001 not entitled');
    expect(server.requests).toHaveLength(1);
  });

  it('reads common error shapes by default: {error:{code,message}}, OAuth, {message}, text', async () => {
    const server = await serve([
      json(400, { error: { code: 'BadRequest', message: 'Invalid filter' } }),
      json(400, { error: 'invalid_scope', error_description: 'AADSTS70011' }),
      json(404, { message: 'no such policy' }),
      (_req, res) => {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end('Forbidden by proxy');
      },
    ]);
    const { http } = client(server, { errorText: genericErrorText });
    const messages: string[] = [];
    for (let i = 0; i < 4; i++)
      messages.push(
        ((await http.request({ method: 'GET', path: '/e' }).catch((e: unknown) => e)) as Error)
          .message,
      );
    expect(messages).toEqual([
      'GET /e: HTTP 400: BadRequest: Invalid filter',
      'GET /e: HTTP 400: invalid_scope: AADSTS70011',
      'GET /e: HTTP 404: no such policy',
      'GET /e: HTTP 403: Forbidden by proxy',
    ]);
  });

  it('waits the milliseconds a vendor header gives on 429 (Mimecast X-RateLimit-Reset)', async () => {
    const server = await serve([
      json(429, {}, { 'x-ratelimit-reset': '1500', 'retry-after': '9' }),
      json(429, {}, { 'retry-after': '2' }),
      json(200, {}),
    ]);
    const { http, clock } = client(server, { rateLimitWait: resetHeaderMs('X-RateLimit-Reset') });
    await http.request({ method: 'POST', path: '/api/x', body: {} });
    // The millisecond header wins; without it, Retry-After seconds still count.
    expect(clock.sleeps).toEqual([1500, 2000]);
    expect(http.stats.rateLimited).toBe(2);
  });

  it('holds the account budget for the milliseconds asked, and backs off a 5xx as usual', async () => {
    const server = await serve([
      json(429, {}, { 'x-ratelimit-reset': '700' }),
      json(503, {}, { 'x-ratelimit-reset': '5' }),
      json(200, {}, { 'x-ratelimit-reset': '5' }),
    ]);
    const clock = createVirtualClock();
    const pauses: number[] = [];
    const limiter = createTokenBucket({ requests: 100, windowMs: 1000 }, clock);
    const { http } = client(server, {
      clock,
      rateLimitWait: resetHeaderMs('x-ratelimit-reset'),
      rateLimiter: {
        acquire: (signal?: AbortSignal) => limiter.acquire(signal),
        pauseUntil: (t: number) => {
          pauses.push(t);
          limiter.pauseUntil(t);
        },
      },
    });
    const start = clock.now();
    await http.request({ method: 'GET', path: '/api/x' });
    expect(pauses).toEqual([start + 700]);
    // 429: 700 ms; 503: exponential backoff (375 ms with this jitter), not the 5 ms header.
    expect(clock.sleeps).toEqual([700, 375]);
  });

  it('sends form bodies form-encoded and extra headers per request', async () => {
    const seen: { type: string | undefined; prefer: string | undefined; body: string }[] = [];
    const server = await serve([
      (req, res, body) => {
        seen.push({
          type: req.headers['content-type'],
          prefer: req.headers['prefer'] as string | undefined,
          body,
        });
        json(200, {})(req, res, body);
      },
    ]);
    const { http } = client(server);
    await http.request({
      method: 'POST',
      path: '/f',
      form: { a: '1 2', b: 'x&y' },
      headers: { prefer: 'respond-async' },
    });
    expect(seen).toEqual([
      { type: 'application/x-www-form-urlencoded', prefer: 'respond-async', body: 'a=1+2&b=x%26y' },
    ]);
  });

  it('sends an absolute URL on its own origin; refuses another origin without sending', async () => {
    const server = await serve([json(200, { page: 2 })]);
    const { http } = client(server);
    const origin = new URL(server.url).origin;
    const res = await http.request({ method: 'GET', url: `${origin}/client/v4/x?cursor=abc` });
    expect(res.body).toEqual({ page: 2 });
    expect(server.requests.map((r) => r.url)).toEqual(['/client/v4/x?cursor=abc']);
    const other = origin.replace('127.0.0.1', 'localhost');
    await expect(
      http.request({ method: 'GET', url: `${other}/client/v4/x?cursor=def` }),
    ).rejects.toMatchObject({ code: 'INVALID_RESPONSE', attempts: 0 });
    await expect(http.request({ method: 'GET', url: 'not a url' })).rejects.toMatchObject({
      code: 'INVALID_RESPONSE',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('close() aborts what is in flight and refuses new requests', async () => {
    const server = await serve([hang]);
    const { http } = client(server);
    const pending = http.request({ method: 'GET', path: '/slow' }).catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await http.close();
    expect(await pending).toMatchObject({
      code: 'ABORTED',
      message: 'GET /slow: the client is closed',
    });
    await expect(http.request({ method: 'GET', path: '/x' })).rejects.toMatchObject({
      code: 'ABORTED',
      attempts: 0,
    });
    await http.close();
  });

  it('adds no listener per request to a shared signal (no leak warning with many in flight)', async () => {
    const slow: Handler = (req, res, body) => {
      setTimeout(() => {
        json(200, {})(req, res, body);
      }, 30);
    };
    const server = await serve([slow]);
    const { http } = client(server, { maxConcurrent: 40 });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on('warning', onWarning);
    try {
      const command = new AbortController().signal;
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          http.request({ method: 'GET', path: '/x', ...(i % 2 === 0 ? { signal: command } : {}) }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it('pauseUntil holds the account budget (an inner 429 of a batch)', async () => {
    const server = await serve([json(200, {})]);
    const clock = createVirtualClock();
    const limiter = createTokenBucket({ requests: 100, windowMs: 1000 }, clock);
    const { http } = client(server, { clock, rateLimiter: limiter });
    http.pauseUntil(clock.now() + 4000);
    const start = clock.now();
    await http.request({ method: 'GET', path: '/x' });
    expect(clock.now() - start).toBeGreaterThanOrEqual(4000);
  });
});

describe('redactor', () => {
  it('hides secrets added later, and their URL- and form-encoded spellings', () => {
    const redact = createRedactor();
    expect(redact('tok a+b/c=')).toBe('tok a+b/c=');
    redact.add('a+b/c=');
    redact.add('abc'); // too short to hide safely
    expect(redact('tok a+b/c= a%2Bb%2Fc%3D')).toBe('tok [REDACTED] [REDACTED]');
    expect(redact('abc')).toBe('abc');
  });
});

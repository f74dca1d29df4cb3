import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../provider.js';
import { abortReason, type Clock } from './clock.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryPolicy,
} from './backoff.js';
import { HttpError, type HttpErrorCode } from './errors.js';
import { unlimited, type RateLimiter } from './rate-limiter.js';
import { createRedactor, redactValue, type Redactor } from './redact.js';

export interface DispatcherOptions {
  /** Sockets per origin (the pool size). */
  connections?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * A keep-alive dispatcher: undici's Agent keeps one connection Pool per origin, so every
 * tenant talking to the same vendor reuses the same warm sockets. Share one per process.
 */
export function createHttpDispatcher(opts: DispatcherOptions = {}): Agent {
  return new Agent({
    connections: opts.connections ?? 32,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: 600_000,
    headersTimeout: opts.headersTimeoutMs ?? 30_000,
    bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
    connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
  });
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: HttpMethod;
  /** Path below the client's base URL, e.g. `/accounts/x/email-security/settings/domains`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /**
   * Whether sending it twice has the same effect as once. Default: every method but POST.
   * A non-idempotent request is retried only when it surely never reached the server
   * (connection refused, 429); otherwise it fails with `mayHaveReachedServer` set.
   */
  idempotent?: boolean;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface HttpStats {
  /** Attempts sent (retries included). */
  requests: number;
  retries: number;
  rateLimited: number;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  readonly stats: HttpStats;
  readonly redact: Redactor;
}

export interface HttpClientOptions {
  baseUrl: string;
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  /** Sent with every request (e.g. Authorization); their values are treated as secrets. */
  headers?: Record<string, string>;
  /** More strings never to print. */
  secrets?: readonly string[];
  /** The account's budget (per API user/token); paused by a 429. */
  rateLimiter?: RateLimiter;
  /**
   * A budget shared by every client talking to the same origin from this process (vendors
   * also limit per IP: Cloudflare allows 200 requests per second).
   */
  originRateLimiter?: RateLimiter;
  retry?: Partial<RetryPolicy>;
  /** Per-request timeouts (the dispatcher's connect timeout covers connecting). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Most requests in flight at once from this client. */
  maxConcurrent?: number;
  /** Jitter source; inject for deterministic tests. */
  random?: () => number;
}

/** Errors where the request surely never reached the server. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const TIMEOUTS = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

function errorCode(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string')
    return err.code;
  return '';
}

function createSemaphore(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * A JSON-over-HTTP client for one vendor account: rate limited, retrying, redacting.
 *
 * Not undici's RetryAgent: it sleeps on real timers (tests could not inject a clock), its
 * retries would bypass our per-account budget, and it cannot tell a create that may have
 * reached the server from one that did not — that needs the caller's re-read.
 */
export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const base = new URL(opts.baseUrl.endsWith('/') ? opts.baseUrl : `${opts.baseUrl}/`);
  const basePath = base.pathname.replace(/\/$/, '');
  const origin = base.origin;
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...opts.retry };
  const limiter = opts.rateLimiter ?? unlimited();
  const originLimiter = opts.originRateLimiter ?? unlimited();
  const random = opts.random ?? Math.random;
  const headerSecrets = Object.values(opts.headers ?? {}).flatMap((v) => {
    const m = /^\s*(?:Bearer|Basic)\s+(.+)$/i.exec(v);
    return m?.[1] !== undefined ? [v, m[1]] : [];
  });
  const redact = createRedactor([...headerSecrets, ...(opts.secrets ?? [])]);
  const limit = createSemaphore(opts.maxConcurrent ?? 16);
  const stats: HttpStats = { requests: 0, retries: 0, rateLimited: 0 };
  const log = (message: string, fields: Record<string, unknown>): void => {
    opts.logger.debug(redact(message), redactValue(fields, redact) as Record<string, unknown>);
  };

  const fail = (
    code: HttpErrorCode,
    req: HttpRequest,
    detail: string,
    extra: Partial<ConstructorParameters<typeof HttpError>[1]> & { attempts: number },
  ): HttpError =>
    new HttpError(redact(`${req.method} ${req.path}: ${detail}`), {
      code,
      method: req.method,
      path: req.path,
      retryable: false,
      mayHaveReachedServer: false,
      ...extra,
    });

  async function attempt(req: HttpRequest, path: string): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    stats.requests++;
    const res = await opts.dispatcher.request({
      origin,
      path,
      method: req.method,
      headers,
      body: body ?? null,
      signal: req.signal ?? null,
      headersTimeout: opts.headersTimeoutMs ?? 30_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
    });
    const text = await res.body.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed = JSON.parse(text) as unknown;
      } catch {
        parsed = text.slice(0, 200);
      }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? req.method !== 'POST';
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) search.append(k, String(v));
    const qs = search.toString();
    const path = `${basePath}${req.path}${qs === '' ? '' : `?${qs}`}`;

    for (let tries = 1; ; tries++) {
      const canRetry = tries <= policy.maxRetries;
      await limiter.acquire(req.signal);
      await originLimiter.acquire(req.signal);
      let res: HttpResponse;
      try {
        res = await limit(() => attempt(req, path));
      } catch (err) {
        if (req.signal?.aborted === true)
          throw fail('ABORTED', req, abortReason(req.signal).message, { attempts: tries });
        const code = errorCode(err);
        const sent = !NOT_SENT.has(code);
        const errCode: HttpErrorCode = TIMEOUTS.has(code) ? 'TIMEOUT' : 'NETWORK';
        const message = err instanceof Error ? err.message : String(err);
        if (canRetry && (idempotent || !sent)) {
          const delay = backoffDelay(policy, tries - 1, random);
          stats.retries++;
          log('http retry after connection error', {
            method: req.method,
            path: req.path,
            code,
            delayMs: delay,
            attempt: tries,
          });
          await opts.clock.sleep(delay, req.signal);
          continue;
        }
        throw fail(errCode, req, `${code || 'error'}: ${message}`, {
          attempts: tries,
          retryable: true,
          mayHaveReachedServer: sent,
          cause: err,
        });
      }

      if (res.status >= 200 && res.status < 300) return res;

      const retryAfter = parseRetryAfter(headerValue(res.headers['retry-after']), opts.clock.now());
      if (res.status === 429) {
        stats.rateLimited++;
        const wait = retryAfter ?? backoffDelay(policy, tries - 1, random);
        // Hold every request to this account, not only this one: the budget is shared.
        limiter.pauseUntil(opts.clock.now() + wait);
        if (canRetry && wait <= policy.maxRetryAfterMs) {
          stats.retries++;
          log('http 429, waiting', {
            method: req.method,
            path: req.path,
            delayMs: wait,
            attempt: tries,
          });
          await opts.clock.sleep(wait, req.signal);
          continue;
        }
        throw fail(
          'RATE_LIMITED',
          req,
          `429 Too Many Requests (retry after ${Math.ceil(wait / 1000)} s)`,
          {
            status: 429,
            attempts: tries,
            retryable: true,
            body: res.body,
          },
        );
      }
      const transient = res.status >= 500 || res.status === 408 || res.status === 409;
      if (transient && idempotent && canRetry) {
        const delay =
          retryAfter !== undefined && retryAfter <= policy.maxRetryAfterMs
            ? retryAfter
            : backoffDelay(policy, tries - 1, random);
        stats.retries++;
        log('http retry after status', {
          method: req.method,
          path: req.path,
          status: res.status,
          delayMs: delay,
          attempt: tries,
        });
        await opts.clock.sleep(delay, req.signal);
        continue;
      }
      throw fail('HTTP_STATUS', req, `HTTP ${res.status}${vendorMessage(res.body)}`, {
        status: res.status,
        attempts: tries,
        retryable: transient,
        // A 5xx to a write may have been applied before the server failed.
        mayHaveReachedServer: res.status >= 500,
        body: redactValue(res.body, redact),
      });
    }
  }

  return { request, stats, redact };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The vendor's own error text, when its envelope has one (`errors[].message`). */
function vendorMessage(body: unknown): string {
  if (body === null || typeof body !== 'object' || !('errors' in body)) return '';
  const errors = body.errors;
  if (!Array.isArray(errors)) return '';
  const parts = errors.flatMap((e: unknown) =>
    e !== null && typeof e === 'object' && 'message' in e && typeof e.message === 'string'
      ? [`${'code' in e && typeof e.code === 'number' ? `${e.code} ` : ''}${e.message}`]
      : [],
  );
  return parts.length > 0 ? `: ${parts.join('; ')}` : '';
}

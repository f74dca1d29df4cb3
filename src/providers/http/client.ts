import type { Agent, Dispatcher } from 'undici';
import type { Logger } from '../provider.js';
import { abortReason, type Clock } from './clock.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryPolicy,
} from './backoff.js';
import { HttpError, type HttpErrorCode } from './errors.js';
import {
  BudgetBlockedError,
  unlimited,
  type RateLimiter,
  type RequestPriority,
  type VendorBudgetState,
} from './rate-limiter.js';
import type { TokenSource } from './auth.js';
import { createRedactor, redactValue, type Redactor } from './redact.js';
import { AgentClass } from './undici-agent.js';

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
  return new AgentClass({
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
  path?: string;
  /**
   * An absolute URL instead of `path` (a vendor's next link, e.g. `@odata.nextLink`). It must
   * have the client's origin: the request carries the client's token, which must never go
   * to another host. Anything else fails as `INVALID_RESPONSE` without being sent.
   */
  url?: string;
  /** Query parameters; an array is sent as the parameter repeated (`domain=a&domain=b`). */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** A JSON body. */
  body?: unknown;
  /** A form-encoded body (`application/x-www-form-urlencoded`), e.g. an OAuth token request. */
  form?: Record<string, string>;
  /** More headers for this request only (never Authorization: that is the auth hook's). */
  headers?: Record<string, string>;
  /**
   * Whether sending it twice has the same effect as once. Default: every method but POST.
   * A non-idempotent request is retried only when it surely never reached the server
   * (connection refused, 429, 401 before a token refresh); otherwise it fails with
   * `mayHaveReachedServer` set. Reads sent as POST (Mimecast) should say `idempotent: true`.
   */
  idempotent?: boolean;
  /**
   * Default `normal`. `low`: it waits at the budgets until no `normal` request does (a
   * verification re-read must not delay what a plan reads or a write), retries included.
   */
  priority?: RequestPriority;
  /**
   * How a successful (2xx) answer's text becomes its `body` (default `JSON.parse`); when it
   * throws, the body is the text's first 200 characters, as for an answer that is not JSON.
   */
  parse?: (text: string) => unknown;
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
  /** Times a 401 made the client fetch a fresh token. */
  tokenRefreshes: number;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  readonly stats: HttpStats;
  /** Hides every secret this client has seen (static ones, and every token it was given). */
  readonly redact: Redactor;
  /** The vendor told us to slow down in a way the client cannot see (an inner 429 of a batch). */
  pauseUntil(untilMs: number): void;
  /** Abort what is in flight and refuse new requests (`ABORTED`). Idempotent. */
  close(): Promise<void>;
}

/** A 2xx that is a failure all the same (Cloudflare `success: false`, an error envelope). */
export interface VendorFailure {
  /** The vendor's own words (redacted by the client). */
  message: string;
  /** Whether trying later may succeed. Default false. */
  retryable?: boolean;
  /** Whether the call may have changed something although it reported failure. Default false. */
  mayHaveApplied?: boolean;
}

export interface HttpClientOptions {
  baseUrl: string;
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  /** Sent with every request; `Bearer`/`Basic` values are treated as secrets. */
  headers?: Record<string, string>;
  /**
   * The auth hook: where the `Authorization: Bearer` token of each request comes from. A 401
   * (or a status in `authFailureStatuses`) makes the client drop the token, fetch a fresh
   * one and send the request once more; a second refusal fails as `UNAUTHORIZED`.
   */
  auth?: TokenSource;
  /** Statuses that mean "credentials refused or expired" besides 401 (Mimecast: 418). */
  authFailureStatuses?: readonly number[];
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
  /**
   * How long a 429 (or a retried 5xx) asks us to wait, in ms, from the response headers.
   * Default `retryAfterHeader` (Retry-After seconds or date); Mimecast gives milliseconds in
   * `X-RateLimit-Reset`: `resetHeaderMs('x-ratelimit-reset')`.
   */
  rateLimitWait?: RateLimitWait;
  /**
   * What remains of the budget by the vendor's rate-limit headers on any response (e.g.
   * `ratelimitHeaderState`): given to the account budget to correct its estimate.
   */
  rateLimitState?: (
    headers: Record<string, string | string[] | undefined>,
  ) => VendorBudgetState | undefined;
  /**
   * The command's deadline (epoch ms). A 429 asking for a longer wait than `maxRetryAfterMs`
   * (Cloudflare blocks a token for 5 minutes once its limit is hit) is waited out, saying
   * so as a warning, when the wait ends before the deadline; otherwise the request fails at
   * once with a message that names the wait. Absent: waited out (the signal still ends it).
   */
  deadlineAt?: number;
  /** The vendor's error text from an error body, e.g. Cloudflare's `errors[]`. */
  errorText?: (body: unknown, status: number) => string | undefined;
  /** Looks at every 2xx; a returned failure makes the request fail as `VENDOR_FAILURE`. */
  inspect?: (res: HttpResponse, req: HttpRequest) => VendorFailure | undefined;
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
 * A JSON-over-HTTP client for one vendor account: authenticated, rate limited, retrying,
 * redacting.
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
  const waitOf = opts.rateLimitWait ?? retryAfterHeader;
  const errorText = opts.errorText ?? genericErrorText;
  const authStatuses = new Set([401, ...(opts.authFailureStatuses ?? [])]);
  const headerSecrets = Object.values(opts.headers ?? {}).flatMap((v) => {
    const m = /^\s*(?:Bearer|Basic)\s+(.+)$/i.exec(v);
    return m?.[1] !== undefined ? [v, m[1]] : [];
  });
  const redact = createRedactor([
    ...headerSecrets,
    ...(opts.secrets ?? []),
    ...(opts.auth?.secrets ?? []),
  ]);
  const limit = createSemaphore(opts.maxConcurrent ?? 16);
  const stats: HttpStats = { requests: 0, retries: 0, rateLimited: 0, tokenRefreshes: 0 };
  const closer = new AbortController();
  const log = (message: string, fields: Record<string, unknown>): void => {
    opts.logger.debug(redact(message), redactValue(fields, redact) as Record<string, unknown>);
  };

  const fail = (
    code: HttpErrorCode,
    req: HttpRequest,
    label: string,
    detail: string,
    extra: Partial<ConstructorParameters<typeof HttpError>[1]> & { attempts: number },
  ): HttpError =>
    new HttpError(redact(`${req.method} ${label}: ${detail}`), {
      code,
      method: req.method,
      path: label,
      retryable: false,
      mayHaveReachedServer: false,
      ...extra,
      ...(extra.body !== undefined ? { body: redactValue(extra.body, redact) } : {}),
    });

  /** Origin-relative path with query, and the label (path without query) used in messages. */
  const target = (req: HttpRequest): { path: string; label: string } | string => {
    let url: URL;
    if (req.url !== undefined) {
      try {
        url = new URL(req.url);
      } catch {
        return `next link is not a URL`;
      }
      // The token goes with the request: never to another scheme, host or port.
      if (url.origin !== origin)
        return `link to another origin (${url.protocol}//${url.host}) refused: it would carry the token there`;
    } else {
      url = new URL(`${basePath}${req.path ?? ''}`, origin);
    }
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (Array.isArray(v))
        for (const one of v as readonly string[]) url.searchParams.append(k, one);
      else if (v !== undefined) url.searchParams.append(k, String(v));
    return { path: `${url.pathname}${url.search}`, label: req.path ?? url.pathname };
  };

  async function attempt(
    req: HttpRequest,
    path: string,
    token: string | undefined,
    signal: AbortSignal,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...opts.headers,
      ...req.headers,
    };
    let body: string | undefined;
    if (req.form !== undefined) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    stats.requests++;
    const res = await opts.dispatcher.request({
      origin,
      path,
      method: req.method,
      headers,
      body: body ?? null,
      signal,
      headersTimeout: opts.headersTimeoutMs ?? 30_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
    });
    const text = await res.body.text();
    let parsed: unknown = undefined;
    if (text !== '') {
      try {
        parsed =
          req.parse !== undefined && res.statusCode >= 200 && res.statusCode < 300
            ? req.parse(text)
            : (JSON.parse(text) as unknown);
      } catch {
        parsed = text.slice(0, 200);
      }
    }
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  const vendorText = (body: unknown, status: number): string => {
    let text: string | undefined;
    try {
      text = errorText(body, status);
    } catch {
      text = undefined;
    }
    return text !== undefined && text !== '' ? `: ${text}` : '';
  };

  /** What a block means for this command, naming the wait. */
  const blockedText = (untilMs: number, waiting: boolean): string => {
    const secs = Math.max(1, Math.ceil((untilMs - opts.clock.now()) / 1000));
    const until = new Date(untilMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const who = opts.auth?.describe ?? 'this account';
    return waiting
      ? `rate limit hit: ${origin} blocks every request of ${who} for ${secs} s (until ${until}); waiting it out before sending more`
      : `429 Too Many Requests: ${origin} blocks every request of ${who} for ${secs} s (until ${until}), past the command's deadline; nothing more was sent with it: re-run after ${until}`;
  };

  async function request(req: HttpRequest): Promise<HttpResponse> {
    const idempotent = req.idempotent ?? req.method !== 'POST';
    const where = target(req);
    const shownPath = req.path ?? (req.url !== undefined ? '(next link)' : '');
    if (typeof where === 'string')
      throw fail('INVALID_RESPONSE', req, shownPath, where, { attempts: 0 });
    const { path, label } = where;
    if (closer.signal.aborted)
      throw fail('ABORTED', req, label, 'the client is closed', { attempts: 0 });
    // One signal per request: listeners go on it, never on the shared ones (dozens of
    // requests in flight would pile up on a client-wide signal and warn about a leak).
    const signal = AbortSignal.any(
      req.signal !== undefined ? [req.signal, closer.signal] : [closer.signal],
    );
    const aborted = (tries: number, inFlight = false): HttpError =>
      fail(
        'ABORTED',
        req,
        label,
        req.signal?.aborted === true ? abortReason(req.signal).message : 'the client is closed',
        // Aborted while on the wire: a write may have been applied all the same.
        { attempts: tries, mayHaveReachedServer: inFlight && !idempotent },
      );
    let refreshed = false;
    for (let tries = 1; ; tries++) {
      const canRetry = tries <= policy.maxRetries;
      let token: string | undefined;
      let res: HttpResponse;
      try {
        const priority = req.priority ?? 'normal';
        await limiter.acquire(signal, {
          priority,
          ...(opts.deadlineAt !== undefined ? { notAfter: opts.deadlineAt } : {}),
        });
        const admittedAt = opts.clock.now();
        await originLimiter.acquire(signal, { priority });
        // A low-priority request may wait long at the per-IP limit: the token's budget
        // counts it from when it goes out, as the vendor does.
        if (opts.clock.now() > admittedAt) limiter.sentLate?.(admittedAt);
        if (opts.auth !== undefined) {
          token = await opts.auth.get(signal);
          redact.add(token);
        }
      } catch (err) {
        if (signal.aborted) throw aborted(tries);
        if (err instanceof BudgetBlockedError)
          throw fail('RATE_LIMITED', req, label, blockedText(err.untilMs, false), {
            attempts: tries - 1,
            retryable: true,
          });
        throw err;
      }
      try {
        // A block may have come while this request waited for a connection slot: then it
        // goes back to wait for the budget instead of meeting a certain 429.
        const sent = await limit(() =>
          (limiter.pausedUntil?.() ?? 0) > opts.clock.now()
            ? Promise.resolve(undefined)
            : attempt(req, path, token, signal),
        );
        if (sent === undefined) {
          tries--;
          continue;
        }
        res = sent;
      } catch (err) {
        if (signal.aborted) throw aborted(tries, true);
        const code = errorCode(err);
        const sent = !NOT_SENT.has(code);
        const errCode: HttpErrorCode = TIMEOUTS.has(code) ? 'TIMEOUT' : 'NETWORK';
        const message = err instanceof Error ? err.message : String(err);
        if (canRetry && (idempotent || !sent)) {
          const delay = backoffDelay(policy, tries - 1, random);
          stats.retries++;
          log('http retry after connection error', {
            method: req.method,
            path: label,
            code,
            delayMs: delay,
            attempt: tries,
          });
          await sleep(delay, signal, tries);
          continue;
        }
        throw fail(errCode, req, label, `${code || 'error'}: ${message}`, {
          attempts: tries,
          retryable: true,
          mayHaveReachedServer: sent,
          cause: err,
        });
      }
      if (opts.rateLimitState !== undefined) {
        const state = opts.rateLimitState(res.headers);
        if (state !== undefined) limiter.observe?.(state);
      }
      if (res.status >= 200 && res.status < 300) {
        const failure = opts.inspect?.(res, req);
        if (failure === undefined) return res;
        throw fail('VENDOR_FAILURE', req, label, `HTTP ${res.status}: ${failure.message}`, {
          status: res.status,
          attempts: tries,
          retryable: failure.retryable ?? false,
          mayHaveReachedServer: failure.mayHaveApplied ?? false,
          body: res.body,
        });
      }
      if (authStatuses.has(res.status)) {
        // The server refused the credentials before doing anything: safe to send again,
        // once, with a fresh token (another caller may have fetched it already).
        if (
          opts.auth !== undefined &&
          token !== undefined &&
          !refreshed &&
          opts.auth.invalidate(token)
        ) {
          refreshed = true;
          stats.tokenRefreshes++;
          log('http credentials refused; fetching a fresh token', {
            method: req.method,
            path: label,
            status: res.status,
          });
          tries--;
          continue;
        }
        throw fail(
          'UNAUTHORIZED',
          req,
          label,
          `HTTP ${res.status}${vendorText(res.body, res.status)}: the credentials were refused${refreshed ? ' (also with a freshly fetched token)' : ''}${opts.auth !== undefined ? ` (${opts.auth.describe})` : ''}`,
          { status: res.status, attempts: tries, body: res.body },
        );
      }
      if (res.status === 429) {
        stats.rateLimited++;
        const now = opts.clock.now();
        const wait = waitOf(res.headers, now) ?? backoffDelay(policy, tries - 1, random);
        const until = now + wait;
        const alreadyHeld = (limiter.pausedUntil?.() ?? 0) > now;
        // Hold every request to this account, not only this one: the budget is shared.
        limiter.pauseUntil(until);
        if (canRetry && wait <= policy.maxRetryAfterMs) {
          stats.retries++;
          log('http 429, waiting', {
            method: req.method,
            path: label,
            delayMs: wait,
            attempt: tries,
          });
          await sleep(wait, signal, tries);
          continue;
        }
        // A block (Cloudflare: 5 minutes once the limit is hit). Every request of the token
        // is held, so there is no storm; wait it out when the deadline allows, else fail now.
        const fits = opts.deadlineAt === undefined || until < opts.deadlineAt;
        if (canRetry && fits) {
          if (!alreadyHeld) opts.logger.warn(redact(blockedText(until, true)));
          stats.retries++;
          await sleep(wait, signal, tries);
          continue;
        }
        throw fail(
          'RATE_LIMITED',
          req,
          label,
          wait > policy.maxRetryAfterMs
            ? blockedText(until, false)
            : `429 Too Many Requests (retry after ${Math.ceil(wait / 1000)} s)`,
          {
            status: 429,
            attempts: tries,
            retryable: true,
            body: res.body,
          },
        );
      }
      const transient = res.status >= 500 || res.status === 408 || res.status === 409;
      // Only Retry-After here: a vendor's rate-limit header (on every response) is no
      // reason to retry a failing server sooner than backoff would.
      const retryAfter = retryAfterHeader(res.headers, opts.clock.now());
      if (transient && idempotent && canRetry) {
        const delay =
          retryAfter !== undefined && retryAfter <= policy.maxRetryAfterMs
            ? retryAfter
            : backoffDelay(policy, tries - 1, random);
        stats.retries++;
        log('http retry after status', {
          method: req.method,
          path: label,
          status: res.status,
          delayMs: delay,
          attempt: tries,
        });
        await sleep(delay, signal, tries);
        continue;
      }
      throw fail(
        'HTTP_STATUS',
        req,
        label,
        `HTTP ${res.status}${vendorText(res.body, res.status)}`,
        {
          status: res.status,
          attempts: tries,
          retryable: transient,
          // A 5xx to a write may have been applied before the server failed.
          mayHaveReachedServer: res.status >= 500,
          body: res.body,
        },
      );
    }

    async function sleep(ms: number, s: AbortSignal, tries: number): Promise<void> {
      try {
        await opts.clock.sleep(ms, s);
      } catch (err) {
        if (s.aborted) throw aborted(tries);
        throw err;
      }
    }
  }

  return {
    request,
    stats,
    redact,
    pauseUntil: (untilMs) => {
      limiter.pauseUntil(untilMs);
    },
    close: () => {
      if (!closer.signal.aborted) closer.abort(new Error('the HTTP client was closed'));
      return Promise.resolve();
    },
  };
}

/** The same client, sending every request at `priority` unless the request says otherwise. */
export function withPriority(http: HttpClient, priority: RequestPriority): HttpClient {
  return {
    request: (req) => http.request({ priority, ...req }),
    get stats() {
      return http.stats;
    },
    redact: http.redact,
    pauseUntil: (untilMs) => {
      http.pauseUntil(untilMs);
    },
    close: () => http.close(),
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** How long a response asks us to wait before the next request (ms), if it says. */
export type RateLimitWait = (
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
) => number | undefined;

/** The standard: `Retry-After` in seconds or as an HTTP date. */
export const retryAfterHeader: RateLimitWait = (headers, nowMs) =>
  parseRetryAfter(headerValue(headers['retry-after']), nowMs);

/**
 * A header giving the wait in milliseconds (Mimecast: `X-RateLimit-Reset`), falling back to
 * `Retry-After` when it is absent or not a number.
 */
export function resetHeaderMs(name: string): RateLimitWait {
  const key = name.toLowerCase();
  return (headers, nowMs) => {
    const v = headerValue(headers[key])?.trim();
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v)) return Math.ceil(Number(v));
    return retryAfterHeader(headers, nowMs);
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The error text of the common JSON shapes: `{error: {code, message}}` (Microsoft Graph and
 * many others), OAuth's `{error, error_description}`, `{message}`, or a plain text body.
 * Vendors with another envelope pass their own `errorText`.
 */
export function genericErrorText(body: unknown): string | undefined {
  if (typeof body === 'string') return body.trim().slice(0, 200) || undefined;
  if (!isObject(body)) return undefined;
  const err = body['error'];
  if (isObject(err)) {
    const code = typeof err['code'] === 'string' ? err['code'] : undefined;
    const msg = typeof err['message'] === 'string' ? err['message'] : undefined;
    const text = [code, msg].filter((x) => x !== undefined).join(': ');
    return text || undefined;
  }
  if (typeof err === 'string') {
    const desc = body['error_description'];
    return typeof desc === 'string' ? `${err}: ${desc}` : err;
  }
  if (typeof body['message'] === 'string') return body['message'];
  return undefined;
}

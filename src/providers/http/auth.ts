import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Logger } from '../provider.js';
import type { RetryPolicy } from './backoff.js';
import { createHttpClient, genericErrorText, type HttpClient } from './client.js';
import { abortReason, type Clock } from './clock.js';
import { HttpError, isHttpError } from './errors.js';

/**
 * The auth hook of the HTTP client: where each request's bearer token comes from. One source
 * per binding (or shared by every binding with the same credentials, see `createTokenCache`).
 */
export interface TokenSource {
  /**
   * A token that is valid now: the cached one, or a fresh one when it is missing or about to
   * expire. Concurrent callers share one fetch; `signal` only stops this caller's wait.
   */
  get(signal?: AbortSignal): Promise<string>;
  /**
   * The server refused `token` (401): forget it, if it is still the current one, so the next
   * `get` fetches a fresh one. Returns whether a fresh token may differ (false for a static
   * token: sending it again is pointless).
   */
  invalidate(token: string): boolean;
  /** Secrets behind the source (client secret, static token), for every client's redactor. */
  readonly secrets: readonly string[];
  /** Words for messages naming the credentials, never a secret: "client 'abc' at https://…". */
  readonly describe: string;
}

/** A long-lived API token (Cloudflare): nothing to fetch, nothing to refresh. */
export function staticBearer(token: string, describe = 'the API token'): TokenSource {
  const value = token.trim();
  if (value === '') throw new Error(`${describe} is empty`);
  return {
    get: () => Promise.resolve(value),
    invalidate: () => false,
    secrets: [value, token],
    describe,
  };
}

export interface ClientCredentialsOptions {
  /** The token endpoint, e.g. `{base}/oauth/token` or `{authority}/{tenant}/oauth2/v2.0/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** `scope` form field, e.g. `https://graph.microsoft.com/.default`. */
  scope?: string;
  /** More form fields the vendor wants. */
  extra?: Readonly<Record<string, string>>;
  dispatcher: Dispatcher;
  clock: Clock;
  logger: Logger;
  /**
   * Fetch a fresh token this long before `expires_in` runs out (default 60 s; never more
   * than half the token's lifetime).
   */
  refreshBeforeMs?: number;
  /** Lifetime assumed when the response has no `expires_in` (default 5 minutes). */
  defaultLifetimeMs?: number;
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  headersTimeoutMs?: number;
}

/** Statuses with which a token endpoint says "these credentials are wrong". */
const REFUSED = new Set([400, 401, 403]);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Wait for `promise`, but give up (without cancelling it) when `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4): `POST tokenUrl` with a form-encoded
 * `grant_type=client_credentials`, `client_id`, `client_secret`, optional `scope` and extra
 * fields; the answer's `access_token` is cached until shortly before `expires_in`.
 *
 * A token request that the endpoint refuses (400/401/403: `invalid_client`, a wrong secret)
 * fails as `UNAUTHORIZED`; a 5xx or a network error is retried like any request (asking for
 * a token twice does no harm). The client secret and every token are kept out of messages.
 */
export function clientCredentials(opts: ClientCredentialsOptions): TokenSource {
  let url: URL;
  try {
    url = new URL(opts.tokenUrl);
  } catch {
    throw new Error(`token URL '${opts.tokenUrl}' is not a URL`);
  }
  const describe = `client '${opts.clientId}' at ${url.origin}${url.pathname}`;
  const http: HttpClient = createHttpClient({
    baseUrl: `${url.origin}${url.pathname}`,
    dispatcher: opts.dispatcher,
    clock: opts.clock,
    logger: opts.logger,
    secrets: [opts.clientSecret],
    errorText: genericErrorText,
    ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
    ...(opts.random !== undefined ? { random: opts.random } : {}),
    ...(opts.headersTimeoutMs !== undefined ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
  });
  const form: Record<string, string> = {
    ...opts.extra,
    grant_type: 'client_credentials',
    client_id: opts.clientId,
    client_secret: opts.clientSecret,
    ...(opts.scope !== undefined ? { scope: opts.scope } : {}),
  };
  let current: { token: string; refreshAt: number } | undefined;
  let inflight: Promise<string> | undefined;

  const invalid = (detail: string): HttpError =>
    new HttpError(http.redact(`POST ${url.pathname}: token response: ${detail} (${describe})`), {
      code: 'INVALID_RESPONSE',
      method: 'POST',
      path: url.pathname,
      retryable: false,
      mayHaveReachedServer: false,
      attempts: 1,
    });

  const fetchToken = async (): Promise<string> => {
    const started = opts.clock.now();
    let body: unknown;
    try {
      const res = await http.request({
        method: 'POST',
        path: '',
        query: Object.fromEntries(url.searchParams),
        form,
        idempotent: true,
      });
      body = res.body;
    } catch (err) {
      if (isHttpError(err) && err.status !== undefined && REFUSED.has(err.status))
        throw new HttpError(
          `${err.message} (token request refused for ${describe}: check the client id and secret)`,
          {
            code: 'UNAUTHORIZED',
            method: 'POST',
            path: url.pathname,
            status: err.status,
            retryable: false,
            mayHaveReachedServer: false,
            attempts: err.attempts,
          },
        );
      throw err;
    }
    if (!isObject(body)) throw invalid('not a JSON object');
    const token = body['access_token'];
    if (typeof token !== 'string' || token.trim() === '') throw invalid('no access_token');
    http.redact.add(token);
    const type = body['token_type'];
    if (typeof type === 'string' && type.toLowerCase() !== 'bearer')
      throw invalid(`token_type '${type}' is not Bearer`);
    const raw = body['expires_in'];
    const seconds = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    if (seconds !== undefined && (typeof seconds !== 'number' || !(seconds > 0)))
      throw invalid('expires_in is not a positive number');
    const lifetime =
      typeof seconds === 'number' ? seconds * 1000 : (opts.defaultLifetimeMs ?? 300_000);
    const early = Math.min(opts.refreshBeforeMs ?? 60_000, lifetime / 2);
    // Counted from when we asked: the token may have been issued a little before it arrived.
    current = { token, refreshAt: started + lifetime - early };
    opts.logger.debug('oauth token fetched', { client: opts.clientId, expiresInMs: lifetime });
    return token;
  };

  return {
    get(signal) {
      if (current !== undefined && opts.clock.now() < current.refreshAt)
        return Promise.resolve(current.token);
      if (inflight === undefined) {
        current = undefined;
        inflight = fetchToken().finally(() => {
          inflight = undefined;
        });
      }
      return raceSignal(inflight, signal);
    },
    invalidate(token) {
      if (current?.token === token) current = undefined;
      return true;
    },
    secrets: [opts.clientSecret],
    describe,
  };
}

/**
 * The tokens a provider factory shares between its bindings: one source per token URL,
 * client id, scope and extra fields (and secret, so a changed secret never reuses a token),
 * so 125 tenants signing in with one app registration fetch one token, not 125.
 */
export interface TokenCache {
  clientCredentials(opts: ClientCredentialsOptions): TokenSource;
  /** Sources held (for tests). */
  readonly size: number;
}

export function createTokenCache(): TokenCache {
  const sources = new Map<string, TokenSource>();
  return {
    clientCredentials(opts) {
      const key = JSON.stringify([
        opts.tokenUrl,
        opts.clientId,
        opts.scope ?? null,
        Object.entries(opts.extra ?? {}).sort(),
        createHash('sha256').update(opts.clientSecret).digest('hex'),
      ]);
      let source = sources.get(key);
      if (source === undefined) {
        source = clientCredentials(opts);
        sources.set(key, source);
      }
      return source;
    },
    get size() {
      return sources.size;
    },
  };
}

/** Why a request failed, as callers need to act on it. */
export type HttpErrorCode =
  | 'HTTP_STATUS' // the server answered with a non-2xx status
  | 'RATE_LIMITED' // 429 and retries exhausted (or Retry-After beyond what we wait)
  | 'NETWORK' // connection refused, reset or closed
  | 'TIMEOUT' // connect, headers or body timeout
  | 'ABORTED' // the caller's AbortSignal fired (a deadline), or the client was closed
  | 'UNAUTHORIZED' // credentials refused: a 401 also after a fresh token, or the token endpoint said no
  | 'VENDOR_FAILURE' // a 2xx whose body says the call failed (the client's `inspect` option)
  | 'INVALID_RESPONSE'; // the body is not what the contract says (or a next link to another origin)

export interface HttpErrorInit {
  code: HttpErrorCode;
  method: string;
  /** URL path (origin and query left out of messages on purpose). */
  path: string;
  status?: number;
  /** Whether trying again later may succeed. */
  retryable: boolean;
  /**
   * Whether the request may have been processed by the server. A non-idempotent write that
   * failed with this set must be checked by reading before it is tried again.
   */
  mayHaveReachedServer: boolean;
  attempts: number;
  body?: unknown;
  cause?: unknown;
}

/** The one error type of the HTTP layer; its message is already redacted. */
export class HttpError extends Error {
  readonly code: HttpErrorCode;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly mayHaveReachedServer: boolean;
  readonly attempts: number;
  readonly body: unknown;

  constructor(message: string, init: HttpErrorInit) {
    super(message);
    this.name = 'HttpError';
    this.code = init.code;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.retryable = init.retryable;
    this.mayHaveReachedServer = init.mayHaveReachedServer;
    this.attempts = init.attempts;
    this.body = init.body;
  }
}

export function isHttpError(err: unknown): err is HttpError {
  return err instanceof HttpError;
}

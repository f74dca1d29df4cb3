import Bottleneck from 'bottleneck';
import { Octokit } from 'octokit';
import type { Logger } from '../providers/provider.js';

export type GithubClient = InstanceType<typeof Octokit>;

export interface GithubClientOptions {
  /** GITHUB_TOKEN (or an app token). Sent as a header, never logged. */
  token: string;
  /** REST API root, from GITHUB_API_URL (GitHub Enterprise Server or a fake in tests). */
  baseUrl: string;
  logger: Logger;
  /** How often to retry after a rate limit (primary or secondary) before giving up. */
  maxRateLimitRetries?: number;
  /**
   * Minimum spacing of writes and of notification-triggering writes (comments, issues), in ms.
   * GitHub asks for about 1 s and 3 s to stay clear of secondary rate limits; tests use 0.
   */
  pacing?: { writeMs: number; notificationMs: number };
  /** Milliseconds per second of Retry-After (1000 in production; tests shorten waits). */
  retryAfterBaseValue?: number;
  /** Retries of 5xx responses (the retry plugin); tests set 0 to fail fast. */
  serverErrorRetries?: number;
}

const USER_AGENT = 'mxpolicy (+https://github.com/mxpolicy/mxpolicy)';

/**
 * An Octokit with the retry and throttling plugins (both built into `octokit`), configured to
 * wait out secondary rate limits a bounded number of times. One instance per run, passed to
 * every function of this module: no singletons.
 */
export function createGithubClient(opts: GithubClientOptions): GithubClient {
  const maxRetries = opts.maxRateLimitRetries ?? 3;
  const pacing = opts.pacing ?? { writeMs: 1000, notificationMs: 3000 };
  const onLimit =
    (what: string) =>
    (
      retryAfter: number,
      options: { method: string; url: string },
      _o: unknown,
      retryCount: number,
    ) => {
      const retry = retryCount < maxRetries;
      opts.logger.warn(`GitHub ${what} rate limit`, {
        request: `${options.method} ${options.url}`,
        retryAfterSeconds: retryAfter,
        retry,
      });
      return retry;
    };
  return new Octokit({
    auth: opts.token,
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    userAgent: USER_AGENT,
    log: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message: string) => {
        opts.logger.warn(message);
      },
      error: (message: string) => {
        opts.logger.warn(message);
      },
    },
    throttle: {
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
      retryAfterBaseValue: opts.retryAfterBaseValue ?? 1000,
      write: new Bottleneck.Group({ maxConcurrent: 1, minTime: pacing.writeMs }),
      notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: pacing.notificationMs }),
    },
    retry: { retries: opts.serverErrorRetries ?? 3 },
  });
}

/** Time as the HTTP layer sees it: injectable so retry and rate-limit tests run instantly. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export function createSystemClock(): Clock {
  return {
    now: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted === true) {
          reject(abortReason(signal));
          return;
        }
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(abortReason(signal));
        };
        const timer = setTimeout(
          () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.max(0, ms),
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}

/**
 * A virtual clock for tests: `sleep` advances time at once and records how long it was
 * asked to wait, so backoff and Retry-After can be asserted without waiting.
 */
export interface VirtualClock extends Clock {
  readonly sleeps: number[];
  advance(ms: number): void;
}

export function createVirtualClock(start = Date.UTC(2026, 10, 23, 12, 0, 0)): VirtualClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    sleep: (ms, signal) => {
      if (signal?.aborted === true) return Promise.reject(abortReason(signal));
      sleeps.push(ms);
      t += Math.max(0, ms);
      // Yield to the event loop so that concurrent work interleaves as with real timers.
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  const err = new Error('The operation was aborted');
  err.name = 'AbortError';
  return err;
}

/** A deadline's signal and the means to stop its timer. */
export interface TimedAbort {
  readonly signal: AbortSignal;
  /** Stop the timer (the work it bounds is done). */
  readonly dispose: () => void;
}

/**
 * A signal that aborts with `reason()` `ms` from now. The timer holds the controller, so the
 * signal fires even when only an `AbortSignal.any` refers to it (Node 20 holds those sources
 * weakly: an `AbortSignal.timeout` in one can be garbage-collected before it fires). The
 * timer is unref'ed: it never keeps the process alive by itself, only ends work that does.
 */
export function abortAfter(ms: number, reason: () => Error): TimedAbort {
  const ctl = new AbortController();
  const timer = setTimeout(() => {
    ctl.abort(reason());
  }, ms);
  timer.unref();
  return {
    signal: ctl.signal,
    dispose: () => {
      clearTimeout(timer);
    },
  };
}

import type { TenantApplyResult } from '../plan/types.js';
import type { CliContext } from './context.js';

/** How often a terminal line is redrawn, and how often a log line is written otherwise. */
export const PROGRESS_TTY_MS = 100;
export const PROGRESS_LOG_MS = 10_000;
/** On a terminal, a run shows progress once it has this many tenants or takes this long. */
const TTY_MIN_TENANTS = 10;
const TTY_MIN_MS = 1_000;

export type ProgressPhase = 'plan' | 'apply' | 'read';

/** A tenant still at work this long is named in the progress line. */
export const PROGRESS_SLOW_MS = 10_000;
/** At most this many slow tenants are named (the longest first), then "+N more". */
const SLOW_SHOWN = 3;

/** Calls `tick` every `ms` until the returned function is called (never keeps the process alive). */
export type Every = (tick: () => void, ms: number) => () => void;

const realEvery: Every = (tick, ms) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
};

export interface Progress {
  /** A tenant's work began (its read, plan or apply), of `total` in the run. */
  tenantStarted(tenant: string, total: number): void;
  /** A tenant is done (planned, read, or applied with `result`). */
  tenantDone(done: number, total: number, result?: TenantApplyResult, tenant?: string): void;
  /** Clear the terminal line before something else writes to stderr (a warning). */
  interrupt(): void;
}

/**
 * Progress of a long run, on stderr only (stdout carries the results, which may be piped or
 * parsed): tenants done of the total and, when applying, changes applied and failed so far.
 * On a terminal, one line redrawn in place (at most every 100 ms); otherwise (a CI log) a
 * line every 10 s, and none at all for a run shorter than that. The line also comes while
 * no tenant finishes (a hung tenant must not freeze it), and names the tenants at work for
 * 10 s or more, so an on-call engineer sees which one holds the run up. Counts and tenant
 * ids only: no entries, no values, no secrets.
 */
export function createProgress(
  ctx: CliContext,
  phase: ProgressPhase,
  every: Every = realEvery,
): Progress {
  const tty = ctx.stderr.isTTY === true;
  const started = ctx.now().getTime();
  let last = started;
  let shown = false;
  let drawn = false;
  let done = 0;
  let total = 0;
  let stop: (() => void) | undefined;
  const n = { applied: 0, failed: 0, skipped: 0, pending: 0 };
  /** Tenants at work, with when they started (in start order). */
  const working = new Map<string, number>();

  const slow = (now: number): string => {
    const late = [...working]
      .filter(([, since]) => now - since >= PROGRESS_SLOW_MS)
      .sort((a, b) => a[1] - b[1]);
    if (late.length === 0) return '';
    const named = late
      .slice(0, SLOW_SHOWN)
      .map(([t, since]) => `${t} (${Math.round((now - since) / 1000)}s)`);
    const more = late.length > SLOW_SHOWN ? ` +${late.length - SLOW_SHOWN} more` : '';
    return `; still at work: ${named.join(', ')}${more}`;
  };

  const text = (done: number, total: number): string => {
    const seconds = Math.round((ctx.now().getTime() - started) / 1000);
    const verb = phase === 'apply' ? 'applied' : phase === 'plan' ? 'planned' : 'read';
    const changes =
      phase === 'apply'
        ? `; changes: ${n.applied} applied, ${n.failed} failed${n.skipped > 0 ? `, ${n.skipped} skipped` : ''}${n.pending > 0 ? `, ${n.pending} pending` : ''}`
        : '';
    return `mxpolicy ${phase}: ${done}/${total} tenants ${verb}${changes} (${seconds}s)${done < total ? slow(ctx.now().getTime()) : ''}`;
  };

  /**
   * Write the line when it is due: on a terminal once the run is long (redrawn at most every
   * `ttyGapMs`), in a log once per interval, and a log's closing line only if it got any.
   */
  const show = (final: boolean, ttyGapMs: number): void => {
    const now = ctx.now().getTime();
    if (tty) {
      const long = total >= TTY_MIN_TENANTS || now - started >= TTY_MIN_MS;
      if (!long || (!final && drawn && now - last < ttyGapMs)) return;
      last = now;
      drawn = !final;
      ctx.stderr.write(`\r\x1b[K${text(done, total)}${final ? '\n' : ''}`);
      return;
    }
    if (final ? !shown : now - last < PROGRESS_LOG_MS) return;
    last = now;
    shown = true;
    ctx.stderr.write(`${text(done, total)}\n`);
  };

  /** Between tenants finishing: the line keeps coming (and names who is slow). */
  const heartbeat = (): void => {
    if (total > 0 && done < total) show(false, 0);
  };

  return {
    tenantStarted(tenant, totalNow) {
      total = totalNow;
      working.set(tenant, ctx.now().getTime());
      stop ??= every(heartbeat, tty ? 1_000 : PROGRESS_LOG_MS);
    },
    tenantDone(doneNow, totalNow, result, tenant) {
      done = doneNow;
      total = totalNow;
      if (tenant !== undefined) working.delete(tenant);
      for (const r of result?.results ?? []) n[r.status]++;
      const final = done === total;
      if (final) {
        stop?.();
        stop = undefined;
      }
      show(final, PROGRESS_TTY_MS);
    },
    interrupt() {
      if (!drawn) return;
      ctx.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}

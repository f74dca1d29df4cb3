import type { TenantApplyResult } from '../plan/types.js';
import type { CliContext } from './context.js';

/** How often a terminal line is redrawn, and how often a log line is written otherwise. */
export const PROGRESS_TTY_MS = 100;
export const PROGRESS_LOG_MS = 10_000;
/** On a terminal, a run shows progress once it has this many tenants or takes this long. */
const TTY_MIN_TENANTS = 10;
const TTY_MIN_MS = 1_000;

export type ProgressPhase = 'plan' | 'apply' | 'read';

export interface Progress {
  /** A tenant is done (planned, read, or applied with `result`). */
  tenantDone(done: number, total: number, result?: TenantApplyResult): void;
  /** Clear the terminal line before something else writes to stderr (a warning). */
  interrupt(): void;
}

/**
 * Progress of a long run, on stderr only (stdout carries the results, which may be piped or
 * parsed): tenants done of the total and, when applying, changes applied and failed so far.
 * On a terminal, one line redrawn in place (at most every 100 ms); otherwise (a CI log) a
 * line every 10 s, and none at all for a run shorter than that. Counts only: no tenant
 * data, no values, no secrets.
 */
export function createProgress(ctx: CliContext, phase: ProgressPhase): Progress {
  const tty = ctx.stderr.isTTY === true;
  const started = ctx.now().getTime();
  let last = started;
  let shown = false;
  let drawn = false;
  const n = { applied: 0, failed: 0, skipped: 0, pending: 0 };

  const text = (done: number, total: number): string => {
    const seconds = Math.round((ctx.now().getTime() - started) / 1000);
    const verb = phase === 'apply' ? 'applied' : phase === 'plan' ? 'planned' : 'read';
    const changes =
      phase === 'apply'
        ? `; changes: ${n.applied} applied, ${n.failed} failed${n.skipped > 0 ? `, ${n.skipped} skipped` : ''}${n.pending > 0 ? `, ${n.pending} pending` : ''}`
        : '';
    return `mxpolicy ${phase}: ${done}/${total} tenants ${verb}${changes} (${seconds}s)`;
  };

  return {
    tenantDone(done, total, result) {
      for (const r of result?.results ?? []) n[r.status]++;
      const now = ctx.now().getTime();
      const final = done === total;
      if (tty) {
        const long = total >= TTY_MIN_TENANTS || now - started >= TTY_MIN_MS;
        if (!long || (!final && now - last < PROGRESS_TTY_MS && drawn)) return;
        last = now;
        drawn = !final;
        ctx.stderr.write(`\r\x1b[K${text(done, total)}${final ? '\n' : ''}`);
        return;
      }
      // A log gets a line per interval, and a closing line only if it got any before.
      if (final ? !shown : now - last < PROGRESS_LOG_MS) return;
      last = now;
      shown = true;
      ctx.stderr.write(`${text(done, total)}\n`);
    },
    interrupt() {
      if (!drawn) return;
      ctx.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}

import { describe, expect, it } from 'vitest';
import type { CliContext } from './context.js';
import { createProgress, PROGRESS_LOG_MS, type Every } from './progress.js';

/** A context whose clock the test moves, writing stderr into `err`. */
function harness(tty: boolean): {
  ctx: CliContext;
  err: string[];
  advance(ms: number): void;
  every: Every;
  tick(): void;
  running(): boolean;
} {
  let now = Date.parse('2026-12-01T00:00:00Z');
  const err: string[] = [];
  let ticks: (() => void) | undefined;
  return {
    ctx: {
      cwd: '/',
      env: {},
      stdout: { write: () => true },
      stderr: { write: (c: string) => err.push(c), isTTY: tty },
      now: () => new Date(now),
    },
    err,
    advance: (ms) => {
      now += ms;
    },
    every: (tick) => {
      ticks = tick;
      return () => {
        ticks = undefined;
      };
    },
    tick: () => ticks?.(),
    running: () => ticks !== undefined,
  };
}

describe('progress while a tenant hangs', () => {
  it('keeps writing a log line and names the tenant holding the run up', () => {
    const h = harness(false);
    const p = createProgress(h.ctx, 'apply', h.every);
    for (const t of ['t1', 't2', 't3']) p.tenantStarted(t, 3);
    h.advance(1_000);
    p.tenantDone(1, 3, undefined, 't1');
    h.advance(1_000);
    p.tenantDone(2, 3, undefined, 't3');
    // Nothing finishes any more: the line still comes, every interval, naming t2.
    h.advance(PROGRESS_LOG_MS);
    h.tick();
    h.advance(PROGRESS_LOG_MS);
    h.tick();
    expect(h.err).toEqual([
      'mxpolicy apply: 2/3 tenants applied; changes: 0 applied, 0 failed (12s); still at work: t2 (12s)\n',
      'mxpolicy apply: 2/3 tenants applied; changes: 0 applied, 0 failed (22s); still at work: t2 (22s)\n',
    ]);
    p.tenantDone(3, 3, undefined, 't2');
    expect(h.err.at(-1)).toBe(
      'mxpolicy apply: 3/3 tenants applied; changes: 0 applied, 0 failed (22s)\n',
    );
    expect(h.running()).toBe(false);
  });

  it('names the three longest, then how many more; a quick tenant is not named', () => {
    const h = harness(false);
    const p = createProgress(h.ctx, 'plan', h.every);
    for (const t of ['a', 'b', 'c', 'd', 'e']) {
      p.tenantStarted(t, 6);
      h.advance(1_000);
    }
    h.advance(PROGRESS_LOG_MS);
    p.tenantStarted('f', 6); // just started: not slow
    h.tick();
    expect(h.err).toEqual([
      'mxpolicy plan: 0/6 tenants planned (15s); still at work: a (15s), b (14s), c (13s) +2 more\n',
    ]);
  });

  it('redraws the terminal line between tenants', () => {
    const h = harness(true);
    const p = createProgress(h.ctx, 'read', h.every);
    for (let i = 0; i < 12; i++) p.tenantStarted(`t${i}`, 12);
    h.advance(11_000);
    h.tick();
    expect(h.err.at(-1)).toBe(
      '\r\x1b[Kmxpolicy read: 0/12 tenants read (11s); still at work: t0 (11s), t1 (11s), t2 (11s) +9 more',
    );
  });
});

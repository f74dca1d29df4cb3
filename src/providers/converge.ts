import { sameJson } from '../model/entries.js';
import type { Kind } from '../model/kinds.js';
import type { Change, ChangeResult } from '../plan/types.js';
import type { Clock } from './http/clock.js';
import { isHttpError } from './http/errors.js';
import { describeItemFailure, type ItemOutcome } from './http/items.js';
import type { LiveEntry, Logger } from './provider.js';

/**
 * Writes whose outcome is unknown, made safe for every provider: send; for whatever may or
 * may not have happened (a 5xx to a write, a reset after sending, a timeout), read the kind
 * again, count each change already in effect as applied, and send only the rest — so a retry
 * never duplicates a create — for a bounded number of rounds.
 */

/** One change a provider wants in effect; extend it with what the provider needs to send it. */
export interface Write {
  readonly change: Change;
}

/** What became of one write in one round. */
export type WriteOutcome =
  | { status: 'applied' }
  | { status: 'failed'; reason: string }
  /** It may or may not have happened: re-read before sending it again. */
  | { status: 'unknown'; reason: string }
  /** It surely did not happen (throttled, never sent): send it again, after `afterMs`. */
  | { status: 'retry'; reason: string; afterMs?: number }
  /** Accepted, settling later (reconcile polls `Provider.settle` with `ref`). */
  | { status: 'pending'; reason?: string; ref?: string };

/** Live entries indexed for `inEffect`. */
export interface LiveIndex {
  byId: ReadonlyMap<string, LiveEntry>;
  byKey: ReadonlyMap<string, readonly LiveEntry[]>;
}

export interface ConvergeOptions<W extends Write> {
  kind: Kind;
  /**
   * Send the writes (in as many calls as the provider likes: batches, one by one) and return
   * one outcome per write, in order. A throw counts as `outcomeOfError(err)` for every write.
   */
  send(writes: readonly W[], round: number): Promise<WriteOutcome[]>;
  /** Read the kind completely, as `Provider.read` does (it throws rather than return part). */
  read(): Promise<readonly LiveEntry[]>;
  /** Whether `write` is already in effect. Default: `isInEffect` with `owned`. */
  inEffect?: (write: W, live: LiveIndex) => boolean;
  /**
   * Whether a live entry counts as mxpolicy's for a create or update to be in effect
   * (default: it carries the ownership marker). Kinds without a marker: `() => true`.
   */
  owned?: (entry: LiveEntry) => boolean;
  /** Rounds of sending in all, the first included (default 3). */
  rounds?: number;
  /** Waits before resending throttled writes. */
  clock: Clock;
  signal?: AbortSignal;
  logger?: Logger;
  tenant?: string;
  /** Applied to every failure reason (the HTTP client's redactor). */
  redact?: (text: string) => string;
}

/** The outcome of a write whose request threw. */
export function outcomeOfError(err: unknown): WriteOutcome {
  const reason = err instanceof Error ? err.message : String(err);
  if (!isHttpError(err)) return { status: 'failed', reason };
  // Past the deadline nothing is checked or sent again; say when it may have happened.
  if (err.code === 'ABORTED')
    return {
      status: 'failed',
      reason: err.mayHaveReachedServer
        ? `${reason} (outcome unknown: it may have been applied; the next plan shows it)`
        : reason,
    };
  if (err.mayHaveReachedServer) return { status: 'unknown', reason };
  if (err.code === 'RATE_LIMITED' || err.code === 'NETWORK' || err.code === 'TIMEOUT')
    return { status: 'retry', reason };
  return { status: 'failed', reason };
}

/** The outcome of a write the vendor answered per item inside a 2xx. */
export function outcomeOfItem(o: ItemOutcome): WriteOutcome {
  if (o.ok) return { status: 'applied' };
  const reason = describeItemFailure(o);
  if (!o.retryable) return { status: 'failed', reason };
  return o.retryAfterMs !== undefined
    ? { status: 'retry', reason, afterMs: o.retryAfterMs }
    : { status: 'retry', reason };
}

export function indexLive(live: readonly LiveEntry[]): LiveIndex {
  const byId = new Map<string, LiveEntry>();
  const byKey = new Map<string, LiveEntry[]>();
  for (const l of live) {
    if (l.id !== undefined) byId.set(l.id, l);
    const list = byKey.get(l.key);
    if (list === undefined) byKey.set(l.key, [l]);
    else list.push(l);
  }
  return { byId, byKey };
}

/**
 * The default check: a delete is in effect when its live object (by id, else any owned entry
 * with the key) is gone; a create when an owned entry with the key has the desired value; an
 * update when its live object (by id, else by key) is owned and has the desired value.
 */
export function isInEffect(
  change: Change,
  live: LiveIndex,
  owned: (entry: LiveEntry) => boolean = (l) => l.managed,
): boolean {
  const sameKey = live.byKey.get(change.key) ?? [];
  const matches = (l: LiveEntry | undefined): boolean =>
    l !== undefined && owned(l) && sameJson(l.value, change.after);
  if (change.action === 'delete')
    return change.liveId !== undefined
      ? !live.byId.has(change.liveId)
      : !sameKey.some((l) => owned(l));
  if (change.action === 'create') return sameKey.some(matches);
  if (change.liveId !== undefined) return matches(live.byId.get(change.liveId));
  return sameKey.some(matches);
}

const resultOf = (change: Change, status: ChangeResult['status'], reason?: string): ChangeResult =>
  reason === undefined
    ? { kind: change.kind, key: change.key, action: change.action, status }
    : { kind: change.kind, key: change.key, action: change.action, status, reason };

/**
 * Bring `writes` into effect; one result per write, in order, each applied, failed (with
 * the reason) or pending (settling later, with the provider's `ref`). The loop, per round: send what is pending; applied and failed are final;
 * writes with an unknown outcome are checked against a fresh read (in effect → applied);
 * the rest, and throttled writes, are sent again in the next round. After the last round
 * whatever is still pending fails, saying so.
 */
export async function converge<W extends Write>(
  writes: readonly W[],
  opts: ConvergeOptions<W>,
): Promise<ChangeResult[]> {
  const rounds = Math.max(1, opts.rounds ?? 3);
  const redact = opts.redact ?? ((t: string) => t);
  const owned = opts.owned ?? ((l: LiveEntry) => l.managed);
  const inEffect = opts.inEffect ?? ((w: W, live: LiveIndex) => isInEffect(w.change, live, owned));
  const results = new Array<ChangeResult | undefined>(writes.length);
  const finish = (
    i: number,
    status: ChangeResult['status'],
    reason?: string,
    ref?: string,
  ): void => {
    const w = writes[i] as W;
    const r = resultOf(w.change, status, reason === undefined ? undefined : redact(reason));
    if (ref !== undefined) r.ref = ref;
    results[i] = r;
  };

  let pending = writes.map((_, i) => i);
  for (let round = 1; pending.length > 0; round++) {
    const batch = pending.map((i) => writes[i] as W);
    let outcomes: WriteOutcome[];
    try {
      outcomes = await opts.send(batch, round);
      if (outcomes.length !== batch.length)
        throw new Error(`internal error: ${outcomes.length} outcomes for ${batch.length} writes`);
    } catch (err) {
      const o = outcomeOfError(err);
      outcomes = batch.map(() => o);
    }

    const unknown: { i: number; reason: string }[] = [];
    const again: { i: number; reason: string; afterMs: number }[] = [];
    outcomes.forEach((o, n) => {
      const i = pending[n] as number;
      if (o.status === 'applied') finish(i, 'applied');
      else if (o.status === 'failed') finish(i, 'failed', o.reason);
      else if (o.status === 'pending') finish(i, 'pending', o.reason, o.ref);
      else if (o.status === 'unknown') unknown.push({ i, reason: o.reason });
      else again.push({ i, reason: o.reason, afterMs: o.afterMs ?? 0 });
    });

    // Whatever may have happened is checked before anything is sent again.
    if (unknown.length > 0) {
      let live: LiveIndex | undefined;
      let readError = '';
      if (opts.signal?.aborted === true) readError = 'the deadline passed';
      else
        try {
          live = indexLive(await opts.read());
        } catch (err) {
          readError = err instanceof Error ? err.message : String(err);
        }
      for (const u of unknown) {
        if (live === undefined)
          finish(
            u.i,
            'failed',
            `outcome unknown: ${u.reason}; checking failed: ${readError} (re-run apply to converge)`,
          );
        else if (inEffect(writes[u.i] as W, live)) finish(u.i, 'applied');
        else if (round >= rounds)
          finish(u.i, 'failed', `${u.reason} (not in effect after ${round} attempts)`);
        else again.push({ i: u.i, reason: u.reason, afterMs: 0 });
      }
    }

    const next: number[] = [];
    let wait = 0;
    for (const a of again) {
      if (round >= rounds || opts.signal?.aborted === true)
        finish(
          a.i,
          'failed',
          opts.signal?.aborted === true
            ? `${a.reason} (not sent again: the deadline passed)`
            : `${a.reason} (still refused after ${round} attempts)`,
        );
      else {
        next.push(a.i);
        wait = Math.max(wait, a.afterMs);
      }
    }
    next.sort((a, b) => a - b);
    if (next.length > 0) {
      opts.logger?.warn('write outcome unknown or throttled; sending what is not in effect again', {
        ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
        kind: opts.kind,
        pending: next.length,
        round,
      });
      if (wait > 0)
        try {
          await opts.clock.sleep(wait, opts.signal);
        } catch {
          for (const i of next) finish(i, 'failed', 'not sent again: the deadline passed');
          break;
        }
    }
    pending = next;
  }
  return results.map(
    (r, i) => r ?? resultOf((writes[i] as W).change, 'failed', 'no result (internal error)'),
  );
}

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

// ---- concurrent runs: one copy per key ---------------------------------------------------

/**
 * Two apply runs that plan the same create before either has written it both create the
 * entry: a vendor that allows two objects with one pattern (Cloudflare) then holds it twice.
 * Every run stamps a run id into the ownership marker of what it writes, re-reads the keys
 * it created, and removes its own copy unless that copy is the keeper: the earliest created
 * copy of the key (the vendor's creation time, then the id). The runs agree without talking:
 * the earliest copy's author never removes it, and every later copy was created after the
 * earliest existed, so its author's re-read (after its own create) sees the earliest and
 * removes its own. Copies with the same creation time are told apart by id, which is safe
 * only once that instant is over: the final re-read starts at least one tick of the vendor's
 * clock (the precision of its timestamps) after the creates were answered.
 */

/** One live copy of an entry, as the keeper rule sees it. */
export interface LiveCopy {
  key: string;
  id: string;
  /** The vendor's creation time (RFC 3339), when it gives one. */
  createdAt?: string;
  /** The run id in the ownership marker (absent: another tool, or an older mxpolicy). */
  run?: string;
  /** Carries the ownership marker: only these are copies of an entry mxpolicy created. */
  managed: boolean;
  value: unknown;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)$/i;

/** An RFC 3339 time: its whole milliseconds since the epoch and its fraction's digits. */
function readStamp(text: string | undefined): { ms: number; fraction: string } | undefined {
  if (text === undefined) return undefined;
  const m = STAMP.exec(text.trim());
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1] ?? ''}${m[3] ?? 'Z'}`);
  return Number.isFinite(ms) ? { ms, fraction: m[2] ?? '' } : undefined;
}

/** An RFC 3339 time as nanoseconds since the epoch, and its precision (ns); or undefined. */
export function parseCreatedAt(
  text: string | undefined,
): { ns: bigint; tickNs: bigint } | undefined {
  const stamp = readStamp(text);
  if (stamp === undefined) return undefined;
  const { ms, fraction } = stamp;
  return {
    ns: BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0') || '0'),
    tickNs: 10n ** BigInt(9 - fraction.length),
  };
}

/** The precision of an RFC 3339 time in ms, rounded up (`parseCreatedAt(...).tickNs`); 0: none. */
export function tickMsOf(text: string | undefined): number {
  const stamp = readStamp(text);
  return stamp === undefined ? 0 : (TICK_MS[stamp.fraction.length] ?? 0);
}
/** Whether `text` has a '.' followed by three digits (a fraction of ms or finer, if it is a time). */
export function hasMsOrFiner(text: string | undefined): boolean {
  if (text === undefined) return false;
  const dot = text.indexOf('.');
  if (dot < 0) return false;
  for (let i = dot + 1; i <= dot + 3; i++) {
    const c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return false;
  }
  return true;
}
/**
 * `tickMsOf`, or 1 for a time with milliseconds or finer without parsing it (its tick is
 * 1 ms at most, 0 if it is no time): enough for a wait that is over once 1 ms has passed.
 */
export function tickMsAtMost(text: string | undefined): number {
  return hasMsOrFiner(text) ? 1 : tickMsOf(text);
}
/** By the number of digits of the fraction: `ceil(10^(9 - digits) ns / 1 ms)`. */
const TICK_MS = [1000, 100, 10, 1, 1, 1, 1, 1, 1, 1];
const MAX_TICK_MS = Math.max(...TICK_MS);

/** Earliest first: creation time (a copy without one after every copy with one), then id. */
export function compareCopies(a: LiveCopy, b: LiveCopy): number {
  const x = parseCreatedAt(a.createdAt)?.ns;
  const y = parseCreatedAt(b.createdAt)?.ns;
  if (x !== undefined && y !== undefined && x !== y) return x < y ? -1 : 1;
  if (x !== undefined && y === undefined) return -1;
  if (x === undefined && y !== undefined) return 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The copy every run keeps: the earliest created managed copy. */
export function keeperOf(copies: readonly LiveCopy[]): LiveCopy | undefined {
  let keeper: LiveCopy | undefined;
  for (const c of copies)
    if (c.managed && (keeper === undefined || compareCopies(c, keeper) < 0)) keeper = c;
  return keeper;
}

/** A read of copies that leaves out this run's copies that are alone (`DedupeOptions.read`). */
export interface CopiesRead {
  copies: readonly LiveCopy[];
  /** The largest tick (ms) among the creation times of this run's copies left out. */
  aloneTickMs: number;
}

export interface DedupeOptions {
  kind: Kind;
  /** This run's id, as stamped into the marker of everything it wrote. */
  run: string;
  /**
   * Read the kind completely, as copies (it throws rather than return part). It may leave
   * out this run's copies that are the only managed copy of their key (nothing to do for
   * them), saying how many and the largest tick (ms, `tickMsOf`) of their creation times.
   */
  read(): Promise<readonly LiveCopy[] | CopiesRead>;
  /** Remove these copies; one result each: gone (removed, or already gone) or why not. */
  remove(ids: readonly string[]): Promise<({ ok: true } | { ok: false; reason: string })[]>;
  /** Which changes to check (default all): a create refused before sending made no copy. */
  consider?: (index: number) => boolean;
  /** When the last create was answered (clock time). */
  createdBy: number;
  clock: Clock;
  signal?: AbortSignal;
  logger?: Logger;
  tenant?: string;
  redact?: (text: string) => string;
}

/**
 * After the creates in `results` (one per change of `changes`): re-read, remove this run's
 * copies that are not their key's keeper, and say so in the results (a new array; the
 * cleanup is not a planned delete and changes no count). A create another run made first
 * with the same value stays applied ("created by a concurrent run"); with another value it
 * fails, saying that the next plan shows the difference.
 */
export async function keepOneCopy(
  changes: readonly Change[],
  results: readonly ChangeResult[],
  opts: DedupeOptions,
): Promise<ChangeResult[]> {
  // Results are copied where they change, not all of them (a full apply creates thousands).
  const out = [...results];
  const edit = (i: number): ChangeResult => {
    const r = { ...(out[i] as ChangeResult) };
    out[i] = r;
    return r;
  };
  const creates = new Map<string, number[]>();
  changes.forEach((c, i) => {
    const r = results[i];
    if (c.action !== 'create' || r === undefined || r.status === 'skipped') return;
    // A create refused before sending made no copy; one whose outcome is unknown may have.
    if (opts.consider !== undefined && !opts.consider(i)) return;
    const list = creates.get(c.key);
    if (list === undefined) creates.set(c.key, [i]);
    else list.push(i);
  });
  if (creates.size === 0) return out;
  const redact = opts.redact ?? ((t: string) => t);
  const where = {
    ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
    kind: opts.kind,
  };

  const readCopies = async (): Promise<{
    at: number;
    byKey: Map<string, LiveCopy[]>;
    aloneTickMs: number;
  }> => {
    const at = opts.clock.now();
    const byKey = new Map<string, LiveCopy[]>();
    const read = await opts.read();
    const copies = 'copies' in read ? read.copies : read;
    for (const c of copies) {
      if (!creates.has(c.key) || !c.managed) continue;
      const list = byKey.get(c.key);
      if (list === undefined) byKey.set(c.key, [c]);
      else list.push(c);
    }
    return { at, byKey, aloneTickMs: 'copies' in read ? read.aloneTickMs : 0 };
  };

  let view: Awaited<ReturnType<typeof readCopies>>;
  try {
    // A copy created in the same tick of the vendor's clock as this run's may not be visible
    // yet; waiting covers vendors that stamp ms or finer (Cloudflare: µs). 2 ms, so that the
    // clock's whole milliseconds surely show one passed.
    await opts.clock.sleep(2, opts.signal);
    view = await readCopies();
    // Where this run keeps its copy, a copy created later in the same tick (and with a
    // smaller id) must be visible too: read again once the tick is over.
    const waited = view.at - opts.createdBy;
    // This run's copies left out of the read are their keys' keepers.
    let tickMs = view.aloneTickMs;
    // No tick is longer than a second: a view read that long after the last create needs
    // no second look (a full apply's re-read usually is, and skips a parse per entry).
    if (waited < MAX_TICK_MS)
      for (const copies of view.byKey.values()) {
        const keeper = keeperOf(copies);
        if (keeper === undefined || keeper.run !== opts.run) continue;
        // Once a millisecond has passed, a time with ms or finer cannot ask for a wait: it
        // is not parsed.
        tickMs = Math.max(
          tickMs,
          waited >= 1 ? tickMsAtMost(keeper.createdAt) : tickMsOf(keeper.createdAt),
        );
      }
    if (tickMs > 0 && waited < tickMs) {
      await opts.clock.sleep(tickMs - waited, opts.signal);
      view = await readCopies();
    }
  } catch (err) {
    const reason = redact(err instanceof Error ? err.message : String(err));
    opts.logger?.warn('could not check for copies a concurrent run created', { ...where, reason });
    for (const list of creates.values())
      for (const i of list) {
        if ((out[i] as ChangeResult).status !== 'applied') continue;
        edit(i).reason =
          `checking for a concurrent run's copy failed: ${reason} (the next plan shows any duplicate)`;
      }
    return out;
  }

  // This run's copies that are not their key's keeper.
  const mine = new Map<string, string[]>();
  for (const [key, copies] of view.byKey) {
    // One copy (the usual case) is its own keeper.
    if (copies.length === 1) continue;
    const keeper = keeperOf(copies);
    const drop = copies.filter((c) => c.run === opts.run && c !== keeper).map((c) => c.id);
    if (drop.length > 0) mine.set(key, drop);
  }
  const ids = [...mine.values()].flat();
  const removed = new Map<string, string | undefined>();
  if (ids.length > 0) {
    let outcome: ({ ok: true } | { ok: false; reason: string })[];
    try {
      outcome = await opts.remove(ids);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      outcome = ids.map(() => ({ ok: false, reason }));
    }
    ids.forEach((id, n) => {
      const o = outcome[n];
      removed.set(id, o === undefined || o.ok ? undefined : redact(o.reason));
    });
    opts.logger?.info("removed this run's copies of entries a concurrent run created first", {
      ...where,
      copies: [...removed.values()].filter((r) => r === undefined).length,
    });
  }

  for (const [key, indexes] of creates) {
    const copies = view.byKey.get(key) ?? [];
    const keeper = copies.length === 1 ? (copies[0] as LiveCopy) : keeperOf(copies);
    if (keeper === undefined || keeper.run === opts.run) continue; // ours, or gone since
    const ownDrop = mine.get(key) ?? [];
    const failedRemoval = ownDrop.map((id) => removed.get(id)).find((r) => r !== undefined);
    for (const i of indexes) {
      const r = edit(i);
      const c = changes[i] as Change;
      const same = sameJson(keeper.value, c.after);
      const byOther = `a concurrent run created ${key} first (its copy, id ${keeper.id}, is kept)`;
      if (failedRemoval !== undefined) {
        r.status = 'failed';
        r.reason = `${byOther}, and removing this run's copy failed: ${failedRemoval} (the next plan shows the duplicate)`;
      } else if (r.status !== 'applied' && ownDrop.length === 0) {
        continue; // it made no copy: its own failure stands
      } else if (!same) {
        r.status = 'failed';
        r.reason = `${byOther} with another value${ownDrop.length > 0 ? "; this run's copy was removed" : ''} (the next plan shows the difference)`;
      } else {
        r.status = 'applied';
        r.reason = `${byOther}${ownDrop.length > 0 ? "; this run's copy was removed" : ''}`;
      }
    }
  }
  return out;
}

import type { Kind } from '../model/kinds.js';
import type { ChangeResult } from '../plan/types.js';
import type { Provider } from '../providers/provider.js';

export interface SettleOptions {
  /** Longest time to keep polling, from the first pending result (ms). */
  maxWaitMs: number;
  /** First wait between polls (ms); doubles up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
}

export const DEFAULT_SETTLE = { maxWaitMs: 120_000, firstDelayMs: 1_000, maxDelayMs: 15_000 };

/**
 * Poll the provider for results that are `pending` (a change the vendor accepted and is
 * still carrying out) until each ends `applied` or `failed`, or the bound passes. What is
 * still pending then stays `pending`, with a reason that says so: never reported applied.
 */
export async function settlePending(
  provider: Provider,
  kind: Kind,
  results: readonly ChangeResult[],
  opts: SettleOptions,
): Promise<ChangeResult[]> {
  const waitingIn = (list: readonly ChangeResult[]): number[] => {
    const at: number[] = [];
    for (let i = 0; i < list.length; i++) if (list[i]?.status === 'pending') at.push(i);
    return at;
  };
  let pending = waitingIn(results);
  // Nothing pending (a synchronous vendor): the results as they are.
  if (pending.length === 0) return [...results];
  const out = [...results];
  const waiting = (): number[] => waitingIn(out);
  if (provider.settle === undefined) {
    for (const i of pending)
      out[i] = {
        ...(out[i] as ChangeResult),
        reason: 'accepted by the vendor; this provider cannot report when it takes effect',
      };
    return out;
  }
  const deadline = opts.now() + opts.maxWaitMs;
  let delay = opts.firstDelayMs;
  const aborted = (): boolean => opts.signal?.aborted ?? false;
  while (pending.length > 0 && opts.now() + delay <= deadline && !aborted()) {
    await opts.sleep(delay, opts.signal).catch(() => undefined);
    if (aborted()) break;
    delay = Math.min(delay * 2, opts.maxDelayMs);
    let polled: ChangeResult[];
    try {
      polled = await provider.settle(
        kind,
        pending.map((i) => out[i] as ChangeResult),
        opts.signal !== undefined ? { signal: opts.signal } : {},
      );
    } catch {
      continue; // a failed look is not a failed change: try again until the bound
    }
    const byId = new Map(polled.map((r) => [`${r.action} ${r.key}`, r]));
    for (const i of pending) {
      const prev = out[i] as ChangeResult;
      const next = byId.get(`${prev.action} ${prev.key}`);
      if (next !== undefined) out[i] = next;
    }
    pending = waiting();
  }
  for (const i of pending) {
    const prev = out[i] as ChangeResult;
    out[i] = {
      ...prev,
      reason: `still pending at the vendor after ${Math.round(opts.maxWaitMs / 1000)} s${prev.reason !== undefined ? ` (${prev.reason})` : ''}; the next plan shows whether it took effect`,
    };
  }
  return out;
}

import { abortAfter } from '../reconcile/abort-after.js';

/** `--timeout`: how long plan, apply and drift may talk to vendors before giving up. */
export const DEFAULT_TIMEOUT = '30m';

/** `--tenant-timeout`: bound on one tenant's read, plan and apply. */
export const DEFAULT_TENANT_TIMEOUT = '10m';

/** `90s`, `15m`, `1h`, `1h30m`, or bare seconds; `0` means no deadline. Returns ms. */
export function parseDuration(spec: string, name = '--timeout'): number {
  const s = spec.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (s === '' || m === null)
    throw new Error(`${name} must look like 90s, 15m, 1h or 1h30m (got '${spec}')`);
  const [h, min, sec] = [m[1], m[2], m[3]].map((v) => Number(v ?? 0)) as [number, number, number];
  return ((h * 60 + min) * 60 + sec) * 1000;
}

export interface Deadline {
  /** Aborts when the time is up, with an Error saying which limit passed. */
  readonly signal: AbortSignal;
  /** When it fires (epoch ms); absent when there is no deadline. */
  readonly at?: number;
  /** Stop the timer (the command is done). */
  dispose(): void;
}

/** A deadline `ms` from now (none when `ms` is 0). Its timer never keeps the process alive. */
export function startDeadline(ms: number, spec: string): Deadline {
  if (ms <= 0) return { signal: new AbortController().signal, dispose: () => undefined };
  const timed = abortAfter(ms, () => new Error(`the --timeout of ${spec} passed`));
  return { signal: timed.signal, at: Date.now() + ms, dispose: timed.dispose };
}

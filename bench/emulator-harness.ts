import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BaseCommand, StatsReply } from './emulator-child.js';
import { askChild, type Asker } from './measure.js';

/**
 * The parent side of a forked benchmark emulator (emulator-child.ts): fork
 * `bench/<script>`, start it with the vendor's `start` command, then ask it for its counters,
 * reset them, or close it. The child stops by itself if this process ends first.
 */
export interface ForkedEmulator<C extends { type: string }, Started> {
  child: ChildProcess;
  /** What the child answered to `start` (its URLs). */
  started: Started;
  /** Ask anything of the protocol (vendor commands included). */
  ask: Asker<C | BaseCommand>;
  stats: <S>() => Promise<StatsReply<S>>;
  /** Requests served since the last reset. */
  requests: () => Promise<number>;
  /** Zero the counters. */
  reset: () => Promise<void>;
  /** Check the emulator's responses against the contract (on by default; off for timed runs). */
  validateResponses: (on: boolean) => Promise<void>;
  /** Close the emulator and end its process (never throws). */
  close: () => Promise<void>;
}

export async function forkEmulator<C extends { type: string }, Started = { url: string }>(
  script: string,
  start: Extract<C, { type: 'start' }>,
  opts: { execArgv?: string[]; validateResponses?: boolean } = {},
): Promise<ForkedEmulator<C, Started>> {
  const child = fork(fileURLToPath(new URL(`./${script}`, import.meta.url)), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(opts.execArgv !== undefined ? { execArgv: opts.execArgv } : {}),
  });
  const ask: Asker<C | BaseCommand> = askChild(child);
  const close = async (): Promise<void> => {
    await ask({ type: 'close' }, 'closed').catch(() => undefined);
    child.kill();
  };
  let started: Started;
  try {
    started = await ask<Started>(start, 'started');
    if (opts.validateResponses === false)
      await ask({ type: 'validate-responses', on: false }, 'validate-responses');
  } catch (err) {
    await close();
    throw err;
  }
  const stats = <S>(): Promise<StatsReply<S>> => ask<StatsReply<S>>({ type: 'stats' }, 'stats');
  return {
    child,
    started,
    ask,
    stats,
    requests: async () => (await stats<{ requests: number }>()).stats.requests,
    reset: async () => {
      await ask({ type: 'reset' }, 'reset');
    },
    validateResponses: async (on) => {
      await ask({ type: 'validate-responses', on }, 'validate-responses');
    },
    close,
  };
}

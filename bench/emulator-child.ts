/**
 * The child side of a forked benchmark emulator (`bench/*-emulator-process.ts`): the emulator
 * runs in its own process so that serving a large estate does not steal CPU from the client
 * being measured. The parent drives it over IPC (`forkEmulator` in emulator-harness.ts).
 *
 * Every vendor answers the same commands (`BaseCommand`); a vendor adds its own start (seed
 * accounts) and, where it needs them, its own commands. The process stops by itself when the
 * parent goes away (its IPC channel closes), so a crashed benchmark leaves nothing running.
 */

/** What every forked emulator understands, besides its vendor's `start`. */
export type BaseCommand =
  | { type: 'stats' }
  | { type: 'reset' }
  | { type: 'validate-responses'; on: boolean }
  | { type: 'close' };

/** The answer to `stats`: the emulator's counters, its contract violations and its CPU. */
export interface StatsReply<S> {
  type: 'stats';
  stats: S;
  /** How many requests or responses broke the vendor contract. */
  violations: number;
  /** The first few of them, in words. */
  firstViolations: string[];
  /** CPU time (user + system) of the emulator process so far. */
  cpuMs: number;
}

/** What the harness needs of an emulator (each vendor's test/emulators/<vendor>/emulator.ts). */
export interface HarnessedEmulator {
  stats: object;
  violations: string[];
  resetStats(): void;
  setValidateResponses(on: boolean): void;
  close(): Promise<void>;
}

type Handlers<E, C extends { type: string }> = {
  [K in C['type']]: (emu: E, cmd: Extract<C, { type: K }>) => object | Promise<object>;
};

export interface EmulatorVendor<
  E extends HarnessedEmulator,
  S extends { type: 'start' },
  C extends { type: string },
> {
  /** Start and seed the emulator; `reply` is sent back as the `started` answer. */
  start(cmd: S): Promise<{ emu: E; reply: object }>;
  /** The counters `stats` answers with (default: `emu.stats`). */
  stats?(emu: E): unknown;
  /** The vendor's own commands; each answers with `{ type: cmd.type, ...returned }`. */
  commands?: Handlers<E, C>;
}

function reply(message: unknown): void {
  process.send?.(message);
}

/** Serve `vendor`'s emulator to the parent process over IPC until `close` or the parent's end. */
export function serveEmulator<
  E extends HarnessedEmulator,
  S extends { type: 'start' },
  C extends { type: string } = never,
>(vendor: EmulatorVendor<E, S, C>): void {
  let emu: E | undefined;
  const need = (): E => {
    if (emu === undefined) throw new Error('the emulator has not been started');
    return emu;
  };
  const handle = async (cmd: S | BaseCommand | C): Promise<object> => {
    switch (cmd.type) {
      case 'start': {
        const started = await vendor.start(cmd as S);
        emu = started.emu;
        return { type: 'started', ...started.reply };
      }
      case 'stats': {
        const cpu = process.cpuUsage();
        const out: StatsReply<unknown> = {
          type: 'stats',
          stats: emu === undefined ? undefined : (vendor.stats?.(emu) ?? emu.stats),
          violations: emu?.violations.length ?? 0,
          firstViolations: emu?.violations.slice(0, 5) ?? [],
          cpuMs: (cpu.user + cpu.system) / 1000,
        };
        return out;
      }
      case 'reset':
        emu?.resetStats();
        return { type: 'reset' };
      case 'validate-responses':
        emu?.setValidateResponses((cmd as { on: boolean }).on);
        return { type: 'validate-responses' };
      case 'close':
        await emu?.close();
        reply({ type: 'closed' });
        process.exit(0);
    }
    const own = (
      vendor.commands as Record<string, (e: E, c: C) => object | Promise<object>> | undefined
    )?.[cmd.type];
    if (own === undefined) throw new Error(`unknown command ${cmd.type}`);
    return { type: cmd.type, ...(await own(need(), cmd as C)) };
  };
  process.on('message', (cmd: S | BaseCommand | C) => {
    handle(cmd).then(reply, (err: unknown) => {
      reply({ type: 'error', message: err instanceof Error ? err.stack : String(err) });
    });
  });
  // The parent is gone (finished without `close`, crashed or killed): stop with it.
  process.on('disconnect', () => {
    void Promise.resolve(emu?.close()).finally(() => process.exit(0));
  });
}

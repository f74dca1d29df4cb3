import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change, ChangeResult } from '../plan/types.js';
import {
  compareCopies,
  keeperOf,
  keepOneCopy,
  parseCreatedAt,
  tickMsOf,
  hasMsOrFiner,
  type CopiesRead,
  type DedupeOptions,
  type LiveCopy,
} from './converge.js';
import { createVirtualClock, type Clock } from './http/clock.js';

const value = (key: string, reason = 'wave') => ({ sender: key, reason });
const create = (key: string, reason?: string): Change =>
  ({
    tenant: 't',
    kind: 'blockedSenders',
    key,
    action: 'create',
    cause: 'desired',
    after: value(key, reason),
    patch: [],
  }) as unknown as Change;
const applied = (c: Change): ChangeResult => ({
  kind: c.kind,
  key: c.key,
  action: c.action,
  status: 'applied',
});
const copy = (id: string, createdAt: string, run?: string, v = value('x.example')): LiveCopy => ({
  key: 'x.example',
  id,
  createdAt,
  ...(run !== undefined ? { run } : {}),
  managed: true,
  value: v,
});

/** keepOneCopy over reads answered in turn, recording what it removes. */
async function dedupe(
  reads: (LiveCopy[] | CopiesRead)[],
  opts: Partial<DedupeOptions> = {},
  changes = [create('x.example')],
) {
  const clock = createVirtualClock(0);
  const removed: string[] = [];
  let n = 0;
  const results = await keepOneCopy(changes, changes.map(applied), {
    kind: 'blockedSenders',
    run: 'me',
    createdBy: 0,
    clock,
    read: () => Promise.resolve(reads[Math.min(n++, reads.length - 1)] ?? []),
    remove: (ids) => {
      removed.push(...ids);
      return Promise.resolve(ids.map(() => ({ ok: true as const })));
    },
    ...opts,
  });
  return { results, removed, reads: n, sleeps: clock.sleeps };
}

describe('the keeper rule', () => {
  it('orders by creation time at any precision and offset, then by id', () => {
    expect(parseCreatedAt('2026-12-01T17:00:05.12345Z')).toEqual({
      ns: 1_796_144_405_123_450_000n,
      tickNs: 10_000n,
    });
    expect(parseCreatedAt('2026-12-01T18:00:05+01:00')?.tickNs).toBe(1_000_000_000n);
    expect(parseCreatedAt('yesterday')).toBeUndefined();
    // The precision alone, in whole ms, as the keeper's wait uses it.
    for (const t of [
      '2026-12-01T17:00:05.12345Z',
      '2026-12-01T17:00:05.1Z',
      '2026-12-01T17:00:05.12Z',
      '2026-12-01T17:00:05.123456789Z',
      '2026-12-01T18:00:05+01:00',
      ' 2026-12-01T17:00:05.123z ',
      '2026-13-01T17:00:05.123Z',
      'yesterday',
    ])
      expect(tickMsOf(t), t).toBe(Math.ceil(Number(parseCreatedAt(t)?.tickNs ?? 0n) / 1e6));
    expect(tickMsOf(undefined)).toBe(0);
    // What the scan may skip once a millisecond passed: never a tick over 1 ms.
    fc.assert(
      fc.property(
        fc.constantFrom('2026-12-01T17:00:05', ' 2026-02-30T00:00:00', 'x', '2026-13-01T00:00:00'),
        fc.constantFrom(
          '',
          '.',
          '.1',
          '.12',
          '.123',
          '.1234567',
          '.123456789',
          '.1234567890',
          '.12a',
        ),
        fc.constantFrom('Z', 'z ', '+01:00', '-0130', '', 'Zx'),
        (time, fraction, zone) => {
          const t = `${time}${fraction}${zone}`;
          if (hasMsOrFiner(t)) expect(tickMsOf(t), t).toBeLessThanOrEqual(1);
        },
      ),
    );
    expect(hasMsOrFiner('2026-12-01T18:00:05.123Z')).toBe(true);
    expect(hasMsOrFiner('2026-12-01T18:00:05.12Z')).toBe(false);
    expect(hasMsOrFiner('2026-12-01T18:00:05Z')).toBe(false);
    const a = copy('b', '2026-12-01T17:00:05.000001Z');
    const b = copy('a', '2026-12-01T17:00:05.00001Z');
    const c = copy('0', '2026-12-01T18:00:05.00001+01:00'); // the same instant as b
    expect([b, c, a].sort(compareCopies).map((x) => x.id)).toEqual(['b', '0', 'a']);
    // A copy without a creation time sorts after every copy with one.
    const { createdAt: _untimed, ...untimed } = a;
    expect(keeperOf([untimed, b])?.id).toBe('a');
    // Unmanaged objects are never copies of an entry mxpolicy created.
    expect(keeperOf([{ ...a, managed: false }])).toBeUndefined();
  });
});

describe('keepOneCopy', () => {
  it("keeps this run's copy when it is the only one, reading once", async () => {
    const r = await dedupe([[copy('1', '2026-12-01T17:00:05.123Z', 'me')]]);
    expect(r.results).toEqual([applied(create('x.example'))]);
    expect(r.removed).toEqual([]);
    expect(r.reads).toBe(1);
  });

  it('removes its copy when a concurrent run created the entry first, and says so', async () => {
    const r = await dedupe([
      [copy('2', '2026-12-01T17:00:05.124Z', 'me'), copy('1', '2026-12-01T17:00:05.123Z', 'other')],
    ]);
    expect(r.removed).toEqual(['2']);
    expect(r.results[0]).toMatchObject({
      status: 'applied',
      reason:
        "a concurrent run created x.example first (its copy, id 1, is kept); this run's copy was removed",
    });
  });

  it('reads again once the tick of a coarse clock is over: a later copy of the same second may win', async () => {
    // Run B created its copy in the same second, after this run's first read; its id sorts
    // first, and B keeps it. Without the second read both copies would stay.
    const mine = copy('z', '2026-12-01T17:00:05Z', 'me');
    const theirs = copy('a', '2026-12-01T17:00:05Z', 'other');
    const r = await dedupe([[mine], [mine, theirs]]);
    expect(r.sleeps).toEqual([2, 998]);
    expect(r.reads).toBe(2);
    expect(r.removed).toEqual(['z']);
    expect(r.results[0]?.reason).toMatch(/^a concurrent run created x\.example first/);
  });

  it("waits out the tick of this run's copies a read left out as alone, and reads again", async () => {
    // The first read said only: every key has this run's one copy, stamped to the second.
    const theirs = copy('a', '2026-12-01T17:00:05Z', 'other');
    const mine = copy('z', '2026-12-01T17:00:05Z', 'me');
    const r = await dedupe([{ copies: [], aloneTickMs: 1000 }, [mine, theirs]]);
    expect(r.sleeps).toEqual([2, 998]);
    expect(r.reads).toBe(2);
    expect(r.removed).toEqual(['z']);
    // With a millisecond clock the tick is over by the time of the read: one read.
    const fine = await dedupe([{ copies: [], aloneTickMs: 1 }, [mine, theirs]]);
    expect(fine.reads).toBe(1);
    expect(fine.removed).toEqual([]);
    expect(fine.results).toEqual([applied(create('x.example'))]);
  });

  it('defers to a copy without a run id (an older mxpolicy, or another tool using the tag)', async () => {
    const r = await dedupe([
      [copy('2', '2026-12-01T17:00:05.124Z', 'me'), copy('1', '2026-12-01T17:00:05.123Z')],
    ]);
    expect(r.removed).toEqual(['2']);
    expect(r.results[0]?.status).toBe('applied');
  });

  it('fails a create whose entry a concurrent run made first with another value', async () => {
    const r = await dedupe([
      [
        copy('2', '2026-12-01T17:00:05.124Z', 'me'),
        copy('1', '2026-12-01T17:00:05.123Z', 'other', value('x.example', 'older reason')),
      ],
    ]);
    expect(r.removed).toEqual(['2']);
    expect(r.results[0]).toMatchObject({ status: 'failed' });
    expect(r.results[0]?.reason).toMatch(
      /with another value; this run's copy was removed \(the next plan shows the difference\)/,
    );
  });

  it('fails the create, naming the duplicate, when removing its copy fails', async () => {
    const r = await dedupe(
      [
        [
          copy('2', '2026-12-01T17:00:05.124Z', 'me'),
          copy('1', '2026-12-01T17:00:05.123Z', 'other'),
        ],
      ],
      {
        remove: (ids) =>
          Promise.resolve(ids.map(() => ({ ok: false as const, reason: 'HTTP 500' }))),
      },
    );
    expect(r.results[0]).toMatchObject({ status: 'failed' });
    expect(r.results[0]?.reason).toMatch(
      /removing this run's copy failed: HTTP 500 \(the next plan shows the duplicate\)/,
    );
  });

  it('leaves results alone when it cannot read, saying the check was not made', async () => {
    const r = await dedupe([], { read: () => Promise.reject(new Error('HTTP 503')) });
    expect(r.results[0]).toMatchObject({ status: 'applied' });
    expect(r.results[0]?.reason).toMatch(/checking for a concurrent run's copy failed: HTTP 503/);
    expect(r.removed).toEqual([]);
  });

  it('reads nothing when no create was sent', async () => {
    const r = await dedupe([[]], { consider: () => false });
    expect(r.reads).toBe(0);
    expect(r.results).toEqual([applied(create('x.example'))]);
  });
});

/**
 * A discrete-event clock shared by simulated runs: `sleep` resolves when the scheduler
 * reaches its time, so the runs' creates and reads interleave in a chosen order.
 */
function scheduler(): Clock & { run(): Promise<void> } {
  let now = 0;
  const timers: { at: number; seq: number; go: () => void }[] = [];
  let seq = 0;
  const idle = (): Promise<void> => new Promise((r) => setImmediate(r));
  return {
    now: () => now,
    sleep: (ms) =>
      new Promise<void>((go) => {
        timers.push({ at: now + Math.max(0, ms), seq: seq++, go });
      }),
    async run() {
      for (;;) {
        await idle();
        if (timers.length === 0) return;
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const t = timers.shift();
        if (t === undefined) return;
        now = t.at;
        t.go();
      }
    },
  };
}

describe('concurrent runs agree without talking', () => {
  it('leave exactly one copy, whatever the order of creates and re-reads and however coarse the clock', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 10, 1000), // the vendor's timestamp precision, in ms
        fc.array(
          fc.record({
            createAt: fc.integer({ min: 0, max: 6 }),
            readAfter: fc.integer({ min: 0, max: 3 }),
            id: fc.string({ minLength: 1, maxLength: 3 }),
          }),
          { minLength: 2, maxLength: 4 },
        ),
        async (tickMs, runs) => {
          const clock = scheduler();
          const live = new Map<string, LiveCopy>();
          const stamp = (ms: number): string => {
            const at = new Date(Math.floor(ms / tickMs) * tickMs).toISOString();
            return tickMs === 1000
              ? at.replace(/\.\d+Z$/, 'Z')
              : tickMs === 10
                ? at.replace(/\dZ$/, 'Z')
                : at;
          };
          const outcomes: ChangeResult[][] = [];
          const all = runs.map(async (r, i) => {
            await clock.sleep(r.createAt);
            const id = `${r.id}#${i}`; // ids are unique, their order arbitrary
            live.set(id, copy(id, stamp(clock.now()), `run${i}`));
            await clock.sleep(r.readAfter);
            const c = create('x.example');
            outcomes[i] = await keepOneCopy([c], [applied(c)], {
              kind: 'blockedSenders',
              run: `run${i}`,
              createdBy: clock.now(),
              clock,
              read: () => Promise.resolve([...live.values()]),
              remove: (ids) => {
                for (const x of ids) live.delete(x);
                return Promise.resolve(ids.map(() => ({ ok: true as const })));
              },
            });
          });
          await Promise.all([clock.run(), ...all]);
          await Promise.all(all);
          expect(live.size).toBe(1);
          // One run says it created the entry; every other one that a concurrent run did.
          const claims = outcomes.map((o) => o[0]?.reason === undefined);
          expect(claims.filter(Boolean)).toHaveLength(1);
          expect(outcomes.every((o) => o[0]?.status === 'applied')).toBe(true);
          const keeper = [...live.values()][0];
          expect(claims[Number(keeper?.run?.slice(3))]).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

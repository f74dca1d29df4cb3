import { describe, expect, it } from 'vitest';
import type { Change } from '../plan/types.js';
import {
  converge,
  isInEffect,
  indexLive,
  outcomeOfError,
  outcomeOfItem,
  type Write,
} from './converge.js';
import { createVirtualClock } from './http/clock.js';
import { HttpError } from './http/errors.js';
import { itemFailed, itemOk } from './http/items.js';
import type { LiveEntry } from './provider.js';

/** A vendor in memory: what it holds, and what each send does to it. */
interface Store {
  entries: Map<string, LiveEntry>;
  sends: string[][];
  reads: number;
}

const value = (key: string, reason = 'spam') => ({ sender: key, reason });

function change(action: Change['action'], key: string, extra: Partial<Change> = {}): Change {
  return {
    tenant: 't',
    kind: 'blockedSenders',
    key,
    action,
    cause: 'desired',
    ...(action === 'delete' ? {} : { after: value(key) }),
    patch: [],
    ...extra,
  } as unknown as Change;
}

function store(live: LiveEntry[] = []): Store {
  return { entries: new Map(live.map((l) => [l.id ?? l.key, l])), sends: [], reads: 0 };
}

/** Apply a write to the store (as the vendor would). */
function effect(s: Store, w: Write): void {
  const c = w.change;
  if (c.action === 'delete') s.entries.delete(c.liveId ?? c.key);
  else
    s.entries.set(c.liveId ?? `id-${c.key}`, {
      kind: 'blockedSenders',
      key: c.key,
      value: c.after,
      managed: true,
      id: c.liveId ?? `id-${c.key}`,
    } as LiveEntry);
}

const read = (s: Store) => () => {
  s.reads++;
  return Promise.resolve([...s.entries.values()]);
};

describe('converge', () => {
  it('after an unknown outcome, counts what is in effect as applied and resends only the rest', async () => {
    const s = store([
      {
        kind: 'blockedSenders',
        key: 'old.example',
        value: value('old.example'),
        managed: true,
        id: 'L1',
      },
    ]);
    const writes = [
      { change: change('create', 'a.example') },
      { change: change('create', 'b.example') },
      { change: change('delete', 'old.example', { liveId: 'L1' }) },
    ];
    const clock = createVirtualClock();
    const results = await converge(writes, {
      kind: 'blockedSenders',
      read: read(s),
      clock,
      send: (batch, round) => {
        s.sends.push(batch.map((w) => w.change.key));
        if (round === 1) {
          // The connection broke after the vendor applied the first two writes.
          effect(s, batch[0] as Write);
          effect(s, batch[2] as Write);
          return Promise.resolve(
            batch.map(() => ({ status: 'unknown', reason: 'POST /batch: reset' }) as const),
          );
        }
        batch.forEach((w) => {
          effect(s, w);
        });
        return Promise.resolve(batch.map(() => ({ status: 'applied' }) as const));
      },
    });
    expect(results.map((r) => [r.key, r.action, r.status])).toEqual([
      ['a.example', 'create', 'applied'],
      ['b.example', 'create', 'applied'],
      ['old.example', 'delete', 'applied'],
    ]);
    expect(s.sends).toEqual([['a.example', 'b.example', 'old.example'], ['b.example']]);
    expect(s.reads).toBe(1);
    // No duplicate: exactly one entry per key.
    expect([...s.entries.values()].map((l) => l.key).sort()).toEqual(['a.example', 'b.example']);
  });

  it('fails what is still not in effect after the last round, and says so', async () => {
    const s = store();
    const results = await converge([{ change: change('create', 'a.example') }], {
      kind: 'blockedSenders',
      read: read(s),
      clock: createVirtualClock(),
      rounds: 2,
      send: (batch) => {
        s.sends.push(batch.map((w) => w.change.key));
        return Promise.resolve([{ status: 'unknown', reason: 'POST /x: HTTP 502' }]);
      },
    });
    expect(results).toEqual([
      {
        kind: 'blockedSenders',
        key: 'a.example',
        action: 'create',
        status: 'failed',
        reason: 'POST /x: HTTP 502 (not in effect after 2 attempts)',
      },
    ]);
    expect(s.sends).toHaveLength(2);
    expect(s.reads).toBe(2);
  });

  it('fails an unknown write when the re-read fails, without sending it again', async () => {
    let sends = 0;
    const results = await converge([{ change: change('create', 'a.example') }], {
      kind: 'blockedSenders',
      read: () => Promise.reject(new Error('GET /list: HTTP 503')),
      clock: createVirtualClock(),
      send: (batch) => {
        sends++;
        return Promise.resolve(batch.map(() => ({ status: 'unknown', reason: 'reset' }) as const));
      },
    });
    expect(results[0]?.reason).toBe(
      'outcome unknown: reset; checking failed: GET /list: HTTP 503 (re-run apply to converge)',
    );
    expect(sends).toBe(1);
  });

  it('resends throttled writes after the longest wait asked, without reading', async () => {
    const s = store();
    const clock = createVirtualClock();
    const results = await converge(
      [{ change: change('create', 'a.example') }, { change: change('create', 'b.example') }],
      {
        kind: 'blockedSenders',
        read: read(s),
        clock,
        send: (batch, round) => {
          s.sends.push(batch.map((w) => w.change.key));
          if (round === 1)
            return Promise.resolve([
              outcomeOfItem(itemOk()),
              outcomeOfItem(itemFailed('TooManyRequests', 'slow down', true, 2500)),
            ]);
          return Promise.resolve(batch.map(() => outcomeOfItem(itemOk())));
        },
      },
    );
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(s.sends).toEqual([['a.example', 'b.example'], ['b.example']]);
    expect(clock.sleeps).toEqual([2500]);
    expect(s.reads).toBe(0);
  });

  it('takes a throw from send as the outcome of every write, and redacts reasons', async () => {
    const uncertain = new HttpError('POST /batch: HTTP 500 token sk-123456', {
      code: 'HTTP_STATUS',
      method: 'POST',
      path: '/batch',
      status: 500,
      retryable: true,
      mayHaveReachedServer: true,
      attempts: 1,
    });
    const s = store();
    const results = await converge(
      [{ change: change('create', 'a.example') }, { change: change('create', 'b.example') }],
      {
        kind: 'blockedSenders',
        read: read(s),
        clock: createVirtualClock(),
        rounds: 1,
        redact: (t) => t.replace('sk-123456', '[REDACTED]'),
        send: () => Promise.reject(uncertain),
      },
    );
    expect(s.reads).toBe(1);
    expect(results.map((r) => r.reason)).toEqual([
      'POST /batch: HTTP 500 token [REDACTED] (not in effect after 1 attempts)',
      'POST /batch: HTTP 500 token [REDACTED] (not in effect after 1 attempts)',
    ]);
  });

  it('never reads or resends once the deadline has passed', async () => {
    const ctl = new AbortController();
    ctl.abort(new Error('deadline'));
    const s = store();
    const results = await converge([{ change: change('create', 'a.example') }], {
      kind: 'blockedSenders',
      read: read(s),
      clock: createVirtualClock(),
      signal: ctl.signal,
      send: () => Promise.resolve([{ status: 'unknown', reason: 'timeout' }]),
    });
    expect(s.reads).toBe(0);
    expect(results[0]?.reason).toMatch(/checking failed: the deadline passed/);
  });

  it('passes a pending outcome through with its ref (settled later by reconcile)', async () => {
    const results = await converge([{ change: change('create', 'LH-1') }], {
      kind: 'blockedSenders',
      read: () => Promise.resolve([]),
      clock: createVirtualClock(),
      send: () =>
        Promise.resolve([{ status: 'pending', reason: 'hold is being applied', ref: 'op-42' }]),
    });
    expect(results).toEqual([
      {
        kind: 'blockedSenders',
        key: 'LH-1',
        action: 'create',
        status: 'pending',
        reason: 'hold is being applied',
        ref: 'op-42',
      },
    ]);
  });

  it('refuses a send that answers for the wrong number of writes', async () => {
    const results = await converge(
      [{ change: change('create', 'a.example') }, { change: change('create', 'b.example') }],
      {
        kind: 'blockedSenders',
        read: () => Promise.resolve([]),
        clock: createVirtualClock(),
        send: () => Promise.resolve([{ status: 'applied' }]),
      },
    );
    expect(results.map((r) => r.status)).toEqual(['failed', 'failed']);
    expect(results[0]?.reason).toMatch(/1 outcomes for 2 writes/);
  });
});

describe('outcomes and the in-effect check', () => {
  const err = (init: Partial<ConstructorParameters<typeof HttpError>[1]>) =>
    new HttpError('m', {
      code: 'HTTP_STATUS',
      method: 'POST',
      path: '/',
      retryable: false,
      mayHaveReachedServer: false,
      attempts: 1,
      ...init,
    });

  it('maps errors: may have reached -> unknown; throttled or never sent -> retry; else failed', () => {
    expect(outcomeOfError(err({ mayHaveReachedServer: true })).status).toBe('unknown');
    expect(outcomeOfError(err({ code: 'RATE_LIMITED', status: 429 })).status).toBe('retry');
    expect(outcomeOfError(err({ code: 'NETWORK' })).status).toBe('retry');
    expect(outcomeOfError(err({ status: 400 })).status).toBe('failed');
    expect(outcomeOfError(err({ code: 'ABORTED', mayHaveReachedServer: true })).status).toBe(
      'failed',
    );
    expect(outcomeOfError(new Error('x'))).toEqual({ status: 'failed', reason: 'x' });
    expect(outcomeOfItem(itemFailed('err_x', 'bad'))).toEqual({
      status: 'failed',
      reason: 'err_x: bad',
    });
  });

  it('needs the marker for creates and updates unless told otherwise', () => {
    const unmarked = {
      kind: 'blockedSenders',
      key: 'a.example',
      value: value('a.example'),
      managed: false,
      id: 'X',
    } as LiveEntry;
    const live = indexLive([unmarked]);
    expect(isInEffect(change('create', 'a.example'), live)).toBe(false);
    expect(isInEffect(change('create', 'a.example'), live, () => true)).toBe(true);
    expect(isInEffect(change('update', 'a.example', { liveId: 'X' }), live, () => true)).toBe(true);
    expect(
      isInEffect(
        change('update', 'a.example', {
          liveId: 'X',
          after: value('a.example', 'new'),
        }),
        live,
        () => true,
      ),
    ).toBe(false);
    expect(isInEffect(change('delete', 'a.example', { liveId: 'X' }), live)).toBe(false);
    expect(isInEffect(change('delete', 'a.example', { liveId: 'Y' }), live)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { createSystemClock, createVirtualClock } from './clock.js';
import { BudgetBlockedError, createTokenBucket, parseBudget } from './rate-limiter.js';

describe('parseBudget', () => {
  it('reads REQUESTS/SECONDS', () => {
    expect(parseBudget('600/300', 'X')).toEqual({ requests: 600, windowMs: 300_000 });
    expect(parseBudget(' 1200 / 300 ', 'X')).toEqual({ requests: 1200, windowMs: 300_000 });
  });

  it.each(['', '600', '600/0', '0/300', '1.5/3', 'a/b', '600/300/1'])(
    'refuses %j with the variable name',
    (spec) => {
      expect(() => parseBudget(spec, 'MXPOLICY_CLOUDFLARE_BUDGET')).toThrow(
        /^MXPOLICY_CLOUDFLARE_BUDGET must look like REQUESTS\/SECONDS/,
      );
    },
  );
});

describe('one admission queue, by priority then arrival', () => {
  const bucketOf = (clock = createVirtualClock()) => ({
    clock,
    bucket: createTokenBucket({ requests: 1, windowMs: 1000, burst: 1 }, clock),
  });

  it('lets every normal request go before a low one, each level in arrival order', async () => {
    const { bucket } = bucketOf();
    await bucket.acquire(); // the burst is spent: the rest queue
    const order: string[] = [];
    const go = (name: string, priority: 'normal' | 'low'): Promise<void> =>
      bucket.acquire(undefined, { priority }).then(() => void order.push(name));
    await Promise.all([
      go('low 1', 'low'),
      go('normal 1', 'normal'),
      go('low 2', 'low'),
      go('normal 2', 'normal'),
    ]);
    expect(order).toEqual(['normal 1', 'normal 2', 'low 1', 'low 2']);
  });

  it('a low request goes as soon as no normal one waits (it is not held for nothing)', async () => {
    const { bucket, clock } = bucketOf();
    const start = clock.now();
    await bucket.acquire(undefined, { priority: 'low' });
    expect(clock.now() - start).toBe(0);
    await bucket.acquire(undefined, { priority: 'low' });
    expect(clock.now() - start).toBe(1000);
  });

  it('a normal request that arrives while a low one waits overtakes it', async () => {
    const { bucket } = bucketOf();
    await bucket.acquire();
    const order: string[] = [];
    const low = bucket.acquire(undefined, { priority: 'low' }).then(() => void order.push('low'));
    await new Promise((r) => setImmediate(r));
    const normal = bucket.acquire().then(() => void order.push('normal'));
    await Promise.all([low, normal]);
    expect(order).toEqual(['normal', 'low']);
  });

  it('an aborted waiter leaves its place; the others are served', async () => {
    const { bucket } = bucketOf();
    await bucket.acquire();
    const stop = new AbortController();
    const gone = bucket.acquire(stop.signal);
    const next = bucket.acquire(undefined, { priority: 'low' });
    stop.abort(new Error('deadline'));
    await expect(gone).rejects.toThrow('deadline');
    await expect(next).resolves.toBeUndefined();
  });

  it('a pause past a waiter’s deadline fails it at once, whatever its level', async () => {
    const { bucket, clock } = bucketOf();
    bucket.pauseUntil(clock.now() + 60_000);
    const notAfter = clock.now() + 10_000;
    await expect(bucket.acquire(undefined, { notAfter, priority: 'low' })).rejects.toBeInstanceOf(
      BudgetBlockedError,
    );
    await expect(bucket.acquire(undefined, { notAfter })).rejects.toBeInstanceOf(
      BudgetBlockedError,
    );
  });

  it('with real timers, a queue whose waiters all left keeps no timer alive', async () => {
    const clock = createSystemClock();
    const bucket = createTokenBucket({ requests: 1, windowMs: 600_000, burst: 1 }, clock);
    await bucket.acquire();
    const stop = new AbortController();
    const waiting = bucket.acquire(stop.signal);
    await new Promise((r) => setTimeout(r, 10));
    const timersBefore = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    await new Promise((r) => setImmediate(r));
    const timersAfter = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    expect(timersAfter).toBe(timersBefore - 1);
  });
});
